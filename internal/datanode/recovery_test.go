package datanode

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/faultproxy"
)

// partialWrite writes data down pipeline as a writer that recovers
// pipelines, waits until want bytes are acknowledged, and then fails
// the pipeline (as a crashed client would). It returns the bytes
// acknowledged.
func partialWrite(t *testing.T, b cairn.Block, pipeline []cairn.DatanodeInfo, data []byte, want int64) int64 {
	t.Helper()
	w, err := datatransfer.Options{Recoverable: true}.NewBlockWriter(context.Background(), b, pipeline, "test-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return w.Acked() >= want }, "%d bytes acknowledged", want)
	w.Abort()
	return w.Acked()
}

// idle returns n's idle rbw replica of id, waiting for it.
func idle(t *testing.T, n *node, id cairn.BlockID) cairn.Block {
	t.Helper()
	var got cairn.Block
	waitFor(t, func() bool {
		for _, b := range n.dn.store.idleBlocks() {
			if b.ID == id {
				got = b
				return true
			}
		}
		return false
	}, "an idle replica of block %d", id)
	return got
}

func TestFailedRecoverableWriteKeepsReplica(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	data := randomBytes(3*cairn.PacketSize, 11)
	b := cairn.Block{ID: 500, GenStamp: 1}
	acked := partialWrite(t, b, pipelineOf(n1, n2), data, 3*cairn.PacketSize)
	for _, n := range []*node{n1, n2} {
		if got := idle(t, n, b.ID); got.GenStamp != 1 || got.Len < acked {
			t.Errorf("idle replica %v, want generation stamp 1 and at least %d bytes", got, acked)
		}
	}
}

func TestRecoveryStageResumesAtAckedLength(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	data := randomBytes(5*cairn.PacketSize+777, 12)
	b := cairn.Block{ID: 501, GenStamp: 1}
	partialWrite(t, b, pipelineOf(n1, n2), data[:3*cairn.PacketSize], 3*cairn.PacketSize)
	idle(t, n1, b.ID)
	idle(t, n2, b.ID)
	// Resume at 2 packets (as if only those were acknowledged): the
	// replicas are cut there and take generation stamp 2.
	const at = 2 * cairn.PacketSize
	nb := cairn.Block{ID: b.ID, GenStamp: 2}
	w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: at, Recoverable: true}.NewBlockWriter(context.Background(), nb, pipelineOf(n1, n2), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[at:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Acked() != int64(len(data)) {
		t.Errorf("Acked() = %d, want %d", w.Acked(), len(data))
	}
	for i, n := range []*node{n1, n2} {
		got, err := readBlock(context.Background(), n.info, nb, 0, int64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("node %d: ReadBlock(%v) = %d bytes, %v; want the whole block", i, nb, len(got), err)
		}
		if _, err := readBlock(context.Background(), n.info, b, 0, 1); err == nil {
			t.Errorf("node %d: the old generation stamp still reads", i)
		}
		if left := n.dn.store.idleBlocks(); len(left) != 0 {
			t.Errorf("node %d: idle replicas %v after the block was finalized", i, left)
		}
	}
}

func TestRecoveryStageRefusesMissingBytes(t *testing.T) {
	n1 := startNode(t, nil, "")
	data := randomBytes(2*cairn.PacketSize, 13)
	b := cairn.Block{ID: 502, GenStamp: 1}
	acked := partialWrite(t, b, pipelineOf(n1), data, cairn.PacketSize)
	idle(t, n1, b.ID)
	_, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: acked + cairn.PacketSize*4}.NewBlockWriter(context.Background(), cairn.Block{ID: b.ID, GenStamp: 2}, pipelineOf(n1), "test-client")
	if err == nil {
		t.Fatal("reopening a replica beyond its length succeeded")
	}
}

func TestTransferToReplacementThenResume(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	data := randomBytes(4*cairn.PacketSize+99, 14)
	b := cairn.Block{ID: 503, GenStamp: 1}
	acked := partialWrite(t, b, pipelineOf(n1), data[:3*cairn.PacketSize], 3*cairn.PacketSize)
	idle(t, n1, b.ID)
	ctx := context.Background()
	err := datatransfer.Options{}.TransferBlock(ctx, n1.info, cairn.Block{ID: b.ID, GenStamp: 1, Len: acked}, pipelineOf(n2), 2, "test-client")
	if err != nil {
		t.Fatalf("TransferBlock = %v", err)
	}
	if got := idle(t, n2, b.ID); got != (cairn.Block{ID: b.ID, GenStamp: 2, Len: acked}) {
		t.Errorf("replacement holds %v, want the acknowledged prefix with generation stamp 2", got)
	}
	nb := cairn.Block{ID: b.ID, GenStamp: 2}
	w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: acked, Recoverable: true}.NewBlockWriter(ctx, nb, pipelineOf(n1, n2), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[acked:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*node{n1, n2} {
		got, err := readBlock(ctx, n.info, nb, 0, int64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("node %d: ReadBlock = %d bytes, %v; want the whole block", i, len(got), err)
		}
	}
}

func TestTransferOfMissingReplicaFailsOnSource(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	err := datatransfer.Options{}.TransferBlock(context.Background(), n1.info, cairn.Block{ID: 504, GenStamp: 1, Len: 10}, pipelineOf(n2), 2, "test-client")
	pe, ok := err.(*datatransfer.PipelineError)
	if !ok || pe.Index != 0 {
		t.Fatalf("TransferBlock of a replica the source lacks = %v, want a PipelineError naming the source", err)
	}
}

func TestRbwKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	n1 := startNode(t, []string{dir}, "")
	data := randomBytes(2*cairn.PacketSize, 15)
	b := cairn.Block{ID: 505, GenStamp: 1}
	partialWrite(t, b, pipelineOf(n1), data, 2*cairn.PacketSize)
	before := idle(t, n1, b.ID)
	n1.stop(t)
	// A torn write: bytes on the data file past the last checksum.
	f, err := os.OpenFile(filepath.Join(dir, "current", "rbw", dataName(b.ID)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 300))
	f.Close()
	n1 = startNode(t, []string{dir}, "")
	if got := idle(t, n1, b.ID); got != before {
		t.Errorf("after restart the replica waiting for recovery is %v, want %v", got, before)
	}
	// Block synchronization: describe, then cut, stamp and finalize.
	ctx := context.Background()
	st, err := datatransfer.Options{}.RecoverBlock(ctx, n1.info, b, 3, -1)
	if err != nil || st.Block != before || st.Finalized {
		t.Fatalf("RecoverBlock(init) = %+v, %v; want %v, not finalized", st, err, before)
	}
	const keep = cairn.PacketSize + 1000
	st, err = datatransfer.Options{}.RecoverBlock(ctx, n1.info, b, 3, keep)
	if err != nil || st.Block != (cairn.Block{ID: b.ID, GenStamp: 3, Len: keep}) || !st.Finalized {
		t.Fatalf("RecoverBlock(update) = %+v, %v", st, err)
	}
	got, err := readBlock(ctx, n1.info, st.Block, 0, keep)
	if err != nil || !bytes.Equal(got, data[:keep]) {
		t.Errorf("ReadBlock of the recovered replica = %d bytes, %v", len(got), err)
	}
	// An older recovery is refused.
	if _, err := (datatransfer.Options{}).RecoverBlock(ctx, n1.info, b, 2, keep); err == nil {
		t.Error("a recovery to an older generation stamp succeeded")
	}
}

func TestFullVolumeFailsTheWriteCleanly(t *testing.T) {
	dn, err := New(Config{Dirs: []string{t.TempDir()}, NameNode: deadAddr(t), VolumeCapacity: cairn.PacketSize + 100}, newLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	r, err := dn.store.create(cairn.Block{ID: 9, GenStamp: 1}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(cairn.PacketSize, 16)
	sums := make([]byte, datatransfer.SumsLen(len(data)))
	datatransfer.ComputeSums(sums, data)
	if err := r.write(sums, data); err != nil {
		t.Fatal(err)
	}
	err = r.write(sums, data)
	if cairn.KindOf(err) != cairn.NoSpace {
		t.Fatalf("write beyond the capacity = %v, want kind NoSpace", err)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write beyond the capacity = %v, want ENOSPC", err)
	}
	if _, _, failed := dn.store.stats(); len(failed) != 0 {
		t.Errorf("a full volume was marked failed: %v", failed)
	}
	r.abort()
}

func TestVolumeCheckFailsRemovedVolume(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	n1 := startNode(t, []string{a, b}, "")
	// One replica on each volume.
	d1 := randomBytes(1000, 17)
	d2 := randomBytes(2000, 18)
	writeBlock(t, cairn.Block{ID: 600, GenStamp: 1}, pipelineOf(n1), d1)
	writeBlock(t, cairn.Block{ID: 601, GenStamp: 1}, pipelineOf(n1), d2)
	if err := os.RemoveAll(b); err != nil {
		t.Fatal(err)
	}
	n1.dn.store.checkVolumes()
	_, _, failed := n1.dn.store.stats()
	if len(failed) != 1 {
		t.Fatalf("failed volumes = %v, want the removed one", failed)
	}
	if got := len(n1.dn.Blocks()); got != 1 {
		t.Errorf("%d replicas left, want the one on the good volume", got)
	}
	// The node keeps serving: a new write goes to the good volume.
	d3 := randomBytes(3000, 19)
	writeBlock(t, cairn.Block{ID: 602, GenStamp: 1}, pipelineOf(n1), d3)
	got, err := readBlock(context.Background(), n1.info, cairn.Block{ID: 602, GenStamp: 1}, 0, 3000)
	if err != nil || !bytes.Equal(got, d3) {
		t.Errorf("read after the volume failed = %d bytes, %v", len(got), err)
	}
}

func TestStalledNodeIsNamed(t *testing.T) {
	n1, n2, n3 := startNode(t, nil, ""), startNode(t, nil, ""), startNode(t, nil, "")
	px, err := faultproxy.New(n2.info.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	pipeline := []cairn.DatanodeInfo{n1.info, {ID: n2.info.ID, Addr: px.Addr()}, n3.info}
	w, err := datatransfer.Options{Timeout: 3 * time.Second, Recoverable: true}.NewBlockWriter(context.Background(), cairn.Block{ID: 700, GenStamp: 1}, pipeline, "test-client")
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(cairn.PacketSize, 20)
	w.Write(chunk)
	waitFor(t, func() bool { return w.Acked() > 0 }, "the first ack")
	// The middle node stops answering, as a paused process would.
	px.Blackhole()
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		werr = w.Close()
	}
	w.Abort()
	var pe *datatransfer.PipelineError
	if !errors.As(werr, &pe) || pe.Node.ID != n2.info.ID {
		t.Fatalf("write through a stalled middle node = %v, want a PipelineError naming it", werr)
	}
	// The first node keeps what it has, for the recovery.
	if got := idle(t, n1, 700); got.Len < w.Acked() {
		t.Errorf("first node kept %d bytes, fewer than the %d acknowledged", got.Len, w.Acked())
	}
}

func TestRecoveryOfFinalizedReplica(t *testing.T) {
	// The pipeline failed as the block was being closed: this node had
	// finalized it. A RECOVERY pipeline moves it back to rbw, stamps it
	// and finalizes it again.
	n1 := startNode(t, nil, "")
	data := randomBytes(cairn.PacketSize+5000, 21)
	b := cairn.Block{ID: 800, GenStamp: 1}
	writeBlock(t, b, pipelineOf(n1), data)
	nb := cairn.Block{ID: b.ID, GenStamp: 2}
	w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: int64(len(data)), Recoverable: true}.NewBlockWriter(context.Background(), nb, pipelineOf(n1), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readBlock(context.Background(), n1.info, nb, 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlock(%v) = %d bytes, %v", nb, len(got), err)
	}
	if blocks := n1.dn.Blocks(); len(blocks) != 1 || blocks[0] != (cairn.Block{ID: b.ID, GenStamp: 2, Len: int64(len(data))}) {
		t.Errorf("replicas = %v, want only the block with generation stamp 2", blocks)
	}
}

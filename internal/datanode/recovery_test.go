package datanode

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	r, err := dn.store.create(cairn.Block{ID: 9, GenStamp: 1}, false, true, false)
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

// failAt returns a StepHook that fails every step s with an I/O error.
func failAt(s Step) func(Step, cairn.Block) error {
	return func(step Step, b cairn.Block) error {
		if step == s {
			return errors.New("injected fsync failure")
		}
		return nil
	}
}

func TestTransferFailsWhenTheCopyCannotBeKept(t *testing.T) {
	// The target of a TRANSFER_RBW cannot make the copy durable: the
	// transfer fails, naming the target, and the target lists no
	// replica (it would be one it does not have).
	n1 := startNode(t, nil, "")
	n2 := startNodeWith(t, Config{StepHook: failAt(StepSettle)})
	data := randomBytes(2*cairn.PacketSize, 40)
	b := cairn.Block{ID: 540, GenStamp: 1}
	acked := partialWrite(t, b, pipelineOf(n1), data, 2*cairn.PacketSize)
	idle(t, n1, b.ID)
	err := datatransfer.Options{}.TransferBlock(context.Background(), n1.info, cairn.Block{ID: b.ID, GenStamp: 1, Len: acked}, pipelineOf(n2), 2, "test-client")
	var pe *datatransfer.PipelineError
	if !errors.As(err, &pe) || pe.Node.ID != n2.info.ID {
		t.Fatalf("TransferBlock to a target that cannot keep the copy = %v, want a PipelineError naming the target", err)
	}
	if got := n2.dn.store.idleBlocks(); len(got) != 0 {
		t.Errorf("target lists idle replicas %v after failing to keep the copy", got)
	}
	waitFor(t, func() bool {
		entries, _ := os.ReadDir(filepath.Join(n2.dirs[0], "current", "rbw"))
		return len(entries) == 0
	}, "the target's rbw to be empty")
	// The source still has its replica, idle, for another attempt.
	if got := idle(t, n1, b.ID); got.Len != acked {
		t.Errorf("source replica %v, want %d bytes", got, acked)
	}
}

func TestPartialReplicaThatCannotBeKeptIsNotListed(t *testing.T) {
	// A failed recoverable write whose partial replica cannot be made
	// durable: the replica is discarded, never listed idle.
	n1 := startNodeWith(t, Config{StepHook: failAt(StepSettle)})
	data := randomBytes(2*cairn.PacketSize, 41)
	b := cairn.Block{ID: 541, GenStamp: 1}
	partialWrite(t, b, pipelineOf(n1), data, cairn.PacketSize)
	waitFor(t, func() bool {
		n1.dn.store.mu.Lock()
		defer n1.dn.store.mu.Unlock()
		return n1.dn.store.rbws[b.ID] == nil
	}, "the partial replica to leave the map")
	if got := n1.dn.store.idleBlocks(); len(got) != 0 {
		t.Errorf("idle replicas %v, want none", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(n1.dirs[0], "current", "rbw")); len(entries) != 0 {
		t.Errorf("rbw holds %d files after the replica was discarded", len(entries))
	}
}

// pauser is a StepHook that holds the first goroutine reaching step for
// block id until released, and notes when, meanwhile, another state
// change of the block waits for it.
type pauser struct {
	step    Step
	id      cairn.BlockID
	armed   atomic.Bool
	reached chan struct{} // closed when a goroutine reaches step
	release chan struct{} // close to let it go on
	waiting chan struct{} // closed when a change of the block waits for the held one
	once    sync.Once
	wonce   sync.Once
}

func newPauser(step Step, id cairn.BlockID) *pauser {
	return &pauser{step: step, id: id, reached: make(chan struct{}), release: make(chan struct{}), waiting: make(chan struct{})}
}

func (p *pauser) hook(step Step, b cairn.Block) error {
	if step == p.step && b.ID == p.id && p.armed.CompareAndSwap(false, true) {
		close(p.reached)
		<-p.release
		return nil
	}
	if step == StepBlockWait && b.ID == p.id && p.armed.Load() {
		p.wonce.Do(func() { close(p.waiting) })
	}
	return nil
}

// awaitStep waits for ch to be closed.
func awaitStep(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// checkDisk checks that the replica files of a node's volume are
// exactly those of the replicas its maps hold: nothing listed that is
// not on disk, nothing on disk that is not listed.
func checkDisk(t *testing.T, n *node) {
	t.Helper()
	s := n.dn.store
	s.mu.Lock()
	want := map[string]bool{}
	for id, r := range s.replicas {
		if r.pk == nil {
			d, m := r.files(id)
			want[d], want[m] = true, true
		}
	}
	for id, r := range s.bad {
		if r.pk == nil {
			d, m := r.files(id)
			want[d], want[m] = true, true
		}
	}
	for _, r := range s.rbws {
		if r.dataPath != "" {
			want[r.dataPath], want[r.metaPath] = true, true
		}
	}
	s.mu.Unlock()
	got := map[string]bool{}
	for _, v := range s.vols {
		for _, dir := range []string{v.rbw, v.finalized} {
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					got[p] = true
				}
				return nil
			})
		}
	}
	for p := range want {
		if !got[p] {
			t.Errorf("listed replica file %s is not on disk", p)
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("file %s on disk belongs to no listed replica", p)
		}
	}
}

func TestRecoveryStampDoesNotRaceWithARead(t *testing.T) {
	// Lease recovery gives a finalized replica a new generation stamp
	// (renaming its meta file) while a reader of the old stamp opens
	// it. The reader must not take the renamed file for damage and
	// drop the replica that recovery then reports.
	p := newPauser(StepRecoveryStamped, 550)
	n1 := startNodeWith(t, Config{StepHook: p.hook})
	data := randomBytes(cairn.PacketSize+100, 42)
	b := cairn.Block{ID: 550, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(n1), data)
	ctx := context.Background()
	recovered := make(chan error, 1)
	go func() {
		_, err := datatransfer.Options{}.RecoverBlock(ctx, n1.info, b, 3, b.Len)
		recovered <- err
	}()
	awaitStep(t, p.reached, "recovery to rename the meta file")
	readDone := make(chan error, 1)
	go func() {
		_, err := readBlock(ctx, n1.info, b, 0, b.Len)
		readDone <- err
	}()
	select {
	case <-readDone:
	case <-p.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the read neither ended nor waited for the recovery")
	}
	close(p.release)
	if err := <-recovered; err != nil {
		t.Fatalf("RecoverBlock(update) = %v", err)
	}
	nb := cairn.Block{ID: b.ID, GenStamp: 3, Len: b.Len}
	if got, err := readBlock(ctx, n1.info, nb, 0, nb.Len); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlock(%v) after recovery = %d bytes, %v; want the replica", nb, len(got), err)
	}
	if blocks := n1.dn.Blocks(); len(blocks) != 1 || blocks[0] != nb {
		t.Errorf("Blocks() = %v, want [%v]", blocks, nb)
	}
	checkDisk(t, n1)
}

func TestRecoveryStampDoesNotRaceWithPipelineRecovery(t *testing.T) {
	// Lease recovery stamps a finalized replica while the writer's
	// pipeline recovery reopens the same replica (moving it back to
	// rbw/ and finalizing it again): the two never interleave, and the
	// node ends with one whole replica, its disk healthy.
	p := newPauser(StepRecoveryStamp, 551)
	n1 := startNodeWith(t, Config{StepHook: p.hook})
	data := randomBytes(cairn.PacketSize+200, 43)
	b := cairn.Block{ID: 551, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(n1), data)
	ctx := context.Background()
	recovered := make(chan error, 1)
	go func() {
		_, err := datatransfer.Options{}.RecoverBlock(ctx, n1.info, b, 3, b.Len)
		recovered <- err
	}()
	awaitStep(t, p.reached, "recovery to stamp the replica")
	piped := make(chan error, 1)
	go func() {
		w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: b.Len, Recoverable: true}.NewBlockWriter(ctx, cairn.Block{ID: b.ID, GenStamp: 2}, pipelineOf(n1), "test-client")
		if err == nil {
			err = w.Close()
		}
		piped <- err
	}()
	var pipeErr error
	pipeDone := false
	select {
	case pipeErr = <-piped:
		pipeDone = true
	case <-p.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline recovery neither ended nor waited for the lease recovery")
	}
	close(p.release)
	recErr := <-recovered
	if !pipeDone {
		pipeErr = <-piped
	}
	if _, _, failed := n1.dn.store.stats(); len(failed) != 0 {
		t.Fatalf("volume failed by the race: %v", failed)
	}
	blocks := n1.dn.Blocks()
	if len(blocks) != 1 {
		t.Fatalf("Blocks() = %v (lease recovery: %v, pipeline recovery: %v), want the one replica", blocks, recErr, pipeErr)
	}
	// Whichever came second found the other's result.
	switch got := blocks[0]; got.GenStamp {
	case 3:
		if recErr != nil {
			t.Errorf("replica stamped 3 but the lease recovery said %v", recErr)
		}
	case 2:
		if pipeErr != nil {
			t.Errorf("replica stamped 2 but the pipeline recovery said %v", pipeErr)
		}
	default:
		t.Errorf("replica %v, want generation stamp 2 or 3", got)
	}
	if got, err := readBlock(ctx, n1.info, blocks[0], 0, b.Len); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlock(%v) = %d bytes, %v; want the whole block", blocks[0], len(got), err)
	}
	checkDisk(t, n1)
}

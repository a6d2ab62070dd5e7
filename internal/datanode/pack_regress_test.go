package datanode

// Regression tests of the container store, from a review that found a
// bug behind each; each asserts what the project guarantees.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// forger is a container as someone without access to the DataNode's
// disk would guess it: seq 1, nonce 0.
var forger = &container{seq: 1}

func blockIDs(n *node) []cairn.BlockID {
	var ids []cairn.BlockID
	for _, b := range n.dn.Blocks() {
		ids = append(ids, b.ID)
	}
	return ids
}

// A torn tail whose cut falls inside the data of the last record: the
// resync scans that (user) data for headers, and loads what it finds.
// Here the data of block 2 holds a tombstone for block 1's record and a
// whole replica record of a block this node never had. Block 1 was
// acknowledged (fsync'd) long before the crash.
func TestPackRegressTornTailTrustsHeadersInUserData(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	a := randomBytes(3000, 1)
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), a)
	path, _, sums1, _ := nd.dn.PackedReplica(1)
	if sums1 != fileHeaderLen+packHeaderLen {
		t.Fatalf("block 1 not the first record")
	}
	// Block 2's content: filler, a tombstone killing (c_1, 0), a
	// replica record of block 999 gs 100, filler.
	fake := []byte("forged!!")
	rec := appendPackHeader(nil, packRecord{kind: recReplica, id: 999, gs: 100, len: int64(len(fake))}, forger, 0)
	sums := make([]byte, datatransfer.SumsLen(len(fake)))
	datatransfer.ComputeSums(sums, fake)
	rec = append(append(rec, sums...), fake...)
	payload := append([]byte(nil), randomBytes(1000, 2)...)
	payload = appendPackHeader(payload, packRecord{kind: recTombstone, id: 1, gs: 1, tseq: 1, toff: fileHeaderLen}, forger, 0)
	payload = append(payload, rec...)
	embedEnd := len(payload)
	payload = append(payload, randomBytes(20000, 3)...)
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), payload)
	_, data2, _, _ := nd.dn.PackedReplica(2)
	nd.stop(t)
	// The crash tore block 2's (unacknowledged) record: the file ends a
	// little past the embedded records.
	if err := os.Truncate(path, data2+int64(embedEnd)+100); err != nil {
		t.Fatal(err)
	}
	again := startNodeWith(t, smallConfig(nd.dirs))
	ids := blockIDs(again)
	t.Logf("replicas after restart: %v", ids)
	if !slices.Contains(ids, 1) {
		t.Errorf("acknowledged block 1 lost: killed by a tombstone found in block 2's data")
	}
	if slices.Contains(ids, 999) {
		got, err := readBlock(context.Background(), again.info, cairn.Block{ID: 999, GenStamp: 100, Len: int64(len(fake))}, 0, int64(len(fake)))
		t.Errorf("block 999 (never written) is served: %q, %v", got, err)
	}
}

// Held acks: a writer that sends a packet a little more often than
// every half timeout never sends a heartbeat, so nothing releases the
// held acks until window-1 packets or SmallBlockSize; its ack read
// times out after Timeout and the pipeline fails.
func TestPackRegressSlowWriterHeldAcksTimeOut(t *testing.T) {
	for _, small := range []int64{0, 1 << 20} {
		cfg := smallConfig(nil)
		cfg.SmallBlockSize = small
		nd := startNodeWith(t, cfg)
		ctx := context.Background()
		w, err := datatransfer.Options{Timeout: 400 * time.Millisecond, PacketSize: 512}.NewBlockWriter(ctx, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), "t")
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for i := range 8 {
			if _, werr = w.Write(randomBytes(512, uint64(i))); werr != nil {
				break
			}
			time.Sleep(150 * time.Millisecond)
		}
		if werr == nil {
			werr = w.Close()
		} else {
			w.Abort()
		}
		if werr != nil {
			t.Errorf("SmallBlockSize %d: slow writer (a packet every 150ms, timeout 400ms) failed: %v", small, werr)
		} else {
			t.Logf("SmallBlockSize %d: ok", small)
		}
	}
}

// Lease recovery restamping a packed replica whose data went bad fails
// the whole volume: the checksum mismatch is handed to ioErr as a disk
// error. Every other replica of the volume is dropped.
func TestPackRegressStampOfDamagedPackedReplicaFailsVolume(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), randomBytes(3000, 1))
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), randomBytes(3000, 2))
	path, dataOff, _, _ := nd.dn.PackedReplica(1)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff, 0x00, 0xff}, dataOff+10)
	f.Close()
	_, err = nd.dn.store.finishRecovery(1, 3000, 5)
	t.Logf("finishRecovery of the damaged replica = %v", err)
	nd.dn.store.mu.Lock()
	failed := nd.dn.store.vols[0].failed
	nd.dn.store.mu.Unlock()
	if failed != nil {
		t.Errorf("one damaged replica failed the volume: %v; replicas left: %v", failed, blockIDs(nd))
	}
}

// Compaction decides liveness from the replica map without the block's
// lock; unfinalize (and stamp) take the replica out of the map while
// they hold the lock and before they read the record. A compaction in
// that window does not copy the record and removes the container; the
// unfinalize then fails and puts the replica back, pointing into the
// removed container: listed, unreadable, gone after a restart.
func TestPackRegressCompactionDuringUnfinalizeLosesReplica(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	s := nd.dn.store
	s.vols[0].pack.maxSize = 16 << 10 // seal containers often
	for i := range 12 {
		writeBlock(t, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1}, pipelineOf(nd), randomBytes(3000, uint64(i)))
	}
	// Block 1's container: delete the others in it, so it is a candidate.
	loc1, _ := s.lookup(1)
	for i := 2; i <= 12; i++ {
		if rep, ok := s.lookup(cairn.BlockID(i)); ok && rep.pk.c == loc1.pk.c {
			s.remove(cairn.Block{ID: cairn.BlockID(i)})
		}
	}
	if cs := s.vols[0].pack.candidates(); !slices.Contains(cs, loc1.pk.c) {
		t.Fatalf("block 1's container is not a compaction candidate")
	}
	compacted := make(chan struct{})
	s.stepHook = func(st Step, b cairn.Block) error {
		if st == StepUnfinalizeStart {
			go func() { // the compaction loop, running meanwhile
				defer close(compacted)
				s.compact(context.Background())
			}()
			time.Sleep(100 * time.Millisecond) // let it get as far as it can
		}
		return nil
	}
	r, err := s.unfinalize(1, 2, 0)
	<-compacted
	s.stepHook = nil
	t.Logf("unfinalize = %v, %v", r, err)
	if err == nil {
		return // moved out: fine
	}
	if rep, ok := s.lookup(1); ok {
		t.Logf("block 1 back in the map, container %s removed=%v", rep.pk.c.path, !s.vols[0].pack.exists(rep.pk.c.seq))
	}
	got, rerr := readBlock(context.Background(), nd.info, cairn.Block{ID: 1, GenStamp: 1, Len: 3000}, 0, 3000)
	if rerr != nil || !bytes.Equal(got, randomBytes(3000, 0)) {
		t.Errorf("block 1 unreadable after the failed unfinalize: %v (still listed: %v)", rerr, slices.Contains(blockIDs(nd), 1))
	}
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	if !slices.Contains(blockIDs(again), 1) {
		t.Errorf("block 1 lost after a restart: %v", blockIDs(again))
	}
}

// finalize (the file path) supersedes an older or damaged replica by
// removing its files; a packed one has none, and its record is never
// killed. With equal stamps (a damaged packed replica replaced by a
// good copy), the restart keeps the damaged record and deletes the good
// file.
func TestPackRegressFileFinalizeOverDamagedPackedReplica(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	s := nd.dn.store
	good := randomBytes(3000, 1)
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), good)
	path, dataOff, _, _ := nd.dn.PackedReplica(1)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{^good[100]}, dataOff+100)
	f.Close()
	if !s.markBad(cairn.Block{ID: 1, GenStamp: 1}, 0) {
		t.Fatal("markBad")
	}
	// A good copy arrives, not held (window 1, or a spill): a file replica.
	w, err := datatransfer.Options{Window: 1}.NewBlockWriter(context.Background(), cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), "t")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(good)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := nd.dn.BlockFiles(1); d == "" {
		t.Fatal("the copy is not a file replica")
	}
	// Later appends seal the container (the last one is verified at
	// load, which would hide the damaged record).
	s.vols[0].pack.maxSize = 1
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), randomBytes(3000, 2))
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	got, err := readBlock(context.Background(), again.info, cairn.Block{ID: 1, GenStamp: 1, Len: 3000}, 0, 3000)
	_, _, _, packed := again.dn.PackedReplica(1)
	if err != nil || !bytes.Equal(got, good) {
		t.Errorf("after a restart block 1 (packed=%v) reads %v; the good file copy was deleted: %v",
			packed, err, filesUnder(t, filepath.Join(nd.dirs[0], "current", "finalized")))
	}
}

// A record of the last container whose checksums fail is skipped by the
// load but not killed; once that container is sealed, the next load
// does not verify it, and the record is a live replica again.
func TestPackRegressSkippedRecordComesBackOnceSealed(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), randomBytes(3000, 1))
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), randomBytes(3000, 2))
	path, dataOff, _, _ := nd.dn.PackedReplica(2)
	nd.stop(t)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{1, 2, 3}, dataOff+5) // torn: never acknowledged
	f.Close()
	again := startNodeWith(t, smallConfig(nd.dirs))
	if ids := blockIDs(again); slices.Contains(ids, 2) {
		t.Fatalf("torn record loaded: %v", ids)
	}
	again.dn.store.vols[0].pack.sync()      // the writer is done with the load's tombstones
	again.dn.store.vols[0].pack.maxSize = 1 // the next append seals c_1
	writeBlock(t, cairn.Block{ID: 3, GenStamp: 1}, pipelineOf(again), randomBytes(3000, 3))
	again.stop(t)
	third := startNodeWith(t, smallConfig(nd.dirs))
	if ids := blockIDs(third); slices.Contains(ids, 2) {
		_, err := readBlock(context.Background(), third.info, cairn.Block{ID: 2, GenStamp: 1, Len: 3000}, 0, 3000)
		t.Errorf("the torn record of block 2 is a replica again after its container was sealed: %v (read: %v)", ids, err)
	}
}

// A container write that hits ENOSPC fails the pack for good: p.failed
// is sticky, but ENOSPC does not fail the volume, which keeps taking
// small replicas that all fail at their last packet, even once space
// is back. Needs a small tmpfs: CAIRN_TEST_SMALL_TMPFS=/mnt/small (about 2 MiB).
func TestPackRegressENOSPCStopsContainersForGood(t *testing.T) {
	dir := os.Getenv("CAIRN_TEST_SMALL_TMPFS")
	if dir == "" {
		t.Skip("CAIRN_TEST_SMALL_TMPFS not set")
	}
	dir, _ = os.MkdirTemp(dir, "dn")
	defer os.RemoveAll(dir)
	nd := startNodeWith(t, smallConfig([]string{dir}))
	filler := filepath.Join(dir, "filler")
	fh, _ := os.Create(filler)
	for {
		if _, err := fh.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	fh.Close()
	w, _ := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), "t")
	w.Write(randomBytes(200<<10, 1))
	t.Logf("write on a full disk: %v", w.Close())
	os.Remove(filler)
	w, _ = datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), "t")
	w.Write(randomBytes(3000, 2))
	if err := w.Close(); err != nil {
		t.Errorf("space is back, yet a small write fails: %v (volume failed: %v)", err, nd.dn.store.vols[0].failed)
	}
}

// The same resync, with a forged record of an existing block (same ID,
// stamp and length) in a later file's data: after the torn tail, the
// forgery is "the later record" and is served, checksums and all.
func TestPackRegressTornTailServesForgedReplica(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	a := randomBytes(3000, 1)
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), a)
	forged := bytes.Repeat([]byte("X"), 3000)
	rec := appendPackHeader(nil, packRecord{kind: recReplica, id: 1, gs: 1, len: 3000}, forger, 0)
	sums := make([]byte, datatransfer.SumsLen(3000))
	datatransfer.ComputeSums(sums, forged)
	payload := append(append(append(randomBytes(500, 2), rec...), sums...), forged...)
	embedEnd := len(payload)
	payload = append(payload, randomBytes(20000, 3)...)
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), payload)
	path, data2, _, _ := nd.dn.PackedReplica(2)
	nd.stop(t)
	os.Truncate(path, data2+int64(embedEnd)+100) // block 2's record torn
	again := startNodeWith(t, smallConfig(nd.dirs))
	got, err := readBlock(context.Background(), again.info, cairn.Block{ID: 1, GenStamp: 1, Len: 3000}, 0, 3000)
	if err == nil && !bytes.Equal(got, a) {
		t.Errorf("block 1 now reads %q..., no checksum error: a forged record from another file's data replaced it", got[:8])
	}
}

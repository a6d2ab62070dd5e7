package datanode

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// smallConfig is a DataNode config with the container store on.
func smallConfig(dirs []string) Config {
	return Config{Dirs: dirs, SmallBlockSize: 1 << 20, CompactInterval: time.Hour}
}

// filesUnder returns the regular files under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// Small replicas written concurrently down a pipeline of three land in
// the nodes' containers (no files of their own, fewer fsyncs than
// replicas), read back whole, and are there again after a restart.
func TestSmallReplicasInContainers(t *testing.T) {
	var nodes []*node
	for range 3 {
		nodes = append(nodes, startNodeWith(t, smallConfig(nil)))
	}
	const n = 64
	data := func(i int) []byte { return randomBytes(1+i*997%70000, uint64(i)) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeBlock(t, cairn.Block{ID: cairn.BlockID(1000 + i), GenStamp: 1}, pipelineOf(nodes...), data(i))
		}()
	}
	wg.Wait()
	for k, nd := range nodes {
		for i := range n {
			id := cairn.BlockID(1000 + i)
			if _, _, _, ok := nd.dn.PackedReplica(id); !ok {
				t.Fatalf("node %d: block %d is not in a container", k, id)
			}
		}
		if f := filesUnder(t, nd.dn.store.vols[0].finalized); len(f) != 0 {
			t.Errorf("node %d: files in finalized/: %v", k, f)
		}
		if f := filesUnder(t, nd.dn.store.vols[0].rbw); len(f) != 0 {
			t.Errorf("node %d: files in rbw/: %v", k, f)
		}
		p := nd.dn.store.vols[0].pack
		t.Logf("node %d: %d replicas in %d fsyncs", k, p.recs.Load(), p.syncs.Load())
		if p.recs.Load() != n || p.syncs.Load() < 1 || p.syncs.Load() > n {
			t.Errorf("node %d: %d replicas synced in %d fsyncs, want %d in 1..%d", k, p.recs.Load(), p.syncs.Load(), n, n)
		}
	}
	check := func(nd *node) {
		t.Helper()
		for i := range n {
			b := cairn.Block{ID: cairn.BlockID(1000 + i), GenStamp: 1, Len: int64(len(data(i)))}
			got, err := readBlock(context.Background(), nd.info, b, 0, b.Len)
			if err != nil || !bytes.Equal(got, data(i)) {
				t.Fatalf("read %v: %d bytes, %v", b, len(got), err)
			}
			// A range off chunk boundaries.
			if b.Len > 1500 {
				got, err := readBlock(context.Background(), nd.info, b, 700, 800)
				if err != nil || !bytes.Equal(got, data(i)[700:1500]) {
					t.Fatalf("read %v [700,1500): %d bytes, %v", b, len(got), err)
				}
			}
		}
	}
	check(nodes[2])
	nodes[2].stop(t)
	again := startNodeWith(t, smallConfig(nodes[2].dirs))
	if got := len(again.dn.Blocks()); got != n {
		t.Fatalf("after a restart: %d replicas, want %d", got, n)
	}
	check(again)
	checkDisk(t, again)
}

// A replica larger than the small-block size, or synced by its writer
// before it ends, or written by a writer whose window allows no held
// ack, has files of its own.
func TestReplicasThatAreNotSmall(t *testing.T) {
	nd := startNodeWith(t, Config{SmallBlockSize: 64 << 10})
	ctx := context.Background()
	big := randomBytes(200<<10, 1)
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), big)

	w, err := datatransfer.NewBlockWriter(ctx, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), "t")
	if err != nil {
		t.Fatal(err)
	}
	synced := randomBytes(3000, 2)
	w.Write(synced[:1000])
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	w.Write(synced[1000:])
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	one := randomBytes(5000, 3)
	w, err = datatransfer.Options{Window: 1, PacketSize: 1024}.NewBlockWriter(ctx, cairn.Block{ID: 3, GenStamp: 1}, pipelineOf(nd), "t")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(one)
	if err := w.Close(); err != nil {
		t.Fatalf("Close (window 1) = %v", err)
	}
	for id, want := range map[cairn.BlockID][]byte{1: big, 2: synced, 3: one} {
		if _, _, _, packed := nd.dn.PackedReplica(id); packed {
			t.Errorf("block %d is in a container", id)
		}
		if d, _, ok := nd.dn.BlockFiles(id); !ok || d == "" {
			t.Errorf("block %d has no files", id)
		}
		got, err := readBlock(ctx, nd.info, cairn.Block{ID: id, GenStamp: 1, Len: int64(len(want))}, 0, int64(len(want)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read block %d: %d bytes, %v", id, len(got), err)
		}
	}
}

// A writer with a small window, or one that pauses, never waits on acks
// held back: the node writes the replica out (to rbw/, then finalized
// as any) and acks.
func TestHeldAcksNeverStallAWriter(t *testing.T) {
	nodes := []*node{startNodeWith(t, smallConfig(nil)), startNodeWith(t, smallConfig(nil))}
	ctx := context.Background()
	// Window 3, 40 packets: at most 2 acks held, then it spills.
	data := randomBytes(40*1024, 4)
	w, err := datatransfer.Options{Window: 3, PacketSize: 1024}.NewBlockWriter(ctx, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nodes...), "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	// A writer that pauses for longer than its timeout: its heartbeats
	// get the held acks out.
	slow := randomBytes(2000, 5)
	w, err = datatransfer.Options{Timeout: 400 * time.Millisecond, PacketSize: 512}.NewBlockWriter(ctx, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nodes...), "t")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(slow[:1000]) // one packet sent, held
	time.Sleep(time.Second)
	w.Write(slow[1000:])
	if err := w.Close(); err != nil {
		t.Fatalf("Close after a pause = %v", err)
	}
	for _, nd := range nodes {
		for id, want := range map[cairn.BlockID][]byte{1: data, 2: slow} {
			got, err := readBlock(ctx, nd.info, cairn.Block{ID: id, GenStamp: 1, Len: int64(len(want))}, 0, int64(len(want)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read block %d: %d bytes, %v", id, len(got), err)
			}
		}
	}
}

// A torn tail (a record cut short, garbage after the last record) is
// cut off at start; a record whose bytes were damaged is skipped, and
// the records around it load.
func TestContainerTornTailAndDamage(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	for i := range 5 {
		writeBlock(t, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1}, pipelineOf(nd), randomBytes(3000, uint64(i)))
	}
	path, dataOff, _, ok := nd.dn.PackedReplica(3)
	if !ok {
		t.Fatal("block 3 not in a container")
	}
	lastPath, lastData, _, _ := nd.dn.PackedReplica(5)
	nd.stop(t)
	if path != lastPath {
		t.Fatalf("blocks in two containers: %s, %s", path, lastPath)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a bit in block 3's data; cut block 5's record short.
	var b [1]byte
	f.ReadAt(b[:], dataOff+100)
	b[0] ^= 0x10
	f.WriteAt(b[:], dataOff+100)
	f.Truncate(lastData + 1000)
	f.Close()

	again := startNodeWith(t, smallConfig(nd.dirs))
	var ids []cairn.BlockID
	for _, b := range again.dn.Blocks() {
		ids = append(ids, b.ID)
	}
	if fmt.Sprint(ids) != "[1 2 4]" {
		t.Fatalf("replicas after restart: %v, want [1 2 4]", ids)
	}
	again.dn.store.vols[0].pack.sync()
	fi, _ := os.Stat(path)
	// Cut where block 5's record began, then a tombstone for block 3's
	// skipped record.
	if want := lastData - packHeaderLen - int64(datatransfer.SumsLen(3000)) + packHeaderLen; fi.Size() != want {
		t.Errorf("container has %d bytes after the load, want %d (torn tail cut, one tombstone)", fi.Size(), want)
	}
	// And appends go on after the cut.
	writeBlock(t, cairn.Block{ID: 6, GenStamp: 1}, pipelineOf(again), randomBytes(3000, 6))
	got, err := readBlock(context.Background(), again.info, cairn.Block{ID: 6, GenStamp: 1, Len: 3000}, 0, 3000)
	if err != nil || !bytes.Equal(got, randomBytes(3000, 6)) {
		t.Fatalf("read block 6: %v", err)
	}
}

// A damaged record in a running node is found by a reader, which gets
// a checksum error, and by the scanner, which stops serving it.
func TestContainerDamageFoundByReaderAndScanner(t *testing.T) {
	cfg := smallConfig(nil)
	cfg.ScanInterval = 100 * time.Millisecond
	nd := startNodeWith(t, cfg)
	data := randomBytes(5000, 9)
	writeBlock(t, cairn.Block{ID: 7, GenStamp: 1}, pipelineOf(nd), data)
	path, dataOff, _, _ := nd.dn.PackedReplica(7)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{^data[4000]}, dataOff+4000)
	f.Close()
	b := cairn.Block{ID: 7, GenStamp: 1, Len: 5000}
	if _, err := readBlock(context.Background(), nd.info, b, 0, b.Len); err == nil {
		t.Fatal("read of a damaged record succeeded")
	}
	waitFor(t, func() bool { return len(nd.dn.Blocks()) == 0 }, "the scanner to take the damaged replica out of the map")
	nd.dn.store.mu.Lock()
	_, bad := nd.dn.store.bad[7]
	nd.dn.store.mu.Unlock()
	if !bad {
		t.Error("the damaged replica is not kept as bad")
	}
	// The NameNode has it deleted: a tombstone, for good.
	if _, ok, _ := nd.dn.store.remove(b); !ok {
		t.Fatal("remove of the bad replica found nothing")
	}
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	if got := again.dn.Blocks(); len(got) != 0 {
		t.Errorf("after a restart: %v, want none", got)
	}
}

// Deleted replicas leave tombstones; a container at least half dead is
// compacted (its live records moved, the file removed), and a restart
// brings back exactly the live replicas.
func TestContainerDeleteAndCompact(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	s := nd.dn.store
	s.vols[0].pack.maxSize = 64 << 10 // seal containers often
	const n = 60
	data := func(i int) []byte { return randomBytes(4000+i, uint64(i)) }
	for i := range n {
		writeBlock(t, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1}, pipelineOf(nd), data(i))
	}
	before := filesUnder(t, s.vols[0].packDir())
	if len(before) < 3 {
		t.Fatalf("%d containers, want several", len(before))
	}
	// Delete two of every three.
	for i := range n {
		if i%3 != 0 {
			if _, ok, _ := s.remove(cairn.Block{ID: cairn.BlockID(i + 1)}); !ok {
				t.Fatalf("remove %d found nothing", i+1)
			}
		}
	}
	// A reader holding a replica of a container being compacted keeps
	// reading it.
	held, _, err := s.openReplica(cairn.Block{ID: 1, GenStamp: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.compact(context.Background())
	got := make([]byte, len(data(0)))
	if err := readFull(held.Data(), got, 0); err != nil || !bytes.Equal(got, data(0)) {
		t.Errorf("a handle open across the compaction reads %v", err)
	}
	held.Close()
	after := filesUnder(t, s.vols[0].packDir())
	for _, p := range before[:len(before)-1] {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("sealed container %s, two thirds dead, is still there", p)
		}
	}
	t.Logf("containers: %d before, %d after", len(before), len(after))
	check := func(nd *node) {
		t.Helper()
		var want []cairn.Block
		for i := range n {
			if i%3 == 0 {
				want = append(want, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1, Len: int64(len(data(i)))})
			}
		}
		if got := nd.dn.Blocks(); !equalBlocks(got, want) {
			t.Fatalf("replicas = %v, want %v", got, want)
		}
		for _, b := range want {
			got, err := readBlock(context.Background(), nd.info, b, 0, b.Len)
			if err != nil || !bytes.Equal(got, data(int(b.ID)-1)) {
				t.Fatalf("read %v: %v", b, err)
			}
		}
	}
	check(nd)
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	check(again)
}

// Lease recovery restamps a replica in a container (a new record, the
// old one killed), and a pipeline recovery reopens one (copied out to
// rbw/, where it is appended to); both survive a restart.
func TestPackedReplicaRecovery(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	ctx := context.Background()
	a := randomBytes(3000, 1)
	writeBlock(t, cairn.Block{ID: 1, GenStamp: 1}, pipelineOf(nd), a)
	if b, err := nd.dn.store.finishRecovery(1, 3000, 5); err != nil || b.GenStamp != 5 {
		t.Fatalf("finishRecovery = %v, %v", b, err)
	}
	if _, _, _, ok := nd.dn.PackedReplica(1); !ok {
		t.Error("restamped replica left its container")
	}

	c := randomBytes(3072, 2)
	writeBlock(t, cairn.Block{ID: 2, GenStamp: 1}, pipelineOf(nd), c)
	more := randomBytes(2000, 3)
	w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: 3072, Recoverable: true}.NewBlockWriter(ctx, cairn.Block{ID: 2, GenStamp: 2}, pipelineOf(nd), "t")
	if err != nil {
		t.Fatalf("pipeline recovery: %v", err)
	}
	w.Write(more)
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	want := []cairn.Block{{ID: 1, GenStamp: 5, Len: 3000}, {ID: 2, GenStamp: 2, Len: 5072}}
	if got := again.dn.Blocks(); !equalBlocks(got, want) {
		t.Fatalf("after a restart: %v, want %v", got, want)
	}
	for i, d := range [][]byte{a, append(c, more...)} {
		b := want[i]
		got, err := readBlock(ctx, again.info, b, 0, b.Len)
		if err != nil || !bytes.Equal(got, d) {
			t.Errorf("read %v: %d bytes, %v", b, len(got), err)
		}
	}
	checkDisk(t, again)
}

// A record header damaged in the middle of a container costs that
// record only: the load skips to the next whole record, and appends go
// to a new container rather than after the damage.
func TestContainerDamagedHeader(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	for i := range 4 {
		writeBlock(t, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1}, pipelineOf(nd), randomBytes(2000, uint64(i)))
	}
	path, _, sumsOff, _ := nd.dn.PackedReplica(2)
	nd.stop(t)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xee}, sumsOff-packHeaderLen+10) // in block 2's ID
	f.Close()
	again := startNodeWith(t, smallConfig(nd.dirs))
	var ids []cairn.BlockID
	for _, b := range again.dn.Blocks() {
		ids = append(ids, b.ID)
	}
	if fmt.Sprint(ids) != "[1 3 4]" {
		t.Fatalf("replicas after restart: %v, want [1 3 4]", ids)
	}
	writeBlock(t, cairn.Block{ID: 5, GenStamp: 1}, pipelineOf(again), randomBytes(2000, 4))
	if p, _, _, ok := again.dn.PackedReplica(5); !ok || p == path {
		t.Errorf("a new replica went to %q (ok %v), want a new container beside %s", p, ok, path)
	}
	for i := 1; i <= 5; i++ {
		if i == 2 {
			continue
		}
		b := cairn.Block{ID: cairn.BlockID(i), GenStamp: 1, Len: 2000}
		if got, err := readBlock(context.Background(), again.info, b, 0, 2000); err != nil || !bytes.Equal(got, randomBytes(2000, uint64(i-1))) {
			t.Errorf("read %v: %v", b, err)
		}
	}
}

// Whatever bytes a container holds, loading it never panics, loads only
// records whose headers check, and leaves the container at a record
// boundary it can append to.
func FuzzContainerLoad(f *testing.F) {
	c0 := &container{seq: 1, nonce: 42}
	fh := binary.BigEndian.AppendUint32(nil, fileMagic)
	fh = binary.BigEndian.AppendUint32(fh, 1)
	fh = binary.BigEndian.AppendUint64(fh, 42)
	good := appendPackHeader(append([]byte(nil), fh...), packRecord{kind: recReplica, id: 7, gs: 1, len: 3}, c0, fileHeaderLen)
	good = append(good, make([]byte, 4)...)
	good = append(good, 'a', 'b', 'c')
	datatransfer.ComputeSums(good[fileHeaderLen+packHeaderLen:fileHeaderLen+packHeaderLen+4], good[fileHeaderLen+packHeaderLen+4:])
	tomb := appendPackHeader(nil, packRecord{kind: recTombstone, id: 7, gs: 1, tseq: 1, toff: fileHeaderLen}, c0, int64(len(good)))
	f.Add(good, true)
	f.Add(append(append([]byte(nil), good...), tomb...), true)
	f.Add(append(append([]byte(nil), good...), good[:20]...), true)
	f.Add(append([]byte("garbage"), good...), false)
	f.Fuzz(func(t *testing.T, b []byte, last bool) {
		dir := t.TempDir()
		path := filepath.Join(dir, containerName(1))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		c := &container{seq: 1, nonce: 42, path: path, f: fh}
		p := &pack{dir: dir, log: newLogger(t)}
		n := 0
		err = p.load(c, last, func(r packRecord, c *container, off int64) {
			if off < 0 || off+r.size() > int64(len(b)) {
				t.Fatalf("record at %d of %d bytes past the container's %d", off, r.size(), len(b))
			}
			n++
		})
		if err != nil {
			t.Fatalf("load = %v", err)
		}
		if last && !c.damaged {
			fi, _ := fh.Stat()
			if fi.Size() != c.size.Load() {
				t.Fatalf("container of %d bytes, size %d after the load", fi.Size(), c.size.Load())
			}
		}
	})
}

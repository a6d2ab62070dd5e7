package client_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// syncedWrites writes data in the pieces given by cuts, calling Sync
// after each piece: most end off a chunk boundary, so the DataNodes
// rewrite a partial chunk again and again. After each Sync it calls
// check, if not nil.
func syncedWrites(t *testing.T, w *client.Writer, data []byte, cuts []int, check func()) {
	t.Helper()
	prev := 0
	for _, cut := range cuts {
		if _, err := w.Write(data[prev:cut]); err != nil {
			t.Fatalf("Write [%d, %d) = %v", prev, cut, err)
		}
		if err := w.Sync(); err != nil {
			t.Fatalf("Sync at %d = %v", cut, err)
		}
		if check != nil {
			check()
		}
		prev = cut
	}
	if _, err := w.Write(data[prev:]); err != nil {
		t.Fatalf("Write [%d, %d) = %v", prev, len(data), err)
	}
}

// TestSyncPartialChunks: Syncs that end off chunk boundaries, twice in
// a row, and across a block boundary, leave a file that reads back
// exactly, every checksum verified.
func TestSyncPartialChunks(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 3})
	data := randomBytes(80, 2*testBlockSize+5000)
	w, err := cl.Create(ctx, "/synced", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// No DataNode may refuse a packet of a Sync: a pipeline recovery
	// would hide it, but gives the block a new generation stamp.
	stamps := map[cairn.BlockID]cairn.GenStamp{}
	noRecovery := func() {
		st, err := c.NameNode().GetBlockLocations(ctx, "/synced", 0, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, lb := range st.Blocks {
			if gs, ok := stamps[lb.Block.ID]; ok && gs != lb.Block.GenStamp {
				t.Fatalf("block %d went from generation stamp %d to %d: its pipeline was recovered", lb.Block.ID, gs, lb.Block.GenStamp)
			}
			stamps[lb.Block.ID] = lb.Block.GenStamp
		}
	}
	syncedWrites(t, w, data, []int{
		100, 100, 1000, 1024, 70000, // empty sync, chunk-aligned sync, several packets
		testBlockSize - 1, testBlockSize, testBlockSize + 3, // around a block boundary
		2*testBlockSize + 4999,
	}, noRecovery)
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync at the end = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := w.Sync(); err == nil {
		t.Error("Sync after Close succeeded")
	}
	if got := readFile(t, ctx, cl, "/synced"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
}

// TestSyncSurvivesWriterKill: bytes synced, and only those, are kept by
// lease recovery when the writer dies; bytes written after the last
// Sync, still in the client's buffer, are lost.
func TestSyncSurvivesWriterKill(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{
		DataNodes: 3,
		BlockSize: testBlockSize,
		NameNode: func(cfg *namenode.Config) {
			cfg.LeaseSoftLimit = time.Second
			cfg.LeaseHardLimit = 2 * time.Second
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writer := dialShort(t, c, client.WithClientName("doomed-syncer"))
	data := randomBytes(81, testBlockSize+3000)
	const synced = testBlockSize + 1700
	w, err := writer.Create(ctx, "/open", nil)
	if err != nil {
		t.Fatal(err)
	}
	syncedWrites(t, w, data[:synced+100], []int{testBlockSize + 1000, synced}, nil)
	acked := client.KillForTest(writer, w)
	if acked != synced {
		t.Errorf("writer killed with %d bytes acknowledged, want the %d synced", acked, synced)
	}

	cl := c.Client(t)
	c.WaitFor(t, "the file closed by lease recovery", func(ctx context.Context) (bool, error) {
		fi, err := cl.Stat(ctx, "/open")
		return err == nil && !fi.UnderConstruction, err
	})
	if got := readFile(t, ctx, cl, "/open"); !bytes.Equal(got, data[:synced]) {
		t.Fatalf("recovered file has %d bytes (a prefix: %v), want the %d synced", len(got),
			len(got) <= len(data) && bytes.Equal(got, data[:len(got)]), synced)
	}
}

// TestSyncThenPipelineRecovery: a pipeline that fails after a Sync left
// a partial chunk is recovered, the new pipeline resuming off a chunk
// boundary, and writing goes on.
func TestSyncThenPipelineRecovery(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4, BlockSize: testBlockSize})
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBytes(82, 2*testBlockSize+100)
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	syncedWrites(t, w, data[:testBlockSize+777], []int{testBlockSize + 777}, nil)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	_, nodes := lastBlock(t, ctx, c, "/f")
	c.StopDataNode(t, nodes[1])
	if _, err := w.Write(data[testBlockSize+777:]); err != nil {
		t.Fatalf("Write after a node of the synced pipeline stopped = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
}

// TestSyncVisibleToNewReaders: after Sync, a reader opening the file
// (from another client) sees exactly the bytes synced, while the
// Writer is still open and writing: in the block being written, at a
// block boundary, and with more written and not synced.
func TestSyncVisibleToNewReaders(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 3})
	other := c.Client(t)
	data := randomBytes(83, 2*testBlockSize+9000)
	w, err := cl.Create(ctx, "/visible", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// Nothing synced yet: an empty file.
	if got := readFile(t, ctx, other, "/visible"); len(got) != 0 {
		t.Fatalf("file read before any Sync has %d bytes, want 0", len(got))
	}
	prev := 0
	for _, cut := range []int{777, 70000, testBlockSize, testBlockSize + 5000, 2*testBlockSize + 5000} {
		if _, err := w.Write(data[prev:cut]); err != nil {
			t.Fatal(err)
		}
		prev = cut
		for range 2 { // the second with nothing new
			if err := w.Sync(); err != nil {
				t.Fatalf("Sync at %d = %v", cut, err)
			}
		}
		// Bytes written after the Sync are not promised to readers.
		extra := min(cut+3000, len(data))
		if _, err := w.Write(data[cut:extra]); err != nil {
			t.Fatal(err)
		}
		prev = extra
		fi, err := other.Stat(ctx, "/visible")
		if err != nil || fi.Size < int64(cut) || !fi.UnderConstruction {
			t.Fatalf("Stat after Sync at %d = size %d, under construction %v, %v; want at least %d, under construction", cut, fi.Size, fi.UnderConstruction, err, cut)
		}
		got := readFile(t, ctx, other, "/visible")
		if len(got) < cut || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("after Sync at %d a new reader read %d bytes (a prefix: %v), want the %d synced", cut, len(got),
				len(got) <= len(data) && bytes.Equal(got, data[:len(got)]), cut)
		}
		// The NameNode is told the length synced, no more.
		if fi.Size != int64(cut) {
			t.Errorf("Stat after Sync at %d = size %d, want exactly the bytes synced", cut, fi.Size)
		}
	}
	if _, err := w.Write(data[prev:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, ctx, other, "/visible"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes after Close, not the %d written", len(got), len(data))
	}
}

func TestSmallReadAtNearTheEndOfAGrowingFile(t *testing.T) {
	// A reader opened after a Sync, whose last blocks are located only
	// after the writer synced more: a small ReadAt at the end of the
	// size it saw reads those bytes, and blames no DataNode for the
	// bytes synced since.
	_, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(91, 12*testBlockSize)
	w, err := cl.Create(ctx, "/growing-small", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	first := 11*testBlockSize + 1000
	if _, err := w.Write(data[:first]); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Open(ctx, "/growing-small")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	size := r.Stat().Size
	if size != int64(first) {
		t.Fatalf("size at open %d, want the %d synced", size, first)
	}
	if _, err := w.Write(data[first : first+5000]); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	n, err := r.ReadAt(p, size-100)
	if err != nil || n != 100 || !bytes.Equal(p, data[size-100:size]) {
		t.Fatalf("ReadAt(100 bytes at %d) = %d, %v, equal %v; want the last 100 bytes of the size seen at open", size-100, n, err, bytes.Equal(p[:n], data[size-100:size-100+int64(n)]))
	}
}

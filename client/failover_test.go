package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// nodeIndex returns the index in the cluster of the DataNode at addr.
func nodeIndex(t *testing.T, c *testcluster.Cluster, node cairn.DatanodeInfo) int {
	t.Helper()
	for i := range c.NumDataNodes() {
		if c.DataNodeAddr(i) == node.Addr || c.DataNode(i).ID() == node.ID {
			return i
		}
	}
	t.Fatalf("no datanode at %s (%s)", node.Addr, node.ID)
	return -1
}

func TestReadFailover(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 4})
	data := randomBytes(11, 3*testBlockSize+5)
	writeFile(t, ctx, cl, "/failover", data, nil)
	fi, err := cl.StatBlocks(ctx, "/failover")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a stopped datanode is skipped", func(t *testing.T) {
		// Stop the nearest replica of the first block: the reader must
		// fail over to the next one, for that block and the others.
		c.StopDataNode(t, nodeIndex(t, c, fi.Blocks[0].Locations[0]))
		fresh := c.Client(t)
		if got := readFile(t, ctx, fresh, "/failover"); !bytes.Equal(got, data) {
			t.Fatalf("read with a stopped datanode gave %d bytes, want %d, equal %v", len(got), len(data), bytes.Equal(got, data))
		}
		checkReadAt(t, ctx, fresh, "/failover", data, 5)
	})

	t.Run("a block with no replica left fails with its name", func(t *testing.T) {
		single := randomBytes(12, testBlockSize+10)
		writeFile(t, ctx, cl, "/single", single, &client.CreateOptions{Replication: 1})
		fi, err := cl.StatBlocks(ctx, "/single")
		if err != nil {
			t.Fatal(err)
		}
		b := fi.Blocks[1]
		if len(b.Locations) != 1 {
			t.Fatalf("block of a file of replication 1 has locations %v", b.Locations)
		}
		// It cannot be the node stopped above: writing to it failed.
		c.StopDataNode(t, nodeIndex(t, c, b.Locations[0]))
		r, err := c.Client(t).Open(ctx, "/single")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p := make([]byte, 100)
		_, err = r.ReadAt(p, testBlockSize)
		t.Logf("reading a block whose only replica is down: %v", err)
		wantKind(t, "ReadAt of a block whose only replica is down", err, cairn.Unavailable)
		if name := fmt.Sprintf("blk_%d", b.Block.ID); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	})
}

func TestReadCorruptReplica(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(12, 2*testBlockSize+100)
	writeFile(t, ctx, cl, "/corrupt", data, nil)
	fi, err := cl.StatBlocks(ctx, "/corrupt")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a corrupt replica is skipped", func(t *testing.T) {
		// Corrupt two of the three replicas of the first block, so
		// whatever order the NameNode gives, a corrupt one is read.
		b := fi.Blocks[0]
		for _, loc := range b.Locations[:2] {
			testcluster.FlipByte(t, c.ReplicaFile(t, nodeIndex(t, c, loc), b.Block.ID), 1000)
		}
		for _, fresh := range []*client.Client{c.Client(t), c.Client(t)} {
			if got := readFile(t, ctx, fresh, "/corrupt"); !bytes.Equal(got, data) {
				t.Fatalf("read with corrupt replicas gave wrong bytes")
			}
		}
		r, err := c.Client(t).Open(ctx, "/corrupt")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p := make([]byte, 100)
		if n, err := r.ReadAt(p, 950); err != nil || !bytes.Equal(p[:n], data[950:1050]) {
			t.Fatalf("ReadAt over the corrupt byte = %d, %v", n, err)
		}
	})

	t.Run("a block corrupt everywhere fails with its name", func(t *testing.T) {
		data := randomBytes(13, testBlockSize+100)
		writeFile(t, ctx, cl, "/allbad", data, nil)
		fi, err := cl.StatBlocks(ctx, "/allbad")
		if err != nil {
			t.Fatal(err)
		}
		b := fi.Blocks[1]
		for _, loc := range b.Locations {
			testcluster.FlipByte(t, c.ReplicaFile(t, nodeIndex(t, c, loc), b.Block.ID), 10)
		}
		fresh := c.Client(t)
		r, err := fresh.Open(ctx, "/allbad")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		t.Logf("reading a block corrupt everywhere: %v", err)
		wantKind(t, "reading a block corrupt on every replica", err, cairn.Corrupt)
		if name := fmt.Sprintf("blk_%d", b.Block.ID); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
		if !bytes.Equal(got, data[:len(got)]) || len(got) > testBlockSize+10 {
			t.Errorf("read %d bytes before the error, some wrong or past the corruption", len(got))
		}
		// The good block still reads.
		p := make([]byte, testBlockSize)
		if n, err := r.ReadAt(p, 0); err != nil || !bytes.Equal(p[:n], data[:testBlockSize]) {
			t.Errorf("ReadAt of the good block = %d, %v", n, err)
		}
	})
}

// TestClientCloseCompletesWriters checks that closing a Client
// completes the files it still writes, as HDFS does.
func TestClientCloseCompletesWriters(t *testing.T) {
	c, _, ctx := setup(t, testcluster.Options{})
	cl, err := client.Dial(ctx, c.NameNodeAddr())
	if err != nil {
		t.Fatal(err)
	}
	w, err := cl.Create(ctx, "/left-open", nil)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(14, testBlockSize+3)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := cl.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if got := readFile(t, context.Background(), c.Client(t), "/left-open"); !bytes.Equal(got, data) {
		t.Errorf("file left open reads %d bytes, want %d", len(got), len(data))
	}
}

// TestWriteAvoidsStoppedDataNode checks that a pipeline that cannot be
// set up is abandoned and another asked for without the failed node.
func TestWriteAvoidsStoppedDataNode(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 4})
	c.StopDataNode(t, 0)
	for i := range 4 {
		name := fmt.Sprintf("/avoid%d", i)
		data := randomBytes(uint64(20+i), 3*testBlockSize+1)
		writeFile(t, ctx, cl, name, data, nil)
		if got := readFile(t, ctx, cl, name); !bytes.Equal(got, data) {
			t.Fatalf("%s reads back wrong", name)
		}
	}
}

// TestWriteDataNodeFailure stops a DataNode of the pipeline in the
// middle of a block. Whatever the writer does (fail, or later recover
// the pipeline), it must not hang, and a file it reports complete must
// read back exactly.
func TestWriteDataNodeFailure(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(30, 3*testBlockSize)
	w, err := cl.Create(ctx, "/broken", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	half := testBlockSize + testBlockSize/2
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	fi, err := cl.StatBlocks(ctx, "/broken")
	if err != nil {
		t.Fatal(err)
	}
	last := fi.Blocks[len(fi.Blocks)-1]
	if len(last.Locations) == 0 {
		t.Fatalf("block being written has no locations: %+v", fi.Blocks)
	}
	c.StopDataNode(t, nodeIndex(t, c, last.Locations[len(last.Locations)-1]))
	_, werr := w.Write(data[half:])
	cerr := w.Close()
	if werr != nil || cerr != nil {
		t.Logf("write failed as expected without pipeline recovery: write %v, close %v", werr, cerr)
		err := werr
		if err == nil {
			err = cerr
		}
		if k := cairn.KindOf(err); k == cairn.Other {
			t.Errorf("pipeline failure %v has no kind", err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after a failed write = %v", err)
		}
		if _, err := cl.Stat(ctx, "/broken"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat after Abort = %v, want fs.ErrNotExist", err)
		}
		return
	}
	if got := readFile(t, ctx, cl, "/broken"); !bytes.Equal(got, data) {
		t.Fatalf("file written through a failure reads back wrong")
	}
}

func TestReadOfReplacedFile(t *testing.T) {
	// A reader knows the locations of the first blocks only; when the
	// path is replaced by another file during the read, it must fail
	// rather than give the new file's blocks as the rest of the old
	// one.
	_, cl, ctx := setup(t, testcluster.Options{})
	old := randomBytes(21, 12*testBlockSize)
	writeFile(t, ctx, cl, "/replaced", old, nil)
	r, err := cl.Open(ctx, "/replaced")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, testBlockSize)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, old[:testBlockSize]) {
		t.Fatalf("first block: %v, equal %v", err, bytes.Equal(head, old[:testBlockSize]))
	}
	if err := cl.Remove(ctx, "/replaced"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, ctx, cl, "/replaced", randomBytes(22, 14*testBlockSize), nil)

	rest, err := io.ReadAll(r)
	if !errors.Is(err, cairn.NotExist) {
		t.Fatalf("reading on after the path was replaced: err = %v, want kind NotExist", err)
	}
	got := append(head, rest...)
	if !bytes.Equal(got, old[:len(got)]) {
		t.Fatalf("the reader gave bytes that are not the old file's (%d bytes read)", len(got))
	}
	p := make([]byte, 100)
	if _, err := r.ReadAt(p, int64(len(old))-100); !errors.Is(err, cairn.NotExist) {
		t.Fatalf("ReadAt of a block not yet located: err = %v, want kind NotExist", err)
	}
}

func TestReadStopsAtSizeSeenAtOpen(t *testing.T) {
	// A reader of a file being written gives the bytes of the size it
	// saw at Open (as Stat says), not what was written since.
	_, cl, ctx := setup(t, testcluster.Options{})
	w, err := cl.Create(ctx, "/growing", nil)
	if err != nil {
		t.Fatal(err)
	}
	// More blocks than one location batch, so that the last ones are
	// located after they have grown.
	data := randomBytes(23, 14*testBlockSize)
	if _, err := w.Write(data[:12*testBlockSize+100]); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Open(ctx, "/growing")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	size := r.Stat().Size
	if size < 11*testBlockSize {
		t.Fatalf("size at open %d, want at least the 11 blocks completed", size)
	}
	if _, err := w.Write(data[12*testBlockSize+100:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != size || !bytes.Equal(got, data[:size]) {
		t.Fatalf("read %d bytes, want the %d of Stat, equal prefix %v", len(got), size, bytes.Equal(got, data[:len(got)]))
	}
}

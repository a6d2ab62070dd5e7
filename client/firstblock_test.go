package client_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// logEntries returns the index of the newest entry of the NameNode's
// log.
func logEntries(t *testing.T, c *testcluster.Cluster) uint64 {
	t.Helper()
	st, err := c.NameNode().HAStatus(context.Background())
	if err != nil || len(st.Members) != 1 {
		t.Fatalf("HAStatus = %+v, %v", st, err)
	}
	return st.Members[0].LastIndex
}

// A file's first block comes with its Create: a one-block file costs
// two log entries (the create with its block, the complete), three
// with a client that does not ask for it (create, addBlock, complete),
// and both kinds of client write files of any size that read back
// whole.
func TestCreateWithFirstBlock(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{})
	old, err := client.Dial(ctx, c.NameNodeAddr(), client.WithoutFirstBlock())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for _, tc := range []struct {
		name    string
		cl      *client.Client
		size    int
		entries uint64 // of the log, per file
	}{
		{"a one-block file", cl, 1000, 2},
		{"a one-block file of a client that asks AddBlock", old, 1000, 3},
		{"an empty file (its block given back)", cl, 0, 3},
		{"an empty file of a client that asks AddBlock", old, 0, 2},
		{"a file of one full block", cl, testBlockSize, 2},
		{"a file of several blocks", cl, 3*testBlockSize + 17, 5},
		{"a file of several blocks of a client that asks AddBlock", old, 3*testBlockSize + 17, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "/first/" + tc.name
			data := randomBytes(uint64(tc.size), tc.size)
			before := logEntries(t, c)
			writeFile(t, ctx, tc.cl, name, data, &client.CreateOptions{CreateParent: true})
			if n := logEntries(t, c) - before; n != tc.entries {
				t.Errorf("writing %q took %d log entries, want %d", name, n, tc.entries)
			}
			fi, err := cl.StatBlocks(ctx, name)
			if err != nil {
				t.Fatalf("StatBlocks(%q) = %v", name, err)
			}
			if want := (tc.size + testBlockSize - 1) / testBlockSize; fi.Size != int64(tc.size) || len(fi.Blocks) != want || fi.UnderConstruction {
				t.Fatalf("StatBlocks(%q) = size %d, %d blocks, open %v; want size %d, %d blocks, closed", name, fi.Size, len(fi.Blocks), fi.UnderConstruction, tc.size, want)
			}
			if got := readFile(t, ctx, cl, name); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes of %q, want %d (equal: %v)", len(got), name, len(data), bytes.Equal(got, data))
			}
		})
	}
}

// The first block is the file's until the first Write: a file
// aborted before it goes, block and all; a pipeline of the first block
// with a dead DataNode is abandoned and another block asked for
// without it; a first block held too long is given back for a fresh
// one.
func TestCreateWithFirstBlockFallsBack(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 4})

	t.Run("aborted before the first write", func(t *testing.T) {
		w, err := cl.Create(ctx, "/aborted", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := client.FirstBlockForTest(w); !ok {
			t.Fatal("Create gave no first block")
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort = %v", err)
		}
		if _, err := cl.Stat(ctx, "/aborted"); cairn.KindOf(err) != cairn.NotExist {
			t.Fatalf("Stat after Abort = %v, want NotExist", err)
		}
	})

	t.Run("a dead datanode in its pipeline", func(t *testing.T) {
		w, err := cl.Create(ctx, "/dead", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		first, ok := client.FirstBlockForTest(w)
		if !ok {
			t.Fatal("Create gave no first block")
		}
		dead := -1
		for i := range c.NumDataNodes() {
			if c.DataNodeAddr(i) == first.Locations[0].Addr {
				dead = i
			}
		}
		if dead < 0 {
			t.Fatalf("no datanode at %s", first.Locations[0].Addr)
		}
		c.StopDataNode(t, dead)
		defer c.RestartDataNode(t, dead)
		data := randomBytes(7, 5000)
		if _, err := w.Write(data); err != nil {
			t.Fatalf("Write = %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		b := replacedFirstBlock(t, ctx, cl, "/dead", first, data)
		for _, loc := range b.Locations {
			if loc.Addr == c.DataNodeAddr(dead) {
				t.Errorf("the block is on the dead datanode %s", loc.Addr)
			}
		}
	})

	t.Run("held too long", func(t *testing.T) {
		w, err := cl.Create(ctx, "/late", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		first, ok := client.FirstBlockForTest(w)
		if !ok {
			t.Fatal("Create gave no first block")
		}
		client.AgeFirstBlockForTest(w, client.FirstBlockMaxAge)
		data := randomBytes(8, 3000)
		if _, err := w.Write(data); err != nil {
			t.Fatalf("Write = %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		replacedFirstBlock(t, ctx, cl, "/late", first, data)
	})
}

// replacedFirstBlock checks that path is one block, not first (the
// block its Create gave, given back), holding data, and returns it.
func replacedFirstBlock(t *testing.T, ctx context.Context, cl *client.Client, path string, first cairn.LocatedBlock, data []byte) cairn.LocatedBlock {
	t.Helper()
	fi, err := cl.StatBlocks(ctx, path)
	if err != nil || len(fi.Blocks) != 1 || fi.Blocks[0].Block.ID == first.Block.ID {
		t.Fatalf("StatBlocks(%s) = %+v, %v; want one block, not the first one (%d)", path, fi.Blocks, err, first.Block.ID)
	}
	if got := readFile(t, ctx, cl, path); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
	return fi.Blocks[0]
}

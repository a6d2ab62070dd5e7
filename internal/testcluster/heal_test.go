package testcluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The tests of this file check the NameNode's healing with real
// DataNodes and real bytes: heartbeats every 100ms, stale after 1s,
// dead after 3s (the test cluster's defaults).

const healBlock = 64 << 10

func putFile(t *testing.T, cl *client.Client, p string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	ctx := context.Background()
	w, err := cl.Create(ctx, p, &client.CreateOptions{BlockSize: healBlock, Overwrite: true, CreateParent: true})
	if err != nil {
		t.Fatalf("Create(%q): %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", p, err)
	}
	return data
}

func readFile(ctx context.Context, cl *client.Client, p string) ([]byte, error) {
	r, err := cl.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func checkFile(t *testing.T, cl *client.Client, p string, want []byte) {
	t.Helper()
	got, err := readFile(context.Background(), cl, p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes differ from the %d written", p, len(got), len(want))
	}
}

// locations returns, for each block of p, the indexes of the DataNodes
// the NameNode gives for reading it.
func locations(t *testing.T, c *testcluster.Cluster, p string) [][]int {
	t.Helper()
	st, err := c.NameNode().GetBlockLocations(context.Background(), p, 0, 0, "")
	if err != nil {
		t.Fatalf("GetBlockLocations(%q): %v", p, err)
	}
	var out [][]int
	for _, lb := range st.Blocks {
		var idx []int
		for _, l := range lb.Locations {
			for i := range c.NumDataNodes() {
				if c.DataNodeAddr(i) == l.Addr {
					idx = append(idx, i)
				}
			}
		}
		out = append(out, idx)
	}
	return out
}

// replicated says whether every block below p has exactly n live
// replicas and no corrupt one, and fsck says HEALTHY.
func replicated(ctx context.Context, cl *client.Client, p string, n int) (bool, error) {
	rep, err := cl.Fsck(ctx, p, client.FsckOptions{Blocks: true})
	if err != nil {
		return false, err
	}
	if rep.Status != "HEALTHY" || rep.UnderReplicatedBlocks != 0 {
		return false, nil
	}
	for _, f := range rep.FileDetails {
		for _, b := range f.Blocks {
			if b.LiveReplicas != n || b.CorruptReplicas != 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

func TestHealStoppedDataNodeWithRealBytes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4})
	cl := c.Client(t)
	data := putFile(t, cl, "/heal/f", 5*healBlock+100)
	victim := locations(t, c, "/heal/f")[0][0]
	c.StopDataNode(t, victim)
	c.WaitFor(t, "the stopped node to be dead", func(ctx context.Context) (bool, error) {
		return stateOf(ctx, cl, c.DataNodeAddr(victim)) == "dead", nil
	})
	c.WaitFor(t, "every block back at 3 live replicas", func(ctx context.Context) (bool, error) {
		return replicated(ctx, cl, "/heal/f", 3)
	})
	// Every block is now on the three other nodes: stop two more, and
	// the last one alone serves the whole file, copies included.
	var others []int
	for i := range 4 {
		if i != victim {
			others = append(others, i)
		}
	}
	c.StopDataNode(t, others[0])
	c.StopDataNode(t, others[1])
	checkFile(t, cl, "/heal/f", data)

	// Everyone comes back: each block has 4 replicas, and the surplus
	// goes, on disk too.
	c.RestartDataNode(t, victim)
	c.RestartDataNode(t, others[0])
	c.RestartDataNode(t, others[1])
	st, err := c.NameNode().GetBlockLocations(context.Background(), "/heal/f", 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, "3 replicas of every block, on disk too", func(ctx context.Context) (bool, error) {
		if ok, err := replicated(ctx, cl, "/heal/f", 3); !ok {
			return false, err
		}
		for _, lb := range st.Blocks {
			if n := len(c.ReplicaFiles(lb.Block.ID)); n != 3 {
				return false, nil
			}
		}
		return true, nil
	})
	checkFile(t, cl, "/heal/f", data)
}

func TestHealCorruptReplica(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4})
	cl := c.Client(t)
	data := putFile(t, cl, "/heal/c", healBlock/2)
	st, _ := c.NameNode().GetBlockLocations(context.Background(), "/heal/c", 0, 0, "")
	id := st.Blocks[0].Block.ID
	bad := locations(t, c, "/heal/c")[0][0]
	path := c.ReplicaFile(t, bad, id)
	testcluster.FlipByte(t, path, 100)

	// Reads never return the bad bytes; one of them lands on the bad
	// replica and reports it (or the DataNode's scanner does).
	c.WaitFor(t, "the corrupt replica to be known", func(ctx context.Context) (bool, error) {
		checkFile(t, cl, "/heal/c", data)
		locs := locations(t, c, "/heal/c")[0]
		return !slices.Contains(locs, bad), nil
	})
	c.WaitFor(t, "3 good replicas and the corrupt one deleted", func(ctx context.Context) (bool, error) {
		if ok, err := replicated(ctx, cl, "/heal/c", 3); !ok {
			return false, err
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return len(c.ReplicaFiles(id)) == 3, nil
	})
	checkFile(t, cl, "/heal/c", data)
}

func TestHealEveryReplicaCorrupt(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 3})
	cl := c.Client(t)
	putFile(t, cl, "/heal/all", healBlock/2)
	st, _ := c.NameNode().GetBlockLocations(context.Background(), "/heal/all", 0, 0, "")
	id := st.Blocks[0].Block.ID
	where := c.ReplicaFiles(id)
	if len(where) != 3 {
		t.Fatalf("block files %v, want 3", where)
	}
	for _, p := range where {
		testcluster.FlipByte(t, p, 10)
	}
	_, err := readFile(context.Background(), cl, "/heal/all")
	if cairn.KindOf(err) != cairn.Corrupt || !strings.Contains(err.Error(), fmt.Sprintf("blk_%d", id)) {
		t.Fatalf("read of a block corrupt everywhere = %v, want a Corrupt error naming %v", err, id)
	}
	c.WaitFor(t, "fsck to say CORRUPT naming the file", func(ctx context.Context) (bool, error) {
		rep, err := cl.Fsck(ctx, "/", client.FsckOptions{})
		if err != nil {
			return false, err
		}
		return rep.Status == "CORRUPT" && rep.CorruptBlocks == 1 && len(rep.FileDetails) == 1 && rep.FileDetails[0].Path == "/heal/all", nil
	})
}

func TestDecommissionWithRealNodes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4})
	cl := c.Client(t)
	data := putFile(t, cl, "/heal/d", 4*healBlock)
	node := locations(t, c, "/heal/d")[0][0]
	ctx := context.Background()
	st, err := cl.Decommission(ctx, c.DataNodeAddr(node))
	if err != nil || st.State != "decommissioning" {
		t.Fatalf("Decommission(%s) = %+v, %v", c.DataNodeAddr(node), st, err)
	}
	// It still serves reads meanwhile.
	checkFile(t, cl, "/heal/d", data)
	c.WaitFor(t, "decommissioned", func(ctx context.Context) (bool, error) {
		rep, err := cl.DatanodeReport(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range rep.Datanodes {
			if d.Addr == c.DataNodeAddr(node) {
				return d.State == "decommissioned", nil
			}
		}
		return false, nil
	})
	// The decision survives a NameNode restart.
	c.RestartNameNode(t)
	c.WaitFor(t, "still out of service after a restart", func(ctx context.Context) (bool, error) {
		rep, err := cl.DatanodeReport(ctx)
		if err != nil {
			return false, nil
		}
		for _, d := range rep.Datanodes {
			if d.Addr == c.DataNodeAddr(node) {
				if d.State != "decommissioning" && d.State != "decommissioned" {
					t.Fatalf("state after the restart = %s", d.State)
				}
				return d.State == "decommissioned", nil
			}
		}
		return false, nil
	})
	// Stopped, it leaves nothing under-replicated.
	c.StopDataNode(t, node)
	if ok, err := replicated(ctx, cl, "/heal/d", 3); !ok || err != nil {
		rep, _ := cl.Fsck(ctx, "/", client.FsckOptions{Blocks: true})
		t.Fatalf("fsck after stopping the decommissioned node: %+v, %v", rep, err)
	}
	checkFile(t, cl, "/heal/d", data)
}

func stateOf(ctx context.Context, cl *client.Client, addr string) string {
	rep, err := cl.DatanodeReport(ctx)
	if err != nil {
		return ""
	}
	for _, d := range rep.Datanodes {
		if d.Addr == addr {
			return d.State
		}
	}
	return ""
}

package testcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// liveAt waits until member i of the group knows n live DataNodes.
// Any member answers GetDatanodeReport from its own registry.
func liveAt(t *testing.T, c *testcluster.Cluster, i, n int) {
	t.Helper()
	c.WaitFor(t, fmt.Sprintf("%d live datanodes at member %d", n, i), func(ctx context.Context) (bool, error) {
		rep, err := c.NameNodeAt(i).GetDatanodeReport(ctx)
		if err != nil {
			return false, err
		}
		live := 0
		for _, d := range rep.Datanodes {
			if d.State == "live" {
				live++
			}
		}
		return live == n, nil
	})
}

func write(ctx context.Context, cl *client.Client, p string, data []byte) error {
	w, err := cl.Create(ctx, p, &client.CreateOptions{BlockSize: healBlock, Overwrite: true, CreateParent: true})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func same(ctx context.Context, cl *client.Client, p string, want []byte) error {
	got, err := readFile(ctx, cl, p)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read %s: %d bytes differ from the %d written", p, len(got), len(want))
	}
	return nil
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestGroupFailoverWithRealNodes: in a group of three NameNodes, the
// DataNodes report to every member, so a file written through one
// leader is read through the next one after the first stops; the
// stopped member comes back as a follower, and the group survives the
// loss of its second leader too.
func TestGroupFailoverWithRealNodes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{NameNodes: 3})
	ctx := context.Background()
	if got := c.NumNameNodes(); got != 3 {
		t.Fatalf("NumNameNodes() = %d, want 3", got)
	}
	addrs := c.NameNodeAddrs()
	if c.NameNodeAddr() != strings.Join(addrs, ",") {
		t.Errorf("NameNodeAddr() = %q, want the members' addresses %q, comma-separated", c.NameNodeAddr(), addrs)
	}
	for i := range addrs {
		liveAt(t, c, i, 3)
	}

	// One client for the whole test: it follows the leader.
	cl := c.Client(t)
	f := randomData(1, 3*healBlock+100)
	must(t, "write /ha/f", write(ctx, cl, "/ha/f", f))

	first := c.WaitLeader(t)
	c.StopNameNode(t, first)
	if second := c.WaitLeader(t); second == first {
		t.Fatalf("WaitLeader() = %d, the stopped member", second)
	}
	must(t, "read /ha/f from the next leader", same(ctx, cl, "/ha/f", f))
	g := randomData(2, healBlock+1)
	must(t, "write /ha/g", write(ctx, cl, "/ha/g", g))

	// The first leader comes back as a follower.
	c.StartNameNode(t, first)
	c.WaitFor(t, "the first leader to follow", func(context.Context) (bool, error) {
		state, leader := c.NameNodeAt(first).RaftState()
		return state == "Follower" && leader != "" && !strings.HasPrefix(leader, addrs[first]), nil
	})
	liveAt(t, c, first, 3)

	// The leader stops again: the two others elect one of themselves,
	// which has both files.
	second := c.WaitLeader(t)
	c.StopNameNode(t, second)
	if third := c.WaitLeader(t); third == second {
		t.Fatalf("WaitLeader() = %d, the stopped member", third)
	}
	must(t, "read /ha/f from the third leader", same(ctx, cl, "/ha/f", f))
	must(t, "read /ha/g from the third leader", same(ctx, cl, "/ha/g", g))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestWriteAcrossFailover: a file being written when the leader stops
// is finished through the next leader by the same Writer (its next
// addBlock and its complete go there; its lease is renewed there), and
// reads back whole; so does a file written with Sync calls on the way.
func TestWriteAcrossFailover(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{NameNodes: 3})
	ctx := context.Background()
	cl := c.Client(t)
	c.WaitLive(t, 3)
	data := randomData(3, 5*healBlock+777)
	w, err := cl.Create(ctx, "/ha/open", &client.CreateOptions{BlockSize: healBlock, CreateParent: true})
	must(t, "create /ha/open", err)
	half := 2*healBlock + 100
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatalf("write the first half: %v", err)
	}
	must(t, "sync", w.Sync())

	first := c.WaitLeader(t)
	c.StopNameNode(t, first)
	if next := c.WaitLeader(t); next == first {
		t.Fatalf("WaitLeader() = %d, the stopped member", next)
	}
	if _, err := w.Write(data[half:]); err != nil {
		t.Fatalf("write the second half after the failover: %v", err)
	}
	must(t, "close /ha/open after the failover", w.Close())
	must(t, "read /ha/open", same(ctx, cl, "/ha/open", data))
	st, err := cl.Stat(ctx, "/ha/open")
	must(t, "stat /ha/open", err)
	if st.Size != int64(len(data)) {
		t.Errorf("size of /ha/open = %d, want %d", st.Size, len(data))
	}
}

// TestLeaseRecoveryAcrossFailover: a writer that stops dead, its bytes
// acknowledged by the pipeline, while its leader dies: the next leader
// gives its lease a full period, then recovers the file (a block
// synchronization ordered to DataNodes that now obey it) with every
// acknowledged byte.
func TestLeaseRecoveryAcrossFailover(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{NameNodes: 3, NameNode: func(cfg *namenode.Config) {
		cfg.LeaseSoftLimit = 300 * time.Millisecond
		cfg.LeaseHardLimit = 2 * time.Second
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.WaitLive(t, 3)
	first := c.WaitLeader(t)
	nn := c.NameNodeAt(first)
	st, err := nn.Create(ctx, "/f", namenode.CreateOptions{ClientName: "paused-writer", CreateParent: true})
	must(t, "create", err)
	lb, err := nn.AddBlock(ctx, "/f", st.ID, "paused-writer", nil, nil, "")
	must(t, "addBlock", err)
	data := randomData(4, 2*cairn.PacketSize)
	w, err := datatransfer.Options{Recoverable: true, Timeout: 10 * time.Second}.NewBlockWriter(ctx, lb.Block, lb.Locations, "paused-writer")
	must(t, "pipeline", err)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, "every byte acknowledged by the pipeline", func(context.Context) (bool, error) {
		return w.Acked() == int64(len(data)), nil
	})
	w.Abort()

	c.StopNameNode(t, first)
	if next := c.WaitLeader(t); next == first {
		t.Fatalf("WaitLeader() = %d, the stopped member", next)
	}
	cl := c.Client(t)
	c.WaitFor(t, "the file closed by the new leader's lease recovery", func(ctx context.Context) (bool, error) {
		fi, err := cl.Stat(ctx, "/f")
		return err == nil && !fi.UnderConstruction, err
	})
	got, err := readFile(ctx, cl, "/f")
	must(t, "read /f", err)
	if !bytes.Equal(got, data) {
		t.Fatalf("recovered file has %d bytes, want the %d acknowledged ones", len(got), len(data))
	}
}

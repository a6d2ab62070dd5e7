package testcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
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

// onLeader calls f with a client of the member that leads, and again
// with one of the next leader if leadership moves under it (until the
// client follows the leader itself): short Raft timeouts on a busy
// machine may move it at any time. Any other error fails the test.
func onLeader(t *testing.T, c *testcluster.Cluster, what string, f func(*client.Client) error) {
	t.Helper()
	c.WaitFor(t, what, func(context.Context) (bool, error) {
		err := f(c.Client(t))
		switch cairn.KindOf(err) {
		case cairn.NotLeader, cairn.Unavailable:
			return false, err
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return true, nil
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

	f := randomData(1, 3*healBlock+100)
	onLeader(t, c, "write /ha/f", func(cl *client.Client) error { return write(ctx, cl, "/ha/f", f) })

	first := c.WaitLeader(t)
	c.StopNameNode(t, first)
	if second := c.WaitLeader(t); second == first {
		t.Fatalf("WaitLeader() = %d, the stopped member", second)
	}
	onLeader(t, c, "read /ha/f from the next leader", func(cl *client.Client) error { return same(ctx, cl, "/ha/f", f) })
	g := randomData(2, healBlock+1)
	onLeader(t, c, "write /ha/g", func(cl *client.Client) error { return write(ctx, cl, "/ha/g", g) })

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
	onLeader(t, c, "read /ha/f and /ha/g from the third leader", func(cl *client.Client) error {
		if err := same(ctx, cl, "/ha/f", f); err != nil {
			return err
		}
		return same(ctx, cl, "/ha/g", g)
	})
}

package localcluster_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/localcluster"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// tWriter sends log lines to t.Log until done is set: a line from a
// goroutine still ending after the test would panic.
type tWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func (w tWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// start makes and serves a cluster of n NameNodes and two DataNodes,
// closed by t.Cleanup, and waits until the DataNodes are live.
func start(t *testing.T, n int) *localcluster.Cluster {
	t.Helper()
	var done atomic.Bool
	log := slog.New(slog.NewTextHandler(tWriter{t, &done}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := localcluster.New(localcluster.Config{
		Dir:               t.TempDir(),
		NameNodes:         n,
		DataNodes:         2,
		Replication:       2,
		HeartbeatInterval: 100 * time.Millisecond,
		NameNodeAddrs:     func(int) (string, string) { return "127.0.0.1:0", "127.0.0.1:0" },
		NameNode: func(cfg *namenode.Config) {
			cfg.HeartbeatTimeout = 300 * time.Millisecond
			cfg.ElectionTimeout = 300 * time.Millisecond
		},
	}, log)
	if err != nil {
		t.Fatalf("localcluster.New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
		done.Store(true)
	})
	c.Serve()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitLive(ctx, 2); err != nil {
		t.Fatalf("WaitLive: %v", err)
	}
	return c
}

// poll calls cond until it returns nil, failing the test with its last
// error after 30 seconds.
func poll(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOneNameNode(t *testing.T) {
	c := start(t, 0)
	if got := c.NumNameNodes(); got != 1 {
		t.Errorf("NumNameNodes() = %d, want 1", got)
	}
	addr := c.NameNodeAddr()
	if strings.Contains(addr, ",") || len(c.NameNodeAddrs()) != 1 || c.NameNodeAddrs()[0] != addr {
		t.Errorf("NameNodeAddr() = %q, NameNodeAddrs() = %q, want one address", addr, c.NameNodeAddrs())
	}
	if got := c.LeaderIndex(); got != 0 {
		t.Errorf("LeaderIndex() = %d, want 0", got)
	}
	if c.NameNode() != c.NameNodeAt(0) {
		t.Error("NameNode() is not NameNodeAt(0)")
	}
	if err := c.StopNameNode(0); err != nil {
		t.Fatalf("StopNameNode(0): %v", err)
	}
	if got := c.LeaderIndex(); got != -1 {
		t.Errorf("LeaderIndex() of a stopped NameNode = %d, want -1", got)
	}
	if err := c.StopNameNode(0); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("StopNameNode(0) of a stopped NameNode = %v, want an error of kind Invalid", err)
	}
	if err := c.StartNameNode(0); err != nil {
		t.Fatalf("StartNameNode(0): %v", err)
	}
	if err := c.StartNameNode(0); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("StartNameNode(0) of a running NameNode = %v, want an error of kind Invalid", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitLive(ctx, 2); err != nil {
		t.Fatalf("WaitLive after StartNameNode: %v", err)
	}
}

// datanodesAt returns the number of DataNodes member m knows as live.
func datanodesAt(m *namenode.Server) (int, error) {
	rep, err := m.GetDatanodeReport(context.Background())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range rep.Datanodes {
		if d.State == "live" {
			n++
		}
	}
	return n, nil
}

func TestGroupOfThree(t *testing.T) {
	c := start(t, 3)
	ctx := context.Background()

	addrs := c.NameNodeAddrs()
	if len(addrs) != 3 || c.NameNodeAddr() != strings.Join(addrs, ",") {
		t.Fatalf("NameNodeAddrs() = %q, NameNodeAddr() = %q, want three addresses and their list", addrs, c.NameNodeAddr())
	}
	for i, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			t.Errorf("member %d's address %q is not a bound host:port", i, a)
		}
		if c.NameNodeHTTPAddrs()[i] == "" {
			t.Errorf("member %d has no web address", i)
		}
	}

	lead := c.LeaderIndex()
	if lead < 0 {
		t.Fatal("LeaderIndex() = -1 after WaitLive")
	}
	if c.NameNode() != c.NameNodeAt(lead) || c.NameNodeHTTPAddr() != c.NameNodeHTTPAddrs()[lead] {
		t.Errorf("NameNode() and NameNodeHTTPAddr() are not those of the leader, member %d", lead)
	}

	// Every member knows the DataNodes: they heartbeat to all.
	for i := range 3 {
		poll(t, "the datanodes at member "+addrs[i], func() error {
			n, err := datanodesAt(c.NameNodeAt(i))
			if err == nil && n != 2 {
				err = errors.New("not every datanode is live")
			}
			return err
		})
	}

	leader := c.NameNodeAt(lead)
	if _, err := leader.Mkdirs(ctx, "/ha/one", 0o755, true, "test", "test"); err != nil {
		t.Fatalf("Mkdirs on the leader: %v", err)
	}
	if st, err := leader.GetFileInfo(ctx, "/ha/one", false, ""); err != nil || !st.IsDir {
		t.Fatalf("GetFileInfo(/ha/one) on the leader = %+v, %v, want a directory", st, err)
	}
	for i := range 3 {
		if i == lead {
			continue
		}
		_, err := c.NameNodeAt(i).Mkdirs(ctx, "/ha/not", 0o755, true, "test", "test")
		if cairn.KindOf(err) != cairn.NotLeader {
			t.Errorf("Mkdirs on follower %d = %v, want NotLeader", i, err)
			continue
		}
		if hint := protocol.LeaderHint(protocol.FromStatus("mkdirs", "/ha/not", protocol.ToStatus(err))); hint != addrs[lead] {
			t.Errorf("follower %d's leader hint = %q, want %q", i, hint, addrs[lead])
		}
	}

	// The leader stops: another member leads, with the directory.
	if err := c.StopNameNode(lead); err != nil {
		t.Fatalf("StopNameNode(%d): %v", lead, err)
	}
	next := -1
	poll(t, "another member to lead", func() error {
		if next = c.LeaderIndex(); next < 0 {
			return errors.New("no member leads")
		}
		return nil
	})
	if next == lead {
		t.Fatalf("LeaderIndex() = %d, the stopped member", next)
	}
	if st, err := c.NameNodeAt(next).GetFileInfo(ctx, "/ha/one", false, ""); err != nil || !st.IsDir {
		t.Fatalf("GetFileInfo(/ha/one) on the new leader %d = %+v, %v, want a directory", next, st, err)
	}
	if _, err := c.NameNodeAt(next).Mkdirs(ctx, "/ha/two", 0o755, true, "test", "test"); err != nil {
		t.Fatalf("Mkdirs on the new leader: %v", err)
	}

	// The old leader comes back, as a follower that knows the leader
	// and the DataNodes.
	if err := c.StartNameNode(lead); err != nil {
		t.Fatalf("StartNameNode(%d): %v", lead, err)
	}
	poll(t, "the old leader to follow", func() error {
		state, leaderAddr := c.NameNodeAt(lead).RaftState()
		if state != "Follower" || !strings.HasPrefix(leaderAddr, addrs[next]) {
			return errors.New("state " + state + ", leader " + leaderAddr)
		}
		n, err := datanodesAt(c.NameNodeAt(lead))
		if err == nil && n != 2 {
			err = errors.New("not every datanode is live")
		}
		return err
	})
	if got := c.LeaderIndex(); got != next {
		t.Errorf("LeaderIndex() = %d after the old leader came back, want %d", got, next)
	}

	// RestartNameNode restarts the leader; a leader follows.
	if err := c.RestartNameNode(); err != nil {
		t.Fatalf("RestartNameNode: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitLive(wctx, 2); err != nil {
		t.Fatalf("WaitLive after RestartNameNode: %v", err)
	}
	if st, err := c.NameNode().GetFileInfo(ctx, "/ha/two", false, ""); err != nil || !st.IsDir {
		t.Fatalf("GetFileInfo(/ha/two) on the leader after RestartNameNode = %+v, %v, want a directory", st, err)
	}
}

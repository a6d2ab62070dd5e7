package localcluster_test

import (
	"context"
	"errors"
	"fmt"
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
			cfg.HeartbeatTimeout = time.Second
			cfg.ElectionTimeout = time.Second
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

// onLeader calls f on the member that leads, and again on the next
// leader if leadership moves under it: short Raft timeouts on a busy
// machine may move it at any time. Any other error fails the test.
func onLeader(t *testing.T, c *localcluster.Cluster, what string, f func(i int, m *namenode.Server) error) {
	t.Helper()
	poll(t, what, func() error {
		i := c.LeaderIndex()
		if i < 0 {
			return errors.New("no member leads")
		}
		err := f(i, c.NameNodeAt(i))
		if err != nil && cairn.KindOf(err) != cairn.NotLeader {
			t.Fatalf("%s on member %d: %v", what, i, err)
		}
		return err
	})
}

func isDir(ctx context.Context, m *namenode.Server, p string) error {
	st, err := m.GetFileInfo(ctx, p, false, "")
	if err == nil && !st.IsDir {
		err = fmt.Errorf("%s is not a directory", p)
	}
	return err
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

	// The leader answers; the others refuse, naming it.
	onLeader(t, c, "Mkdirs(/ha/one)", func(_ int, m *namenode.Server) error {
		_, err := m.Mkdirs(ctx, "/ha/one", 0o755, true, "test", "test")
		return err
	})
	onLeader(t, c, "GetFileInfo(/ha/one)", func(_ int, m *namenode.Server) error { return isDir(ctx, m, "/ha/one") })
	onLeader(t, c, "the followers' refusals", func(lead int, m *namenode.Server) error {
		if c.NameNode() != m || c.NameNodeHTTPAddr() != c.NameNodeHTTPAddrs()[lead] {
			return cairn.Errorf("check", "", cairn.NotLeader, "NameNode() or NameNodeHTTPAddr() is not the leader's, member %d's", lead)
		}
		for i := range 3 {
			if i == lead {
				continue
			}
			_, err := c.NameNodeAt(i).Mkdirs(ctx, "/ha/not", 0o755, true, "test", "test")
			hint := protocol.LeaderHint(protocol.FromStatus("mkdirs", "/ha/not", protocol.ToStatus(err)))
			if cairn.KindOf(err) != cairn.NotLeader || hint != addrs[lead] {
				if c.LeaderIndex() != lead {
					return cairn.Errorf("check", "", cairn.NotLeader, "leadership moved")
				}
				t.Fatalf("Mkdirs on follower %d = %v with leader hint %q, want NotLeader naming %s", i, err, hint, addrs[lead])
			}
		}
		return nil
	})

	// The leader stops: another member leads, with the directory.
	first := c.LeaderIndex()
	if err := c.StopNameNode(first); err != nil {
		t.Fatalf("StopNameNode(%d): %v", first, err)
	}
	onLeader(t, c, "GetFileInfo(/ha/one) on the next leader", func(i int, m *namenode.Server) error {
		if i == first {
			t.Fatalf("LeaderIndex() = %d, the stopped member", i)
		}
		return isDir(ctx, m, "/ha/one")
	})
	onLeader(t, c, "Mkdirs(/ha/two)", func(_ int, m *namenode.Server) error {
		_, err := m.Mkdirs(ctx, "/ha/two", 0o755, true, "test", "test")
		return err
	})

	// The old leader comes back, as a follower that knows a leader and
	// the DataNodes.
	if err := c.StartNameNode(first); err != nil {
		t.Fatalf("StartNameNode(%d): %v", first, err)
	}
	poll(t, "the old leader to follow", func() error {
		state, leader := c.NameNodeAt(first).RaftState()
		if state != "Follower" || leader == "" || strings.HasPrefix(leader, addrs[first]) {
			return fmt.Errorf("state %s, leader %q", state, leader)
		}
		n, err := datanodesAt(c.NameNodeAt(first))
		if err == nil && n != 2 {
			err = errors.New("not every datanode is live")
		}
		return err
	})

	// RestartNameNode restarts the leader; a leader follows, with both
	// directories.
	if err := c.RestartNameNode(); err != nil {
		t.Fatalf("RestartNameNode: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitLive(wctx, 2); err != nil {
		t.Fatalf("WaitLive after RestartNameNode: %v", err)
	}
	onLeader(t, c, "GetFileInfo(/ha/one, /ha/two) after RestartNameNode", func(_ int, m *namenode.Server) error {
		if err := isDir(ctx, m, "/ha/one"); err != nil {
			return err
		}
		return isDir(ctx, m, "/ha/two")
	})
}

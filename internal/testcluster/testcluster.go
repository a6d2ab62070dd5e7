// Package testcluster runs a whole cairn cluster inside one test
// process: a NameNode and N DataNodes, each with its own temporary
// directory, every server on 127.0.0.1 with a port chosen by the kernel.
// It is cairn's MiniDFSCluster, a thin testing.T wrapper of package
// localcluster (the builder cairn dev and the bench use too). Nodes can
// be stopped and restarted on the same directories and addresses, so
// tests can exercise failure and recovery with real components and real
// bytes.
package testcluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/localcluster"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// Options configures a test cluster. Zero values give small, fast
// defaults suited to tests.
type Options struct {
	DataNodes         int           // 0: 3
	Replication       int           // NameNode default replication; 0: 3
	BlockSize         int64         // NameNode default block size; 0: 1 MiB
	HeartbeatInterval time.Duration // 0: 100ms
	// NameNode, if set, is called to adjust the NameNode's Config
	// before each start.
	NameNode func(*namenode.Config)
	// DataNode, if set, is called to adjust DataNode i's Config before
	// each start.
	DataNode func(i int, cfg *datanode.Config)
}

// Cluster is a running test cluster: a localcluster.Cluster whose
// failures fail the test.
type Cluster struct {
	opts Options
	dir  string
	log  *slog.Logger
	done atomic.Bool // set when the cluster is shut down; stops logging
	lc   *localcluster.Cluster
}

// Start starts a cluster and waits until every DataNode is live. The
// cluster is shut down by t.Cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.DataNodes == 0 {
		opts.DataNodes = 3
	}
	if opts.Replication == 0 {
		opts.Replication = 3
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = 1 << 20
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 100 * time.Millisecond
	}
	c := &Cluster{opts: opts, dir: t.TempDir()}
	c.log = slog.New(slog.NewTextHandler(testWriter{t, &c.done}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lc, err := localcluster.New(localcluster.Config{
		Dir:               c.dir,
		DataNodes:         opts.DataNodes,
		Replication:       opts.Replication,
		BlockSize:         opts.BlockSize,
		HeartbeatInterval: opts.HeartbeatInterval,
		NameNodeHTTPAddr:  "127.0.0.1:0",
		NameNode: func(cfg *namenode.Config) {
			cfg.StaleNodeTimeout = 10 * opts.HeartbeatInterval
			cfg.DeadNodeTimeout = 30 * opts.HeartbeatInterval
			if opts.NameNode != nil {
				opts.NameNode(cfg)
			}
		},
		DataNode: func(i int, cfg *datanode.Config) {
			cfg.BlockReportInterval = time.Hour
			if opts.DataNode != nil {
				opts.DataNode(i, cfg)
			}
		},
	}, c.log)
	if err != nil {
		t.Fatalf("testcluster.Start: %v", err)
	}
	c.lc = lc
	t.Cleanup(c.shutdown)
	lc.Serve()
	c.WaitLive(t, opts.DataNodes)
	return c
}

func (c *Cluster) shutdown() {
	if err := c.lc.Close(); err != nil {
		c.log.Warn("shutdown", "err", err)
	}
	c.done.Store(true)
}

// NameNodeAddr returns the NameNode's RPC address.
func (c *Cluster) NameNodeAddr() string { return c.lc.NameNodeAddr() }

// NameNodeHTTPAddr returns the NameNode's web address (web UI,
// /metrics, /healthz), host:port.
func (c *Cluster) NameNodeHTTPAddr() string { return c.lc.NameNodeHTTPAddr() }

// DataNodeHTTPAddr returns DataNode i's web address, host:port; it is
// also the address the DataNode tells the NameNode.
func (c *Cluster) DataNodeHTTPAddr(i int) string { return c.lc.DataNodeHTTPAddr(i) }

// NameNode returns the running NameNode server.
func (c *Cluster) NameNode() *namenode.Server { return c.lc.NameNode() }

// NumDataNodes returns the number of DataNodes, running or stopped.
func (c *Cluster) NumDataNodes() int { return c.lc.NumDataNodes() }

// DataNode returns DataNode i (the last instance started, even if it is
// now stopped).
func (c *Cluster) DataNode(i int) *datanode.DataNode { return c.lc.DataNode(i) }

// DataNodeAddr returns DataNode i's data-transfer address.
func (c *Cluster) DataNodeAddr(i int) string { return c.lc.DataNodeAddr(i) }

// DataNodeDirs returns DataNode i's data directories.
func (c *Cluster) DataNodeDirs(i int) []string { return []string{c.lc.DataNodeDir(i)} }

// Client returns a client of the cluster, closed by t.Cleanup.
func (c *Cluster) Client(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.NameNodeAddr())
	if err != nil {
		t.Fatalf("client.Dial(%s): %v", c.NameNodeAddr(), err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// StopDataNode stops DataNode i, as a crash would: its files stay.
func (c *Cluster) StopDataNode(t testing.TB, i int) {
	t.Helper()
	if err := c.lc.StopDataNode(i); err != nil {
		if cairn.KindOf(err) == cairn.Invalid {
			t.Fatalf("StopDataNode(%d): %v", i, err)
		}
		t.Logf("StopDataNode(%d): %v", i, err)
	}
}

// RestartDataNode starts DataNode i again on the same directories and
// address, stopping it first if it runs, and waits until it is live.
func (c *Cluster) RestartDataNode(t testing.TB, i int) {
	t.Helper()
	if err := c.lc.RestartDataNode(i); err != nil {
		t.Fatalf("RestartDataNode(%d): %v", i, err)
	}
	c.WaitLive(t, c.lc.Running())
}

// RestartNameNode stops the NameNode and starts it again on the same
// directory and address, then waits until every running DataNode has
// registered again.
func (c *Cluster) RestartNameNode(t testing.TB) {
	t.Helper()
	if err := c.lc.RestartNameNode(); err != nil {
		t.Fatalf("RestartNameNode: %v", err)
	}
	c.WaitLive(t, c.lc.Running())
}

// WaitLive waits until at least n DataNodes are live at the NameNode.
func (c *Cluster) WaitLive(t testing.TB, n int) {
	t.Helper()
	cl := c.Client(t)
	c.WaitFor(t, fmt.Sprintf("%d live datanodes", n), func(ctx context.Context) (bool, error) {
		// Decommissioning nodes are up too.
		live, err := localcluster.LiveDataNodes(ctx, cl, true)
		return live >= n, err
	})
}

// WaitFor polls cond until it returns true, failing the test after 30
// seconds with what it was waiting for and the last error.
func (c *Cluster) WaitFor(t testing.TB, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
}

// testWriter sends log lines to t.Log until the cluster is shut down;
// later lines (from goroutines still ending) are dropped, since
// t.Log after a test ends panics.
type testWriter struct {
	t    testing.TB
	done *atomic.Bool
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

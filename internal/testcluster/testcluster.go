// Package testcluster runs a whole cairn cluster inside one test
// process: a NameNode and N DataNodes, each with its own temporary
// directory, every server on 127.0.0.1 with a port chosen by the kernel.
// It is cairn's MiniDFSCluster. Nodes can be stopped and restarted on
// the same directories and addresses, so tests can exercise failure and
// recovery with real components and real bytes.
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datanode"
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

// Cluster is a running test cluster.
type Cluster struct {
	opts Options
	dir  string
	log  *slog.Logger
	done atomic.Bool // set when the cluster is shut down; stops logging

	mu     sync.Mutex // guards the fields below
	nn     *server
	nnNode *namenode.Server
	nnAddr string
	nnHTTP string // the NameNode's web address, fixed across restarts
	dns    []*dataNode
}

type dataNode struct {
	dirs []string
	addr string // data-transfer address, fixed across restarts
	http string // web address, fixed across restarts
	node *datanode.DataNode
	srv  *server // nil while stopped
}

// server is one running node: its Serve goroutine and HTTP server.
type server struct {
	cancel context.CancelFunc
	done   chan error
	http   *http.Server
	close  func() error
}

func (s *server) stop() error {
	s.cancel()
	if s.http != nil {
		s.http.Close()
	}
	err := s.close()
	serveErr := <-s.done
	return errors.Join(err, serveErr)
}

// Start starts a cluster and waits until every DataNode is registered
// and live. It is stopped by t.Cleanup.
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
	t.Cleanup(c.shutdown)
	c.startNameNode(t, "127.0.0.1:0")
	for i := 0; i < opts.DataNodes; i++ {
		d := &dataNode{dirs: []string{filepath.Join(c.dir, fmt.Sprintf("dn%d", i))}, addr: "127.0.0.1:0", http: "127.0.0.1:0"}
		c.dns = append(c.dns, d)
		c.startDataNode(t, i)
	}
	c.WaitLive(t, opts.DataNodes)
	return c
}

func (c *Cluster) startNameNode(t testing.TB, addr string) {
	t.Helper()
	cfg := namenode.Config{
		Dir:                filepath.Join(c.dir, "nn"),
		DefaultReplication: c.opts.Replication,
		DefaultBlockSize:   c.opts.BlockSize,
		HeartbeatInterval:  c.opts.HeartbeatInterval,
		StaleNodeTimeout:   10 * c.opts.HeartbeatInterval,
		DeadNodeTimeout:    30 * c.opts.HeartbeatInterval,
	}
	if c.opts.NameNode != nil {
		c.opts.NameNode(&cfg)
	}
	nn, err := namenode.New(cfg, c.log.With("node", "namenode"))
	if err != nil {
		t.Fatalf("namenode.New: %v", err)
	}
	lis := listen(t, addr)
	c.nnAddr = lis.Addr().String()
	if c.nnHTTP == "" {
		c.nnHTTP = "127.0.0.1:0"
	}
	hl := listen(t, c.nnHTTP)
	c.nnHTTP = hl.Addr().String()
	c.nnNode = nn
	c.nn = serve(nn.Serve, nn.HTTPHandler(), nn.Close, lis, hl)
}

func (c *Cluster) startDataNode(t testing.TB, i int) {
	t.Helper()
	d := c.dns[i]
	hl := listen(t, d.http)
	d.http = hl.Addr().String()
	cfg := datanode.Config{
		Dirs:                d.dirs,
		NameNode:            c.nnAddr,
		HTTPAddr:            d.http,
		HeartbeatInterval:   c.opts.HeartbeatInterval,
		BlockReportInterval: time.Hour,
	}
	if c.opts.DataNode != nil {
		c.opts.DataNode(i, &cfg)
	}
	node, err := datanode.New(cfg, c.log.With("node", fmt.Sprintf("datanode%d", i)))
	if err != nil {
		hl.Close()
		t.Fatalf("datanode.New(%d): %v", i, err)
	}
	lis := listen(t, d.addr)
	d.addr = lis.Addr().String()
	d.node = node
	d.srv = serve(node.Serve, node.HTTPHandler(), node.Close, lis, hl)
}

// listen binds addr, retrying briefly: a restarted node takes back its
// port, which the kernel may hold for a moment.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil {
			return lis
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func serve(fn func(context.Context, net.Listener) error, h http.Handler, closeFn func() error, lis, hl net.Listener) *server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan error, 1), close: closeFn}
	go func() { s.done <- fn(ctx, lis) }()
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go s.http.Serve(hl)
	return s
}

func (c *Cluster) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.dns {
		if d.srv != nil {
			d.srv.stop()
			d.srv = nil
		}
	}
	if c.nn != nil {
		c.nn.stop()
		c.nn = nil
	}
	c.done.Store(true)
}

// NameNodeAddr returns the NameNode's RPC address.
func (c *Cluster) NameNodeAddr() string { return c.nnAddr }

// NameNodeHTTPAddr returns the NameNode's web address (web UI,
// /metrics, /healthz), host:port.
func (c *Cluster) NameNodeHTTPAddr() string { return c.nnHTTP }

// DataNodeHTTPAddr returns DataNode i's web address, host:port; it is
// also the address the DataNode tells the NameNode.
func (c *Cluster) DataNodeHTTPAddr(i int) string { return c.dns[i].http }

// NameNode returns the running NameNode server.
func (c *Cluster) NameNode() *namenode.Server { return c.nnNode }

// NumDataNodes returns the number of DataNodes, running or stopped.
func (c *Cluster) NumDataNodes() int { return len(c.dns) }

// DataNode returns DataNode i (the last instance started, even if it is
// now stopped).
func (c *Cluster) DataNode(i int) *datanode.DataNode { return c.dns[i].node }

// DataNodeAddr returns DataNode i's data-transfer address.
func (c *Cluster) DataNodeAddr(i int) string { return c.dns[i].addr }

// DataNodeDirs returns DataNode i's data directories.
func (c *Cluster) DataNodeDirs(i int) []string { return c.dns[i].dirs }

// Client returns a client of the cluster, closed by t.Cleanup.
func (c *Cluster) Client(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.nnAddr)
	if err != nil {
		t.Fatalf("client.Dial(%s): %v", c.nnAddr, err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// StopDataNode stops DataNode i, as a crash would: its files stay.
func (c *Cluster) StopDataNode(t testing.TB, i int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dns[i]
	if d.srv == nil {
		t.Fatalf("StopDataNode(%d): not running", i)
	}
	if err := d.srv.stop(); err != nil {
		t.Logf("StopDataNode(%d): %v", i, err)
	}
	d.srv = nil
}

// RestartDataNode starts DataNode i again on the same directories and
// address, stopping it first if it runs, and waits until it is live.
func (c *Cluster) RestartDataNode(t testing.TB, i int) {
	t.Helper()
	c.mu.Lock()
	d := c.dns[i]
	if d.srv != nil {
		d.srv.stop()
		d.srv = nil
	}
	c.startDataNode(t, i)
	c.mu.Unlock()
	c.WaitLive(t, c.running())
}

// RestartNameNode stops the NameNode and starts it again on the same
// directory and address, then waits until every running DataNode has
// registered again.
func (c *Cluster) RestartNameNode(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	if c.nn != nil {
		if err := c.nn.stop(); err != nil {
			t.Logf("stop namenode: %v", err)
		}
		c.nn = nil
	}
	c.startNameNode(t, c.nnAddr)
	c.mu.Unlock()
	c.WaitLive(t, c.running())
}

func (c *Cluster) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, d := range c.dns {
		if d.srv != nil {
			n++
		}
	}
	return n
}

// WaitLive waits until at least n DataNodes are live at the NameNode.
func (c *Cluster) WaitLive(t testing.TB, n int) {
	t.Helper()
	cl := c.Client(t)
	c.WaitFor(t, fmt.Sprintf("%d live datanodes", n), func(ctx context.Context) (bool, error) {
		rep, err := cl.DatanodeReport(ctx)
		if err != nil {
			return false, err
		}
		live := 0
		for _, d := range rep.Datanodes {
			// Decommissioning nodes are up too.
			if d.State == "live" || d.State == "decommissioning" || d.State == "decommissioned" {
				live++
			}
		}
		return live >= n, nil
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

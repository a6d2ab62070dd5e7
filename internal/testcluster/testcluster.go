// Package testcluster runs a whole cairn cluster inside one test
// process: a NameNode (or a group of them) and N DataNodes, each with its own temporary
// directory, every server on 127.0.0.1 with a port chosen by the kernel.
// It is cairn's MiniDFSCluster, a thin testing.T wrapper of package
// localcluster (the builder cairn dev and the bench use too). Nodes can
// be stopped and restarted on the same directories and addresses, so
// tests can exercise failure and recovery with real components and real
// bytes.
package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/localcluster"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Options configures a test cluster. Zero values give small, fast
// defaults suited to tests.
type Options struct {
	// NameNodes is the number of NameNodes: 0 or 1, one; more, a Raft
	// group of that many members with short timeouts (see
	// GroupHeartbeatTimeout), of which the elected one serves.
	NameNodes         int
	DataNodes         int           // 0: 3
	Replication       int           // NameNode default replication; 0: 3
	BlockSize         int64         // NameNode default block size; 0: 1 MiB
	HeartbeatInterval time.Duration // 0: 100ms
	// NameNode, if set, is called to adjust the NameNode's Config
	// (every member's, in a group) before each start.
	NameNode func(*namenode.Config)
	// DataNode, if set, is called to adjust DataNode i's Config before
	// each start.
	DataNode func(i int, cfg *datanode.Config)
	// BlockTokens starts the cluster in secure mode with block access
	// tokens: the NameNode's Security on, and TLS (implied) as
	// Options.TLS sets it up. The NameNode and DataNode hooks run
	// after, and may change it.
	BlockTokens bool
	// TLS runs every connection of the cluster with TLS: certificates
	// for 127.0.0.1 are made by certs.Init in a temporary directory
	// (CertDir), the nodes use mutual TLS, the web servers HTTPS, and
	// Client's clients trust the CA.
	TLS bool
}

// GroupHeartbeatTimeout is the Raft heartbeat and election timeout of
// the members of a test group: the production default. 300ms (a 150ms
// leader lease) still made leaders step down on their own when -race
// and other packages' tests starved a two-core machine.
const GroupHeartbeatTimeout = time.Second

// Cluster is a running test cluster: a localcluster.Cluster whose
// failures fail the test.
type Cluster struct {
	opts Options
	dir  string
	log  *slog.Logger
	done atomic.Bool // set when the cluster is shut down; stops logging
	lc   *localcluster.Cluster
	// certDir holds the certificates of a TLS cluster; "" if plaintext.
	certDir string
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
	if opts.BlockTokens {
		opts.TLS = true
		c.opts.TLS = true
	}
	c.log = slog.New(slog.NewTextHandler(testWriter{t, &c.done}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if opts.TLS {
		c.certDir = filepath.Join(t.TempDir(), "certs")
		if _, err := certs.Init(c.certDir, []string{"127.0.0.1"}, certs.Options{}); err != nil {
			t.Fatalf("testcluster.Start: %v", err)
		}
	}
	lc, err := localcluster.New(localcluster.Config{
		TLSDir:            c.certDir,
		Security:          opts.BlockTokens,
		Dir:               c.dir,
		NameNodes:         opts.NameNodes,
		DataNodes:         opts.DataNodes,
		Replication:       opts.Replication,
		BlockSize:         opts.BlockSize,
		HeartbeatInterval: opts.HeartbeatInterval,
		NameNodeHTTPAddr:  "127.0.0.1:0",
		NameNodeAddrs:     func(int) (string, string) { return "127.0.0.1:0", "127.0.0.1:0" },
		NameNode: func(cfg *namenode.Config) {
			cfg.StaleNodeTimeout = 10 * opts.HeartbeatInterval
			cfg.DeadNodeTimeout = 30 * opts.HeartbeatInterval
			if len(cfg.Peers) > 0 {
				cfg.HeartbeatTimeout = GroupHeartbeatTimeout
				cfg.ElectionTimeout = GroupHeartbeatTimeout
			}
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

// NameNodeAddr returns the NameNode's RPC address; in a group, every
// member's, comma-separated.
func (c *Cluster) NameNodeAddr() string { return c.lc.NameNodeAddr() }

// NameNodeAddrs returns the RPC address of every NameNode, in order.
func (c *Cluster) NameNodeAddrs() []string { return c.lc.NameNodeAddrs() }

// NameNodeHTTPAddr returns the NameNode's web address (web UI,
// /metrics, /healthz), host:port; in a group, that of the member
// NameNode returns.
func (c *Cluster) NameNodeHTTPAddr() string { return c.lc.NameNodeHTTPAddr() }

// NameNodeHTTPAddrs returns the web address of every NameNode, in
// order.
func (c *Cluster) NameNodeHTTPAddrs() []string { return c.lc.NameNodeHTTPAddrs() }

// NumNameNodes returns the number of NameNodes: 1, or the size of the
// group.
func (c *Cluster) NumNameNodes() int { return c.lc.NumNameNodes() }

// NameNodeAt returns NameNode i (the last instance started, even if it
// is now stopped).
func (c *Cluster) NameNodeAt(i int) *namenode.Server { return c.lc.NameNodeAt(i) }

// LeaderIndex returns the index of the NameNode that leads now, -1 if
// none does.
func (c *Cluster) LeaderIndex() int { return c.lc.LeaderIndex() }

// DataNodeHTTPAddr returns DataNode i's web address, host:port; it is
// also the address the DataNode tells the NameNode.
func (c *Cluster) DataNodeHTTPAddr(i int) string { return c.lc.DataNodeHTTPAddr(i) }

// NameNode returns the running NameNode server; in a group, the member
// that leads now (call WaitLeader first), or, while none does, a
// member that refuses with cairn.NotLeader.
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

// Client returns a client of the cluster, closed by t.Cleanup. In a
// group it is a client of the member that leads when it is made (it
// waits for one), and of that member only.
func (c *Cluster) Client(t testing.TB) *client.Client {
	t.Helper()
	// The whole list: the client follows a group's leader.
	addr := c.NameNodeAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, addr, c.clientOptions()...)
	if err != nil {
		t.Fatalf("client.Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// CertDir returns the directory of a TLS cluster's certificates, as
// certs.Init writes it (ca.crt, 127.0.0.1.crt, 127.0.0.1.key); "" if
// the cluster is plaintext.
func (c *Cluster) CertDir() string { return c.certDir }

// ClientTLS returns the TLS configuration of a client of the cluster,
// for client.WithTLS: the CA only; nil if the cluster is plaintext.
func (c *Cluster) ClientTLS() *tls.Config { return c.lc.ClientTLS() }

// NodeTLS returns the TLS configuration the nodes use (certificate,
// CA, mutual TLS); nil if the cluster is plaintext.
func (c *Cluster) NodeTLS() *tls.Config { return c.lc.NodeTLS() }

// NodeTransport returns the transport of the cluster's nodes (it
// presents their certificate), the zero Config if it is plaintext.
func (c *Cluster) NodeTransport() transport.Config { return transport.Config{TLS: c.NodeTLS()} }

// clientOptions are the options of the cluster's own clients: TLS,
// and the superuser's token of a secured cluster.
func (c *Cluster) clientOptions() []client.Option {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := c.lc.ClientOptions(ctx)
	if err != nil {
		return []client.Option{client.WithTLS(c.ClientTLS())}
	}
	return opts
}

// RootToken returns the superuser's token of a secured cluster (Options.BlockTokens), "" otherwise.
func (c *Cluster) RootToken(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := c.lc.RootToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// WaitLeader waits until a NameNode serves as the leader, and returns
// its index (0 for one NameNode).
func (c *Cluster) WaitLeader(t testing.TB) int {
	t.Helper()
	i := -1
	c.WaitFor(t, "a namenode to lead", func(context.Context) (bool, error) {
		i = c.lc.LeaderIndex()
		return i >= 0, nil
	})
	return i
}

// StopNameNode stops NameNode i (member i of a group), as a crash would
// as far as its peers and the DataNodes can tell: its files stay.
func (c *Cluster) StopNameNode(t testing.TB, i int) {
	t.Helper()
	if err := c.lc.StopNameNode(i); err != nil {
		if cairn.KindOf(err) == cairn.Invalid {
			t.Fatalf("StopNameNode(%d): %v", i, err)
		}
		t.Logf("StopNameNode(%d): %v", i, err)
	}
}

// StartNameNode starts NameNode i, stopped by StopNameNode, again on
// the same directory and addresses. It does not wait: a group member
// rejoins as a follower, and learns the DataNodes from their next
// heartbeats.
func (c *Cluster) StartNameNode(t testing.TB, i int) {
	t.Helper()
	if err := c.lc.StartNameNode(i); err != nil {
		t.Fatalf("StartNameNode(%d): %v", i, err)
	}
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

// RestartNameNode stops the NameNode (in a group, the member that
// leads, once one does) and starts it again on the same directory and
// address, then waits until every running DataNode is live at the
// NameNode that leads.
func (c *Cluster) RestartNameNode(t testing.TB) {
	t.Helper()
	if c.NumNameNodes() > 1 {
		c.WaitLeader(t)
	}
	if err := c.lc.RestartNameNode(); err != nil {
		t.Fatalf("RestartNameNode: %v", err)
	}
	c.WaitLive(t, c.lc.Running())
}

// WaitLive waits until at least n DataNodes are live at the NameNode
// (in a group, at the member that leads, whichever it is by then).
func (c *Cluster) WaitLive(t testing.TB, n int) {
	t.Helper()
	var cl *client.Client
	dialed := "" // cl's NameNode
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	c.WaitFor(t, fmt.Sprintf("%d live datanodes", n), func(ctx context.Context) (bool, error) {
		// Until the client follows a group's leader itself, ask the
		// member that leads.
		i := c.lc.LeaderIndex()
		if i < 0 {
			return false, errors.New("no namenode leads")
		}
		if addr := c.NameNodeAddrs()[i]; addr != dialed {
			if cl != nil {
				cl.Close()
				cl, dialed = nil, ""
			}
			nc, err := client.Dial(ctx, addr, c.clientOptions()...)
			if err != nil {
				return false, err
			}
			cl, dialed = nc, addr
		}
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

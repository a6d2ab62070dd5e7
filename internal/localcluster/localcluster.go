// Package localcluster builds a whole cairn cluster inside one process:
// a NameNode and N DataNodes, each in its own directory under one, each
// server on its own listener. It is the one builder behind 'cairn dev'
// (which serves the nodes with the CLI's own supervisor), the bench's
// local cluster (bench.StartLocal) and the test cluster (package
// testcluster, its testing.T wrapper).
//
// New binds every listener first, so that a clashing port fails before
// any node starts, and makes the nodes; Serve runs them, or a caller
// runs Nodes itself. A served DataNode or NameNode can be stopped and
// started again on the same directory and addresses.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// Config configures a local cluster.
type Config struct {
	// Dir holds the cluster: the NameNode in Dir/namenode, DataNode i
	// in Dir/datanode-i. Required.
	Dir string
	// DataNodes is the number of DataNodes; at least 1.
	DataNodes int
	// Replication, BlockSize and HeartbeatInterval go to the NameNode's
	// and DataNodes' configs; zero leaves their defaults.
	Replication       int
	BlockSize         int64
	HeartbeatInterval time.Duration
	// NameNodeAddr and NameNodeHTTPAddr are where the NameNode listens;
	// "" for the first: 127.0.0.1:0; "" for the second: no web server.
	NameNodeAddr     string
	NameNodeHTTPAddr string
	// DataNodeAddrs returns where DataNode i listens for data and for
	// the web ("": no web server); nil: both on 127.0.0.1:0.
	DataNodeAddrs func(i int) (data, web string)
	// NameNode and DataNode, if set, adjust a node's config before
	// each start.
	NameNode func(*namenode.Config)
	DataNode func(i int, cfg *datanode.Config)
	// Handler, if set, wraps every node's web handler (the CLI adds
	// pprof).
	Handler func(http.Handler) http.Handler
	// Listen, if set, binds the listeners New binds (the CLI's explains
	// a port in use); nil: net.Listen on TCP. Its errors are returned
	// as they are.
	Listen func(addr string) (net.Listener, error)
}

// Node is one node of the cluster, ready to be served: Serve on Lis
// until its context ends; Handler on HTTPLis if that is not nil; Close
// when done.
type Node struct {
	Name    string // "namenode", "datanode-i"
	Serve   func(context.Context, net.Listener) error
	Lis     net.Listener
	Handler http.Handler
	HTTPLis net.Listener
	Close   func() error
}

// Cluster is a local cluster.
type Cluster struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex // guards the fields below
	nn       *namenode.Server
	nnNode   Node
	nnAddr   string // fixed across restarts
	nnHTTP   string // "" if none; fixed across restarts
	nnRun    *running
	dns      []*dataNode
	serving  bool
	closeErr error
}

type dataNode struct {
	dir  string
	addr string // data-transfer address, fixed across restarts
	http string // web address, fixed across restarts; "" if none
	dn   *datanode.DataNode
	node Node
	run  *running // nil while not served
}

// running is a node being served by the cluster.
type running struct {
	cancel context.CancelFunc
	done   chan error
	http   *http.Server
	close  func() error
}

func (r *running) stop() error {
	r.cancel()
	if r.http != nil {
		r.http.Close()
	}
	err := r.close()
	if serveErr := <-r.done; err == nil && serveErr != nil && !errors.Is(serveErr, context.Canceled) {
		err = serveErr
	}
	return err
}

// New binds every listener and makes the nodes, without serving them.
func New(cfg Config, log *slog.Logger) (*Cluster, error) {
	const op = "localcluster.New"
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir == "" || cfg.DataNodes < 1 {
		return nil, cairn.Errorf(op, cfg.Dir, cairn.Invalid, "want a directory and at least one datanode, have %q and %d", cfg.Dir, cfg.DataNodes)
	}
	if cfg.NameNodeAddr == "" {
		cfg.NameNodeAddr = "127.0.0.1:0"
	}
	c := &Cluster{cfg: cfg, log: log, nnAddr: cfg.NameNodeAddr, nnHTTP: cfg.NameNodeHTTPAddr}
	for i := range cfg.DataNodes {
		data, web := "127.0.0.1:0", "127.0.0.1:0"
		if cfg.DataNodeAddrs != nil {
			data, web = cfg.DataNodeAddrs(i)
		}
		c.dns = append(c.dns, &dataNode{dir: filepath.Join(cfg.Dir, fmt.Sprintf("datanode-%d", i)), addr: data, http: web})
	}
	// Bind every port first, so a clash fails before anything starts.
	var lis []net.Listener
	bind := func(addr *string) (net.Listener, error) {
		if *addr == "" {
			return nil, nil
		}
		var l net.Listener
		var err error
		if cfg.Listen != nil {
			l, err = cfg.Listen(*addr)
		} else if l, err = net.Listen("tcp", *addr); err != nil {
			err = cairn.E(op, *addr, cairn.Unavailable, err)
		}
		if err != nil {
			return nil, err
		}
		lis = append(lis, l)
		*addr = l.Addr().String()
		return l, nil
	}
	fail := func(err error) (*Cluster, error) {
		for _, l := range lis {
			l.Close()
		}
		return nil, err
	}
	nnLis, err := bind(&c.nnAddr)
	if err != nil {
		return fail(err)
	}
	nnHTTP, err := bind(&c.nnHTTP)
	if err != nil {
		return fail(err)
	}
	dnLis := make([][2]net.Listener, len(c.dns))
	for i, d := range c.dns {
		if dnLis[i][0], err = bind(&d.addr); err != nil {
			return fail(err)
		}
		if dnLis[i][1], err = bind(&d.http); err != nil {
			return fail(err)
		}
	}
	if err := c.makeNameNode(nnLis, nnHTTP); err != nil {
		return fail(err)
	}
	for i := range c.dns {
		if err := c.makeDataNode(i, dnLis[i][0], dnLis[i][1]); err != nil {
			for j := range i {
				c.dns[j].dn.Close()
			}
			c.nn.Close()
			return fail(err)
		}
	}
	return c, nil
}

func (c *Cluster) handler(h http.Handler) http.Handler {
	if c.cfg.Handler != nil {
		return c.cfg.Handler(h)
	}
	return h
}

// makeNameNode makes the NameNode on its listeners; c.mu is held or the
// cluster not yet shared.
func (c *Cluster) makeNameNode(lis, httpLis net.Listener) error {
	cfg := namenode.Config{
		Dir:                filepath.Join(c.cfg.Dir, "namenode"),
		DefaultReplication: c.cfg.Replication,
		DefaultBlockSize:   c.cfg.BlockSize,
		HeartbeatInterval:  c.cfg.HeartbeatInterval,
	}
	if c.cfg.NameNode != nil {
		c.cfg.NameNode(&cfg)
	}
	nn, err := namenode.New(cfg, c.log.With("node", "namenode"))
	if err != nil {
		return cairn.E("localcluster.New", cfg.Dir, err)
	}
	c.nn = nn
	c.nnNode = Node{Name: "namenode", Serve: nn.Serve, Lis: lis, Handler: c.handler(nn.HTTPHandler()), HTTPLis: httpLis, Close: nn.Close}
	return nil
}

// makeDataNode makes DataNode i on its listeners; c.mu is held or the
// cluster not yet shared.
func (c *Cluster) makeDataNode(i int, lis, httpLis net.Listener) error {
	d := c.dns[i]
	name := fmt.Sprintf("datanode-%d", i)
	cfg := datanode.Config{
		Dirs:              []string{d.dir},
		NameNode:          c.nnAddr,
		HTTPAddr:          d.http,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
	}
	if c.cfg.DataNode != nil {
		c.cfg.DataNode(i, &cfg)
	}
	dn, err := datanode.New(cfg, c.log.With("node", name))
	if err != nil {
		return cairn.E("localcluster.New", d.dir, err)
	}
	d.dn = dn
	d.node = Node{Name: name, Serve: dn.Serve, Lis: lis, Handler: c.handler(dn.HTTPHandler()), HTTPLis: httpLis, Close: dn.Close}
	return nil
}

// Nodes returns the nodes as made by New, NameNode first, for a caller
// that serves them itself (instead of Serve).
func (c *Cluster) Nodes() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []Node{c.nnNode}
	for _, d := range c.dns {
		out = append(out, d.node)
	}
	return out
}

// Serve serves every node in the background, until Close.
func (c *Cluster) Serve() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serving = true
	c.nnRun = serve(c.nnNode)
	for _, d := range c.dns {
		d.run = serve(d.node)
	}
}

func serve(n Node) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), close: n.Close}
	go func() { r.done <- n.Serve(ctx, n.Lis) }()
	if n.HTTPLis != nil {
		r.http = &http.Server{Handler: n.Handler, ReadHeaderTimeout: 10 * time.Second}
		go r.http.Serve(n.HTTPLis)
	}
	return r
}

// NameNodeAddr returns the NameNode's RPC address.
func (c *Cluster) NameNodeAddr() string { return c.nnAddr }

// NameNodeHTTPAddr returns the NameNode's web address; "" if none.
func (c *Cluster) NameNodeHTTPAddr() string { return c.nnHTTP }

// NameNode returns the NameNode last made.
func (c *Cluster) NameNode() *namenode.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nn
}

// NumDataNodes returns the number of DataNodes, running or stopped.
func (c *Cluster) NumDataNodes() int { return len(c.dns) }

// DataNode returns DataNode i as last made, even if now stopped.
func (c *Cluster) DataNode(i int) *datanode.DataNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dns[i].dn
}

// DataNodeAddr returns DataNode i's data-transfer address.
func (c *Cluster) DataNodeAddr(i int) string { return c.dns[i].addr }

// DataNodeHTTPAddr returns DataNode i's web address; "" if none.
func (c *Cluster) DataNodeHTTPAddr(i int) string { return c.dns[i].http }

// DataNodeDir returns DataNode i's data directory.
func (c *Cluster) DataNodeDir(i int) string { return c.dns[i].dir }

// Running returns the number of DataNodes being served.
func (c *Cluster) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, d := range c.dns {
		if d.run != nil {
			n++
		}
	}
	return n
}

// StopDataNode stops DataNode i, as a crash would: its files stay.
func (c *Cluster) StopDataNode(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dns[i]
	if d.run == nil {
		return cairn.Errorf("localcluster.StopDataNode", d.dir, cairn.Invalid, "datanode %d is not running", i)
	}
	err := d.run.stop()
	d.run = nil
	return err
}

// RestartDataNode starts DataNode i again on the same directory and
// addresses, stopping it first if it runs.
func (c *Cluster) RestartDataNode(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dns[i]
	if d.run != nil {
		d.run.stop()
		d.run = nil
	}
	lis, err := listen(d.addr)
	if err != nil {
		return err
	}
	var hl net.Listener
	if d.http != "" {
		if hl, err = listen(d.http); err != nil {
			lis.Close()
			return err
		}
	}
	if err := c.makeDataNode(i, lis, hl); err != nil {
		lis.Close()
		if hl != nil {
			hl.Close()
		}
		return err
	}
	d.run = serve(d.node)
	return nil
}

// RestartNameNode stops the NameNode and starts it again on the same
// directory and addresses.
func (c *Cluster) RestartNameNode() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stopErr error
	if c.nnRun != nil {
		stopErr = c.nnRun.stop()
		c.nnRun = nil
	}
	lis, err := listen(c.nnAddr)
	if err != nil {
		return err
	}
	var hl net.Listener
	if c.nnHTTP != "" {
		if hl, err = listen(c.nnHTTP); err != nil {
			lis.Close()
			return err
		}
	}
	if err := c.makeNameNode(lis, hl); err != nil {
		lis.Close()
		if hl != nil {
			hl.Close()
		}
		return err
	}
	c.nnRun = serve(c.nnNode)
	if stopErr != nil {
		c.log.Warn("stopping the namenode", "err", stopErr)
	}
	return nil
}

// listen binds addr again, retrying briefly: a restarted node takes back
// its port, which the kernel may hold for a moment.
func listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil {
			return lis, nil
		}
		if time.Now().After(deadline) {
			return nil, cairn.E("localcluster.listen", addr, cairn.Unavailable, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops every node served by the cluster, DataNodes first (nodes
// never served are closed, with their listeners). It does not remove
// the directory.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for i := len(c.dns) - 1; i >= 0; i-- {
		d := c.dns[i]
		switch {
		case d.run != nil:
			errs = append(errs, d.run.stop())
			d.run = nil
		case !c.serving && d.dn != nil:
			errs = append(errs, closeNode(d.node))
		}
	}
	switch {
	case c.nnRun != nil:
		errs = append(errs, c.nnRun.stop())
		c.nnRun = nil
	case !c.serving && c.nn != nil:
		errs = append(errs, closeNode(c.nnNode))
	}
	c.serving = true // closed: nothing left unserved to close
	return errors.Join(errs...)
}

func closeNode(n Node) error {
	n.Lis.Close()
	if n.HTTPLis != nil {
		n.HTTPLis.Close()
	}
	return n.Close()
}

// LiveDataNodes asks the NameNode at addr how many DataNodes are up:
// live, or decommissioning or decommissioned if up is set.
func LiveDataNodes(ctx context.Context, c *client.Client, up bool) (int, error) {
	rep, err := c.DatanodeReport(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range rep.Datanodes {
		if d.State == "live" || up && (d.State == "decommissioning" || d.State == "decommissioned") {
			n++
		}
	}
	return n, nil
}

// WaitLive waits until n DataNodes are live at the cluster's NameNode,
// or ctx ends.
func (c *Cluster) WaitLive(ctx context.Context, n int) error {
	const op = "localcluster.WaitLive"
	cl, err := client.Dial(ctx, c.nnAddr)
	if err != nil {
		return err
	}
	defer cl.Close()
	last := ""
	for {
		live, err := LiveDataNodes(ctx, cl, false)
		if err == nil && live >= n {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d of %d datanodes live", live, n)
		}
		select {
		case <-ctx.Done():
			return cairn.Errorf(op, c.nnAddr, cairn.Unavailable, "cluster did not come up: %s", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Package localcluster builds a whole cairn cluster inside one process:
// a NameNode, or a group of NameNodes (Raft members that elect a
// leader), and N DataNodes, each in its own directory under one, each
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
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Config configures a local cluster.
type Config struct {
	// Dir holds the cluster: one NameNode in Dir/namenode, or member i
	// of a group in Dir/namenode-i, and DataNode i in Dir/datanode-i.
	// Required.
	Dir string
	// NameNodes is the number of NameNodes: 0 or 1, one NameNode
	// alone; more, a group of that many members, started together
	// (every member bootstraps the same membership), of which only
	// the elected leader serves.
	NameNodes int
	// DataNodes is the number of DataNodes; at least 1.
	DataNodes int
	// Replication, BlockSize and HeartbeatInterval go to the NameNodes'
	// and DataNodes' configs; zero leaves their defaults.
	Replication       int
	BlockSize         int64
	HeartbeatInterval time.Duration
	// NameNodeAddr and NameNodeHTTPAddr are where one NameNode listens
	// (not a group: see NameNodeAddrs); "" for the first: 127.0.0.1:0;
	// "" for the second: no web server.
	NameNodeAddr     string
	NameNodeHTTPAddr string
	// NameNodeAddrs returns where member i of a group listens for RPCs
	// (clients, DataNodes and its peers' Raft traffic; "": 127.0.0.1:0)
	// and for the web ("": no web server); nil: RPCs on 127.0.0.1:0
	// and no web server. Used only when NameNodes > 1. A member's
	// address in the group is the one bound, with an unspecified host
	// (0.0.0.0, [::]) made 127.0.0.1, since the peers must dial it.
	NameNodeAddrs func(i int) (rpc, web string)
	// DataNodeAddrs returns where DataNode i listens for data and for
	// the web ("": no web server); nil: both on 127.0.0.1:0.
	DataNodeAddrs func(i int) (data, web string)
	// NameNode and DataNode, if set, adjust a node's config before
	// each start; NameNode is called for every member of a group (its
	// Peers and RPCAddr are set by then).
	NameNode func(*namenode.Config)
	DataNode func(i int, cfg *datanode.Config)
	// SmallBlockSize is the DataNodes' datanode.Config.SmallBlockSize
	// (cairn dev and bench give 1 MiB, as cairn datanode does; 0:
	// none, as in the tests, which look at replicas' files).
	SmallBlockSize int64
	// Handler, if set, wraps every node's web handler (the CLI adds
	// pprof).
	Handler func(http.Handler) http.Handler
	// Listen, if set, binds the listeners New binds (the CLI's explains
	// a port in use); nil: net.Listen on TCP. Its errors are returned
	// as they are.
	Listen func(addr string) (net.Listener, error)
	// TLSDir, if set, runs every connection of the cluster with TLS:
	// a directory made by certs.Init (cairn admin certs init) holding
	// ca.crt and TLSHost's certificate and key, which every node
	// presents (mutual TLS between nodes; the web servers serve
	// HTTPS). "": plaintext.
	TLSDir string
	// TLSHost is the host of TLSDir's certificate the nodes use, which
	// must name the addresses they are dialed at; "": 127.0.0.1.
	TLSHost string
	// Security runs the NameNodes in secure mode (tokens, block access
	// tokens); it needs TLSDir. The cluster's own clients (WaitLive,
	// ClientOptions) use the superuser's token the NameNode writes.
	Security bool
}

// Node is one node of the cluster, ready to be served: Serve on Lis
// until its context ends; Handler on HTTPLis if that is not nil; Close
// when done.
type Node struct {
	Name    string // "namenode" (or "namenode-i" in a group), "datanode-i"
	Serve   func(context.Context, net.Listener) error
	Lis     net.Listener
	Handler http.Handler
	HTTPLis net.Listener
	// TLS, if set, is the configuration of the web server's HTTPS.
	TLS   *tls.Config
	Close func() error
}

// Cluster is a local cluster.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	peers []string    // the group's RPC addresses; nil for one NameNode
	tls   *tls.Config // every node's, from Config.TLSDir; nil: plaintext

	mu       sync.Mutex // guards the fields below and those of nns and dns
	nns      []*nameNode
	dns      []*dataNode
	serving  bool
	closeErr error
}

type nameNode struct {
	name string // "namenode", "namenode-i"
	dir  string
	addr string // RPC address, fixed across restarts
	http string // web address, fixed across restarts; "" if none
	nn   *namenode.Server
	node Node
	run  *running // nil while not served
	// down is set while the member is stopped or closed; a member made
	// by New and served by the caller (Nodes) is up.
	down bool
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
	if cfg.Dir == "" || cfg.DataNodes < 1 || cfg.NameNodes < 0 {
		return nil, cairn.Errorf(op, cfg.Dir, cairn.Invalid, "want a directory, at least one datanode and no negative number of namenodes, have %q, %d and %d",
			cfg.Dir, cfg.DataNodes, cfg.NameNodes)
	}
	c := &Cluster{cfg: cfg, log: log}
	if cfg.TLSDir != "" {
		host := cfg.TLSHost
		if host == "" {
			host = "127.0.0.1"
		}
		var err error
		c.tls, err = certs.Node(filepath.Join(cfg.TLSDir, host+".crt"), filepath.Join(cfg.TLSDir, host+".key"), filepath.Join(cfg.TLSDir, certs.CACert))
		if err != nil {
			return nil, cairn.E(op, cfg.TLSDir, err)
		}
	}
	if cfg.NameNodes <= 1 {
		rpc := cfg.NameNodeAddr
		if rpc == "" {
			rpc = "127.0.0.1:0"
		}
		c.nns = []*nameNode{{name: "namenode", dir: filepath.Join(cfg.Dir, "namenode"), addr: rpc, http: cfg.NameNodeHTTPAddr}}
	} else {
		for i := range cfg.NameNodes {
			rpc, web := "127.0.0.1:0", ""
			if cfg.NameNodeAddrs != nil {
				rpc, web = cfg.NameNodeAddrs(i)
			}
			if rpc == "" {
				rpc = "127.0.0.1:0"
			}
			name := fmt.Sprintf("namenode-%d", i)
			c.nns = append(c.nns, &nameNode{name: name, dir: filepath.Join(cfg.Dir, name), addr: rpc, http: web})
		}
	}
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
	nnLis := make([][2]net.Listener, len(c.nns))
	for i, m := range c.nns {
		var err error
		if nnLis[i][0], err = bind(&m.addr); err != nil {
			return fail(err)
		}
		if nnLis[i][1], err = bind(&m.http); err != nil {
			return fail(err)
		}
		if cfg.NameNodes > 1 {
			m.addr = dialable(m.addr)
			c.peers = append(c.peers, m.addr)
		}
	}
	dnLis := make([][2]net.Listener, len(c.dns))
	for i, d := range c.dns {
		var err error
		if dnLis[i][0], err = bind(&d.addr); err != nil {
			return fail(err)
		}
		if dnLis[i][1], err = bind(&d.http); err != nil {
			return fail(err)
		}
	}
	for i := range c.nns {
		if err := c.makeNameNode(i, nnLis[i][0], nnLis[i][1]); err != nil {
			for j := range i {
				c.nns[j].nn.Close()
			}
			return fail(err)
		}
	}
	for i := range c.dns {
		if err := c.makeDataNode(i, dnLis[i][0], dnLis[i][1]); err != nil {
			for j := range i {
				c.dns[j].dn.Close()
			}
			for _, m := range c.nns {
				m.nn.Close()
			}
			return fail(err)
		}
	}
	return c, nil
}

// dialable returns addr, a bound host:port, with an unspecified host
// made the loopback address, so that peers can dial it.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

func (c *Cluster) handler(h http.Handler) http.Handler {
	if c.cfg.Handler != nil {
		return c.cfg.Handler(h)
	}
	return h
}

// makeNameNode makes NameNode i on its listeners; c.mu is held or the
// cluster not yet shared.
func (c *Cluster) makeNameNode(i int, lis, httpLis net.Listener) error {
	m := c.nns[i]
	cfg := namenode.Config{
		Dir:                m.dir,
		DefaultReplication: c.cfg.Replication,
		DefaultBlockSize:   c.cfg.BlockSize,
		HeartbeatInterval:  c.cfg.HeartbeatInterval,
		Transport:          transport.Config{TLS: c.tls},
		Security:           c.cfg.Security,
	}
	if c.peers != nil {
		cfg.Peers = append([]string(nil), c.peers...)
		cfg.RPCAddr = m.addr
		cfg.HTTPAddr = m.http
	}
	if c.cfg.NameNode != nil {
		c.cfg.NameNode(&cfg)
	}
	nn, err := namenode.New(cfg, c.log.With("node", m.name))
	if err != nil {
		return cairn.E("localcluster.New", cfg.Dir, err)
	}
	m.nn = nn
	m.down = false
	m.node = Node{Name: m.name, Serve: nn.Serve, Lis: lis, Handler: c.handler(nn.HTTPHandler()), HTTPLis: httpLis, TLS: c.tls, Close: nn.Close}
	return nil
}

// makeDataNode makes DataNode i on its listeners; c.mu is held or the
// cluster not yet shared.
func (c *Cluster) makeDataNode(i int, lis, httpLis net.Listener) error {
	d := c.dns[i]
	name := fmt.Sprintf("datanode-%d", i)
	cfg := datanode.Config{
		Dirs:              []string{d.dir},
		NameNode:          c.NameNodeAddr(),
		HTTPAddr:          d.http,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		Transport:         transport.Config{TLS: c.tls},
		SmallBlockSize:    c.cfg.SmallBlockSize,
	}
	if c.cfg.DataNode != nil {
		c.cfg.DataNode(i, &cfg)
	}
	dn, err := datanode.New(cfg, c.log.With("node", name))
	if err != nil {
		return cairn.E("localcluster.New", d.dir, err)
	}
	d.dn = dn
	d.node = Node{Name: name, Serve: dn.Serve, Lis: lis, Handler: c.handler(dn.HTTPHandler()), HTTPLis: httpLis, TLS: c.tls, Close: dn.Close}
	return nil
}

// Nodes returns the nodes as made by New, NameNodes first, for a
// caller that serves them itself (instead of Serve).
func (c *Cluster) Nodes() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Node
	for _, m := range c.nns {
		out = append(out, m.node)
	}
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
	for _, m := range c.nns {
		m.run = serve(m.node)
	}
	for _, d := range c.dns {
		d.run = serve(d.node)
	}
}

func serve(n Node) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), close: n.Close}
	go func() { r.done <- n.Serve(ctx, n.Lis) }()
	if n.HTTPLis != nil {
		r.http = &http.Server{Handler: n.Handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: n.TLS.Clone()}
		if n.TLS != nil {
			go r.http.ServeTLS(n.HTTPLis, "", "")
		} else {
			go r.http.Serve(n.HTTPLis)
		}
	}
	return r
}

// NodeTLS returns the TLS configuration of the cluster's nodes (for a
// client that acts as a node); nil if the cluster is plaintext.
func (c *Cluster) NodeTLS() *tls.Config { return c.tls }

// ClientTLS returns the TLS configuration of a client of the cluster,
// for client.WithTLS: the cluster's CA, no certificate; nil if the
// cluster is plaintext.
func (c *Cluster) ClientTLS() *tls.Config { return certs.ClientOf(c.tls) }

// NumNameNodes returns the number of NameNodes, running or stopped: 1,
// or the size of the group.
func (c *Cluster) NumNameNodes() int { return len(c.nns) }

// NameNodeAddr returns the NameNodes' RPC addresses, comma-separated:
// one address for one NameNode. It is what a DataNode or a client is
// given.
func (c *Cluster) NameNodeAddr() string { return strings.Join(c.NameNodeAddrs(), ",") }

// NameNodeAddrs returns the RPC address of every NameNode, in order.
func (c *Cluster) NameNodeAddrs() []string {
	out := make([]string, len(c.nns))
	for i, m := range c.nns {
		out[i] = m.addr
	}
	return out
}

// NameNodeHTTPAddrs returns the web address of every NameNode, in
// order; "" for one without a web server.
func (c *Cluster) NameNodeHTTPAddrs() []string {
	out := make([]string, len(c.nns))
	for i, m := range c.nns {
		out[i] = m.http
	}
	return out
}

// NameNodeHTTPAddr returns the web address of the NameNode that
// NameNode returns; "" if none.
func (c *Cluster) NameNodeHTTPAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.current(); i >= 0 {
		return c.nns[i].http
	}
	return ""
}

// NameNode returns the NameNode to ask: the only one (as last made,
// even if now stopped), or the member of a group that leads now. When
// no member leads, it is a running member, which refuses with
// cairn.NotLeader; nil only when every member is stopped.
func (c *Cluster) NameNode() *namenode.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.current(); i >= 0 {
		return c.nns[i].nn
	}
	return nil
}

// current returns the index of the NameNode NameNode returns, -1 for
// none; c.mu is held.
func (c *Cluster) current() int {
	if len(c.nns) == 1 {
		return 0
	}
	if i := c.leader(); i >= 0 {
		return i
	}
	for i, m := range c.nns {
		if !m.down {
			return i
		}
	}
	return -1
}

// NameNodeAt returns NameNode i (member i of a group) as last made,
// even if now stopped.
func (c *Cluster) NameNodeAt(i int) *namenode.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nns[i].nn
}

// LeaderIndex returns the index of the NameNode that serves as the
// leader now, or -1 if none does (an election is under way, or every
// member is stopped). Should two members both believe they lead (an
// old leader that has not yet seen the new term), the newer term wins.
func (c *Cluster) LeaderIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader()
}

// leader is LeaderIndex; c.mu is held.
func (c *Cluster) leader() int {
	best, bestTerm := -1, uint64(0)
	for i, m := range c.nns {
		if m.down || m.nn == nil {
			continue
		}
		if term, leads := m.nn.RaftTerm(); leads && (best < 0 || term > bestTerm) {
			best, bestTerm = i, term
		}
	}
	return best
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

// StopNameNode stops NameNode i, as a crash would as far as its peers
// and the DataNodes can tell: its directory stays.
func (c *Cluster) StopNameNode(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.nns[i]
	if m.run == nil {
		return cairn.Errorf("localcluster.StopNameNode", m.dir, cairn.Invalid, "%s is not running", m.name)
	}
	err := m.run.stop()
	m.run = nil
	m.down = true
	return err
}

// StartNameNode starts NameNode i, which StopNameNode stopped, again on
// the same directory and addresses. A group member rejoins its group
// as a follower (unless it wins an election).
func (c *Cluster) StartNameNode(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.nns[i]; m.run != nil {
		return cairn.Errorf("localcluster.StartNameNode", m.dir, cairn.Invalid, "%s is running", m.name)
	}
	return c.startNameNode(i)
}

// startNameNode binds NameNode i's addresses again, makes it and serves
// it; c.mu is held.
func (c *Cluster) startNameNode(i int) error {
	m := c.nns[i]
	lis, err := listen(m.addr)
	if err != nil {
		return err
	}
	var hl net.Listener
	if m.http != "" {
		if hl, err = listen(m.http); err != nil {
			lis.Close()
			return err
		}
	}
	if err := c.makeNameNode(i, lis, hl); err != nil {
		lis.Close()
		if hl != nil {
			hl.Close()
		}
		return err
	}
	m.run = serve(m.node)
	return nil
}

// RestartNameNode stops the NameNode and starts it again on the same
// directory and addresses: the only one, or in a group the member that
// leads now (an error of kind Unavailable if none does).
func (c *Cluster) RestartNameNode() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	if len(c.nns) > 1 {
		if i = c.leader(); i < 0 {
			return cairn.Errorf("localcluster.RestartNameNode", c.cfg.Dir, cairn.Unavailable, "no namenode of the group leads")
		}
	}
	m := c.nns[i]
	var stopErr error
	if m.run != nil {
		stopErr = m.run.stop()
		m.run = nil
		m.down = true
	}
	if err := c.startNameNode(i); err != nil {
		return err
	}
	if stopErr != nil {
		c.log.Warn("stopping the namenode", "node", m.name, "err", stopErr)
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
	// The NameNodes close together: a group member's Close waits for
	// its Raft RPCs in flight, and one to a peer already gone can take
	// the Raft transport's timeout (10s) to fail, so the members had
	// better not wait for each other in turn.
	nnErrs := make([]error, len(c.nns))
	var wg sync.WaitGroup
	for i, m := range c.nns {
		var stop func() error
		switch {
		case m.run != nil:
			stop = m.run.stop
		case !c.serving && m.nn != nil:
			node := m.node
			stop = func() error { return closeNode(node) }
		}
		m.run = nil
		m.down = true
		if stop != nil {
			wg.Go(func() { nnErrs[i] = stop() })
		}
	}
	wg.Wait()
	c.serving = true // closed: nothing left unserved to close
	return errors.Join(append(errs, nnErrs...)...)
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

// WaitLive waits until n DataNodes are live at the cluster's NameNode
// (in a group, at the member that leads, whichever it is by then), or
// ctx ends.
func (c *Cluster) WaitLive(ctx context.Context, n int) error {
	const op = "localcluster.WaitLive"
	// The client follows a group's leader, wherever it moves.
	opts, err := c.ClientOptions(ctx)
	if err != nil {
		return err
	}
	cl, err := client.Dial(ctx, c.NameNodeAddr(), opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	last := ""
	for {
		// A bound per ask: a leader may stop while it answers.
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		live, err := LiveDataNodes(actx, cl, false)
		cancel()
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
			return cairn.Errorf(op, c.NameNodeAddr(), cairn.Unavailable, "cluster did not come up: %s", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RootTokenFile is the file of the superuser's token of a secured
// cluster: the one the first NameNode writes in its directory.
func (c *Cluster) RootTokenFile() string {
	return filepath.Join(c.nns[0].dir, namenode.RootTokenFile)
}

// RootToken waits until a NameNode of a secured cluster has written
// the superuser's token, and returns it; "" for a cluster that is not
// secured.
func (c *Cluster) RootToken(ctx context.Context) (string, error) {
	if !c.cfg.Security {
		return "", nil
	}
	for {
		for _, m := range c.nns {
			if b, err := os.ReadFile(filepath.Join(m.dir, namenode.RootTokenFile)); err == nil && len(bytes.TrimSpace(b)) > 0 {
				return string(bytes.TrimSpace(b)), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", cairn.Errorf("localcluster.RootToken", c.RootTokenFile(), cairn.Unavailable, "no NameNode wrote the superuser's token: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ClientOptions are the options of a client of the cluster as its
// superuser: TLS with the cluster's CA, and in secure mode the
// superuser's token (RootToken waits for it).
func (c *Cluster) ClientOptions(ctx context.Context) ([]client.Option, error) {
	opts := []client.Option{client.WithTLS(c.ClientTLS())}
	tok, err := c.RootToken(ctx)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	return opts, nil
}

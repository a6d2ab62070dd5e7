package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/localcluster"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// Defaults of 'cairn dev'.
const (
	defaultDevDir = "cairn-dev"
	// devPortStep separates the ports of consecutive DataNodes of a dev
	// cluster: DataNode i has data port base+10i and web port
	// base-2+10i (9866/9864, 9876/9874, ...), which never meets the
	// NameNode's 8020 and 9870.
	devPortStep = 10
	// maxDevNameNodes bounds --namenodes.
	maxDevNameNodes = 9
	// devLiveTimeout bounds the wait for the DataNodes to register.
	devLiveTimeout = 60 * time.Second
)

type devCmd struct {
	e           *env
	dir         string
	namenodes   int
	datanodes   int
	rpcAddr     string
	httpAddr    string
	basePort    int
	replication int
	block       sizeValue
	heartbeat   time.Duration
	logLevel    levelValue
	pprof       bool
	s3Addr      string
	secure      bool
	// certDir holds the certificates of a --secure cluster.
	certDir  string
	auditLog string
}

func newDevCmd(e *env) *cobra.Command {
	d := &devCmd{e: e, logLevel: levelValue(slog.LevelWarn), block: cairn.DefaultBlockSize}
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR] [--datanodes N] [--namenodes N]",
		Short: "Run a NameNode and DataNodes in one process, for development",
		Long: `Run a whole cluster in one process: a NameNode on 127.0.0.1:8020 (web
127.0.0.1:9870) and --datanodes DataNodes, DataNode i listening on
127.0.0.1:(9866+10i) for data and 127.0.0.1:(9864+10i) for the web
(9866/9864, 9876/9874, 9886/9884, ...). --datanode-port 0 puts the
DataNodes on free ports instead.

--namenodes N (3, say) runs a group of N NameNodes instead, which elect
a leader; the DataNodes report to all of them. Member i listens on the
port of --rpc-addr plus i (8020, 8021, 8022, ...) and serves the web on
the port of --http-addr plus 10i (9870, 9880, 9890, ...: the DataNodes
never use ports ending in 0). A port of 0 puts every member on a free
port.

Data is kept across restarts in --dir (default ./cairn-dev): the NameNode
in DIR/namenode (member i of a group in DIR/namenode-i), DataNode i in
DIR/datanode-i. Delete DIR to start afresh. A group remembers its
members by address: restart it with the same --namenodes and ports.

It also runs an S3 gateway on --s3-addr (127.0.0.1:9000; empty: none), whose
buckets are the directories under /s3. Its access key and secret are made
up at the first start and kept in DIR/s3-credentials (the format of 'cairn
s3 --credentials', acting as the OS user; edit it to choose your own); the
banner prints them in a line that runs the aws command line. A port in
use is an error, as for the other ports: pass --s3-addr 127.0.0.1:0 for a
free port, or --s3-addr "" to run without S3.

Once the DataNodes are registered it prints the addresses; then
'cairn fs ls /' works in another terminal with no flags (with a group,
after the export of CAIRN_NAMENODE it prints). Ctrl-C stops the cluster
cleanly.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(d.run),
	}
	f := cmd.Flags()
	f.StringVar(&d.dir, "dir", defaultDevDir, "directory of the cluster's data")
	f.IntVar(&d.datanodes, "datanodes", 3, "number of DataNodes")
	f.IntVar(&d.namenodes, "namenodes", 1, "number of NameNodes (more than 1: a group that elects a leader)")
	f.StringVar(&d.rpcAddr, "rpc-addr", defaultNameNode, "NameNode RPC address (a group's first member's; the next ones are on the next ports)")
	f.StringVar(&d.httpAddr, "http-addr", defaultNameNodeHTTP, "NameNode web address (empty: none; a group's member i on this port plus 10i)")
	f.IntVar(&d.basePort, "datanode-port", 9866, "data port of the first DataNode (0: free ports)")
	f.IntVar(&d.replication, "replication", 0, "default replication (0: 3, or fewer if there are fewer DataNodes)")
	f.Var(&d.block, "block-size", "default block size, e.g. 128MiB")
	f.DurationVar(&d.heartbeat, "heartbeat-interval", time.Second, "DataNode heartbeat interval")
	f.StringVar(&d.s3Addr, "s3-addr", defaultS3Addr, "S3 gateway address (empty: no gateway; port 0: a free port)")
	f.BoolVar(&d.secure, "secure", false, "a secured cluster: certificates in DIR/certs (made on first start), TLS on every connection, tokens, block access tokens; the banner says how to use it")
	f.StringVar(&d.auditLog, "audit-log", "", "file of the NameNode's audit log, in HDFS's format (empty: none; a group's member writes FILE.namenode-i)")
	f.Var(&d.logLevel, "log-level", "log level: debug, info, warn or error")
	pprofFlag(cmd, &d.pprof)
	return cmd
}

// nameNodeAddrs returns member i's RPC and web addresses, in a group:
// the ports of --rpc-addr plus i and of --http-addr plus 10i (port 0
// stays 0: a free port).
func (d *devCmd) nameNodeAddrs(i int) (rpc, web string) {
	return shiftPort(d.rpcAddr, i), shiftPort(d.httpAddr, devPortStep*i)
}

// shiftPort returns the host:port addr with n added to its port; addr
// itself if it is empty or its port is 0 (or not a number: the listener
// explains).
func shiftPort(addr string, n int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p+n))
}

// portRoom reports whether addr's port plus n is still a port, for an
// addr that has one.
func portRoom(addr string, n int) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	p, err := strconv.Atoi(port)
	return err != nil || p+n <= 65535
}

// dataNodeAddrs returns DataNode i's data and web addresses.
func (d *devCmd) dataNodeAddrs(i int) (data, web string) {
	if d.basePort == 0 {
		return "127.0.0.1:0", "127.0.0.1:0"
	}
	p := d.basePort + devPortStep*i
	return fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("127.0.0.1:%d", p-2)
}

func (d *devCmd) run(ctx context.Context, _ []string) error {
	const op = "dev"
	if d.datanodes < 1 || d.datanodes > 100 {
		return usageError("invalid --datanodes %d: want 1 to 100", d.datanodes)
	}
	if d.namenodes < 1 || d.namenodes > maxDevNameNodes {
		return usageError("invalid --namenodes %d: want 1 to %d", d.namenodes, maxDevNameNodes)
	}
	if !portRoom(d.rpcAddr, d.namenodes-1) || !portRoom(d.httpAddr, devPortStep*(d.namenodes-1)) {
		return usageError("no room for %d NameNodes above --rpc-addr %s and --http-addr %s", d.namenodes, d.rpcAddr, d.httpAddr)
	}
	if d.basePort != 0 && (d.basePort < 3 || d.basePort+devPortStep*(d.datanodes-1) > 65535) {
		return usageError("invalid --datanode-port %d", d.basePort)
	}
	if d.heartbeat <= 0 || d.block <= 0 {
		return usageError("--heartbeat-interval and --block-size must be positive")
	}
	repl := d.replication
	if repl == 0 {
		repl = min(cairn.DefaultReplication, d.datanodes)
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fail(op, d.dir, err)
	}
	log := d.e.serverLogger(slog.Level(d.logLevel))
	if d.secure {
		// One certificate for every node, naming the loopback address
		// they all listen on; made once, kept for the next starts.
		d.certDir = filepath.Join(d.dir, "certs")
		if _, err := certs.Init(d.certDir, []string{"127.0.0.1", "localhost"}, certs.Options{}); err != nil {
			return fail(op, d.certDir, err)
		}
	}

	// The S3 gateway's port is bound first, so that a clash fails before
	// anything starts.
	var gw *devGateway
	if d.s3Addr != "" {
		var err error
		if gw, err = d.bindGateway(log); err != nil {
			return err
		}
	}

	// localcluster binds every port first, so a clash fails before
	// anything starts; runNodes serves the nodes.
	lc, err := localcluster.New(localcluster.Config{
		SmallBlockSize:    defaultSmallBlockSize,
		Dir:               d.dir,
		NameNodes:         d.namenodes,
		DataNodes:         d.datanodes,
		Replication:       repl,
		BlockSize:         int64(d.block),
		HeartbeatInterval: d.heartbeat,
		NameNodeAddr:      d.rpcAddr,
		NameNodeHTTPAddr:  d.httpAddr,
		NameNodeAddrs:     d.nameNodeAddrs,
		DataNodeAddrs:     d.dataNodeAddrs,
		NameNode:          d.setAuditLog,
		Handler:           func(h http.Handler) http.Handler { return withPprof(h, d.pprof) },
		Listen:            func(addr string) (net.Listener, error) { return listen(op, addr) },
		TLSDir:            d.certDir,
		Security:          d.secure,
	}, log)
	if err != nil {
		if gw != nil {
			gw.lis.Close()
		}
		return err
	}
	var nodes []node
	for _, n := range lc.Nodes() {
		nodes = append(nodes, node{name: n.Name, serve: n.Serve, lis: n.Lis, handler: n.Handler, httpLis: n.HTTPLis, tls: n.TLS, close: n.Close})
	}
	nns, cluster := lc.NumNameNodes(), len(nodes)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The cluster's own clients (the wait, the S3 gateway) act as the
	// superuser; in a secured cluster with its token, which the
	// NameNode writes once it runs.
	clientOpts := func(ctx context.Context) ([]client.Option, error) { return lc.ClientOptions(ctx) }
	if gw != nil {
		n := gw.node(lc.NameNodeAddr(), clientOpts, log)
		n.tls = lc.NodeTLS() // HTTPS in a secured cluster
		nodes = append(nodes, n)
	}
	errc := make(chan error, 1)
	go func() { errc <- runNodes(rctx, log.With("name", "dev"), op, nodes) }()

	if err := d.waitLive(rctx, lc.NameNodeAddr(), clientOpts, errc); err != nil {
		cancel()
		if ctx.Err() != nil {
			<-errc
			return nil // interrupted while starting: a clean stop
		}
		if rerr := <-errc; rerr != nil {
			return rerr
		}
		return err
	}
	if gw != nil {
		if err := gw.wait(rctx, errc); err != nil {
			cancel()
			if ctx.Err() != nil {
				<-errc
				return nil
			}
			if rerr := <-errc; rerr != nil {
				return rerr
			}
			return err
		}
	}
	d.banner(lc.NameNodeAddrs(), nodes[:nns], lc.LeaderIndex(), nodes[nns:cluster], gw, lc.RootTokenFile())
	err = <-errc
	if err == nil {
		fmt.Fprintln(d.e.stdout, "cairn dev: stopped")
	}
	return err
}

// waitLive waits until every DataNode is live at the NameNode that
// leader names (none while it returns ""), or a node fails (errc), or
// devLiveTimeout passes. addr names the cluster in errors.
func (d *devCmd) waitLive(ctx context.Context, addr string, clientOpts func(context.Context) ([]client.Option, error), errc chan error) error {
	const op = "dev"
	deadline := time.Now().Add(devLiveTimeout)
	var c *client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	last := "no answer from the namenode"
	for {
		if c == nil {
			// The whole list: the client finds the leader of a group.
			octx, ocancel := context.WithTimeout(ctx, time.Second)
			opts, err := clientOpts(octx)
			ocancel()
			if err == nil {
				var cl *client.Client
				if cl, err = client.Dial(ctx, addr, append(opts, client.WithDialTimeout(time.Second))...); err == nil {
					c = cl
				}
			}
			if err != nil {
				last = reason(err)
			}
		}
		if c != nil {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			// A namespace call first: only a leader answers it, so the
			// group has one, and the client now asks it (a follower
			// answers the DataNode report from its own view).
			_, err := c.Stat(rctx, "/")
			live := 0
			if err == nil {
				live, err = localcluster.LiveDataNodes(rctx, c, false)
			}
			cancel()
			if err == nil {
				if live >= d.datanodes {
					return nil
				}
				last = fmt.Sprintf("%d of %d datanodes live", live, d.datanodes)
			} else {
				last = reason(err)
			}
		}
		if time.Now().After(deadline) {
			return failf(op, addr, cairn.Unavailable, "datanodes did not register within %v: %s", devLiveTimeout, last)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case err := <-errc:
			t.Stop()
			errc <- err // leave it for the caller
			if err == nil {
				return failf(op, addr, cairn.Unavailable, "cluster stopped while starting")
			}
			return err
		case <-t.C:
		}
	}
}

// banner prints the cluster's addresses and how to use it: nns are the
// NameNodes and addrs their RPC addresses (lead the index of the one
// that leads now, in a group), dns the DataNodes.
func (d *devCmd) banner(addrs []string, nns []node, lead int, dns []node, gw *devGateway, rootToken string) {
	var b strings.Builder
	fmt.Fprintf(&b, "cairn dev cluster is up (data in %s)\n", d.dir)
	for i, n := range nns {
		fmt.Fprintf(&b, "  %-12s rpc  %-21s web %s", n.name, addrs[i], httpURL(n.httpLis, n.tls))
		if len(nns) > 1 && i == lead {
			b.WriteString("  (leader)")
		}
		b.WriteString("\n")
	}
	for _, n := range dns {
		fmt.Fprintf(&b, "  %-12s data %-21s web %s\n", n.name, n.lis.Addr(), httpURL(n.httpLis, n.tls))
	}
	if gw != nil {
		fmt.Fprintf(&b, "  %-12s http %-21s buckets in %s, keys in %s\n", "s3", gw.lis.Addr(), defaultS3Root, gw.credsPath)
	}
	nnAddr := strings.Join(addrs, ",")
	if d.secure {
		ca := filepath.Join(d.certDir, certs.CACert)
		fmt.Fprintf(&b, "\nThe cluster is secured: TLS on every connection (CA %s), a token for every call.\n", ca)
		fmt.Fprintf(&b, "The superuser's token is in %s; make others with 'cairn admin token create --user NAME'.\n", rootToken)
		b.WriteString("\nIn another terminal, try:\n")
		fmt.Fprintf(&b, "  export CAIRN_NAMENODE=%s CAIRN_TLS_CA=%s CAIRN_TOKEN=$(cat %s)\n", nnAddr, ca, rootToken)
		b.WriteString("  cairn fs ls /\n")
		if len(nns) > 0 && nns[0].httpLis != nil {
			fmt.Fprintf(&b, "Web UI: %s/?delegation=$CAIRN_TOKEN (sets a cookie; trust %s in the browser)\n", httpURL(nns[0].httpLis, nns[0].tls), ca)
		}
		if gw != nil {
			fmt.Fprintf(&b, "S3 with the aws command line:  %s\n", gw.awsLine(ca))
		}
		b.WriteString("Press Ctrl-C to stop the cluster.\n")
		fmt.Fprint(d.e.stdout, b.String())
		return
	}
	if nnAddr == defaultNameNode {
		b.WriteString("\nIn another terminal, try:  cairn fs ls /\n")
	} else {
		fmt.Fprintf(&b, "\nIn another terminal, try:  export CAIRN_NAMENODE=%s; cairn fs ls /\n", nnAddr)
	}
	if gw != nil {
		fmt.Fprintf(&b, "S3 with the aws command line:  %s\n", gw.awsLine(""))
	}
	b.WriteString("Press Ctrl-C to stop the cluster.\n")
	fmt.Fprint(d.e.stdout, b.String())
}

// setAuditLog gives a NameNode the --audit-log: a NameNode alone the
// file named, member i of a group FILE.namenode-i (its directory's
// name), so that members never share a file.
func (d *devCmd) setAuditLog(cfg *namenode.Config) {
	if d.auditLog == "" {
		return
	}
	cfg.AuditLog = d.auditLog
	if len(cfg.Peers) > 0 {
		cfg.AuditLog += "." + filepath.Base(cfg.Dir)
	}
}

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/localcluster"
)

// Defaults of 'cairn dev'.
const (
	defaultDevDir = "cairn-dev"
	// devPortStep separates the ports of consecutive DataNodes of a dev
	// cluster: DataNode i has data port base+10i and web port
	// base-2+10i (9866/9864, 9876/9874, ...), which never meets the
	// NameNode's 8020 and 9870.
	devPortStep = 10
	// devLiveTimeout bounds the wait for the DataNodes to register.
	devLiveTimeout = 60 * time.Second
)

type devCmd struct {
	e           *env
	dir         string
	datanodes   int
	rpcAddr     string
	httpAddr    string
	basePort    int
	replication int
	block       sizeValue
	heartbeat   time.Duration
	logLevel    levelValue
	pprof       bool
}

func newDevCmd(e *env) *cobra.Command {
	d := &devCmd{e: e, logLevel: levelValue(slog.LevelWarn), block: cairn.DefaultBlockSize}
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR] [--datanodes N]",
		Short: "Run a NameNode and DataNodes in one process, for development",
		Long: `Run a whole cluster in one process: a NameNode on 127.0.0.1:8020 (web
127.0.0.1:9870) and --datanodes DataNodes, DataNode i listening on
127.0.0.1:(9866+10i) for data and 127.0.0.1:(9864+10i) for the web
(9866/9864, 9876/9874, 9886/9884, ...). --datanode-port 0 puts the
DataNodes on free ports instead.

Data is kept across restarts in --dir (default ./cairn-dev): the NameNode
in DIR/namenode, DataNode i in DIR/datanode-i. Delete DIR to start afresh.

Once the DataNodes are registered it prints the addresses; then
'cairn fs ls /' works in another terminal with no flags. Ctrl-C stops the
cluster cleanly.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(d.run),
	}
	f := cmd.Flags()
	f.StringVar(&d.dir, "dir", defaultDevDir, "directory of the cluster's data")
	f.IntVar(&d.datanodes, "datanodes", 3, "number of DataNodes")
	f.StringVar(&d.rpcAddr, "rpc-addr", defaultNameNode, "NameNode RPC address")
	f.StringVar(&d.httpAddr, "http-addr", defaultNameNodeHTTP, "NameNode web address (empty: none)")
	f.IntVar(&d.basePort, "datanode-port", 9866, "data port of the first DataNode (0: free ports)")
	f.IntVar(&d.replication, "replication", 0, "default replication (0: 3, or fewer if there are fewer DataNodes)")
	f.Var(&d.block, "block-size", "default block size, e.g. 128MiB")
	f.DurationVar(&d.heartbeat, "heartbeat-interval", time.Second, "DataNode heartbeat interval")
	f.Var(&d.logLevel, "log-level", "log level: debug, info, warn or error")
	pprofFlag(cmd, &d.pprof)
	return cmd
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

	// localcluster binds every port first, so a clash fails before
	// anything starts; runNodes serves the nodes.
	lc, err := localcluster.New(localcluster.Config{
		Dir:               d.dir,
		DataNodes:         d.datanodes,
		Replication:       repl,
		BlockSize:         int64(d.block),
		HeartbeatInterval: d.heartbeat,
		NameNodeAddr:      d.rpcAddr,
		NameNodeHTTPAddr:  d.httpAddr,
		DataNodeAddrs:     d.dataNodeAddrs,
		Handler:           func(h http.Handler) http.Handler { return withPprof(h, d.pprof) },
		Listen:            func(addr string) (net.Listener, error) { return listen(op, addr) },
	}, log)
	if err != nil {
		return err
	}
	var nodes []node
	for _, n := range lc.Nodes() {
		nodes = append(nodes, node{name: n.Name, serve: n.Serve, lis: n.Lis, handler: n.Handler, httpLis: n.HTTPLis, close: n.Close})
	}
	nnAddr := lc.NameNodeAddr()
	nnHTTP := nodes[0].httpLis

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- runNodes(rctx, log.With("name", "dev"), op, nodes) }()

	if err := d.waitLive(rctx, nnAddr, errc); err != nil {
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
	d.banner(nnAddr, nnHTTP, nodes[1:])
	err = <-errc
	if err == nil {
		fmt.Fprintln(d.e.stdout, "cairn dev: stopped")
	}
	return err
}

// waitLive waits until every DataNode is live at the NameNode at addr,
// or a node fails (errc), or devLiveTimeout passes.
func (d *devCmd) waitLive(ctx context.Context, addr string, errc chan error) error {
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
			if cl, err := client.Dial(ctx, addr, client.WithDialTimeout(time.Second)); err == nil {
				c = cl
			} else {
				last = reason(err)
			}
		}
		if c != nil {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			live, err := localcluster.LiveDataNodes(rctx, c, false)
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

// banner prints the cluster's addresses and how to use it.
func (d *devCmd) banner(nnAddr string, nnHTTP net.Listener, dns []node) {
	var b strings.Builder
	fmt.Fprintf(&b, "cairn dev cluster is up (data in %s)\n", d.dir)
	fmt.Fprintf(&b, "  namenode     rpc  %-21s web %s\n", nnAddr, httpURL(nnHTTP))
	for _, n := range dns {
		fmt.Fprintf(&b, "  %-12s data %-21s web %s\n", n.name, n.lis.Addr(), httpURL(n.httpLis))
	}
	if nnAddr == defaultNameNode {
		b.WriteString("\nIn another terminal, try:  cairn fs ls /\n")
	} else {
		fmt.Fprintf(&b, "\nIn another terminal, try:  export CAIRN_NAMENODE=%s; cairn fs ls /\n", nnAddr)
	}
	b.WriteString("Press Ctrl-C to stop the cluster.\n")
	fmt.Fprint(d.e.stdout, b.String())
}

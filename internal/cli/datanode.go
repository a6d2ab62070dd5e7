package cli

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/internal/datanode"
)

// Defaults of 'cairn datanode', as HDFS's.
const (
	defaultDataNodeAddr = "127.0.0.1:9866"
	defaultDataNodeHTTP = "127.0.0.1:9864"
)

type datanodeCmd struct {
	e         *env
	dirs      string
	namenode  string
	addr      string
	advertise string
	httpAddr  string
	heartbeat time.Duration
	report    time.Duration
	scan      time.Duration
	scanBW    sizeValue
	volCap    sizeValue // hidden test seam: datanode.Config.VolumeCapacity
	small     sizeValue
	logLevel  levelValue
	pprof     bool
	tls       tlsFlags
}

// defaultSmallBlockSize is the DataNodes' --small-block-size.
const defaultSmallBlockSize = 1 << 20

// maxSmallBlockSize bounds --small-block-size.
const maxSmallBlockSize = 64 << 20

func newDataNodeCmd(e *env) *cobra.Command {
	d := &datanodeCmd{e: e, logLevel: levelValue(slog.LevelInfo)}
	cmd := &cobra.Command{
		Use:   "datanode --dir DIR[,DIR...] [--namenode HOST:PORT[,HOST:PORT...]] [--addr HOST:PORT] [--http-addr HOST:PORT] [flags]",
		Short: "Run a DataNode",
		Long: `Run a DataNode: it stores blocks in --dir (one directory per disk, comma
separated; required), serves block reads and writes on --addr, its web
page, /metrics, /healthz and /readyz on --http-addr, and registers with
the NameNode at --namenode, retrying while it is unreachable, until SIGINT
or SIGTERM.

Every flag can also be set by CAIRN_<FLAG> or a key of the YAML --config
file, as for 'cairn namenode'.

--addr is also the address told to the NameNode for clients to connect to,
unless --advertise-addr says otherwise (needed when --addr is 0.0.0.0).

With --tls-cert, --tls-key and --tls-ca (cairn admin certs init makes
them) every connection is TLS: the data port, the DataNode's calls to the
NameNode and to other DataNodes (which show its certificate), and the web
address, which serves HTTPS.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(d.run),
	}
	f := cmd.Flags()
	f.StringVar(&d.dirs, "dir", "", "data directories, comma separated (required)")
	f.StringVar(&d.namenode, "namenode", defaultNameNode, "NameNode RPC address, or the addresses of a NameNode group separated by commas")
	f.StringVar(&d.addr, "addr", defaultDataNodeAddr, "data-transfer address")
	f.StringVar(&d.advertise, "advertise-addr", "", "data-transfer address told to the NameNode (default: --addr as bound)")
	f.StringVar(&d.httpAddr, "http-addr", defaultDataNodeHTTP, "web address (empty: none)")
	f.DurationVar(&d.heartbeat, "heartbeat-interval", 3*time.Second, "time between heartbeats to the NameNode")
	f.DurationVar(&d.report, "block-report-interval", 6*time.Hour, "time between full block reports")
	f.DurationVar(&d.scan, "scan-interval", 24*time.Hour, "time between full passes of the block scanner, which verifies every replica's checksums (0: no scanner)")
	d.scanBW = 64 << 20
	d.small = defaultSmallBlockSize
	f.Var(&d.small, "small-block-size", "largest replica appended to the container store, many per file and one fsync for many writers, rather than kept in files of its own, e.g. 1MiB (0: none)")
	f.Var(&d.scanBW, "scan-bandwidth", "bytes per second the block scanner may read, e.g. 64MiB (raised if a pass would not fit in --scan-interval)")
	d.tls.addServer(f)
	f.Var(&d.logLevel, "log-level", "log level: debug, info, warn or error")
	// A test seam for full disks (the e2e fault suite): each volume is
	// full once it holds this many bytes of replicas. Hidden from --help.
	f.Var(&d.volCap, "volume-capacity", "bytes of replicas after which each volume is full, e.g. 8MiB (test seam; 0: the disk's)")
	f.MarkHidden("volume-capacity")
	pprofFlag(cmd, &d.pprof)
	return cmd
}

// splitDirs splits a comma-separated list of directories.
func splitDirs(s string) []string {
	var dirs []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func (d *datanodeCmd) run(ctx context.Context, _ []string) error {
	const op = "datanode"
	dirs := splitDirs(d.dirs)
	if len(dirs) == 0 {
		return usageError("--dir is required: the directories where the DataNode keeps its blocks")
	}
	if d.heartbeat <= 0 || d.report <= 0 {
		return usageError("--heartbeat-interval and --block-report-interval must be positive")
	}
	if d.scan < 0 || d.scanBW <= 0 {
		return usageError("--scan-interval must not be negative and --scan-bandwidth must be positive")
	}
	if d.small > maxSmallBlockSize {
		// Held in memory while received, and appended whole to a
		// 256 MiB container.
		return usageError("--small-block-size must be at most 64MiB")
	}
	scan := d.scan
	if scan == 0 {
		scan = -1 // no scanner
	}
	nodeTLS, err := d.tls.node(op)
	if err != nil {
		return err
	}
	log := d.e.serverLogger(slog.Level(d.logLevel))
	lis, err := listen(op, d.addr)
	if err != nil {
		return err
	}
	var httpLis net.Listener
	if d.httpAddr != "" {
		if httpLis, err = listen(op, d.httpAddr); err != nil {
			lis.Close()
			return err
		}
	}
	cfg := datanode.Config{
		Dirs:                dirs,
		NameNode:            d.namenode,
		AdvertiseAddr:       d.advertise,
		HeartbeatInterval:   d.heartbeat,
		BlockReportInterval: d.report,
		ScanInterval:        scan,
		ScanBandwidth:       int64(d.scanBW),
		VolumeCapacity:      int64(d.volCap),
		SmallBlockSize:      int64(d.small),
	}
	cfg.Transport.TLS = nodeTLS
	if httpLis != nil {
		cfg.HTTPAddr = httpLis.Addr().String()
	}
	// The datanode package names itself in its logs (component=datanode,
	// node=ID, addr).
	dn, err := datanode.New(cfg, log)
	if err != nil {
		closeAll(lis, httpLis)
		return fail(op, strings.Join(dirs, ","), err)
	}
	// The datanode package names the node in its own lines; ours too.
	log = log.With("node", string(dn.ID()))
	log.Info("listening", "http", httpURL(httpLis, nodeTLS), "tls", nodeTLS != nil,
		"dirs", strings.Join(dirs, ","), "namenode", d.namenode)
	return runNodes(ctx, log, op, []node{{
		name:    lis.Addr().String(),
		serve:   dn.Serve,
		lis:     lis,
		handler: withPprof(dn.HTTPHandler(), d.pprof),
		httpLis: httpLis,
		tls:     nodeTLS,
		close:   dn.Close,
	}})
}

package cli

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// Defaults of 'cairn namenode', as HDFS's where HDFS has one.
const (
	defaultNameNodeHTTP = "127.0.0.1:9870"
	// defaultSafeModeExtension is how long a restarted NameNode stays
	// in safe mode once the threshold is reached, so that the last
	// DataNodes' reports arrive before replication decisions are made.
	// HDFS waits 30s; cairn's DataNodes report at registration, so a
	// few seconds suffice. A new, empty namespace leaves at once.
	defaultSafeModeExtension = 3 * time.Second
)

type namenodeCmd struct {
	e        *env
	dir      string
	rpcAddr  string
	httpAddr string
	logLevel levelValue
	cfg      namenode.Config
	block    sizeValue
	reserved sizeValue
	cluster  string
	pprof    bool
	peers    string
	peerVia  string
	// permissions is --permissions; cfg.PermissionsOff its negation.
	permissions bool
	tls         tlsFlags
	auditMax    sizeValue
}

func newNameNodeCmd(e *env) *cobra.Command {
	n := &namenodeCmd{e: e, logLevel: levelValue(slog.LevelInfo), block: cairn.DefaultBlockSize, reserved: 1 << 30,
		auditMax: 256 << 20}
	cmd := &cobra.Command{
		Use:   "namenode --dir DIR [--rpc-addr HOST:PORT] [--http-addr HOST:PORT] [flags]",
		Short: "Run a NameNode",
		Long: `Run a NameNode: the namespace, the block map and the DataNode registry. It
keeps its Raft log, snapshots and cluster ID in --dir (required), formatting
it on first start. It serves clients and DataNodes on --rpc-addr, and on
--http-addr the web UI, /metrics (Prometheus), /healthz and /readyz, until
SIGINT or SIGTERM.

Every flag can also be set by the environment variable CAIRN_<FLAG>
(CAIRN_HEARTBEAT_INTERVAL=1s) or a key of the YAML --config file
(heartbeat-interval: 1s); flags beat the environment, which beats the
file. --print-config shows the result.

With --tls-cert, --tls-key and --tls-ca (cairn admin certs init makes
them) every connection is TLS: the RPC port (clients, DataNodes and, in a
group, the members' Raft traffic, for which a certificate signed by the CA
is required), and the web address, which serves HTTPS.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(n.run),
	}
	f := cmd.Flags()
	f.StringVar(&n.dir, "dir", "", "metadata directory (required)")
	f.StringVar(&n.rpcAddr, "rpc-addr", defaultNameNode, "RPC address for clients and DataNodes")
	f.StringVar(&n.httpAddr, "http-addr", defaultNameNodeHTTP, "web address (empty: none)")
	f.IntVar(&n.cfg.DefaultReplication, "replication", cairn.DefaultReplication, "default replication of new files")
	f.Var(&n.block, "block-size", "default block size of new files, e.g. 128MiB")
	f.StringVar(&n.cluster, "cluster-id", "", "cluster ID given when formatting a new --dir (default: random)")
	f.Uint64Var(&n.cfg.SnapshotThreshold, "snapshot-threshold", 8192, "log entries between automatic snapshots")
	f.DurationVar(&n.cfg.LeaseSoftLimit, "lease-soft-limit", 60*time.Second, "time after which another client may recover a writer's file")
	f.DurationVar(&n.cfg.LeaseHardLimit, "lease-hard-limit", time.Hour, "time after which an abandoned file being written is closed")
	f.Float64Var(&n.cfg.SafeModeThreshold, "safemode-threshold", 0.999, "fraction of blocks that must be reported to leave safe mode")
	f.DurationVar(&n.cfg.SafeModeExtension, "safemode-extension", defaultSafeModeExtension, "time to stay in safe mode once the threshold is reached (HDFS: 30s)")
	f.DurationVar(&n.cfg.HeartbeatInterval, "heartbeat-interval", 3*time.Second, "the DataNodes' heartbeat interval")
	f.DurationVar(&n.cfg.StaleNodeTimeout, "stale-node-timeout", 30*time.Second, "heartbeat age after which a DataNode is stale")
	f.DurationVar(&n.cfg.DeadNodeTimeout, "dead-node-timeout", 10*time.Minute+30*time.Second, "heartbeat age after which a DataNode is dead")
	f.IntVar(&n.cfg.ReplicationStreams, "replication-streams", 2, "replications a DataNode runs at once")
	f.Var(&n.reserved, "reserved-space", "free space below which a DataNode gets no new blocks, e.g. 1GiB (0: none)")
	f.DurationVar(&n.cfg.BlockKeyUpdateInterval, "block-key-update-interval", blocktoken.DefaultKeyUpdateInterval, "secure mode: how often this NameNode replaces the key it signs block access tokens with")
	f.DurationVar(&n.cfg.BlockTokenLifetime, "block-token-lifetime", blocktoken.DefaultLifetime, "secure mode: how long a block access token is good for")
	f.StringVar(&n.peers, "peers", "", "RPC addresses of every member of a NameNode group, this one's (--rpc-addr) included, comma-separated (empty: a NameNode alone)")
	f.BoolVar(&n.permissions, "permissions", true, "check permissions on every operation (HDFS's dfs.permissions.enabled); false: owners and modes are kept but not enforced")
	f.BoolVar(&n.cfg.MetricsAuth, "metrics-auth", false, "secure mode: /metrics, /healthz and /readyz need a token too (default: open)")
	f.StringVar(&n.cfg.SuperGroup, "superusergroup", "supergroup", "group whose members are superusers (the OS user who formatted --dir is one)")
	f.BoolVar(&n.cfg.Join, "join", false, "start a new group member with an empty --dir that waits to be added (cairn admin ha add) instead of forming a group")
	f.DurationVar(&n.cfg.HeartbeatTimeout, "raft-heartbeat-timeout", time.Second, "group: time without the leader after which a member stands for election")
	f.DurationVar(&n.cfg.ElectionTimeout, "raft-election-timeout", time.Second, "group: time a candidate waits for votes before it tries again")
	f.BoolVar(&n.cfg.Security, "security", false, "secure mode: clients authenticate with tokens (writes the superuser's to DIR/root.token), nodes with certificates")
	f.DurationVar(&n.cfg.TokenTTL, "token-ttl", 24*time.Hour, "secure mode: lifetime of a token created without --ttl")
	f.DurationVar(&n.cfg.TokenMaxLifetime, "token-max-lifetime", 7*24*time.Hour, "secure mode: the longest a token may live (and the lifetime of root.token)")
	f.DurationVar(&n.cfg.TokenKeyRotation, "token-key-rotation", 24*time.Hour, "secure mode: how often the leader makes a new token signing key")
	f.StringVar(&n.peerVia, "peer-dial-addrs", "", "for network fault tests: MEMBER=ADDR,... dials a group member's Raft traffic at ADDR (a proxy) instead of its address")
	f.MarkHidden("peer-dial-addrs")
	n.tls.addServer(f)
	f.StringVar(&n.cfg.AuditLog, "audit-log", "", "file of the audit log, a line per namespace operation allowed or refused (empty: none)")
	f.StringVar(&n.cfg.AuditLogFormat, "audit-log-format", "hdfs", "form of the audit log's lines: hdfs (HDFS's audit fields) or json")
	f.Var(&n.auditMax, "audit-log-max-size", "size at which the audit log is rotated, in whole MiB, e.g. 256MiB")
	f.IntVar(&n.cfg.AuditLogMaxBackups, "audit-log-max-backups", 10, "rotated audit logs kept")
	f.Var(&n.logLevel, "log-level", "log level: debug, info, warn or error")
	pprofFlag(cmd, &n.pprof)
	return cmd
}

func (n *namenodeCmd) run(ctx context.Context, _ []string) error {
	const op = "namenode"
	if n.dir == "" {
		return usageError("--dir is required: the directory where the NameNode keeps its metadata")
	}
	if n.cfg.DefaultReplication <= 0 {
		return usageError("invalid --replication %d: must be at least 1", n.cfg.DefaultReplication)
	}
	if n.block <= 0 {
		return usageError("invalid --block-size %d: must be positive", int64(n.block))
	}
	n.cfg.PermissionsOff = !n.permissions
	if n.cfg.SuperGroup == "" {
		return usageError("invalid --superusergroup: empty")
	}
	if n.cfg.BlockKeyUpdateInterval <= 0 || n.cfg.BlockTokenLifetime <= 0 {
		return usageError("invalid --block-key-update-interval %v or --block-token-lifetime %v: must be positive", n.cfg.BlockKeyUpdateInterval, n.cfg.BlockTokenLifetime)
	}
	if n.cfg.SafeModeThreshold < 0 || n.cfg.SafeModeThreshold > 1 {
		return usageError("invalid --safemode-threshold %v: must be between 0 and 1", n.cfg.SafeModeThreshold)
	}
	if n.cfg.AuditLogFormat != "hdfs" && n.cfg.AuditLogFormat != "json" {
		return usageError("invalid --audit-log-format %q: want hdfs or json", n.cfg.AuditLogFormat)
	}
	if n.auditMax < 1<<20 {
		return usageError("invalid --audit-log-max-size %s: must be at least 1MiB", formatSizeFlag(int64(n.auditMax)))
	}
	if n.cfg.AuditLogMaxBackups < 1 {
		return usageError("invalid --audit-log-max-backups %d: must be at least 1", n.cfg.AuditLogMaxBackups)
	}
	nodeTLS, err := n.tls.node(op)
	if err != nil {
		return err
	}
	if n.cfg.Security && nodeTLS == nil {
		return usageError("--security needs --tls-cert, --tls-key and --tls-ca: tokens must not cross the network in plaintext, and nodes prove themselves with certificates (cairn admin certs init makes them)")
	}
	cfg := n.cfg
	cfg.Dir = n.dir
	cfg.Transport.TLS = nodeTLS
	cfg.AuditLogMaxSize = int64(n.auditMax)
	cfg.DefaultBlockSize = int64(n.block)
	cfg.ReservedSpace = int64(n.reserved)
	cfg.ClusterID = cairn.ClusterID(n.cluster)
	if n.peers != "" || cfg.Join {
		peers, err := splitAddrs("--peers", n.peers)
		if err != nil {
			return err
		}
		cfg.Peers, cfg.RPCAddr = peers, n.rpcAddr
		if n.peerVia != "" {
			cfg.PeerDialAddrs = make(map[string]string)
			for _, kv := range strings.Split(n.peerVia, ",") {
				member, via, ok := strings.Cut(kv, "=")
				if !ok || member == "" || via == "" {
					return usageError("invalid --peer-dial-addrs %q: want MEMBER=ADDR,...", n.peerVia)
				}
				cfg.PeerDialAddrs[member] = via
			}
		}
		if cfg.Join {
			if n.cluster == "" {
				return usageError("--join needs --cluster-id: the ID of the group to join (cairn admin report shows it)")
			}
			cfg.Peers = nil
		} else if !slices.Contains(peers, n.rpcAddr) {
			return usageError("--rpc-addr %s is not among --peers %s: a member finds itself in the list by its RPC address", n.rpcAddr, n.peers)
		}
	}
	lis, err := listen(op, n.rpcAddr)
	if err != nil {
		return err
	}
	// Every line names the node: namenode=<RPC address> (the namenode
	// package uses node= for the DataNode a line is about, and adds
	// component=namenode). The "listening" line keeps rpc= right after
	// msg=, which scripts read.
	self := lis.Addr().String()
	base := n.e.serverLogger(slog.Level(n.logLevel))
	log := base.With("namenode", self)
	var httpLis net.Listener
	if n.httpAddr != "" {
		if httpLis, err = listen(op, n.httpAddr); err != nil {
			lis.Close()
			return err
		}
	}
	if httpLis != nil {
		// Told to the other members of a group, whose pages link here.
		cfg.HTTPAddr = webAddr(httpLis.Addr().String(), n.rpcAddr)
	}
	nn, err := namenode.New(cfg, log)
	if err != nil {
		closeAll(lis, httpLis)
		return fail(op, n.dir, err)
	}
	base.Info("listening", "rpc", lis.Addr().String(), "http", httpURL(httpLis, nodeTLS), "tls", nodeTLS != nil,
		"dir", n.dir, "cluster", string(nn.ClusterID()), "namenode", self)
	return runNodes(ctx, log, op, []node{{
		name:    lis.Addr().String(),
		serve:   nn.Serve,
		lis:     lis,
		handler: withPprof(nn.HTTPHandler(), n.pprof),
		httpLis: httpLis,
		tls:     nodeTLS,
		close:   nn.Close,
	}})
}

// webAddr is the web address a NameNode tells the others: the one it
// listens on, with the host of its RPC address when it listens on all
// interfaces (0.0.0.0 is no address to link to).
func webAddr(listen, rpc string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, _, err := net.SplitHostPort(rpc); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

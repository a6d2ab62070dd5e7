package namenode

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/audit"
	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/webhdfs"
)

// Config configures a NameNode. The zero value of every field but Dir
// is usable: each field says what its zero value means.
type Config struct {
	// Dir holds the Raft log (Dir/raft/wal), the Raft snapshots
	// (Dir/raft/snapshots) and the cluster ID (Dir/VERSION). It is
	// created and formatted on first start. Required.
	Dir string
	// ClusterID is used only when formatting a new Dir; empty: a random
	// one. An existing Dir keeps the ID it was formatted with.
	ClusterID cairn.ClusterID
	// DefaultReplication is the replication of files created without
	// one; 0: 3.
	DefaultReplication int
	// DefaultBlockSize is the block size of files created without one;
	// 0: 128 MiB.
	DefaultBlockSize int64
	// SnapshotThreshold is the number of log entries between automatic
	// snapshots; 0: 8192.
	SnapshotThreshold uint64
	// LeaseSoftLimit is how long a writer may go without renewing its
	// lease before another client may take its file over; 0: 60s.
	LeaseSoftLimit time.Duration
	// LeaseHardLimit is how long a writer may go without renewing its
	// lease before the NameNode closes its files; 0: 1h.
	LeaseHardLimit time.Duration
	// SafeModeThreshold is the fraction of known blocks that must have a
	// reported replica before the NameNode leaves safe mode after a
	// restart; 0: 0.999.
	SafeModeThreshold float64
	// SafeModeExtension is how long to stay in safe mode after the
	// threshold is reached; 0: none.
	SafeModeExtension time.Duration
	// HeartbeatInterval is the DataNodes' heartbeat interval; 0: 3s.
	HeartbeatInterval time.Duration
	// StaleNodeTimeout is the heartbeat age after which a DataNode is
	// stale (not chosen for new blocks, sorted last for reads); 0: 30s.
	StaleNodeTimeout time.Duration
	// DeadNodeTimeout is the heartbeat age after which a DataNode is
	// dead (its replicas are forgotten); 0: 10m30s.
	DeadNodeTimeout time.Duration
	// ReplicationStreams is the number of replication transfers a
	// DataNode is asked to run at once (for the replication monitor);
	// 0: 2.
	ReplicationStreams int
	// ReplicationTimeout is how long a block copy ordered by the
	// replication monitor may take to arrive before it is retried from
	// another source or to other targets; 0: ten heartbeat intervals,
	// at least 5s.
	ReplicationTimeout time.Duration
	// ReservedSpace is the free space a DataNode must keep: a node with
	// less remaining is full and not chosen for new blocks; 0: none.
	ReservedSpace int64
	// RaftAddr is the TCP address of this NameNode's Raft transport, for
	// a replicated (HA) NameNode; empty: a single NameNode over an
	// in-memory transport, which elects itself at once.
	RaftAddr string
	// RaftID is this NameNode's Raft server ID; empty: "nn1".
	RaftID string
	// RaftTransport, if set, is the Raft transport to use instead of
	// the one RaftAddr chooses: raft.NewInmemTransport for a group of
	// NameNodes in one process. Its LocalAddr is this member's
	// address in the Raft configuration. The NameNode owns it: Close
	// closes it if it is an io.Closer.
	RaftTransport raft.Transport
	// Transport is how the NameNode accepts connections (its gRPC
	// server) and how its Raft transport on RaftAddr connects to its
	// peers. Zero: plaintext TCP.
	Transport transport.Config
	// RPCAddrs maps the Raft server IDs of the members of a NameNode
	// group to their client RPC addresses (host:port, as clients dial
	// them). A member that does not lead names the leader's address
	// in its refusals (the leader_hint of the status), so that a
	// client can go there; nil: refusals name no address.
	RPCAddrs map[string]string
	// Peers are the client RPC addresses (host:port) of every member
	// of a NameNode group, this one included (RPCAddr): a group member
	// is named by its RPC address, which is also its Raft server ID
	// and the address its Raft traffic reaches it at (the RaftTransport
	// service of its gRPC server, see raftgrpc.go). A fresh directory
	// is bootstrapped with all of Peers as voters, so members started
	// with the same Peers form one group; a directory with Raft state
	// keeps the membership its log says. Empty: a NameNode alone.
	Peers []string
	// RPCAddr is this member's address among Peers; required with
	// Peers.
	RPCAddr string
	// HTTPAddr is this NameNode's web address (host:port), as others
	// reach it: a group member tells it to the others (HAStatus), so
	// that a follower's pages link to the leader's. Empty: none told.
	HTTPAddr string
	// PeerHTTPAddrs maps the RPC addresses of the members of a group
	// to their web addresses (host:port), for the web UI's links to the
	// leader and the other members; nil: the web UI names them by RPC
	// address, without links.
	PeerHTTPAddrs map[string]string
	// Join starts a member with a fresh directory that does not
	// bootstrap a group: it waits to be added by the leader (cairn
	// admin ha add). Ignored when the directory has Raft state.
	Join bool
	// PeerDialAddrs, if set, says where to dial a member for Raft
	// traffic when that is not its address (its name): a member's
	// address maps to, say, a fault-injecting proxy in front of it,
	// one per pair of members, so that a test can cut one member off
	// from the others. nil: dial each member at its address.
	PeerDialAddrs map[string]string
	// HeartbeatTimeout is how long a follower waits without hearing
	// from the leader before it stands for election (and, halved, how
	// long a leader keeps leading without a quorum); 0: 1s. Only for a
	// group.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes before it
	// starts a new election; 0: 1s. Only for a group.
	ElectionTimeout time.Duration
	// AuditLog is the file the NameNode writes its audit log to: a
	// line for each namespace operation, allowed or refused (audit.go,
	// package audit). Empty: no audit log, at no cost.
	AuditLog string
	// AuditLogFormat is the form of its lines: "hdfs" (HDFS's audit
	// line) or "json"; empty: hdfs.
	AuditLogFormat string
	// AuditLogMaxSize is the size at which the audit log is rotated,
	// rounded up to whole MiB; 0: 256 MiB.
	AuditLogMaxSize int64
	// AuditLogMaxBackups is the number of rotated audit logs kept; 0:
	// 10.
	AuditLogMaxBackups int
	// ApplyTimeout bounds how long a mutation waits to be enqueued in
	// the Raft log; 0: 30s.
	ApplyTimeout time.Duration

	// Superuser is the user with every right, as HDFS's: empty, the OS
	// user who formatted Dir (recorded in its VERSION file), else the
	// user running this process.
	Superuser string
	// SuperGroup is the group whose members are superusers too; empty:
	// "supergroup", as HDFS's dfs.permissions.superusergroup.
	SuperGroup string
	// PermissionsOff turns permission checking off (HDFS's
	// dfs.permissions.enabled=false): owners and modes are still kept,
	// but every caller may do everything.
	PermissionsOff bool
	// Groups returns the groups of user, as this host knows them; nil:
	// the OS's (/etc/group, through os/user). Its answers are cached
	// for five minutes, as HDFS caches its group mapping.
	Groups func(user string) []string
	// MetricsAuth, with Security, makes /metrics, /healthz and /readyz
	// need a token as the web pages do; false: they are open.
	MetricsAuth bool
	// WebUser is the user the web UI's requests act as when they name
	// none (user.name=); empty: "dr.who", as HDFS's static web user.
	WebUser string
	// Security turns on secure mode: callers authenticate with tokens
	// signed by the NameNode, DataNodes demand block access tokens,
	// and nodes authenticate each other by their certificates.
	Security bool
	// BlockKeyUpdateInterval is how often, in secure mode, this member
	// replaces the key it signs block access tokens with (HDFS's
	// dfs.block.access.key.update.interval); 0: 10h.
	BlockKeyUpdateInterval time.Duration
	// BlockTokenLifetime is how long a block access token is good
	// for (HDFS's dfs.block.access.token.lifetime); 0: 10h.
	BlockTokenLifetime time.Duration
	// TokenTTL is the lifetime of a token made without one (CreateToken
	// with ttl 0); 0: 24h.
	TokenTTL time.Duration
	// TokenMaxLifetime bounds the lifetime of every token, and is the
	// lifetime of the superuser's token in Dir/root.token; 0: 7 days.
	TokenMaxLifetime time.Duration
	// TokenKeyRotation is how often the leader makes a new token
	// signing key; 0: 24h. A key is kept TokenKeyRotation +
	// TokenMaxLifetime after it is made (tokens.go).
	TokenKeyRotation time.Duration

	// snapshotInterval is how often raft checks SnapshotThreshold; 0:
	// 5s. A test seam.
	snapshotInterval time.Duration
	// walSegmentSize is the size of the Raft log's segment files; 0:
	// raft-wal's (64 MiB). A test seam: small segments are dropped
	// behind a snapshot soon, so that a lagging member is sent one.
	walSegmentSize int
}

func (c *Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return Config{}, errors.New("namenode: Config.Dir is required")
	}
	d := *c
	if d.DefaultReplication == 0 {
		d.DefaultReplication = cairn.DefaultReplication
	}
	if d.DefaultReplication < 0 || d.DefaultReplication > maxReplication {
		return Config{}, errors.New("namenode: Config.DefaultReplication out of range")
	}
	if d.DefaultBlockSize == 0 {
		d.DefaultBlockSize = cairn.DefaultBlockSize
	}
	if d.DefaultBlockSize < 0 {
		return Config{}, errors.New("namenode: Config.DefaultBlockSize is negative")
	}
	if d.SnapshotThreshold == 0 {
		d.SnapshotThreshold = 8192
	}
	if d.LeaseSoftLimit == 0 {
		d.LeaseSoftLimit = 60 * time.Second
	}
	if d.LeaseHardLimit == 0 {
		d.LeaseHardLimit = time.Hour
	}
	if d.SafeModeThreshold == 0 {
		d.SafeModeThreshold = 0.999
	}
	if d.HeartbeatInterval == 0 {
		d.HeartbeatInterval = 3 * time.Second
	}
	if d.StaleNodeTimeout == 0 {
		d.StaleNodeTimeout = 30 * time.Second
	}
	if d.DeadNodeTimeout == 0 {
		d.DeadNodeTimeout = 10*time.Minute + 30*time.Second
	}
	if d.ReplicationStreams == 0 {
		d.ReplicationStreams = 2
	}
	if d.ReplicationStreams < 0 {
		return Config{}, errors.New("namenode: Config.ReplicationStreams is negative")
	}
	if d.ReplicationTimeout == 0 {
		d.ReplicationTimeout = max(10*d.HeartbeatInterval, 5*time.Second)
	}
	if len(d.Peers) > 0 || d.Join {
		if err := d.checkPeers(); err != nil {
			return Config{}, err
		}
		d.RaftID = d.RPCAddr
	}
	if d.RaftID == "" {
		d.RaftID = "nn1"
	}
	if d.HeartbeatTimeout == 0 {
		d.HeartbeatTimeout = time.Second
	}
	if d.SuperGroup == "" {
		d.SuperGroup = "supergroup"
	}
	if d.WebUser == "" {
		d.WebUser = webhdfs.DefaultUser
	}
	if d.ElectionTimeout == 0 {
		d.ElectionTimeout = time.Second
	}
	if d.HeartbeatTimeout < 10*time.Millisecond || d.ElectionTimeout < d.HeartbeatTimeout {
		return Config{}, errors.New("namenode: Config.HeartbeatTimeout must be at least 10ms and ElectionTimeout at least HeartbeatTimeout")
	}
	if d.snapshotInterval == 0 {
		d.snapshotInterval = 5 * time.Second
	}
	if _, err := audit.ParseFormat(d.AuditLogFormat); err != nil {
		return Config{}, fmt.Errorf("namenode: Config.AuditLogFormat: %w", err)
	}
	if d.AuditLogMaxSize < 0 || d.AuditLogMaxBackups < 0 {
		return Config{}, errors.New("namenode: Config.AuditLogMaxSize and AuditLogMaxBackups must not be negative")
	}
	if d.ApplyTimeout == 0 {
		d.ApplyTimeout = 30 * time.Second
	}
	if d.TokenTTL == 0 {
		d.TokenTTL = defaultTokenTTL
	}
	if d.TokenMaxLifetime == 0 {
		d.TokenMaxLifetime = defaultTokenMaxLifetime
	}
	if d.TokenKeyRotation == 0 {
		d.TokenKeyRotation = defaultTokenKeyRotation
	}
	if d.TokenTTL < 0 || d.TokenMaxLifetime < time.Second || d.TokenKeyRotation < 0 {
		return Config{}, errors.New("namenode: token lifetimes must be positive (Config.TokenTTL, TokenMaxLifetime at least 1s, TokenKeyRotation)")
	}
	return d, nil
}

// checkPeers checks the group settings: RPCAddr is a host:port that
// peers can dial (not an unspecified host), and is one of Peers.
func (c *Config) checkPeers() error {
	if c.RPCAddr == "" {
		return errors.New("namenode: a group member needs its RPC address (Config.RPCAddr, --rpc-addr)")
	}
	host, port, err := net.SplitHostPort(c.RPCAddr)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("namenode: RPC address %q of a group member must be host:port with a fixed port", c.RPCAddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("namenode: RPC address %q of a group member must name a host its peers can reach, not %q", c.RPCAddr, host)
	}
	seen := make(map[string]bool)
	for _, p := range c.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("namenode: bad peer address %q: %v", p, err)
		}
		if seen[p] {
			return fmt.Errorf("namenode: peer %q is listed twice", p)
		}
		seen[p] = true
	}
	if len(c.Peers) > 0 && !seen[c.RPCAddr] {
		return fmt.Errorf("namenode: the RPC address %s is not among the peers %s", c.RPCAddr, strings.Join(c.Peers, ","))
	}
	return nil
}

// group reports whether the NameNode is a member of a group (Peers or
// Join), as opposed to a NameNode alone.
func (c *Config) group() bool { return len(c.Peers) > 0 || c.Join }

// maxReplication bounds a file's replication (as HDFS's default
// dfs.replication.max).
const maxReplication = 512

// maxListLimit bounds one page of ListDir.
const (
	defaultListLimit = 1000
	maxListLimit     = 10000
)

// maxDeletesPerHeartbeat bounds the blocks in one DELETE_BLOCKS command.
const maxDeletesPerHeartbeat = 1000

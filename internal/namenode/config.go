package namenode

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/transport"
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
	// ApplyTimeout bounds how long a mutation waits to be enqueued in
	// the Raft log; 0: 30s.
	ApplyTimeout time.Duration

	// snapshotInterval is how often raft checks SnapshotThreshold; 0:
	// 5s. A test seam.
	snapshotInterval time.Duration
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
	if d.RaftID == "" {
		d.RaftID = "nn1"
	}
	if d.snapshotInterval == 0 {
		d.snapshotInterval = 5 * time.Second
	}
	if d.ApplyTimeout == 0 {
		d.ApplyTimeout = 30 * time.Second
	}
	return d, nil
}

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

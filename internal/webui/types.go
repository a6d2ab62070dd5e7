package webui

import (
	"context"
	"io"
	"time"
)

// NameNode is what the NameNode's pages need of it.
type NameNode interface {
	// Overview summarizes the cluster.
	Overview(ctx context.Context) (Overview, error)
	// DataNodes lists every DataNode known, sorted by ID.
	DataNodes(ctx context.Context) ([]DataNodeRow, error)
	// List lists the directory at path.
	List(ctx context.Context, path string) (Listing, error)
	// File describes the file or directory at path, with the blocks and
	// their locations for a file.
	File(ctx context.Context, path string) (File, error)
	// Leadership says whether the NameNode is a member of a group that
	// does not lead, and who does: every page of such a member says so.
	Leadership() Leadership
}

// Leadership is what the pages of a NameNode group's member that does
// not lead say about it.
type Leadership struct {
	// Follower is true on a member of a group that does not lead.
	Follower bool `json:"follower"`
	// State is its Raft state: follower or candidate.
	State string `json:"state"`
	// Leader is the leader's RPC address; empty if none is known.
	Leader string `json:"leader"`
	// LeaderHTTP is the leader's web address (host:port), if known.
	LeaderHTTP string `json:"leaderHTTP"`
}

// DataNode is what a DataNode's page needs of it.
type DataNode interface {
	// Status describes the DataNode.
	Status(ctx context.Context) (DataNodeStatus, error)
	// Open opens the file at path in the cluster, for a download: its
	// bytes, or another DataNode to ask instead. redirected says the
	// request was already sent here by another DataNode: it must not
	// be redirected again.
	Open(ctx context.Context, path string, redirected bool) (Download, error)
}

// Download is a DataNode's answer to a download.
type Download struct {
	// Body is the file's bytes, Size of them; nil when Redirect is set.
	Body io.ReadCloser
	Size int64
	// Redirect, if set, is the web address (host:port) of a DataNode
	// better placed to serve the file (it holds the first block): the
	// browser is sent there (307).
	Redirect string
}

// Overview is the summary of a cluster.
type Overview struct {
	ClusterID      string    `json:"clusterID"`
	Version        string    `json:"version"`
	StartTime      time.Time `json:"startTime"`
	UptimeSeconds  float64   `json:"uptimeSeconds"`
	SafeMode       bool      `json:"safeMode"`
	SafeModeReason string    `json:"safeModeReason"`
	// RaftState is the NameNode's Raft state: Leader, Follower,
	// Candidate or Shutdown.
	RaftState  string `json:"raftState"`
	RaftLeader string `json:"raftLeader"`
	// Group is the NameNode group, as this member sees it; nil for a
	// NameNode alone.
	Group *Group `json:"group,omitempty"`

	CapacityBytes  int64 `json:"capacityBytes"`
	UsedBytes      int64 `json:"usedBytes"`
	RemainingBytes int64 `json:"remainingBytes"`

	Files                    int64 `json:"files"`
	Directories              int64 `json:"directories"`
	Blocks                   int64 `json:"blocks"`
	UnderReplicatedBlocks    int64 `json:"underReplicatedBlocks"`
	CorruptBlocks            int64 `json:"corruptBlocks"`
	MissingBlocks            int64 `json:"missingBlocks"`
	PendingReplicationBlocks int64 `json:"pendingReplicationBlocks"`
	PendingDeletionBlocks    int64 `json:"pendingDeletionBlocks"`

	LiveDatanodes            int `json:"liveDatanodes"`
	StaleDatanodes           int `json:"staleDatanodes"`
	DeadDatanodes            int `json:"deadDatanodes"`
	DecommissioningDatanodes int `json:"decommissioningDatanodes"`
	DecommissionedDatanodes  int `json:"decommissionedDatanodes"`
}

// UsedPercent is the share of the capacity used, 0 to 100.
func (o Overview) UsedPercent() float64 { return percent(o.UsedBytes, o.CapacityBytes) }

// Group is a NameNode group (HA) as one member sees it.
type Group struct {
	Leader string `json:"leader"` // the leader's RPC address; empty if none is known
	Term   uint64 `json:"term"`
	Self   string `json:"self"` // the RPC address of the member that answers
	// Failovers counts the leadership changes this member has seen
	// since it started.
	Failovers uint64        `json:"failovers"`
	Members   []GroupMember `json:"members"`
}

// GroupMember is one member of a NameNode group.
type GroupMember struct {
	Address  string `json:"address"`  // its RPC address
	HTTPAddr string `json:"httpAddr"` // its web address, if known
	// State is leader, follower or candidate as the member says of
	// itself, or unreachable.
	State        string `json:"state"`
	Voter        bool   `json:"voter"`
	LastIndex    uint64 `json:"lastIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
	// Lag is the leader's last log entry less the member's last applied
	// one; -1 when either is unknown.
	Lag int64 `json:"lag"`
	// LastContactMs is the milliseconds since the member last heard
	// from the leader: 0 for the leader, -1 when unknown.
	LastContactMs int64 `json:"lastContactMs"`
}

// DataNodeRow is one DataNode as the NameNode sees it.
type DataNodeRow struct {
	ID                  string    `json:"id"`
	Addr                string    `json:"addr"`
	HTTPAddr            string    `json:"httpAddr"`
	State               string    `json:"state"`
	LastHeartbeat       time.Time `json:"lastHeartbeat"`
	HeartbeatAgeSeconds float64   `json:"heartbeatAgeSeconds"`
	CapacityBytes       int64     `json:"capacityBytes"`
	UsedBytes           int64     `json:"usedBytes"`
	RemainingBytes      int64     `json:"remainingBytes"`
	Blocks              int64     `json:"blocks"`
	FailedVolumes       []string  `json:"failedVolumes"`
	ActiveTransfers     int       `json:"activeTransfers"`
}

// Entry is a file or directory in a listing.
type Entry struct {
	Path              string    `json:"path"`
	Name              string    `json:"name"`
	IsDir             bool      `json:"isDir"`
	Size              int64     `json:"size"`
	Replication       int       `json:"replication"`
	BlockSize         int64     `json:"blockSize"`
	Owner             string    `json:"owner"`
	Group             string    `json:"group"`
	Mode              string    `json:"mode"`
	ModTime           time.Time `json:"modTime"`
	UnderConstruction bool      `json:"underConstruction"`
	Children          int       `json:"children"`
}

// Listing is a directory's entries.
type Listing struct {
	Path    string  `json:"path"`
	Entries []Entry `json:"entries"`
	// Truncated is true when the directory has more entries than shown.
	Truncated bool `json:"truncated"`
}

// File is a file (or directory) with its blocks.
type File struct {
	Entry
	Blocks []Block `json:"blocks"`
}

// Block is one block of a file and where its replicas are.
type Block struct {
	ID        uint64     `json:"id"`
	GenStamp  uint64     `json:"genStamp"`
	Offset    int64      `json:"offset"`
	Length    int64      `json:"length"`
	Locations []Location `json:"locations"`
}

// Location is a DataNode holding a replica.
type Location struct {
	ID       string `json:"id"`
	Addr     string `json:"addr"`
	HTTPAddr string `json:"httpAddr"`
}

// DataNodeStatus describes a DataNode for its own page.
type DataNodeStatus struct {
	ID              string    `json:"id"`
	ClusterID       string    `json:"clusterID"`
	Version         string    `json:"version"`
	Addr            string    `json:"addr"`
	NameNode        string    `json:"namenode"`
	NameNodeState   string    `json:"namenodeState"`
	StartTime       time.Time `json:"startTime"`
	Volumes         []Volume  `json:"volumes"`
	Blocks          int       `json:"blocks"`
	UsedBytes       int64     `json:"usedBytes"`
	ActiveTransfers int       `json:"activeTransfers"`
	// LastScan is when the block scanner last finished a pass; zero if
	// it has not.
	LastScan time.Time `json:"lastScan"`
}

// Volume is one data directory of a DataNode.
type Volume struct {
	Dir            string `json:"dir"`
	Failed         bool   `json:"failed"`
	CapacityBytes  int64  `json:"capacityBytes"`
	RemainingBytes int64  `json:"remainingBytes"`
}

func percent(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// UsedPercent is the share of the volume's disk in use, 0 to 100.
func (v Volume) UsedPercent() float64 {
	return percent(v.CapacityBytes-v.RemainingBytes, v.CapacityBytes)
}

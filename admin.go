package cairn

import "time"

// The shapes of the NameNode's answers that both the NameNode and the
// public client speak: the NameNode fills them, the protocol carries
// them (internal/protocol converts) and the client returns them. Each is
// defined here once; package client names them under the same names.

// ServerDefaults are the NameNode's defaults for new files.
type ServerDefaults struct {
	BlockSize   int64
	Replication int
	ClusterID   ClusterID
	// LeaseSoftLimit is how long a writer may go without renewing its
	// lease before another client may take its file over.
	LeaseSoftLimit time.Duration
}

// ContentSummary is the size of a tree.
type ContentSummary struct {
	Length        int64 // bytes in files
	Files         int64
	Directories   int64 // including the root of the tree when it is a directory
	SpaceConsumed int64 // bytes on DataNodes: Length times replication
}

// DatanodeStatus is the NameNode's view of one DataNode.
type DatanodeStatus struct {
	ID       NodeID
	Addr     string // data-transfer address
	HTTPAddr string // web address; may be empty
	State    string // live, stale, dead, decommissioning, decommissioned

	CapacityBytes  int64
	UsedBytes      int64 // by blocks
	RemainingBytes int64
	Blocks         int64

	LastHeartbeat   time.Time // zero if never heard from
	ActiveTransfers int
	FailedVolumes   []string

	// PendingDeletion is the number of the node's replicas the NameNode
	// has asked it to delete and it has not yet reported deleted.
	PendingDeletion int64
}

// ClusterReport is the state of the cluster as the NameNode sees it.
type ClusterReport struct {
	ClusterID ClusterID
	SafeMode  bool
	Datanodes []DatanodeStatus // sorted by ID

	PendingDeletionBlocks    int64
	PendingReplicationBlocks int64
}

// SafeModeStatus is the NameNode's safe mode state.
type SafeModeStatus struct {
	On     bool
	Manual bool   // entered by an operator, left only by an operator
	Reason string // human-readable, e.g. "reported 10 of 12 blocks"
}

// FsckOptions says what an Fsck report lists beyond its totals. Files
// and blocks with problems are always listed.
type FsckOptions struct {
	Files     bool // every file checked, with its status
	Blocks    bool // each file's blocks (the client makes it imply Files)
	Locations bool // each block's locations (the client makes it imply Blocks)
	OpenFiles bool // include files open for writing
}

// Block and file health in an Fsck report.
const (
	FsckHealthy         = "HEALTHY"
	FsckUnderReplicated = "UNDER_REPLICATED"
	FsckCorrupt         = "CORRUPT"
	FsckMissing         = "MISSING"
)

// FsckBlock is one block in an Fsck report.
type FsckBlock struct {
	Block           Block
	Locations       []DatanodeInfo
	LiveReplicas    int
	CorruptReplicas int
	State           string // HEALTHY, UNDER_REPLICATED, CORRUPT, MISSING
}

// FsckFile is one file in an Fsck report.
type FsckFile struct {
	Path        string
	Size        int64
	Replication int
	Open        bool
	Status      string // HEALTHY, UNDER_REPLICATED, CORRUPT, MISSING
	Blocks      []FsckBlock
	// Of an open file: the client holding its lease (the NameNode's own
	// name while it recovers the lease), and how long ago that holder
	// last renewed it.
	LeaseHolder string
	LeaseAge    time.Duration
}

// FsckReport is the health of a tree of the namespace.
type FsckReport struct {
	Status string // HEALTHY or CORRUPT

	Files                 int64
	Directories           int64
	Blocks                int64
	TotalSize             int64
	UnderReplicatedBlocks int64
	CorruptBlocks         int64
	MissingBlocks         int64
	OpenFiles             int64
	LiveDatanodes         int

	FileDetails []FsckFile // filled in as the options asked
}

// The states of a member of a NameNode group in an HAStatus.
const (
	HALeader      = "leader"
	HAFollower    = "follower"
	HACandidate   = "candidate"
	HAUnreachable = "unreachable" // the member asked could not reach it
)

// HAStatus is the state of a NameNode group (HA) as the member asked
// sees it. A NameNode alone answers a group of one, which it leads.
// The JSON form (the field tags) is what 'cairn admin ha status --json'
// prints: a contract with scripts, never rename the tags.
type HAStatus struct {
	// Leader is the leader's RPC address; empty if none is known.
	Leader  string     `json:"leader"`
	Term    uint64     `json:"term"`
	Members []HAMember `json:"members"`
	// Self is the RPC address of the member that answered.
	Self string `json:"-"`
	// Failovers counts the leadership changes the member that answered
	// has seen since it started.
	Failovers uint64 `json:"-"`
}

// HAMember is one member of a NameNode group.
type HAMember struct {
	Address string `json:"address"` // its RPC address
	ID      string `json:"id"`      // its Raft server ID (in a group, its RPC address)
	// State is leader, follower or candidate as the member says of
	// itself, or unreachable.
	State        string `json:"state"`
	LastIndex    uint64 `json:"last_index"`    // the last entry of its Raft log
	AppliedIndex uint64 `json:"applied_index"` // the last entry it has applied
	// LastContactMs is the milliseconds since the member last heard
	// from the leader: 0 for the leader, -1 when unknown.
	LastContactMs int64 `json:"last_contact_ms"`
	Voter         bool  `json:"voter"` // it votes (else it only follows the log)
	// HTTPAddr is its web address (web UI, /metrics), as it says of
	// itself; empty when it has none or did not answer.
	HTTPAddr string `json:"http_address,omitempty"`
}

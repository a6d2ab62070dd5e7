package client

import (
	"context"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// DatanodeStatus is the NameNode's view of one DataNode.
type DatanodeStatus struct {
	ID       cairn.NodeID
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
}

// ClusterReport is the state of the cluster as the NameNode sees it.
type ClusterReport struct {
	ClusterID cairn.ClusterID
	SafeMode  bool
	Datanodes []DatanodeStatus

	PendingDeletionBlocks    int64
	PendingReplicationBlocks int64
}

// DatanodeReport asks the NameNode for the state of every DataNode it
// knows.
func (c *Client) DatanodeReport(ctx context.Context) (ClusterReport, error) {
	resp, err := callAdmin(ctx, c.nn, "dfsadmin report", c.nn.addr, &protocol.GetDatanodeReportRequest{}, protocol.AdminProtocolClient.GetDatanodeReport)
	if err != nil {
		return ClusterReport{}, err
	}
	r := ClusterReport{
		ClusterID:                cairn.ClusterID(resp.GetClusterId()),
		SafeMode:                 resp.GetSafeMode(),
		PendingDeletionBlocks:    resp.GetPendingDeletionBlocks(),
		PendingReplicationBlocks: resp.GetPendingReplicationBlocks(),
	}
	for _, d := range resp.GetDatanodes() {
		r.Datanodes = append(r.Datanodes, datanodeStatusFromProto(d))
	}
	return r, nil
}

// FsckOptions says what an Fsck report lists beyond its totals.
type FsckOptions struct {
	Files     bool // every file checked, with its status
	Blocks    bool // each file's blocks (implies Files)
	Locations bool // each block's locations (implies Blocks)
	OpenFiles bool // include files open for writing
}

// FsckBlock is one block in an Fsck report.
type FsckBlock struct {
	Block           cairn.Block
	Locations       []cairn.DatanodeInfo
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
	// Of an open file: the client holding its lease, and how long ago
	// that client last renewed it.
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

	FileDetails []FsckFile // filled in as opts asked
}

// Fsck checks the blocks of every file below path.
func (c *Client) Fsck(ctx context.Context, path string, opts FsckOptions) (FsckReport, error) {
	const op = "fsck"
	if err := checkPath(op, path); err != nil {
		return FsckReport{}, err
	}
	opts.Blocks = opts.Blocks || opts.Locations
	opts.Files = opts.Files || opts.Blocks
	resp, err := callAdmin(ctx, c.nn, op, path, &protocol.FsckRequest{
		Path:          path,
		ListFiles:     opts.Files,
		ListBlocks:    opts.Blocks,
		ListLocations: opts.Locations,
		ListOpenFiles: opts.OpenFiles,
	}, protocol.AdminProtocolClient.Fsck)
	if err != nil {
		return FsckReport{}, err
	}
	r := FsckReport{
		Status:                resp.GetStatus(),
		Files:                 resp.GetFiles(),
		Directories:           resp.GetDirectories(),
		Blocks:                resp.GetBlocks(),
		TotalSize:             resp.GetTotalSize(),
		UnderReplicatedBlocks: resp.GetUnderReplicatedBlocks(),
		CorruptBlocks:         resp.GetCorruptBlocks(),
		MissingBlocks:         resp.GetMissingBlocks(),
		OpenFiles:             resp.GetOpenFiles(),
		LiveDatanodes:         int(resp.GetLiveDatanodes()),
	}
	for _, f := range resp.GetFileDetails() {
		ff := FsckFile{
			Path:        f.GetPath(),
			Size:        f.GetSize(),
			Replication: int(f.GetReplication()),
			Open:        f.GetOpen(),
			Status:      f.GetStatus(),
			LeaseHolder: f.GetLeaseHolder(),
			LeaseAge:    time.Duration(f.GetLeaseAgeMs()) * time.Millisecond,
		}
		for _, b := range f.GetBlocks() {
			ff.Blocks = append(ff.Blocks, FsckBlock{
				Block:           protocol.BlockFromProto(b.GetBlock()),
				Locations:       protocol.DatanodesFromProto(b.GetLocations()),
				LiveReplicas:    int(b.GetLiveReplicas()),
				CorruptReplicas: int(b.GetCorruptReplicas()),
				State:           b.GetState(),
			})
		}
		r.FileDetails = append(r.FileDetails, ff)
	}
	return r, nil
}

// SafeModeStatus is the NameNode's safe mode state.
type SafeModeStatus struct {
	On     bool
	Manual bool   // entered by an operator, left only by an operator
	Reason string // human-readable, e.g. "reported 10 of 12 blocks"
}

// SafeMode gets ("get" or ""), enters ("enter") or leaves ("leave")
// the NameNode's safe mode and returns the state after the action.
func (c *Client) SafeMode(ctx context.Context, action string) (SafeModeStatus, error) {
	const op = "safemode"
	switch action {
	case "":
		action = "get"
	case "get", "enter", "leave":
	default:
		return SafeModeStatus{}, cairn.Errorf(op, action, cairn.Invalid, "unknown safe mode action %q (want get, enter or leave)", action)
	}
	resp, err := callAdmin(ctx, c.nn, op, action, &protocol.SafeModeRequest{Action: action}, protocol.AdminProtocolClient.SafeMode)
	if err != nil {
		return SafeModeStatus{}, err
	}
	return SafeModeStatus{On: resp.GetOn(), Manual: resp.GetManual(), Reason: resp.GetReason()}, nil
}

// WaitSafeModeOff polls the NameNode until it is out of safe mode or
// ctx ends.
func (c *Client) WaitSafeModeOff(ctx context.Context) error {
	const op = "safemode wait"
	wait := 50 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return cairn.E(op, c.nn.addr, cairn.SafeMode, ctx.Err())
		case <-t.C:
		}
		st, err := c.SafeMode(ctx, "get")
		if err == nil && !st.On {
			return nil
		}
		if err != nil && ctx.Err() == nil && cairn.KindOf(err) != cairn.Unavailable {
			return cairn.E(op, c.nn.addr, err)
		}
		t.Reset(wait)
		wait = min(2*wait, time.Second)
	}
}

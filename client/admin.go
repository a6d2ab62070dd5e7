package client

import (
	"context"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The NameNode's answers are the shapes of package cairn, named here
// too so that programs using the client need not import cairn for them.
type (
	// DatanodeStatus is the NameNode's view of one DataNode.
	DatanodeStatus = cairn.DatanodeStatus
	// ClusterReport is the state of the cluster as the NameNode sees it.
	ClusterReport = cairn.ClusterReport
	// FsckOptions says what an Fsck report lists beyond its totals.
	FsckOptions = cairn.FsckOptions
	// FsckBlock is one block in an Fsck report.
	FsckBlock = cairn.FsckBlock
	// FsckFile is one file in an Fsck report.
	FsckFile = cairn.FsckFile
	// FsckReport is the health of a tree of the namespace.
	FsckReport = cairn.FsckReport
	// SafeModeStatus is the NameNode's safe mode state.
	SafeModeStatus = cairn.SafeModeStatus
)

// DatanodeReport asks the NameNode for the state of every DataNode it
// knows.
func (c *Client) DatanodeReport(ctx context.Context) (ClusterReport, error) {
	resp, err := callAdmin(ctx, c.nn, "dfsadmin report", c.nn.list, &protocol.GetDatanodeReportRequest{}, protocol.AdminProtocolClient.GetDatanodeReport)
	if err != nil {
		return ClusterReport{}, err
	}
	return protocol.ClusterReportFromProto(resp), nil
}

// Fsck checks the blocks of every file below path.
func (c *Client) Fsck(ctx context.Context, path string, opts FsckOptions) (FsckReport, error) {
	const op = "fsck"
	if err := checkPath(op, path); err != nil {
		return FsckReport{}, err
	}
	opts.Blocks = opts.Blocks || opts.Locations
	opts.Files = opts.Files || opts.Blocks
	resp, err := callAdmin(ctx, c.nn, op, path, protocol.FsckRequestToProto(path, opts), protocol.AdminProtocolClient.Fsck)
	if err != nil {
		return FsckReport{}, err
	}
	return protocol.FsckReportFromProto(resp), nil
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
	return protocol.SafeModeStatusFromProto(resp), nil
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
			return cairn.E(op, c.nn.list, cairn.SafeMode, ctx.Err())
		case <-t.C:
		}
		st, err := c.SafeMode(ctx, "get")
		if err == nil && !st.On {
			return nil
		}
		if err != nil && ctx.Err() == nil && cairn.KindOf(err) != cairn.Unavailable {
			return cairn.E(op, c.nn.list, err)
		}
		t.Reset(wait)
		wait = min(2*wait, time.Second)
	}
}

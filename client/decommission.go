package client

import (
	"context"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Decommission starts taking a DataNode out of service: the NameNode
// copies every block it holds to other nodes while it still serves
// reads, then reports it decommissioned (see DatanodeReport). node is
// its data-transfer address (host:port) or its ID. The answer is the
// node's state right after the request.
func (c *Client) Decommission(ctx context.Context, node string) (DatanodeStatus, error) {
	resp, err := callAdmin(ctx, c.nn, "decommission", node, &protocol.DecommissionRequest{Node: node}, protocol.AdminProtocolClient.Decommission)
	if err != nil {
		return DatanodeStatus{}, err
	}
	return datanodeStatusFromProto(resp.GetDatanode()), nil
}

// Recommission puts a decommissioning or decommissioned DataNode back in
// service.
func (c *Client) Recommission(ctx context.Context, node string) (DatanodeStatus, error) {
	resp, err := callAdmin(ctx, c.nn, "recommission", node, &protocol.RecommissionRequest{Node: node}, protocol.AdminProtocolClient.Recommission)
	if err != nil {
		return DatanodeStatus{}, err
	}
	return datanodeStatusFromProto(resp.GetDatanode()), nil
}

func datanodeStatusFromProto(d *protocol.DatanodeReport) DatanodeStatus {
	s := DatanodeStatus{
		ID:              cairn.NodeID(d.GetId()),
		Addr:            d.GetAddr(),
		HTTPAddr:        d.GetHttpAddr(),
		State:           d.GetState(),
		CapacityBytes:   d.GetCapacityBytes(),
		UsedBytes:       d.GetUsedBytes(),
		RemainingBytes:  d.GetRemainingBytes(),
		Blocks:          d.GetBlocks(),
		ActiveTransfers: int(d.GetActiveTransfers()),
		FailedVolumes:   d.GetFailedVolumes(),
	}
	if ns := d.GetLastHeartbeatUnixNano(); ns != 0 {
		s.LastHeartbeat = time.Unix(0, ns)
	}
	return s
}

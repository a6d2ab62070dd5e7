package client

import (
	"context"

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
	return protocol.DatanodeStatusFromProto(resp.GetDatanode()), nil
}

// Recommission puts a decommissioning or decommissioned DataNode back in
// service.
func (c *Client) Recommission(ctx context.Context, node string) (DatanodeStatus, error) {
	resp, err := callAdmin(ctx, c.nn, "recommission", node, &protocol.RecommissionRequest{Node: node}, protocol.AdminProtocolClient.Recommission)
	if err != nil {
		return DatanodeStatus{}, err
	}
	return protocol.DatanodeStatusFromProto(resp.GetDatanode()), nil
}

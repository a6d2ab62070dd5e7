package client

import (
	"context"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The state of a NameNode group, named here too.
type (
	// HAStatus is the state of a NameNode group as the member asked
	// sees it.
	HAStatus = cairn.HAStatus
	// HAMember is one member of a NameNode group.
	HAMember = cairn.HAMember
)

// HAStatus asks the NameNode for the state of its group (HA): the
// leader, the term, and each member's state and log position. Any
// member answers, as it sees the group; a NameNode alone answers a
// group of one.
func (c *Client) HAStatus(ctx context.Context) (HAStatus, error) {
	resp, err := callAdmin(ctx, c.nn, "ha status", c.nn.list, &protocol.HAStatusRequest{}, protocol.AdminProtocolClient.HAStatus)
	if err != nil {
		return HAStatus{}, err
	}
	return protocol.HAStatusFromProto(resp), nil
}

// HAAddMember adds the NameNode at addr (its RPC address host:port,
// which names it in the group) to the group: a voter, or with nonvoter
// a member that follows the log without voting (adding it again
// without nonvoter promotes it). The NameNode must be running, started
// to join. The leader makes the change; another member refuses with
// NotLeader.
func (c *Client) HAAddMember(ctx context.Context, addr string, nonvoter bool) error {
	_, err := callAdmin(ctx, c.nn, "ha add", addr, &protocol.HAAddMemberRequest{Address: addr, Nonvoter: nonvoter}, protocol.AdminProtocolClient.HAAddMember)
	return err
}

// HARemoveMember removes the member at addr (its RPC address) from the
// group. The leader makes the change, handing leadership over first if
// it removes itself.
func (c *Client) HARemoveMember(ctx context.Context, addr string) error {
	_, err := callAdmin(ctx, c.nn, "ha remove", addr, &protocol.HARemoveMemberRequest{Address: addr}, protocol.AdminProtocolClient.HARemoveMember)
	return err
}

// HATransferLeadership asks the leader to hand leadership to the member
// at addr, or to any other voter when addr is empty, and returns the
// new leader's RPC address (empty if it was not known within a few
// seconds).
func (c *Client) HATransferLeadership(ctx context.Context, addr string) (string, error) {
	resp, err := callAdmin(ctx, c.nn, "ha transfer", addr, &protocol.HATransferLeadershipRequest{Address: addr}, protocol.AdminProtocolClient.HATransferLeadership)
	if err != nil {
		return "", err
	}
	return resp.GetLeader(), nil
}

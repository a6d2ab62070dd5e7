package client

import (
	"context"
	mrand "math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The Client → NameNode seam: every call of the Client to the NameNode
// goes through one invoker, and nothing else in the package sees a
// connection to a NameNode. It is where the caller's identity is
// attached (AsUser), and where leader following, retries across
// NameNodes and credentials go when there are several NameNodes: a
// call names an RPC, never an address.
//
// Today the invoker holds one connection to the one NameNode; the
// retries of the calls that are safe to repeat are gRPC's own (see
// serviceConfig), and errors are converted by protocol.FromStatus.

// invoker sends calls to the NameNode.
type invoker struct {
	addr string           // the NameNode's address, for errors
	conn *grpc.ClientConn // owned: closed by close
	stub protocol.ClientProtocolClient
	// admin is the AdminProtocol stub, on the same connection.
	admin protocol.AdminProtocolClient
	// user and groups are the identity sent with a call whose context
	// carries none (AsUser): the Client's own.
	user   string
	groups []string
}

func newInvoker(addr string, conn *grpc.ClientConn, user string, groups []string) *invoker {
	return &invoker{
		addr:   addr,
		conn:   conn,
		stub:   protocol.NewClientProtocolClient(conn),
		admin:  protocol.NewAdminProtocolClient(conn),
		user:   user,
		groups: groups,
	}
}

// rpcMethod is a method of the ClientProtocol stub, as a method
// expression: protocol.ClientProtocolClient.GetFileInfo.
type rpcMethod[Req, Resp any] func(protocol.ClientProtocolClient, context.Context, Req, ...grpc.CallOption) (Resp, error)

// call sends req to the NameNode with method m and returns its answer,
// or an error converted by protocol.FromStatus under op and path. It
// is the one way the Client calls the NameNode:
//
//	resp, err := call(ctx, c.nn, "stat", name, &protocol.GetFileInfoRequest{Path: name},
//		protocol.ClientProtocolClient.GetFileInfo)
func call[Req, Resp any](ctx context.Context, inv *invoker, op, path string, req Req, m rpcMethod[Req, Resp]) (Resp, error) {
	resp, err := invokeRaw(ctx, inv, req, m)
	if err != nil {
		var zero Resp
		return zero, protocol.FromStatus(op, path, err)
	}
	return resp, nil
}

// adminMethod is a method of the AdminProtocol stub, as a method
// expression: protocol.AdminProtocolClient.Fsck.
type adminMethod[Req, Resp any] func(protocol.AdminProtocolClient, context.Context, Req, ...grpc.CallOption) (Resp, error)

// callAdmin is call for the AdminProtocol service.
func callAdmin[Req, Resp any](ctx context.Context, inv *invoker, op, path string, req Req, m adminMethod[Req, Resp]) (Resp, error) {
	resp, err := m(inv.admin, inv.outgoing(ctx), req)
	if err != nil {
		var zero Resp
		return zero, protocol.FromStatus(op, path, err)
	}
	return resp, nil
}

// invokeRaw is call without the conversion of errors: the gRPC error
// as it came, for the few callers that look at its code.
func invokeRaw[Req, Resp any](ctx context.Context, inv *invoker, req Req, m rpcMethod[Req, Resp]) (Resp, error) {
	return m(inv.stub, inv.outgoing(ctx), req)
}

// outgoing adds the caller's identity to ctx's gRPC metadata: the one
// AsUser put in ctx, or the Client's own.
func (inv *invoker) outgoing(ctx context.Context) context.Context {
	user, groups := inv.user, inv.groups
	if id, ok := ctx.Value(identityKey{}).(identity); ok {
		user, groups = id.user, id.groups
	}
	kv := []string{protocol.MetadataUser, user}
	if len(groups) > 0 {
		kv = append(kv, protocol.MetadataGroups, strings.Join(groups, ","))
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// serverDefaults asks the NameNode for its defaults until it answers
// or ctx ends, waiting between attempts as Dial says. Only failures to
// reach the NameNode (gRPC Unavailable) are tried again. When ctx ends
// after such a failure, that failure is returned: it says more than
// the deadline does (connection refused, a handshake cut off). The
// error is the raw gRPC one.
func (inv *invoker) serverDefaults(ctx context.Context) (*protocol.GetServerDefaultsResponse, error) {
	wait := dialRetryBase
	var last error
	for {
		resp, err := invokeRaw(ctx, inv, &protocol.GetServerDefaultsRequest{}, protocol.ClientProtocolClient.GetServerDefaults)
		if err == nil {
			return resp, nil
		}
		code := status.Code(err)
		if code == codes.Unavailable {
			last = err
		}
		if ctx.Err() != nil {
			if last != nil && ctx.Err() == context.DeadlineExceeded {
				return nil, last
			}
			return nil, err
		}
		if code != codes.Unavailable {
			return nil, err
		}
		d := time.Duration(float64(wait) * (1 + dialRetryJitter*(2*mrand.Float64()-1)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if ctx.Err() == context.DeadlineExceeded {
				return nil, last
			}
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-t.C:
		}
		wait = min(time.Duration(float64(wait)*dialRetryFactor), dialRetryMax)
	}
}

// close closes the connection to the NameNode.
func (inv *invoker) close() error {
	if err := inv.conn.Close(); err != nil {
		return cairn.E("close", inv.addr, err)
	}
	return nil
}

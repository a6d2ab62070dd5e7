package namenode

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/token"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Authentication in secure mode (Config.Security). Who calls is
// decided here, once per call:
//
//   - ClientProtocol and AdminProtocol calls carry a token in the
//     metadata "authorization: Bearer <token>" (MetadataAuthorization).
//     The token's user is the caller, with the groups this host gives
//     it. A call that also names a user (cairn-user) other than the
//     token's acts for that user only if the token's user is a
//     superuser (a gateway acting for its users, as HDFS's proxy
//     users); otherwise it is refused with Permission.
//   - DatanodeProtocol and RaftTransport calls come from nodes: the
//     peer must have presented a certificate the server's ClientCAs
//     verify (transport.PeerNode).
//   - A few calls that nodes make of the client and admin services
//     (nodeCalls) are taken from a node without a token; they act as
//     the NameNode's own calls do.
//
// Anything else is refused with Unauthenticated, and a message that
// says "unauthenticated" and why. In simple mode nothing here runs.

// nodeCalls are the methods of the client and admin services that a
// node (a DataNode, another member) calls with its certificate and no
// token.
var nodeCalls = map[string]bool{
	pb.ClientProtocol_ReportBadBlocks_FullMethodName:  true, // a DataNode's scanner or reader
	pb.AdminProtocol_HAStatus_FullMethodName:          true, // a member asking another for its entry
	pb.AdminProtocol_GetDatanodeReport_FullMethodName: true, // a leader checking a joiner's cluster
}

type presentedKey struct{}

// presentedToken returns the token the call authenticated with.
func presentedToken(ctx context.Context) (*token.Token, bool) {
	t, ok := ctx.Value(presentedKey{}).(*token.Token)
	return t, ok
}

// unauthenticated is the error of a call refused for its credentials.
func unauthenticated(format string, args ...any) error {
	return pb.ToStatus(errf(cairn.Unauthenticated, "unauthenticated: "+format, args...))
}

// nodeService reports whether method belongs to a service only nodes
// call.
func nodeService(method string) bool {
	return strings.HasPrefix(method, "/"+pb.DatanodeProtocol_ServiceDesc.ServiceName+"/") ||
		strings.HasPrefix(method, "/"+pb.RaftTransport_ServiceDesc.ServiceName+"/")
}

// authenticate establishes the caller of a call to method in secure
// mode, and returns ctx carrying it.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	_, node := transport.PeerNode(ctx)
	if nodeService(method) {
		if !node {
			return nil, unauthenticated("%s is for nodes, which present a certificate of the cluster", method)
		}
		return ctx, nil
	}
	if node && nodeCalls[method] {
		// Whatever token it forwards (a member joining has no keys yet
		// to check one with).
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get(pb.MetadataAuthorization)
	if len(auth) == 0 {
		return nil, unauthenticated("no token (set CAIRN_TOKEN or --token-file)")
	}
	if len(auth) > 1 {
		return nil, unauthenticated("%d tokens, want one", len(auth))
	}
	raw, ok := strings.CutPrefix(auth[0], "Bearer ")
	if !ok {
		return nil, unauthenticated("the authorization is not a bearer token")
	}
	t, err := s.verifyToken(strings.TrimSpace(raw))
	if errors.Is(err, token.ErrUnknownKey) && s.servingTerm() == 0 {
		// A member that does not lead may lag behind the key's entry:
		// the leader judges (and the call needs it anyway).
		return nil, pb.ToStatus(s.notLeader())
	}
	if err != nil {
		return nil, unauthenticated("%v", err)
	}
	user := t.User
	named, ok, err := pb.CallerFromMetadata(md)
	if err != nil {
		return nil, pb.ToStatus(errf(cairn.Invalid, "bad caller identity: %v", err))
	}
	if ok && named.User != user {
		if !s.isSuper(user, s.groups.get(user)) {
			return nil, pb.ToStatus(denyf("user=%s may not act as %s (only a superuser may)", user, named.User))
		}
		user = named.User
	}
	ctx = context.WithValue(ctx, presentedKey{}, t)
	return WithCaller(ctx, pb.Caller{User: user, Groups: s.groups.get(user)}), nil
}

// streamAuthInterceptor authenticates the callers of streams (Raft's)
// in secure mode.
func (s *Server) streamAuthInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !s.cfg.Security {
		return handler(srv, ss)
	}
	if _, err := s.authenticate(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// forwardToken returns ctx for a call to another member made for the
// call of ctx: it carries that call's token, so that the member
// authenticates the same caller.
func forwardToken(ctx context.Context) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	if auth := md.Get(pb.MetadataAuthorization); len(auth) == 1 {
		return metadata.AppendToOutgoingContext(ctx, pb.MetadataAuthorization, auth[0])
	}
	return ctx
}

package namenode

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn/internal/protocol"
)

// The caller's identity is established once per request, by the gRPC
// interceptor below, and read by the Server methods from the context
// (CallerFrom). In simple mode (today) it is the user the client claims
// in the call's metadata (protocol.MetadataUser), as in HDFS's simple
// authentication; the security work will establish it from credentials
// here and nowhere else.

type callerKey struct{}

// WithCaller returns ctx carrying c as the caller's identity.
func WithCaller(ctx context.Context, c protocol.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller's identity in ctx, if the call named
// one.
func CallerFrom(ctx context.Context) (protocol.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(protocol.Caller)
	return c, ok
}

// identityInterceptor puts the caller named in the call's metadata in
// its context; a malformed identity fails the call with
// InvalidArgument.
func identityInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c, ok, err := protocol.CallerFromMetadata(md)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "bad caller identity: %v", err)
	}
	if ok {
		ctx = WithCaller(ctx, c)
	}
	return handler(ctx, req)
}

// ownerOf is the owner and group of a file or directory a call creates:
// the caller, as in HDFS, when the call named one (its group the one the
// request asks for, else the caller's first); else the request's own
// fields, as clients that send no identity do.
func ownerOf(ctx context.Context, owner, group string) (string, string) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return owner, group
	}
	if group == "" && len(c.Groups) > 0 {
		group = c.Groups[0]
	}
	return c.User, group
}

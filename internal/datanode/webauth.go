package datanode

import (
	"context"
	"net/http"

	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/webhdfs"
)

// A download from the web UI is made for the user of its request, whose
// permissions the NameNode checks when it locates the file's blocks:
// the user named by user.name (simple mode, as HDFS's pseudo
// authentication; the NameNode's redirect carries it), else HDFS's
// static web user; a token given as delegation= (secure mode) goes to
// the NameNode as the call's credentials instead.

type webCallerKey struct{}

type webCaller struct {
	user  string
	token string
}

// webIdentity puts the request's caller in its context.
func webIdentity(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		c := webCaller{user: q.Get("user.name"), token: q.Get("delegation")}
		if c.user == "" {
			c.user = webhdfs.DefaultUser
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), webCallerKey{}, c)))
	})
}

// webCallerMetadata adds the web caller of ctx, if any, to its outgoing
// gRPC metadata.
func webCallerMetadata(ctx context.Context) context.Context {
	c, ok := ctx.Value(webCallerKey{}).(webCaller)
	if !ok {
		return ctx
	}
	if c.token != "" {
		// The token says who: naming a user beside it would ask to
		// act for another.
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	return metadata.AppendToOutgoingContext(ctx, protocol.MetadataUser, c.user)
}

package client

import (
	"context"
	"slices"
)

// identity is the user a call is made for.
type identity struct {
	user   string
	groups []string
}

type identityKey struct{}

// AsUser returns a context under which the Client's calls are made for
// user, a member of groups, instead of the Client's own user (the OS
// user, or the one given by WithUser): one Client serves many users, as
// a gateway needs. Files and directories created under it are owned by
// user and its first group (the Client's group when none is given).
//
// The identity travels with every NameNode call in gRPC metadata (keys
// "cairn-user" and "cairn-groups"). A NameNode in simple mode believes
// it; one in secure mode lets only a Client with a superuser's token
// (WithToken) act for a user other than the token's. An empty user
// leaves ctx as it is.
func AsUser(ctx context.Context, user string, groups ...string) context.Context {
	if user == "" {
		return ctx
	}
	return context.WithValue(ctx, identityKey{}, identity{user: user, groups: slices.Clone(groups)})
}

// ownerOf returns the owner and group of what a call under ctx
// creates: its AsUser identity's, or the Client's.
func (c *Client) ownerOf(ctx context.Context) (owner, group string) {
	if id, ok := ctx.Value(identityKey{}).(identity); ok {
		group = c.group
		if len(id.groups) > 0 {
			group = id.groups[0]
		}
		return id.user, group
	}
	return c.owner, c.group
}

// User is the Client's own user: the one its calls are made for
// outside an AsUser context.
func (c *Client) User() string { return c.owner }

type callTokenKey struct{}

// WithCallToken returns a context under which the Client's calls carry
// tok, a token of a secured cluster, instead of the Client's own (see
// WithToken), and name no user of the Client's: the token says who the
// calls are for. A gateway forwards its callers' tokens so (WebHDFS's
// delegation=). An empty tok leaves ctx as it is. AsUser on the same
// context still names a user, which only a superuser's token may act
// for.
func WithCallToken(ctx context.Context, tok string) context.Context {
	if tok == "" {
		return ctx
	}
	return context.WithValue(ctx, callTokenKey{}, tok)
}

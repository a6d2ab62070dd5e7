package client

import (
	"context"
	"strings"
	"time"

	"github.com/cairn-fs/cairn/internal/protocol"
)

// WithToken makes the Client authenticate with tok, a bearer token of
// the cluster (cairn admin token create, or the NameNode's root.token),
// as a NameNode in secure mode demands: it goes with every NameNode
// call, in the gRPC metadata "authorization: Bearer <tok>". The
// token's user is then who the Client acts as: the Client names no
// user of its own unless WithUser is given, and a user named by
// WithUser or AsUser other than the token's needs a superuser's token.
// Blanks around tok are ignored; an empty tok sends none. The token is
// a secret: the Client never logs it.
func WithToken(tok string) Option {
	return func(o *options) { o.token = strings.TrimSpace(tok) }
}

// TokenInfo describes a token made by CreateToken.
type TokenInfo struct {
	// Token is the token itself: a secret, to hand to its user.
	Token string
	// ID names the token (32 hex digits), for RevokeToken.
	ID      string
	User    string
	Expires time.Time
}

// CreateToken asks the NameNode for a token for user (empty: the
// caller) that lives ttl (0: the NameNode's default; the NameNode caps
// it at its maximum lifetime). A superuser may make tokens for anyone,
// another user only for itself, expiring no later than the token it
// calls with.
func (c *Client) CreateToken(ctx context.Context, user string, ttl time.Duration) (TokenInfo, error) {
	resp, err := callAdmin(ctx, c.nn, "token create", user, &protocol.CreateTokenRequest{User: user, TtlMs: ttl.Milliseconds()}, protocol.AdminProtocolClient.CreateToken)
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{Token: resp.GetToken(), ID: resp.GetId(), User: resp.GetUser(), Expires: time.UnixMilli(resp.GetExpiresUnixMs())}, nil
}

// RevokeToken revokes a token, named by its ID or the token itself:
// once it returns, no NameNode of the cluster accepts it. A superuser
// may revoke any token, another user its own.
func (c *Client) RevokeToken(ctx context.Context, idOrToken string) error {
	name := idOrToken
	if strings.HasPrefix(name, "cairn1.") {
		name = "(token)" // a secret: not in errors
	}
	_, err := callAdmin(ctx, c.nn, "token revoke", name, &protocol.RevokeTokenRequest{Token: strings.TrimSpace(idOrToken)}, protocol.AdminProtocolClient.RevokeToken)
	return err
}

package namenode

import (
	"context"
	"os"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn/internal/protocol"
)

// The caller's identity is established once per request, by the gRPC
// interceptor below, and read by the Server methods from the context
// (CallerFrom). In simple mode it is the user the client claims in the
// call's metadata (protocol.MetadataUser), as in HDFS's simple
// authentication, and its groups are the ones this host knows for that
// user: the groups a client claims are not believed. Secure mode
// establishes the user from the call's token, here and nowhere else.
//
// A call made inside the NameNode (lease recovery, decommissioning,
// tests calling Server methods) has no caller, and acts as the
// superuser.

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

// identityInterceptor puts the caller of the call in its context: the
// user named in its metadata with the groups this host gives that user.
// A malformed identity fails the call with InvalidArgument.
func (s *Server) identityInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.cfg.Security {
		// Secure mode: the caller is the token's (auth.go).
		ctx, err := s.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	c, ok, err := protocol.CallerFromMetadata(md)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "bad caller identity: %v", err)
	}
	if ok {
		c.Groups = s.groups.get(c.User)
		ctx = WithCaller(ctx, c)
	}
	return handler(ctx, req)
}

// isSuper reports whether user, a member of groups, is a superuser:
// the Config's Superuser or a member of its SuperGroup.
func (s *Server) isSuper(user string, groups []string) bool {
	return user == s.cfg.Superuser || slices.Contains(groups, s.cfg.SuperGroup)
}

// ownerOf is the owner and group of a file or directory a call creates:
// the caller, as in HDFS, when the call named one, with the group the
// request asks for (kept if the caller is a member or a superuser, see
// newGroup; else, or if none is asked, the parent directory's, as
// HDFS's); else the request's own fields, as calls of the NameNode's
// own do.
func ownerOf(ctx context.Context, owner, group string) (string, string) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return owner, group
	}
	return c.User, group
}

// processUser is the name of the OS user running this process, or its
// uid when the name cannot be found.
func processUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// groupCache remembers users' groups for groupTTL, as HDFS's group
// mapping does (hadoop.security.groups.cache.secs, 300s).
type groupCache struct {
	lookup func(string) []string
	now    func() time.Time

	mu sync.Mutex
	m  map[string]groupEntry
}

type groupEntry struct {
	groups []string
	at     time.Time
}

const (
	groupTTL        = 5 * time.Minute
	groupCacheLimit = 10000
)

func newGroupCache(lookup func(string) []string, now func() time.Time) *groupCache {
	if lookup == nil {
		lookup = osGroups
	}
	return &groupCache{lookup: lookup, now: now, m: make(map[string]groupEntry)}
}

// get returns user's groups; the slice is shared and must not be
// changed.
func (g *groupCache) get(name string) []string {
	now := g.now()
	g.mu.Lock()
	e, ok := g.m[name]
	g.mu.Unlock()
	if ok && now.Sub(e.at) < groupTTL {
		return e.groups
	}
	groups := g.lookup(name)
	g.mu.Lock()
	if len(g.m) >= groupCacheLimit {
		clear(g.m)
	}
	g.m[name] = groupEntry{groups: groups, at: now}
	g.mu.Unlock()
	return groups
}

// osGroups returns the names of the groups of the OS user name, its
// primary group first; none when this host has no such user.
func osGroups(name string) []string {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	ids, err := u.GroupIds()
	if err != nil {
		ids = []string{u.Gid}
	}
	// The primary group first, as `id -Gn` lists them.
	if i := slices.Index(ids, u.Gid); i > 0 {
		ids = append([]string{u.Gid}, slices.Delete(slices.Clone(ids), i, i+1)...)
	}
	var out []string
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil && !slices.Contains(out, g.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}

package protocol

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"
)

// gRPC metadata keys of the caller's identity. The client sends them
// with every ClientProtocol call (client.AsUser, or the client's own
// user); a server reads them with metadata.FromIncomingContext. They are
// claims, not proof: in secure mode the NameNode believes them only of
// a superuser's token (MetadataAuthorization), as HDFS's proxy users.
const (
	// MetadataUser is the user a call is made for.
	MetadataUser = "cairn-user"
	// MetadataGroups are the user's groups, comma-separated; absent
	// when none are claimed.
	MetadataGroups = "cairn-groups"
)

// MetadataAuthorization is the gRPC metadata key of the token a call
// authenticates with, as "Bearer <token>" (package token), in secure
// mode.
const MetadataAuthorization = "authorization"

// gRPC metadata keys that name one logical call of a client, for the
// NameNode's retry cache: a client sends the same pair with every
// attempt of a non-idempotent call (create, add block, complete,
// rename, delete, concat, mkdirs, ...), on whichever member of a
// NameNode group it reaches, and the group answers a retry of a call it
// already carried out with that call's first result.
const (
	// MetadataClientID identifies the client: random, fixed for the
	// client's life (at most 64 bytes).
	MetadataClientID = "cairn-client-id"
	// MetadataCallID numbers the client's calls: a decimal uint64,
	// unique per call of one client id.
	MetadataCallID = "cairn-call-id"
)

// Caller is who a call is made for, as the server established it from
// the call's metadata (and, once the security work lands, from its
// credentials).
type Caller struct {
	User   string
	Groups []string
}

// maxNameLen bounds a user or group name in the metadata.
const maxNameLen = 256

// CallerFromMetadata reads the caller's identity from gRPC metadata: ok
// is false when the call names no user. A user or group name that is
// empty, too long or holds a control character, a comma or a colon is
// an error.
func CallerFromMetadata(md metadata.MD) (c Caller, ok bool, err error) {
	users := md.Get(MetadataUser)
	if len(users) == 0 {
		return Caller{}, false, nil
	}
	if len(users) > 1 {
		return Caller{}, false, fmt.Errorf("%s: %d users named, want one", MetadataUser, len(users))
	}
	if err := checkName(MetadataUser, users[0]); err != nil {
		return Caller{}, false, err
	}
	c.User = users[0]
	for _, v := range md.Get(MetadataGroups) {
		if v == "" {
			continue // no groups claimed
		}
		for _, g := range strings.Split(v, ",") {
			if err := checkName(MetadataGroups, g); err != nil {
				return Caller{}, false, err
			}
			c.Groups = append(c.Groups, g)
		}
	}
	return c, true, nil
}

func checkName(key, name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%s: a name must have 1 to %d bytes, not %d", key, maxNameLen, len(name))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == ',' || r == ':' {
			return fmt.Errorf("%s: name %q holds %q", key, name, r)
		}
	}
	return nil
}

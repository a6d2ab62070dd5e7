package namenode

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
	"github.com/cairn-fs/cairn/internal/token"
)

// Tokens. In secure mode a client authenticates with a bearer token
// (package token) that a member of the NameNode group signed with HMAC
// under a key of the replicated state: every member has the keys, so
// any of them verifies a token, and a token outlives the leader that
// made it. The serving leader keeps the keys (tokenLoop):
//
//   - it makes the first key when there is none, and a new signing key
//     every TokenKeyRotation; tokens are always signed with the newest
//     key;
//   - a key is kept until every token it may have signed has expired:
//     its expiry is its creation + TokenKeyRotation + TokenMaxLifetime,
//     and no token it signs expires later than that (a key that signs
//     longer, because no leader rotated it in time, signs shorter
//     tokens);
//   - revoked tokens are remembered until they expire;
//   - expired keys and revocations are dropped (tokenPurge).
//
// Keys, revocations and their drops are logged commands (opTokenKey,
// opRevokeToken, opTokenPurge), so a revocation holds on every member
// once RevokeToken returns. The secrets are in the log and the
// snapshots, which are as private as the NameNode's directory; they
// are never logged, shown nor sent anywhere else.
//
// Every member (not only the leader) writes the superuser's token to
// Dir/root.token (writeRootToken), once the state has a key.

// Default token lifetimes (Config).
const (
	defaultTokenTTL         = 24 * time.Hour
	defaultTokenMaxLifetime = 7 * 24 * time.Hour
	defaultTokenKeyRotation = 24 * time.Hour
	// RootTokenFile is the name, in the NameNode's directory, of the
	// superuser's token.
	RootTokenFile = "root.token"
)

// tokenKey is a token signing key of the replicated state.
type tokenKey struct {
	id      uint64
	secret  []byte
	created int64 // unix nanoseconds
	expires int64 // unix nanoseconds: dropped then
}

// tokenState is the replicated state of tokens. Guarded by
// namespace.mu, as the rest of the replicated state.
type tokenState struct {
	keys      []tokenKey // by ID, ascending; the last one signs
	nextKeyID uint64     // the ID of the next key; 0 means 1
	revoked   map[token.ID]int64
}

// current returns the signing key, if there is one.
func (t *tokenState) current() (tokenKey, bool) {
	if len(t.keys) == 0 {
		return tokenKey{}, false
	}
	return t.keys[len(t.keys)-1], true
}

func (t *tokenState) key(id uint64) (tokenKey, bool) {
	i, ok := slices.BinarySearchFunc(t.keys, id, func(k tokenKey, id uint64) int { return cmpUint(k.id, id) })
	if !ok {
		return tokenKey{}, false
	}
	return t.keys[i], true
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newID returns the ID for a new key.
func (t *tokenState) newID() uint64 { return max(t.nextKeyID, 1) }

func (ns *namespace) applyTokenKey(c *command) any {
	if c.keyID == 0 || len(c.secret) != token.SecretLen || c.expires <= c.mtime {
		return errf(cairn.Invalid, "bad token key %d", c.keyID)
	}
	t := &ns.tokens
	if _, ok := t.key(c.keyID); ok || c.keyID < t.newID() {
		return errf(cairn.Exist, "token key %d exists or existed", c.keyID)
	}
	// IDs only grow, so the new key is the last.
	t.keys = append(slices.Clip(t.keys), tokenKey{id: c.keyID, secret: []byte(c.secret), created: c.mtime, expires: c.expires})
	t.nextKeyID = c.keyID + 1
	return nil
}

func (ns *namespace) applyTokenPurge(c *command) any {
	t := &ns.tokens
	t.keys = slices.DeleteFunc(slices.Clone(t.keys), func(k tokenKey) bool { return k.expires <= c.mtime })
	for id, exp := range t.revoked {
		if exp <= c.mtime {
			delete(t.revoked, id)
		}
	}
	return nil
}

func (ns *namespace) applyRevokeToken(c *command) any {
	t := &ns.tokens
	if t.revoked == nil {
		t.revoked = make(map[token.ID]int64)
	}
	t.revoked[c.tokenID] = max(t.revoked[c.tokenID], c.expires)
	return nil
}

// appendTokenSnapshot appends the token section of a snapshot (version
// 4): the next key ID, the keys, the revocations sorted by token ID. t
// nil appends an empty one.
func appendTokenSnapshot(b []byte, t *tokenState) []byte {
	if t == nil {
		t = &tokenState{}
	}
	b = binary.AppendUvarint(b, t.nextKeyID)
	b = binary.AppendUvarint(b, uint64(len(t.keys)))
	for _, k := range t.keys {
		b = binary.AppendUvarint(b, k.id)
		b = appendString(b, string(k.secret))
		b = binary.AppendVarint(b, k.created)
		b = binary.AppendVarint(b, k.expires)
	}
	ids := make([]token.ID, 0, len(t.revoked))
	for id := range t.revoked {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b token.ID) int { return strings.Compare(string(a[:]), string(b[:])) })
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
		b = binary.AppendVarint(b, t.revoked[id])
	}
	return b
}

// readTokenSnapshot reads what appendTokenSnapshot wrote.
func readTokenSnapshot(d *decoder, t *tokenState) error {
	t.nextKeyID = d.uvarint()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return errors.New("snapshot: bad token key count")
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := tokenKey{id: d.uvarint(), secret: []byte(d.str()), created: d.varint(), expires: d.varint()}
		if d.err == nil && (len(k.secret) != token.SecretLen || k.id == 0 || k.id >= t.newID() ||
			len(t.keys) > 0 && t.keys[len(t.keys)-1].id >= k.id) {
			return fmt.Errorf("snapshot: bad token key %d", k.id)
		}
		t.keys = append(t.keys, k)
	}
	n = d.uvarint()
	if n > uint64(len(d.b)) {
		return errors.New("snapshot: bad token revocation count")
	}
	t.revoked = make(map[token.ID]int64, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var id token.ID
		for j := range id {
			id[j] = d.byte()
		}
		t.revoked[id] = d.varint()
	}
	if d.err != nil {
		return fmt.Errorf("snapshot: %w", d.err)
	}
	return nil
}

// tokenLoop keeps the token keys while this member leads, and the root
// token on every member. It runs in secure mode only.
func (s *Server) tokenLoop(ctx context.Context) {
	interval := min(time.Second, max(s.cfg.TokenKeyRotation/8, 10*time.Millisecond))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if s.servingTerm() != 0 {
			if err := s.keepTokenKeys(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("token keys not kept", "err", err)
			}
		}
		if err := s.writeRootToken(); err != nil {
			s.log.Warn("root token not written", "file", filepath.Join(s.cfg.Dir, RootTokenFile), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keepTokenKeys makes a new signing key if there is none or the last is
// TokenKeyRotation old, and drops expired keys and revocations.
func (s *Server) keepTokenKeys(ctx context.Context) error {
	now := s.now().UnixNano()
	s.ns.mu.RLock()
	cur, ok := s.ns.tokens.current()
	id := s.ns.tokens.newID()
	purge := slices.ContainsFunc(s.ns.tokens.keys, func(k tokenKey) bool { return k.expires <= now })
	for _, exp := range s.ns.tokens.revoked {
		purge = purge || exp <= now
	}
	s.ns.mu.RUnlock()
	if purge {
		if _, err := s.mutate(ctx, &command{op: opTokenPurge, mtime: now}); err != nil {
			return err
		}
	}
	if ok && now-cur.created < int64(s.cfg.TokenKeyRotation) {
		return nil
	}
	secret := make([]byte, token.SecretLen)
	rand.Read(secret)
	c := &command{op: opTokenKey, keyID: id, secret: string(secret), mtime: now,
		expires: now + int64(s.cfg.TokenKeyRotation+s.cfg.TokenMaxLifetime)}
	if _, err := s.mutate(ctx, c); err != nil {
		return err
	}
	s.log.Info("new token signing key", "key", id)
	return nil
}

// issueToken signs a token for user, issued at now, that lives ttl,
// capped by TokenMaxLifetime and by the signing key's expiry.
func (s *Server) issueToken(user string, now time.Time, ttl time.Duration) (string, token.Claims, error) {
	s.ns.mu.RLock()
	k, ok := s.ns.tokens.current()
	s.ns.mu.RUnlock()
	if !ok {
		if !s.cfg.Security {
			return "", token.Claims{}, errf(cairn.Invalid, "tokens are made in secure mode only (--security)")
		}
		return "", token.Claims{}, errf(cairn.Unavailable, "no token signing key yet: try again")
	}
	exp := now.Add(min(ttl, s.cfg.TokenMaxLifetime))
	if ke := time.Unix(0, k.expires); exp.After(ke) {
		exp = ke
	}
	c := token.Claims{User: user, Issued: now.Truncate(time.Second), Expires: exp.Truncate(time.Second)}
	if !c.Expires.After(c.Issued) {
		return "", token.Claims{}, errf(cairn.Invalid, "token lifetime %v is under a second", exp.Sub(now))
	}
	rand.Read(c.ID[:])
	return token.Sign(token.Key{ID: k.id, Secret: k.secret}, c), c, nil
}

// verifyToken checks a token: well formed, signed by a key the state
// has, unexpired and not revoked. The error names what is wrong.
func (s *Server) verifyToken(raw string) (*token.Token, error) {
	t, err := token.Parse(raw)
	if err != nil {
		return nil, err
	}
	s.ns.mu.RLock()
	k, ok := s.ns.tokens.key(t.KeyID)
	_, revoked := s.ns.tokens.revoked[t.ID]
	s.ns.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %d", token.ErrUnknownKey, t.KeyID)
	}
	if err := t.Verify(k.secret); err != nil {
		return nil, err
	}
	if err := t.Live(s.now()); err != nil {
		return nil, err
	}
	if revoked {
		return nil, fmt.Errorf("%w: %s", token.ErrRevoked, t.ID)
	}
	return t, nil
}

// writeRootToken writes the superuser's token to Dir/root.token (mode
// 0600, atomically) when the state has a key and the file holds no
// token this member accepts, or one with less than half of
// TokenMaxLifetime left.
func (s *Server) writeRootToken() error {
	path := filepath.Join(s.cfg.Dir, RootTokenFile)
	now := s.now()
	if b, err := os.ReadFile(path); err == nil {
		if t, err := s.verifyToken(strings.TrimSpace(string(b))); err == nil &&
			t.User == s.cfg.Superuser && t.Expires.Sub(now) > s.cfg.TokenMaxLifetime/2 {
			return nil
		}
	}
	s.ns.mu.RLock()
	_, ok := s.ns.tokens.current()
	s.ns.mu.RUnlock()
	if !ok {
		return nil
	}
	tok, c, err := s.issueToken(s.cfg.Superuser, now, s.cfg.TokenMaxLifetime)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	// atomicfile creates with 0600 but keeps nothing of an older file's
	// mode; make sure.
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	s.log.Info("root token written", "file", path, "user", c.User, "token", c.ID, "expires", c.Expires)
	return nil
}

// TokenInfo describes a token made by CreateToken.
type TokenInfo struct {
	Token   string
	ID      string
	User    string
	Expires time.Time
}

// CreateToken makes a token for user (empty: the caller) that lives
// ttl (0: TokenTTL; capped by TokenMaxLifetime). A superuser may make
// one for anyone; another user only for itself, expiring no later than
// the token it called with, so that a stolen token cannot be renewed.
func (s *Server) CreateToken(ctx context.Context, user string, ttl time.Duration) (TokenInfo, error) {
	const op = "create token"
	if err := s.readable(ctx); err != nil {
		return TokenInfo{}, err
	}
	if s.servingTerm() == 0 {
		// The leader's to decide who is a superuser (members may
		// see it differently) and to sign with the newest key.
		return TokenInfo{}, s.notLeader()
	}
	if ttl < 0 {
		return TokenInfo{}, cairn.E(op, cairn.Invalid, fmt.Errorf("negative lifetime %v", ttl))
	}
	if ttl == 0 {
		ttl = s.cfg.TokenTTL
	}
	now := s.now()
	caller, named := CallerFrom(ctx)
	if user == "" {
		user = s.cfg.Superuser
		if named {
			user = caller.User
		}
	}
	if named && !s.isSuper(caller.User, caller.Groups) {
		if user != caller.User {
			return TokenInfo{}, denyf("user=%s may not make tokens for %s (only a superuser may)", caller.User, user)
		}
		if t, ok := presentedToken(ctx); ok {
			ttl = min(ttl, t.Expires.Sub(now))
		}
	}
	tok, c, err := s.issueToken(user, now, ttl)
	if err != nil {
		return TokenInfo{}, cairn.E(op, user, err)
	}
	s.log.Info("token created", "user", user, "token", c.ID, "expires", c.Expires, "by", caller.User)
	return TokenInfo{Token: tok, ID: c.ID.String(), User: user, Expires: c.Expires}, nil
}

// RevokeToken revokes a token, named by its wire form or its ID: every
// member refuses it once RevokeToken returns. A superuser may revoke
// any token; another user its own, named by its wire form or, by ID,
// the token it called with.
func (s *Server) RevokeToken(ctx context.Context, idOrToken string) error {
	const op = "revoke token"
	var (
		id      token.ID
		owner   string
		expires time.Time
	)
	if strings.HasPrefix(idOrToken, token.Prefix) {
		t, err := token.Parse(idOrToken)
		if err == nil {
			s.ns.mu.RLock()
			k, ok := s.ns.tokens.key(t.KeyID)
			s.ns.mu.RUnlock()
			if !ok {
				err = fmt.Errorf("%w %d", token.ErrUnknownKey, t.KeyID)
			} else {
				err = t.Verify(k.secret)
			}
		}
		if err != nil {
			return cairn.E(op, cairn.Invalid, err)
		}
		id, owner, expires = t.ID, t.User, t.Expires
	} else {
		var err error
		if id, err = token.ParseID(idOrToken); err != nil {
			return cairn.E(op, cairn.Invalid, err)
		}
		if t, ok := presentedToken(ctx); ok && t.ID == id {
			owner, expires = t.User, t.Expires
		} else {
			// Its user and expiry are unknown: it expires before
			// every key it may have been signed with.
			owner = ""
			expires = s.now().Add(s.cfg.TokenKeyRotation + s.cfg.TokenMaxLifetime)
			s.ns.mu.RLock()
			for _, k := range s.ns.tokens.keys {
				if ke := time.Unix(0, k.expires); ke.After(expires) {
					expires = ke
				}
			}
			s.ns.mu.RUnlock()
		}
	}
	if caller, ok := CallerFrom(ctx); ok && !s.isSuper(caller.User, caller.Groups) && owner != caller.User {
		return denyf("user=%s may revoke only its own tokens (token %s)", caller.User, id)
	}
	if _, err := s.mutate(ctx, &command{op: opRevokeToken, tokenID: id, expires: expires.UnixNano()}); err != nil {
		return cairn.E(op, id.String(), err)
	}
	s.log.Info("token revoked", "token", id, "user", owner)
	return nil
}

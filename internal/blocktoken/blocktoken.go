// Package blocktoken is cairn's block access tokens, after HDFS's
// BlockTokenSecretManager: in secure mode the NameNode hands a client,
// with each block it locates, a short-lived token signed with a key it
// shares with the DataNodes, and a DataNode serves a client's read or
// write of a block only with a valid token for it. Nodes (DataNodes,
// NameNode members) authenticate by their certificates and need none.
//
// # Keys
//
// Every NameNode member makes its own keys (they are not replicated):
// a random 32-byte secret under a random 64-bit key ID. It signs with
// its current key for one update interval, then with the next one,
// which it made an interval before and has been sending the DataNodes
// since, so that they know a key before the first token it signs (as
// HDFS's current and next keys). Tokens live at most the token
// lifetime, so a key is useful until its expiry: the end of its
// interval as current plus the token lifetime. A member sends the
// DataNodes every key of its that has not expired, with its expiry, in
// its answers to Register and Heartbeat (over the mutual-TLS
// connection between nodes); a DataNode keeps every key it is sent,
// from every member, until the key's expiry, so that the tokens of a
// member that no longer leads stay good until they expire.
//
// # Format
//
// A token is compact binary, all integers big-endian:
//
//	version   uint8    1
//	key_id    uint64   the key that signed it
//	expiry    int64    unix milliseconds after which it is refused
//	block_id  uint64
//	modes     uint8    bits: 1 READ, 2 WRITE, 4 COPY, 8 REPLACE
//	pool_len  uint8, pool     the cluster ID
//	user_len  uint8, user     the caller it was issued to (may be empty)
//	mac       32 bytes HMAC-SHA256 under the key of every byte before it
//
// A token is at most MaxSize bytes; Parse checks every length against
// the bytes left before it reads. As in HDFS, a token does not bind
// the block's generation stamp: a pipeline recovery does not need a
// new one.
package blocktoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults, as HDFS's dfs.block.access.key.update.interval and
// dfs.block.access.token.lifetime.
const (
	DefaultKeyUpdateInterval = 10 * time.Hour
	DefaultLifetime          = 10 * time.Hour
)

const (
	version  = 1
	macSize  = sha256.Size
	fixed    = 1 + 8 + 8 + 8 + 1 // version, key ID, expiry, block ID, modes
	maxField = 255
	// MaxSize is the largest token: the fixed fields, a pool and a
	// user of 255 bytes each with their lengths, and the MAC.
	MaxSize = fixed + 1 + maxField + 1 + maxField + macSize
	// SecretSize is the size of a key's secret.
	SecretSize = 32
)

// Mode is a set of the accesses a token grants, as HDFS's AccessMode.
type Mode uint8

// The access modes.
const (
	Read    Mode = 1 << iota // read a block
	Write                    // write a block: a new one, or a recovered pipeline
	Copy                     // copy a replica to other nodes (pipeline recovery's transfer)
	Replace                  // replace a replica (the balancer's move; unused yet)
)

func (m Mode) String() string {
	var s []string
	for _, x := range []struct {
		m    Mode
		name string
	}{{Read, "READ"}, {Write, "WRITE"}, {Copy, "COPY"}, {Replace, "REPLACE"}} {
		if m&x.m != 0 {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// Token is what a token says; its MAC is not kept.
type Token struct {
	KeyID   uint64
	Expiry  time.Time // millisecond precision
	BlockID uint64
	Modes   Mode
	Pool    string // the cluster ID
	User    string // the caller it was issued to; may be empty
}

// Key is a secret shared by a NameNode member and the DataNodes.
type Key struct {
	ID     uint64
	Secret []byte
	// Expiry is when the last token the key may have signed expires;
	// the key is dropped then.
	Expiry time.Time
}

// The reasons a token is refused. Each message says "block token".
var (
	ErrMissing      = errors.New("missing block token")
	ErrMalformed    = errors.New("malformed block token")
	ErrUnknownKey   = errors.New("block token signed by an unknown key")
	ErrBadSignature = errors.New("bad block token signature")
	ErrExpired      = errors.New("expired block token")
	ErrWrongBlock   = errors.New("block token for another block")
	ErrWrongPool    = errors.New("block token for another cluster")
	ErrWrongMode    = errors.New("block token does not grant this access")
)

// sign encodes t and appends its MAC under secret.
func sign(secret []byte, t Token) []byte {
	pool, user := clip(t.Pool), clip(t.User)
	b := make([]byte, 0, fixed+2+len(pool)+len(user)+macSize)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, t.KeyID)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Expiry.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, t.BlockID)
	b = append(b, byte(t.Modes))
	b = append(b, byte(len(pool)))
	b = append(b, pool...)
	b = append(b, byte(len(user)))
	b = append(b, user...)
	m := hmac.New(sha256.New, secret)
	m.Write(b)
	return m.Sum(b)
}

// clip bounds a field to what its one-byte length can say. A cluster
// ID or a user name that long is not one cairn makes; clipping keeps
// the token well-formed and verifiable all the same.
func clip(s string) string {
	if len(s) > maxField {
		return s[:maxField]
	}
	return s
}

// Parse decodes a token without checking its MAC: it returns what the
// token says, the bytes the MAC covers and the MAC. It reads nothing
// past a length it has not checked against the bytes left.
func Parse(b []byte) (t Token, signed, mac []byte, err error) {
	if len(b) > MaxSize || len(b) < fixed+2+macSize {
		return Token{}, nil, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != version {
		return Token{}, nil, nil, fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	t.KeyID = binary.BigEndian.Uint64(b[1:])
	t.Expiry = time.UnixMilli(int64(binary.BigEndian.Uint64(b[9:])))
	t.BlockID = binary.BigEndian.Uint64(b[17:])
	t.Modes = Mode(b[25])
	rest := b[fixed : len(b)-macSize]
	field := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		n := int(rest[0])
		s := string(rest[1 : 1+n])
		rest = rest[1+n:]
		return s, true
	}
	var ok1, ok2 bool
	t.Pool, ok1 = field()
	t.User, ok2 = field()
	if !ok1 || !ok2 || len(rest) != 0 {
		return Token{}, nil, nil, fmt.Errorf("%w: bad field lengths", ErrMalformed)
	}
	return t, b[:len(b)-macSize], b[len(b)-macSize:], nil
}

// newKey makes a key with a random ID and secret.
func newKey(expiry time.Time) Key {
	var id [8]byte
	k := Key{Secret: make([]byte, SecretSize), Expiry: expiry}
	for k.ID == 0 {
		rand.Read(id[:])
		k.ID = binary.BigEndian.Uint64(id[:])
	}
	rand.Read(k.Secret)
	return k
}

// Secrets is a NameNode member's side: its keys, replaced every update
// interval when used, and the tokens they sign. It is safe for
// concurrent use.
type Secrets struct {
	interval, lifetime time.Duration
	now                func() time.Time

	mu      sync.Mutex
	current Key       // guarded by mu: the key that signs; ID 0 until first used
	next    Key       // guarded by mu: the key that signs after current
	since   time.Time // guarded by mu: when current started signing
	old     []Key     // guarded by mu: earlier keys not expired yet
}

// NewSecrets returns a member's secrets: a new key every interval, for
// tokens that live lifetime (0: the defaults). now is the clock; nil:
// time.Now.
func NewSecrets(interval, lifetime time.Duration, now func() time.Time) *Secrets {
	if interval <= 0 {
		interval = DefaultKeyUpdateInterval
	}
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &Secrets{interval: interval, lifetime: lifetime, now: now}
}

// rotate makes the first keys, or moves to the next key once the
// current one has signed for an interval, and drops expired keys.
// s.mu is held.
func (s *Secrets) rotate(now time.Time) {
	if s.current.ID == 0 {
		s.current = newKey(now.Add(s.interval + s.lifetime))
		s.next = newKey(now.Add(2*s.interval + s.lifetime))
		s.since = now
	}
	if now.Sub(s.since) >= s.interval {
		s.old = append(s.old, s.current)
		s.current, s.since = s.next, now
		// It signs from now: its expiry moves (later) to match.
		s.current.Expiry = now.Add(s.interval + s.lifetime)
		s.next = newKey(now.Add(2*s.interval + s.lifetime))
	}
	s.old = slices.DeleteFunc(s.old, func(k Key) bool { return !now.Before(k.Expiry) })
}

// Generate returns a token for block blockID of cluster pool, granting
// modes to user, signed with the current key.
func (s *Secrets) Generate(user, pool string, blockID uint64, modes Mode) []byte {
	s.mu.Lock()
	now := s.now()
	s.rotate(now)
	k := s.current
	s.mu.Unlock()
	return sign(k.Secret, Token{KeyID: k.ID, Expiry: now.Add(s.lifetime), BlockID: blockID, Modes: modes, Pool: pool, User: user})
}

// Keys returns the keys a DataNode needs: every key not expired, and
// the next one.
func (s *Secrets) Keys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate(s.now())
	return append(slices.Clone(s.old), s.current, s.next)
}

// Verifier is a DataNode's side: the keys it was sent, by ID, kept
// until they expire. It is safe for concurrent use.
type Verifier struct {
	now func() time.Time

	mu   sync.Mutex
	keys map[uint64]Key // guarded by mu
}

// NewVerifier returns a Verifier without keys. now is the clock; nil:
// time.Now.
func NewVerifier(now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{now: now, keys: make(map[uint64]Key)}
}

// Update adds keys (those it knows are kept, with the later expiry)
// and drops the expired ones.
func (v *Verifier) Update(keys []Key) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range keys {
		if k.ID == 0 || len(k.Secret) == 0 || !now.Before(k.Expiry) {
			continue
		}
		if old, ok := v.keys[k.ID]; ok && old.Expiry.After(k.Expiry) {
			continue
		}
		k.Secret = append([]byte(nil), k.Secret...)
		v.keys[k.ID] = k
	}
	for id, k := range v.keys {
		if !now.Before(k.Expiry) {
			delete(v.keys, id)
		}
	}
}

// Len returns the number of keys held.
func (v *Verifier) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.keys)
}

// Verify checks that b is a token signed by a known key, not expired,
// for block blockID of cluster pool (an empty pool is not checked),
// granting at least one of the modes in need. Its error is one of the
// Err values above, maybe wrapped with detail.
func (v *Verifier) Verify(b []byte, pool string, blockID uint64, need Mode) (Token, error) {
	if len(b) == 0 {
		return Token{}, ErrMissing
	}
	t, signed, mac, err := Parse(b)
	if err != nil {
		return Token{}, err
	}
	v.mu.Lock()
	k, ok := v.keys[t.KeyID]
	v.mu.Unlock()
	if !ok {
		return t, ErrUnknownKey
	}
	m := hmac.New(sha256.New, k.Secret)
	m.Write(signed)
	if !hmac.Equal(m.Sum(nil), mac) {
		return t, ErrBadSignature
	}
	switch now := v.now(); {
	case !now.Before(t.Expiry):
		return t, fmt.Errorf("%w at %s", ErrExpired, t.Expiry.UTC().Format(time.RFC3339Nano))
	case t.BlockID != blockID:
		return t, ErrWrongBlock
	case pool != "" && t.Pool != pool:
		return t, ErrWrongPool
	case t.Modes&need == 0:
		return t, fmt.Errorf("%w: it grants %v, %v is needed", ErrWrongMode, t.Modes, need)
	}
	return t, nil
}

// Package token makes and reads the bearer tokens by which clients
// authenticate to a secure cairn NameNode.
//
// A token says who its holder is (a user name) until when, and is
// signed with HMAC-SHA256 under a secret key the NameNode group keeps
// in its replicated state: any member verifies it, and only they can
// make one. Its wire form is one line of ASCII,
//
//	cairn1.<payload>.<signature>
//
// where payload and signature are base64url without padding (RFC 4648
// §5), the signature is HMAC-SHA256(key, "cairn1." + payload as sent)
// (32 bytes), and the payload decodes to
//
//	version   byte, 1
//	keyID     uvarint: the key that signed it
//	tokenID   16 bytes, random: names the token for revocation
//	issued    varint, Unix seconds
//	expires   varint, Unix seconds, after issued
//	user      uvarint length (1-256) + that many bytes of UTF-8 without
//	          control characters, commas or colons
//
// with nothing after it. A token is at most MaxLen bytes. The parser is
// strict: a token is accepted in exactly one spelling.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Prefix starts every token of this format.
const Prefix = "cairn1."

// Bounds of the format.
const (
	// MaxLen bounds a token's wire form.
	MaxLen = 1024
	// MaxUserLen bounds the user name a token carries.
	MaxUserLen = 256
	// SecretLen is the length of a signing key's secret.
	SecretLen = 32
	sigLen    = sha256.Size
	version   = 1
)

// Errors name what is wrong with a token; they are wrapped with the
// detail.
var (
	ErrMalformed    = errors.New("malformed token")
	ErrUnknownKey   = errors.New("token signed with an unknown key")
	ErrBadSignature = errors.New("bad token signature")
	ErrExpired      = errors.New("token expired")
	ErrRevoked      = errors.New("token revoked")
)

// ID names a token, for revocation.
type ID [16]byte

// String returns the ID in hex (32 characters).
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an ID written by String.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("%w: a token ID has %d hex digits, not %d", ErrMalformed, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: token ID %q is not hex", ErrMalformed, s)
	}
	return id, nil
}

// Claims are what a token says.
type Claims struct {
	User    string
	ID      ID
	Issued  time.Time // to the second
	Expires time.Time // to the second
}

// Key is a signing key.
type Key struct {
	ID     uint64
	Secret []byte // SecretLen bytes
}

// Token is a parsed token, not yet verified.
type Token struct {
	Claims
	KeyID uint64

	signed []byte // the bytes the signature covers
	sig    []byte
}

// Sign returns the wire form of c signed with k. Times are truncated
// to the second. It panics if c cannot be encoded (an invalid user name,
// expiry not after issue), which is the caller's bug.
func Sign(k Key, c Claims) string {
	if err := checkUser(c.User); err != nil {
		panic("token.Sign: " + err.Error())
	}
	if c.Expires.Unix() <= c.Issued.Unix() {
		panic("token.Sign: expiry not after issue")
	}
	p := []byte{version}
	p = binary.AppendUvarint(p, k.ID)
	p = append(p, c.ID[:]...)
	p = binary.AppendVarint(p, c.Issued.Unix())
	p = binary.AppendVarint(p, c.Expires.Unix())
	p = binary.AppendUvarint(p, uint64(len(c.User)))
	p = append(p, c.User...)
	signed := Prefix + base64.RawURLEncoding.EncodeToString(p)
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac(k.Secret, []byte(signed)))
}

func mac(secret, b []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(b)
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding.Strict()

// Parse reads a token's wire form without verifying its signature. Its
// errors wrap ErrMalformed.
func Parse(s string) (*Token, error) {
	if len(s) > MaxLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(s), MaxLen)
	}
	if !strings.HasPrefix(s, Prefix) {
		return nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, Prefix)
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < len(Prefix) {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	payload, err := b64.DecodeString(s[len(Prefix):dot])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(s[dot+1:])
	if err != nil || len(sig) != sigLen {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, sigLen)
	}
	t := &Token{signed: []byte(s[:dot]), sig: sig}
	if err := t.decode(payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return t, nil
}

func (t *Token) decode(p []byte) error {
	if len(p) < 1 || p[0] != version {
		return errors.New("unknown version")
	}
	p = p[1:]
	keyID, n := binary.Uvarint(p)
	if n <= 0 {
		return errors.New("bad key ID")
	}
	p = p[n:]
	t.KeyID = keyID
	if len(p) < len(t.ID) {
		return errors.New("short token ID")
	}
	copy(t.ID[:], p)
	p = p[len(t.ID):]
	issued, n := binary.Varint(p)
	if n <= 0 {
		return errors.New("bad issue time")
	}
	p = p[n:]
	expires, n := binary.Varint(p)
	if n <= 0 {
		return errors.New("bad expiry")
	}
	p = p[n:]
	// Times beyond year 9999 are refused, as are tokens that expire
	// before they are issued.
	const maxUnix = 253402300799
	if issued < 0 || expires <= issued || expires > maxUnix {
		return errors.New("bad lifetime")
	}
	t.Issued, t.Expires = time.Unix(issued, 0), time.Unix(expires, 0)
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return errors.New("bad user")
	}
	p = p[n:]
	t.User = string(p[:l])
	if err := checkUser(t.User); err != nil {
		return err
	}
	if len(p) != int(l) {
		return fmt.Errorf("%d trailing bytes", len(p)-int(l))
	}
	return nil
}

// checkUser checks a user name as the NameNode checks the names of its
// metadata (protocol.CallerFromMetadata).
func checkUser(u string) error {
	if u == "" || len(u) > MaxUserLen || !utf8.ValidString(u) {
		return fmt.Errorf("user name must be 1 to %d bytes of UTF-8", MaxUserLen)
	}
	for _, r := range u {
		if r < 0x20 || r == 0x7f || r == ',' || r == ':' {
			return fmt.Errorf("user name holds %q", r)
		}
	}
	return nil
}

// Verify checks the token's signature with secret, in constant time.
// Its error wraps ErrBadSignature.
func (t *Token) Verify(secret []byte) error {
	if !hmac.Equal(mac(secret, t.signed), t.sig) {
		return fmt.Errorf("%w (key %d)", ErrBadSignature, t.KeyID)
	}
	return nil
}

// Live checks that the token has not expired at now. Its error wraps
// ErrExpired.
func (t *Token) Live(now time.Time) error {
	if !now.Before(t.Expires) {
		return fmt.Errorf("%w at %s", ErrExpired, t.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

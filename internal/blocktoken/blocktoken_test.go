package blocktoken

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// clock is a hand-set clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestVerify(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := NewSecrets(time.Hour, 10*time.Minute, c.now)
	v := NewVerifier(c.now)
	v.Update(s.Keys())
	good := s.Generate("alice", "CID-1", 42, Read|Copy)
	forged := append([]byte(nil), good...)
	forged[len(forged)-1] ^= 1
	other := NewSecrets(time.Hour, 10*time.Minute, c.now).Generate("alice", "CID-1", 42, Read)
	for _, tc := range []struct {
		name  string
		tok   []byte
		pool  string
		block uint64
		need  Mode
		after time.Duration
		want  error
	}{
		{"a good token is accepted", good, "CID-1", 42, Read, 0, nil},
		{"any granted mode will do", good, "CID-1", 42, Write | Copy, 0, nil},
		{"no token is refused", nil, "CID-1", 42, Read, 0, ErrMissing},
		{"a forged MAC is refused", forged, "CID-1", 42, Read, 0, ErrBadSignature},
		{"a key not shared is refused", other, "CID-1", 42, Read, 0, ErrUnknownKey},
		{"another block is refused", good, "CID-1", 43, Read, 0, ErrWrongBlock},
		{"another cluster is refused", good, "CID-2", 42, Read, 0, ErrWrongPool},
		{"a mode not granted is refused", good, "CID-1", 42, Write, 0, ErrWrongMode},
		{"an expired token is refused", good, "CID-1", 42, Read, 10 * time.Minute, ErrExpired},
		{"garbage is refused", []byte("nonsense"), "CID-1", 42, Read, 0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := c.t
			c.t = c.t.Add(tc.after)
			defer func() { c.t = saved }()
			_, err := v.Verify(tc.tok, tc.pool, tc.block, tc.need)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// Tokens of the previous key stay good after a rotation, until they
// expire; the key itself is dropped once its last token expired.
func TestRotation(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := NewSecrets(time.Hour, 30*time.Minute, c.now)
	v := NewVerifier(c.now)
	old := s.Generate("", "CID", 7, Read)
	v.Update(s.Keys())
	c.t = c.t.Add(time.Hour + time.Minute)
	fresh := s.Generate("", "CID", 7, Read)
	// The DataNode knew the new key before it signed anything.
	if _, err := v.Verify(fresh, "CID", 7, Read); err != nil {
		t.Fatalf("Verify(token of the key that was next) = %v, want nil", err)
	}
	if keys := s.Keys(); len(keys) != 3 {
		t.Fatalf("after a rotation Keys() = %d keys, want 3 (previous, current, next)", len(keys))
	}
	v.Update(s.Keys())
	ot, _, _, _ := Parse(old)
	ft, _, _, _ := Parse(fresh)
	if ot.KeyID == ft.KeyID {
		t.Fatalf("the key did not change after its interval")
	}
	c.t = c.t.Add(-35 * time.Minute) // old token: still alive
	if _, err := v.Verify(old, "CID", 7, Read); err != nil {
		t.Fatalf("Verify(token of the previous key) = %v, want nil", err)
	}
	c.t = c.t.Add(35*time.Minute + 31*time.Minute) // past the old key's expiry
	v.Update(nil)
	if v.Len() != 2 {
		t.Errorf("Verifier keeps %d keys after the old one expired, want 2", v.Len())
	}
	if len(s.Keys()) != 2 {
		t.Errorf("Secrets keeps %d keys after the old one expired, want 2", len(s.Keys()))
	}
}

func TestParseRoundTrip(t *testing.T) {
	want := Token{KeyID: 9, Expiry: time.UnixMilli(123456789), BlockID: 1 << 60, Modes: Write | Replace, Pool: "CID-x", User: "bob"}
	b := sign([]byte("secret"), want)
	got, _, _, err := Parse(b)
	if err != nil || got != want {
		t.Fatalf("Parse(sign(%+v)) = %+v, %v", want, got, err)
	}
	long := string(bytes.Repeat([]byte("u"), 1000))
	b = sign([]byte("secret"), Token{KeyID: 1, User: long, Pool: long})
	if len(b) != MaxSize {
		t.Fatalf("token with long fields is %d bytes, want MaxSize %d", len(b), MaxSize)
	}
	if _, _, _, err := Parse(b); err != nil {
		t.Fatalf("Parse(long fields clipped) = %v", err)
	}
}

// FuzzBlockToken feeds the DataNode's parser and verifier arbitrary
// bytes: they never panic, never accept what the key did not sign, and
// whatever parses re-encodes to the same bytes.
func FuzzBlockToken(f *testing.F) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := NewSecrets(time.Hour, time.Hour, c.now)
	v := NewVerifier(c.now)
	v.Update(s.Keys())
	good := s.Generate("alice", "CID", 5, Read)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(make([]byte, MaxSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, signed, mac, err := Parse(b)
		if err == nil {
			if len(mac) != macSize || len(signed)+macSize != len(b) {
				t.Fatalf("Parse split %d bytes into %d + %d", len(b), len(signed), len(mac))
			}
			if again := sign([]byte("k"), tok); !bytes.Equal(again[:len(again)-macSize], signed) {
				t.Fatalf("Parse(%x) = %+v, which encodes differently", b, tok)
			}
		}
		if _, err := v.Verify(b, "CID", 5, Read); err == nil && !bytes.Equal(b, good) {
			t.Fatalf("Verify accepted %x, which the key did not sign", b)
		}
	})
}

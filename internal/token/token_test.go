package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKey = Key{ID: 7, Secret: bytes.Repeat([]byte{0x5a}, SecretLen)}
	t0      = time.Unix(1_800_000_000, 0)
)

func testClaims() Claims {
	return Claims{User: "alice", ID: ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Issued: t0, Expires: t0.Add(time.Hour)}
}

func TestSignParseVerify(t *testing.T) {
	c := testClaims()
	s := Sign(testKey, c)
	if !strings.HasPrefix(s, Prefix) || len(s) > MaxLen {
		t.Fatalf("Sign = %q", s)
	}
	tok, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", s, err)
	}
	if tok.Claims != c || tok.KeyID != testKey.ID {
		t.Errorf("Parse = %+v key %d, want %+v key %d", tok.Claims, tok.KeyID, c, testKey.ID)
	}
	if err := tok.Verify(testKey.Secret); err != nil {
		t.Errorf("Verify with the signing key = %v", err)
	}
	other := bytes.Repeat([]byte{1}, SecretLen)
	if err := tok.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with another key = %v, want ErrBadSignature", err)
	}
	if err := tok.Live(t0.Add(time.Minute)); err != nil {
		t.Errorf("Live before expiry = %v", err)
	}
	if err := tok.Live(t0.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("Live at expiry = %v, want ErrExpired", err)
	}
}

func TestTamperedTokensFail(t *testing.T) {
	s := Sign(testKey, testClaims())
	dot := strings.LastIndexByte(s, '.')
	// Every byte of the payload and signature, changed to another
	// base64url character: the token is malformed or its signature
	// fails, never accepted.
	for i := len(Prefix); i < len(s); i++ {
		if i == dot {
			continue
		}
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		tok, err := Parse(string(b))
		if err == nil {
			err = tok.Verify(testKey.Secret)
		}
		if err == nil {
			t.Fatalf("token with byte %d changed (%q) accepted", i, b)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Errorf("byte %d changed: %v, want ErrMalformed or ErrBadSignature", i, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good := Sign(testKey, testClaims())
	dot := strings.LastIndexByte(good, '.')
	for _, tc := range []struct{ name, s string }{
		{"an empty string", ""},
		{"another version", "cairn2." + good[len(Prefix):]},
		{"no signature", good[:dot]},
		{"an empty signature", good[:dot+1]},
		{"a short signature", good[:len(good)-2]},
		{"padding", good + "="},
		{"a space", " " + good},
		{"too long", Prefix + strings.Repeat("A", MaxLen) + ".x"},
		{"three parts after the prefix", good[:dot] + ".x" + good[dot:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.s); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) = %v, want ErrMalformed", tc.s, err)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	id := testClaims().ID
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Errorf("ParseID(%q) = %v, %v", id.String(), got, err)
	}
	for _, s := range []string{"", "xyz", strings.Repeat("g", 32), strings.Repeat("0", 31)} {
		if _, err := ParseID(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseID(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Sign(testKey, testClaims()))
	c := testClaims()
	c.User = strings.Repeat("u", MaxUserLen)
	f.Add(Sign(Key{ID: 1 << 40, Secret: testKey.Secret}, c))
	f.Add("cairn1..")
	f.Add("cairn1.AQ.AA")
	f.Add("")
	f.Add("cairn1.AQcBAgMEBQYHCAkKCwwNDg8QgJDotIsNgJDotIsNBWFsaWNl.")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, not ErrMalformed", s, err)
			}
			return
		}
		// A token that parses is in its one spelling: signing its
		// claims again with the key it names gives the same payload.
		again := Sign(Key{ID: tok.KeyID, Secret: testKey.Secret}, tok.Claims)
		if a, b := again[:strings.LastIndexByte(again, '.')], s[:strings.LastIndexByte(s, '.')]; a != b {
			t.Fatalf("Parse(%q) then Sign: payload %q, want %q", s, a, b)
		}
		_ = tok.Verify(testKey.Secret)
		_ = tok.Live(time.Now())
	})
}

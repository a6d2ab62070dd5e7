package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSignerIsVerified: what Signer signs, the Verifier accepts, and a
// change after signing is refused.
func TestSignerIsVerified(t *testing.T) {
	v := testVerifier(t, Config{})
	s := Signer{Credential: testCred, Now: func() time.Time { return testNow }}

	r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/a%20key/b?partNumber=1&uploadId=x", strings.NewReader("body"))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("X-Amz-Meta-Color", "blue")
	if err := s.Sign(r, UnsignedPayload); err != nil {
		t.Fatal(err)
	}
	a, err := v.Verify(r)
	if err != nil {
		t.Fatalf("Verify(signed) = %v", err)
	}
	if a.Credential.User != testCred.User {
		t.Errorf("user = %q, want %q", a.Credential.User, testCred.User)
	}
	r.Header.Set("X-Amz-Meta-Color", "red")
	_, err = v.Verify(r)
	assertCode(t, err, "SignatureDoesNotMatch")

	p := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bucket/k", nil)
	if err := s.Presign(p, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(p); err != nil {
		t.Fatalf("Verify(presigned) = %v", err)
	}
	p.URL.Path = "/bucket/other"
	_, err = v.Verify(p)
	assertCode(t, err, "SignatureDoesNotMatch")
}

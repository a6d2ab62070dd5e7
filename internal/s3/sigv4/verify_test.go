package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
}

var testNow = time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)

var testCred = Credential{AccessKey: "AKIDTEST", SecretKey: "secret/with+chars", User: "bob"}

func testVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	if cfg.Credentials == nil {
		cfg.Credentials = StaticCredentials{testCred.AccessKey: testCred}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signer is a client-side signer for the tests: it signs the way the
// SigV4 documentation says, from the request as a client builds it.
type signer struct {
	cred   Credential
	region string
	t      time.Time
}

func (s signer) scope() string {
	return s.t.Format(yyyymmdd) + "/" + s.region + "/s3/aws4_request"
}

func (s signer) key() []byte {
	return signingKey(s.cred.SecretKey, s.t.Format(yyyymmdd), s.region, "s3")
}

// signedNames is host plus every header of r, lower-case and sorted.
func signedNames(r *http.Request) []string {
	names := []string{"host"}
	for k := range r.Header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	return names
}

// sign adds X-Amz-Date, X-Amz-Content-Sha256 and an Authorization
// header signing every header of r.
func (s signer) sign(r *http.Request, payload string) string {
	r.Header.Set("X-Amz-Date", s.t.Format(iso8601Basic))
	r.Header.Set("X-Amz-Content-Sha256", payload)
	names := signedNames(r)
	params, _ := parseQuery(r.URL.RawQuery)
	creq, err := canonicalRequest(r, canonicalQuery(params, ""), names, strings.Join(names, ";"), payload)
	if err != nil {
		panic(err)
	}
	sig := signHex(s.key(), stringToSign(Algorithm, s.t.Format(iso8601Basic), s.scope(), sha256Hex(creq)))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		Algorithm, s.cred.AccessKey, s.scope(), strings.Join(names, ";"), sig))
	return sig
}

// presign adds the query parameters of a presigned URL to r.
func (s signer) presign(r *http.Request, expires int) {
	q := r.URL.Query()
	q.Set("X-Amz-Algorithm", Algorithm)
	q.Set("X-Amz-Credential", s.cred.AccessKey+"/"+s.scope())
	q.Set("X-Amz-Date", s.t.Format(iso8601Basic))
	q.Set("X-Amz-Expires", strconv.Itoa(expires))
	q.Set("X-Amz-SignedHeaders", "host")
	r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	params, _ := parseQuery(r.URL.RawQuery)
	creq, err := canonicalRequest(r, canonicalQuery(params, ""), []string{"host"}, "host", UnsignedPayload)
	if err != nil {
		panic(err)
	}
	sig := signHex(s.key(), stringToSign(Algorithm, s.t.Format(iso8601Basic), s.scope(), sha256Hex(creq)))
	r.URL.RawQuery += "&X-Amz-Signature=" + sig
}

// chunked encodes data as a signed aws-chunked body of chunks of size
// n, chained from seed; trailers (name, value) are appended and signed.
func (s signer) chunked(seed string, data []byte, n int, trailers ...string) []byte {
	cs := &chunkSigner{key: s.key(), amzDate: s.t.Format(iso8601Basic), scope: s.scope(), prev: seed}
	var b bytes.Buffer
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		sum := sha256.Sum256(c)
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(c), cs.chunk(hex.EncodeToString(sum[:])))
		b.Write(c)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", cs.chunk(EmptySHA256))
	if len(trailers) > 0 {
		var canon strings.Builder
		for i := 0; i < len(trailers); i += 2 {
			fmt.Fprintf(&b, "%s:%s\r\n", trailers[i], trailers[i+1])
			canon.WriteString(trailers[i] + ":" + trailers[i+1] + "\n")
		}
		fmt.Fprintf(&b, "x-amz-trailer-signature:%s\r\n", cs.trailer(canon.String()))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// unsignedChunked encodes data as botocore does for
// STREAMING-UNSIGNED-PAYLOAD-TRAILER.
func unsignedChunked(data []byte, n int, name, value string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		fmt.Fprintf(&b, "%x\r\n", len(c))
		b.Write(c)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n")
	if name != "" {
		fmt.Fprintf(&b, "%s:%s\r\n", name, value)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func newRequest(method, target string, body []byte) *http.Request {
	r := httptest.NewRequest(method, "http://gw.example:9000"+target, bytes.NewReader(body))
	if body == nil {
		r.ContentLength = 0
		r.Body = http.NoBody
	}
	return r
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func checksumOf(algo string, data []byte) string {
	h := NewChecksum(algo)
	h.Write(data)
	return b64(h.Sum(nil))
}

func readBody(t *testing.T, r *http.Request, a *Auth) ([]byte, *Body, error) {
	t.Helper()
	b, err := NewBody(r, a, 0)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(b)
	return data, b, err
}

func TestVerifyAcceptsSignedRequests(t *testing.T) {
	v := testVerifier(t, Config{})
	s := signer{cred: testCred, region: "us-east-1", t: testNow.Add(-3 * time.Minute)}
	data := []byte("hello, cairn")

	t.Run("a signed payload", func(t *testing.T) {
		r := newRequest("PUT", "/bucket/dir/key", data)
		r.Header.Set("Content-Type", "text/plain")
		r.Header.Set("X-Amz-Meta-Color", "blue")
		s.sign(r, hexSHA(data))
		a, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		if a.Credential.User != "bob" || a.Presigned || a.PayloadHash != hexSHA(data) {
			t.Errorf("Auth = %+v", a)
		}
		got, b, err := readBody(t, r, a)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("body = %q, %v", got, err)
		}
		if b.MD5() != md5.Sum(data) {
			t.Errorf("MD5 = %x, want %x", b.MD5(), md5.Sum(data))
		}
	})
	t.Run("keys with characters that need escaping", func(t *testing.T) {
		for _, target := range []string{
			"/bucket/a%20b/c+d/%E2%82%AC/x%21%27%28%29%2A",
			"/bucket/a%2Fb",           // an escaped slash stays escaped
			"/bucket//double//slash/", // not normalized
			"/bucket/./dot/../dotdot", // not normalized
			"/bucket/k?list-type=2&prefix=a%2Fb&delimiter=%2F&encoding-type=url&empty=&flag",
			"/bucket/k?q=a+b&r=a%20b", // '+' in a query is a space
		} {
			r := newRequest("GET", target, nil)
			s.sign(r, EmptySHA256)
			if _, err := v.Verify(r); err != nil {
				t.Errorf("Verify(%s) = %v", target, err)
			}
		}
	})
	t.Run("a presigned URL", func(t *testing.T) {
		r := newRequest("GET", "/bucket/photos/2024%20summer.jpg?versionId=null", nil)
		s.presign(r, 3600)
		a, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Presigned || a.PayloadHash != UnsignedPayload || !a.Expires.Equal(s.t.Add(time.Hour)) {
			t.Errorf("Auth = %+v", a)
		}
	})
	t.Run("an unsigned payload", func(t *testing.T) {
		r := newRequest("PUT", "/bucket/k", data)
		s.sign(r, UnsignedPayload)
		a, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := readBody(t, r, a); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("body = %q, %v", got, err)
		}
	})
	t.Run("a GET without x-amz-content-sha256", func(t *testing.T) {
		r := newRequest("GET", "/bucket/k", nil)
		s.sign(r, EmptySHA256)
		// Re-sign without the header, as a generic SigV4 signer would.
		r.Header.Del("X-Amz-Content-Sha256")
		r.Header.Del("Authorization")
		names := signedNames(r)
		creq, _ := canonicalRequest(r, "", names, strings.Join(names, ";"), EmptySHA256)
		sig := signHex(s.key(), stringToSign(Algorithm, s.t.Format(iso8601Basic), s.scope(), sha256Hex(creq)))
		r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s,SignedHeaders=%s,Signature=%s", Algorithm, testCred.AccessKey, s.scope(), strings.Join(names, ";"), sig))
		if _, err := v.Verify(r); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an access key with a slash", func(t *testing.T) {
		c := Credential{AccessKey: "team/key", SecretKey: "s", User: "carol"}
		v := testVerifier(t, Config{Credentials: StaticCredentials{c.AccessKey: c}})
		r := newRequest("GET", "/b/k", nil)
		signer{cred: c, region: "us-east-1", t: testNow}.sign(r, EmptySHA256)
		if a, err := v.Verify(r); err != nil || a.Credential.User != "carol" {
			t.Fatalf("Verify = %v, %v", a, err)
		}
	})
	t.Run("regions", func(t *testing.T) {
		for _, c := range []struct {
			cfg    Config
			region string
			ok     bool
		}{
			{Config{}, "us-east-1", true},
			{Config{}, "US", true},
			{Config{}, "eu-west-1", false},
			{Config{Regions: []string{"eu-west-1", "local"}}, "local", true},
			{Config{Regions: []string{"eu-west-1"}}, "us-east-1", false},
			{Config{AnyRegion: true}, "anything-at-all", true},
		} {
			v := testVerifier(t, c.cfg)
			r := newRequest("GET", "/b/k", nil)
			signer{cred: testCred, region: c.region, t: testNow}.sign(r, EmptySHA256)
			_, err := v.Verify(r)
			if c.ok && err != nil {
				t.Errorf("regions %v: %s refused: %v", c.cfg.Regions, c.region, err)
			}
			if !c.ok {
				assertCode(t, err, CodeAuthorizationHeaderMalformed)
				var e *Error
				errors.As(err, &e)
				if e.Region == "" {
					t.Errorf("no expected region in %v", err)
				}
			}
		}
	})
}

func TestVerifyRefuses(t *testing.T) {
	v := testVerifier(t, Config{})
	s := signer{cred: testCred, region: "us-east-1", t: testNow}
	signed := func(method, target string, body []byte, edit func(r *http.Request)) *http.Request {
		r := newRequest(method, target, body)
		r.Header.Set("X-Amz-Meta-A", "1")
		s.sign(r, hexSHA(body))
		if edit != nil {
			edit(r)
		}
		return r
	}
	setAuth := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	editAuth := func(from, to string) func(r *http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), from, to, 1))
		}
	}
	cases := []struct {
		name string
		r    *http.Request
		code string
	}{
		{"an anonymous request", newRequest("GET", "/b/k", nil), CodeAccessDenied},
		{"signature version 2", signed("GET", "/b/k", nil, setAuth("AWS AKIDTEST:c2lnbmF0dXJl")), CodeInvalidRequest},
		{"a SigV2 presigned URL", newRequest("GET", "/b/k?AWSAccessKeyId=AKIDTEST&Expires=1&Signature=x", nil), CodeInvalidRequest},
		{"signature version 4A", signed("GET", "/b/k", nil, editAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")), CodeNotImplemented},
		{"an unknown algorithm", signed("GET", "/b/k", nil, setAuth("Bearer abc")), CodeAuthorizationHeaderMalformed},
		{"an unknown access key", signed("GET", "/b/k", nil, editAuth("AKIDTEST", "AKIDOTHER")), CodeInvalidAccessKeyID},
		{"a wrong signature", signed("GET", "/b/k", nil, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
		}), CodeSignatureDoesNotMatch},
		{"a changed path", signed("GET", "/b/k", nil, func(r *http.Request) { r.URL.Path = "/b/other" }), CodeSignatureDoesNotMatch},
		{"a changed query", signed("GET", "/b/k?prefix=a", nil, func(r *http.Request) { r.URL.RawQuery = "prefix=b" }), CodeSignatureDoesNotMatch},
		{"an added query parameter", signed("GET", "/b/k?prefix=a", nil, func(r *http.Request) { r.URL.RawQuery += "&max-keys=1" }), CodeSignatureDoesNotMatch},
		{"a changed method", signed("GET", "/b/k", nil, func(r *http.Request) { r.Method = "DELETE" }), CodeSignatureDoesNotMatch},
		{"a changed host", signed("GET", "/b/k", nil, func(r *http.Request) { r.Host = "other.example" }), CodeSignatureDoesNotMatch},
		{"a changed signed header", signed("GET", "/b/k", nil, func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }), CodeSignatureDoesNotMatch},
		{"an unsigned x-amz header", signed("GET", "/b/k", nil, func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/b/secret") }), CodeAccessDenied},
		{"a signed header missing", signed("GET", "/b/k", nil, editAuth("host;", "host;range;")), CodeAuthorizationHeaderMalformed},
		{"host not signed", signed("GET", "/b/k", nil, editAuth("SignedHeaders=host;", "SignedHeaders=")), CodeAuthorizationHeaderMalformed},
		{"no credential", signed("GET", "/b/k", nil, editAuth("Credential=", "Cred=")), CodeAuthorizationHeaderMalformed},
		{"a credential for another service", signed("GET", "/b/k", nil, editAuth("/s3/", "/ec2/")), CodeAuthorizationHeaderMalformed},
		{"a credential date that is not the request's", signed("GET", "/b/k", nil, editAuth("/20240229/", "/20240228/")), CodeAuthorizationHeaderMalformed},
		{"a short signature", signed("GET", "/b/k", nil, editAuth("Signature=", "Signature=ab")), CodeAuthorizationHeaderMalformed},
		{"a duplicate component", signed("GET", "/b/k", nil, func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Signature="+strings.Repeat("0", 64))
		}), CodeAuthorizationHeaderMalformed},
		{"no date", signed("GET", "/b/k", nil, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), CodeAccessDenied},
		{"a malformed date", signed("GET", "/b/k", nil, func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }), CodeAccessDenied},
		{"a body without x-amz-content-sha256", signed("PUT", "/b/k", []byte("data"), func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }), CodeMissingSecurityHeader},
		{"a bad x-amz-content-sha256", signed("PUT", "/b/k", []byte("data"), func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }), CodeInvalidArgument},
		{"a SigV4A streaming payload", signed("PUT", "/b/k", []byte("data"), func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", streamingECDSA)
		}), CodeNotImplemented},
		{"both a header and a presigned query", signed("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, nil), CodeInvalidArgument},
		{"two Authorization headers", signed("GET", "/b/k", nil, func(r *http.Request) { r.Header.Add("Authorization", "x") }), CodeAuthorizationHeaderMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.r)
			assertCode(t, err, c.code)
		})
	}

	t.Run("a request too far from the server's clock", func(t *testing.T) {
		for _, d := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
			r := newRequest("GET", "/b/k", nil)
			signer{cred: testCred, region: "us-east-1", t: testNow.Add(d)}.sign(r, EmptySHA256)
			_, err := v.Verify(r)
			assertCode(t, err, CodeRequestTimeTooSkewed)
		}
		r := newRequest("GET", "/b/k", nil)
		signer{cred: testCred, region: "us-east-1", t: testNow.Add(14 * time.Minute)}.sign(r, EmptySHA256)
		if _, err := v.Verify(r); err != nil {
			t.Errorf("14 minutes ahead: %v", err)
		}
	})
	t.Run("a signature mismatch says what was signed", func(t *testing.T) {
		r := signed("GET", "/b/k", nil, func(r *http.Request) { r.URL.Path = "/b/other" })
		_, err := v.Verify(r)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.CanonicalRequest, "/b/other") || !strings.HasPrefix(e.StringToSign, Algorithm+"\n") || e.AccessKeyID != "AKIDTEST" {
			t.Errorf("diagnostics = %+v", e)
		}
		if strings.Contains(err.Error(), testCred.SecretKey) {
			t.Errorf("the error shows the secret: %v", err)
		}
	})
	t.Run("a failing credentials lookup is an internal error", func(t *testing.T) {
		v := testVerifier(t, Config{Credentials: failingCredentials{}})
		r := newRequest("GET", "/b/k", nil)
		s.sign(r, EmptySHA256)
		_, err := v.Verify(r)
		assertCode(t, err, CodeInternalError)
	})
}

type failingCredentials struct{}

func (failingCredentials) Lookup(context.Context, string) (Credential, error) {
	return Credential{}, errors.New("credentials file unreadable")
}

func TestVerifyPresigned(t *testing.T) {
	v := testVerifier(t, Config{})
	s := signer{cred: testCred, region: "us-east-1", t: testNow.Add(-time.Hour)}
	presigned := func(expires int, edit func(q url.Values)) *http.Request {
		r := newRequest("PUT", "/b/upload.bin", []byte("body"))
		s.presign(r, expires)
		if edit != nil {
			q := r.URL.Query()
			edit(q)
			r.URL.RawQuery = q.Encode()
		}
		return r
	}
	t.Run("a valid URL with its body", func(t *testing.T) {
		r := presigned(7200, nil)
		a, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := readBody(t, r, a); err != nil || string(got) != "body" {
			t.Fatalf("body %q, %v", got, err)
		}
	})
	t.Run("the longest validity, 7 days", func(t *testing.T) {
		if _, err := v.Verify(presigned(604800, nil)); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		name    string
		expires int
		edit    func(q url.Values)
		code    string
	}{
		{"an expired URL", 3599, nil, CodeAccessDenied},
		{"a validity above 7 days", 604801, nil, CodeAuthorizationQueryParametersError},
		{"a negative validity", -1, nil, CodeAuthorizationQueryParametersError},
		{"a validity that is not a number", 60, func(q url.Values) { q.Set("X-Amz-Expires", "soon") }, CodeAuthorizationQueryParametersError},
		{"no X-Amz-Date", 7200, func(q url.Values) { q.Del("X-Amz-Date") }, CodeAuthorizationQueryParametersError},
		{"no X-Amz-SignedHeaders", 7200, func(q url.Values) { q.Del("X-Amz-SignedHeaders") }, CodeAuthorizationQueryParametersError},
		{"another algorithm", 7200, func(q url.Values) { q.Set("X-Amz-Algorithm", "HMAC-MD5") }, CodeAuthorizationQueryParametersError},
		{"a duplicated parameter", 7200, func(q url.Values) { q.Add("X-Amz-Date", q.Get("X-Amz-Date")) }, CodeAuthorizationQueryParametersError},
		{"a malformed credential", 7200, func(q url.Values) { q.Set("X-Amz-Credential", "AKIDTEST/x") }, CodeAuthorizationQueryParametersError},
		{"an unknown access key", 7200, func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), "AKIDTEST", "NOBODY", 1))
		}, CodeInvalidAccessKeyID},
		{"a changed validity", 7200, func(q url.Values) { q.Set("X-Amz-Expires", "7201") }, CodeSignatureDoesNotMatch},
		{"an added parameter", 7200, func(q url.Values) { q.Set("uploadId", "x") }, CodeSignatureDoesNotMatch},
		{"a streaming payload", 7200, func(q url.Values) { q.Set("X-Amz-Content-Sha256", StreamingPayload) }, CodeInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(presigned(c.expires, c.edit))
			assertCode(t, err, c.code)
		})
	}
	t.Run("a URL dated in the future", func(t *testing.T) {
		r := newRequest("GET", "/b/k", nil)
		signer{cred: testCred, region: "us-east-1", t: testNow.Add(20 * time.Minute)}.presign(r, 3600)
		_, err := v.Verify(r)
		assertCode(t, err, CodeAccessDenied)
	})
	t.Run("an unsigned x-amz header sent with the URL", func(t *testing.T) {
		r := presigned(7200, nil)
		r.Header.Set("X-Amz-Meta-Owner", "mallory")
		_, err := v.Verify(r)
		assertCode(t, err, CodeAccessDenied)
	})
}

func TestBodyChecks(t *testing.T) {
	v := testVerifier(t, Config{})
	s := signer{cred: testCred, region: "us-east-1", t: testNow}
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes
	md5sum := md5.Sum(data)

	type request struct {
		body    []byte
		payload string
		headers map[string]string
	}
	run := func(t *testing.T, rq request) ([]byte, *Body, error) {
		t.Helper()
		r := newRequest("PUT", "/b/k", rq.body)
		for k, v := range rq.headers {
			r.Header.Set(k, v)
		}
		s.sign(r, rq.payload)
		a, err := v.Verify(r)
		if err != nil {
			t.Fatalf("Verify = %v", err)
		}
		return readBody(t, r, a)
	}
	seedOf := func(rq request) string {
		r := newRequest("PUT", "/b/k", nil)
		for k, v := range rq.headers {
			r.Header.Set(k, v)
		}
		r.ContentLength = int64(len(rq.body))
		return s.sign(r, rq.payload)
	}
	// chunkedRequest builds a signed chunked request: the seed is the
	// signature of the headers, which do not depend on the body.
	chunkedRequest := func(headers map[string]string, payload string, body func(seed string) []byte) request {
		rq := request{payload: payload, headers: headers}
		seed := seedOf(rq)
		rq.body = body(seed)
		if seedOf(rq) != seed {
			panic("seed depends on the body")
		}
		return rq
	}

	ok := []struct {
		name     string
		rq       request
		checksum Checksum
	}{
		{"a signed payload with Content-MD5", request{data, hexSHA(data), map[string]string{"Content-MD5": b64(md5sum[:])}}, Checksum{}},
		{"an unsigned payload with a checksum header", request{data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc32c": checksumOf("crc32c", data), "X-Amz-Sdk-Checksum-Algorithm": "CRC32C"}}, Checksum{"crc32c", checksumOf("crc32c", data)}},
		{"an unsigned trailer, as botocore sends it", request{unsignedChunked(data, 1<<16, "x-amz-checksum-crc32", checksumOf("crc32", data)), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data))}}, Checksum{"crc32", checksumOf("crc32", data)}},
		{"an unsigned trailer with crc64nvme", request{unsignedChunked(data, 8192, "x-amz-checksum-crc64nvme", checksumOf("crc64nvme", data)), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc64nvme"}}, Checksum{"crc64nvme", checksumOf("crc64nvme", data)}},
		{"signed chunks", chunkedRequest(map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data))}, StreamingPayload,
			func(seed string) []byte { return s.chunked(seed, data, 1<<14) }), Checksum{}},
		{"signed chunks with a signed sha256 trailer", chunkedRequest(map[string]string{"Content-Encoding": "gzip,aws-chunked", "X-Amz-Trailer": "x-amz-checksum-sha256", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data))}, StreamingPayloadTrailer,
			func(seed string) []byte {
				return s.chunked(seed, data, 1<<15, "x-amz-checksum-sha256", checksumOf("sha256", data))
			}), Checksum{"sha256", checksumOf("sha256", data)}},
		{"an empty unsigned trailer body", request{unsignedChunked(nil, 1, "x-amz-checksum-crc32", checksumOf("crc32", nil)), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length": "0"}}, Checksum{"crc32", checksumOf("crc32", nil)}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, b, err := run(t, c.rq)
			if err != nil {
				t.Fatalf("read = %v", err)
			}
			want := data
			if c.name == "an empty unsigned trailer body" {
				want = nil
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
			}
			if sum, ok := b.Checksum(); sum != c.checksum || ok != (c.checksum != Checksum{}) {
				t.Errorf("Checksum = %v %v, want %v", sum, ok, c.checksum)
			}
			if b.MD5() != md5.Sum(want) {
				t.Errorf("MD5 = %x", b.MD5())
			}
		})
	}

	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 1
		return b
	}
	chunked := map[string]string{"Content-Encoding": "aws-chunked"}
	bad := []struct {
		name string
		rq   request
		code string
	}{
		{"a payload that is not the signed one", request{flip(data), hexSHA(data), nil}, CodeXAmzContentSHA256Mismatch},
		{"a Content-MD5 that does not match", request{flip(data), UnsignedPayload, map[string]string{"Content-MD5": b64(md5sum[:])}}, CodeBadDigest},
		{"a checksum header that does not match", request{flip(data), UnsignedPayload, map[string]string{"X-Amz-Checksum-Sha1": checksumOf("sha1", data)}}, CodeBadDigest},
		{"a trailer checksum that does not match", request{unsignedChunked(flip(data), 1<<16, "x-amz-checksum-crc32", checksumOf("crc32", data)), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"}}, CodeBadDigest},
		{"a trailer announced but not sent", request{unsignedChunked(data, 1<<16, "", ""), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"}}, CodeMalformedTrailerError},
		{"a malformed trailer value", request{unsignedChunked(data, 1<<16, "x-amz-checksum-crc32", "!!"), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"}}, CodeInvalidRequest},
		{"a decoded length that is not the body's", request{unsignedChunked(data, 1<<16, "", ""), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data) + 1)}}, CodeIncompleteBody},
		{"a decoded length below the body's", request{unsignedChunked(data, 1<<16, "", ""), StreamingUnsignedTrailer,
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data) - 1)}}, CodeIncompleteBody},
		{"a truncated chunked body", request{unsignedChunked(data, 1<<16, "", "")[:40000], StreamingUnsignedTrailer, chunked}, CodeIncompleteBody},
		{"a chunk claiming too much", request{[]byte("ffffffff\r\nabc"), StreamingUnsignedTrailer, chunked}, CodeInvalidRequest},
		{"a chunk size that is not hex", request{[]byte("zz\r\nabc"), StreamingUnsignedTrailer, chunked}, CodeInvalidRequest},
		{"data after the final chunk", request{append(unsignedChunked(data, 1<<16, "", ""), "junk"...), StreamingUnsignedTrailer, chunked}, CodeInvalidRequest},
		{"a chunk not followed by CRLF", request{[]byte("3\r\nabcXY0\r\n\r\n"), StreamingUnsignedTrailer, chunked}, CodeInvalidRequest},
		{"a signature in an unsigned body's trailers", request{[]byte("0\r\nx-amz-trailer-signature:" + strings.Repeat("0", 64) + "\r\n\r\n"), StreamingUnsignedTrailer, chunked}, CodeMalformedTrailerError},
		{"signed chunks reordered", chunkedRequest(chunked, StreamingPayload, func(seed string) []byte {
			body := s.chunked(seed, data, 1<<15)
			// Swap the first two chunks (same size, different data).
			n := len(fmt.Sprintf("8000;chunk-signature=%s\r\n", strings.Repeat("0", 64))) + 1<<15 + 2
			return append(append(append([]byte{}, body[n:2*n]...), body[:n]...), body[2*n:]...)
		}), CodeSignatureDoesNotMatch},
		{"signed chunks without the final chunk", chunkedRequest(chunked, StreamingPayload, func(seed string) []byte {
			body := s.chunked(seed, data, 1<<15)
			return body[:bytes.LastIndex(body, []byte("0;chunk-signature"))]
		}), CodeIncompleteBody},
		{"a signed chunk without its signature", chunkedRequest(chunked, StreamingPayload, func(string) []byte {
			return []byte("3\r\nabc\r\n0\r\n\r\n")
		}), CodeInvalidRequest},
		{"Content-MD5 with a signed chunked body that does not match", chunkedRequest(map[string]string{"Content-Encoding": "aws-chunked", "Content-MD5": b64(make([]byte, 16))}, StreamingPayload,
			func(seed string) []byte { return s.chunked(seed, data, 1<<15) }), CodeBadDigest},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := run(t, c.rq)
			assertCode(t, err, c.code)
		})
	}

	refused := []struct {
		name    string
		payload string
		headers map[string]string
		code    string
	}{
		{"a malformed Content-MD5", UnsignedPayload, map[string]string{"Content-MD5": "not base64"}, CodeInvalidDigest},
		{"a Content-MD5 of the wrong length", UnsignedPayload, map[string]string{"Content-MD5": b64([]byte("short"))}, CodeInvalidDigest},
		{"a malformed checksum header", UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": b64([]byte("toolong"))}, CodeInvalidRequest},
		{"two checksum headers", UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA==", "X-Amz-Checksum-Crc32c": "AAAAAA=="}, CodeInvalidRequest},
		{"aws-chunked without a streaming payload", UnsignedPayload, map[string]string{"Content-Encoding": "aws-chunked"}, CodeInvalidArgument},
		{"a trailer without a trailer payload", UnsignedPayload, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, CodeInvalidRequest},
		{"an unsupported trailer", StreamingUnsignedTrailer, map[string]string{"X-Amz-Trailer": "x-amz-meta-a"}, CodeInvalidRequest},
		{"a checksum header and a trailer", StreamingUnsignedTrailer, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Checksum-Crc32": "AAAAAA=="}, CodeInvalidRequest},
		{"a bad decoded length", StreamingUnsignedTrailer, map[string]string{"X-Amz-Decoded-Content-Length": "-5"}, CodeInvalidArgument},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := newRequest("PUT", "/b/k", []byte("x"))
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			s.sign(r, c.payload)
			a, err := v.Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewBody(r, a, 0)
			assertCode(t, err, c.code)
		})
	}

	t.Run("a body above the size limit", func(t *testing.T) {
		r := newRequest("PUT", "/b/k", data)
		s.sign(r, UnsignedPayload)
		a, _ := v.Verify(r)
		_, err := NewBody(r, a, 1000)
		assertCode(t, err, CodeEntityTooLarge)

		// Without a declared length, the limit is found while reading.
		r = newRequest("PUT", "/b/k", data)
		r.ContentLength = -1
		s.sign(r, UnsignedPayload)
		a, _ = v.Verify(r)
		b, err := NewBody(r, a, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, b)
		assertCode(t, err, CodeEntityTooLarge)
		if n > 1001 {
			t.Errorf("read %d bytes past a limit of 1000", n)
		}
	})
	t.Run("the stored content encoding drops aws-chunked", func(t *testing.T) {
		h := http.Header{}
		h.Add("Content-Encoding", "gzip, aws-chunked")
		if got := StoredContentEncoding(h); got != "gzip" {
			t.Errorf("StoredContentEncoding = %q, want gzip", got)
		}
		h.Set("Content-Encoding", "aws-chunked")
		if got := StoredContentEncoding(h); got != "" {
			t.Errorf("StoredContentEncoding = %q, want empty", got)
		}
	})
}

// A chunked body read a byte at a time decodes the same.
func TestChunkedSmallReads(t *testing.T) {
	s := signer{cred: testCred, region: "us-east-1", t: testNow}
	data := bytes.Repeat([]byte("xyz"), 3000)
	cs := &chunkSigner{key: s.key(), amzDate: s.t.Format(iso8601Basic), scope: s.scope(), prev: strings.Repeat("a", 64)}
	body := s.chunked(strings.Repeat("a", 64), data, 1000, "x-amz-checksum-crc32", checksumOf("crc32", data))
	c := newChunkReader(bytes.NewReader(body), cs, true, []string{"x-amz-checksum-crc32"})
	var got []byte
	buf := make([]byte, 1)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
	}
	if v, ok := c.trailer("x-amz-checksum-crc32"); !ok || v != checksumOf("crc32", data) {
		t.Errorf("trailer = %q, %v", v, ok)
	}
}

func TestCredentialNeverShowsTheSecret(t *testing.T) {
	c := Credential{AccessKey: "AK", SecretKey: "TOPSECRET", User: "u"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cred", c, "auth", &Auth{Credential: c, key: []byte("TOPSECRET")})
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", []Credential{c}), buf.String()} {
		if strings.Contains(s, "TOPSECRET") {
			t.Errorf("%q shows the secret", s)
		}
		if !strings.Contains(s, "AK") {
			t.Errorf("%q does not show the access key", s)
		}
	}
}

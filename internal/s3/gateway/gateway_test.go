package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The credentials of the tests: alice and bob are cairn users.
var (
	alice = sigv4.Credential{AccessKey: "AKIDALICE", SecretKey: "alice/secret+key", User: "alice"}
	bob   = sigv4.Credential{AccessKey: "AKIDBOB", SecretKey: "bob-secret", User: "bob"}
	creds = sigv4.StaticCredentials{alice.AccessKey: alice, bob.AccessKey: bob}
)

// env is a test cluster with a gateway in front of it.
type env struct {
	t   testing.TB
	ctx context.Context
	tc  *testcluster.Cluster
	cl  *client.Client
	g   *Gateway
	srv *httptest.Server
}

// testBlockSize is small, so that objects span several blocks and
// joined parts have blocks of different lengths.
const testBlockSize = 1 << 20

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvBlockSize(t, testBlockSize)
}

func newEnvBlockSize(t testing.TB, blockSize int64) *env {
	t.Helper()
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1, BlockSize: blockSize})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, tc: tc, cl: tc.Client(t)}
	e.restart()
	return e
}

// restart replaces the gateway by a new one on the same cluster, as a
// restarted `cairn s3` would be.
func (e *env) restart() {
	e.t.Helper()
	if e.srv != nil {
		e.srv.Close()
	}
	g, err := New(Config{Client: e.cl, Credentials: creds, Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.g = g
	e.srv = httptest.NewServer(g)
	e.t.Cleanup(e.srv.Close)
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// resp is an answer of the gateway, read whole.
type resp struct {
	status int
	h      http.Header
	body   []byte
}

// code is the S3 error code of an error body.
func (r *resp) code() string {
	var e s3.ErrorResponse
	if xml.Unmarshal(r.body, &e) != nil {
		return ""
	}
	return e.Code
}

func (r *resp) String() string {
	b := r.body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

// req is a request to make: headers, body and who signs it.
type req struct {
	method, target string // target: "/bucket/key?query", escaped
	body           []byte
	h              map[string]string
	cred           *sigv4.Credential // nil: alice; &sigv4.Credential{}: unsigned
	unsigned       bool              // UNSIGNED-PAYLOAD instead of the body's SHA-256
}

func (e *env) do(r req) *resp {
	e.t.Helper()
	hr, err := http.NewRequestWithContext(e.ctx, r.method, e.srv.URL+r.target, bytes.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.ContentLength = int64(len(r.body))
	for k, v := range r.h {
		hr.Header.Set(k, v)
	}
	cred := alice
	if r.cred != nil {
		cred = *r.cred
	}
	if cred.AccessKey != "" {
		payload := sigv4.UnsignedPayload
		if !r.unsigned {
			sum := sha256.Sum256(r.body)
			payload = hex.EncodeToString(sum[:])
		}
		if err := (sigv4.Signer{Credential: cred}).Sign(hr, payload); err != nil {
			e.t.Fatal(err)
		}
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading the body: %v", r.method, r.target, err)
	}
	return &resp{status: res.StatusCode, h: res.Header, body: body}
}

// ok makes a request that must succeed with status 2xx.
func (e *env) ok(r req) *resp {
	e.t.Helper()
	res := e.do(r)
	if res.status/100 != 2 {
		e.t.Fatalf("%s %s = %v, want success", r.method, r.target, res)
	}
	return res
}

// fails makes a request that must fail with status and code.
func (e *env) fails(r req, status int, code string) *resp {
	e.t.Helper()
	res := e.do(r)
	if res.status != status || (code != "" && res.code() != code) {
		e.t.Errorf("%s %s = %v, want %d %s", r.method, r.target, res, status, code)
	}
	return res
}

func (e *env) put(bucket, key string, data []byte, h map[string]string) *resp {
	e.t.Helper()
	return e.ok(req{method: "PUT", target: "/" + bucket + "/" + escapeKey(key), body: data, h: h})
}

func (e *env) get(bucket, key string) []byte {
	e.t.Helper()
	return e.ok(req{method: "GET", target: "/" + bucket + "/" + escapeKey(key)}).body
}

// escapeKey escapes a key for a URL path, keeping its slashes.
func escapeKey(key string) string {
	return strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func contentMD5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func unmarshal(t testing.TB, r *resp, v any) {
	t.Helper()
	if err := xml.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %s: %v", r, err)
	}
}

// exists reports whether a path of the namespace exists.
func (e *env) exists(p string) bool {
	_, err := e.cl.Stat(e.ctx, p)
	return err == nil
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/auth"})
	t.Run("an unsigned request is AccessDenied", func(t *testing.T) {
		e.fails(req{method: "GET", target: "/", cred: &sigv4.Credential{}}, 403, "AccessDenied")
		e.fails(req{method: "GET", target: "/auth/x", cred: &sigv4.Credential{}}, 403, "AccessDenied")
	})
	t.Run("a wrong secret is SignatureDoesNotMatch", func(t *testing.T) {
		e.fails(req{method: "GET", target: "/", cred: &sigv4.Credential{AccessKey: alice.AccessKey, SecretKey: "wrong"}}, 403, "SignatureDoesNotMatch")
	})
	t.Run("an unknown access key is InvalidAccessKeyId", func(t *testing.T) {
		e.fails(req{method: "GET", target: "/", cred: &sigv4.Credential{AccessKey: "NOBODY", SecretKey: "x"}}, 403, "InvalidAccessKeyId")
	})
	t.Run("a body that is not the one signed is XAmzContentSHA256Mismatch and leaves nothing", func(t *testing.T) {
		hr, _ := http.NewRequest("PUT", e.srv.URL+"/auth/tampered", strings.NewReader("the real body"))
		sum := sha256.Sum256([]byte("another body!"))
		(sigv4.Signer{Credential: alice}).Sign(hr, hex.EncodeToString(sum[:]))
		res, err := e.srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !bytes.Contains(body, []byte("XAmzContentSHA256Mismatch")) {
			t.Errorf("PUT with a tampered body = %d %s", res.StatusCode, body)
		}
		if e.exists("/s3/auth/tampered") {
			t.Error("a PUT whose body failed its check left an object")
		}
	})
	t.Run("a wrong Content-MD5 is BadDigest", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/auth/md5", body: []byte("data"), h: map[string]string{"Content-MD5": contentMD5([]byte("other"))}}, 400, "BadDigest")
		e.fails(req{method: "GET", target: "/auth/md5"}, 404, "NoSuchKey")
	})
	t.Run("a presigned URL reads the object it names and no other", func(t *testing.T) {
		e.put("auth", "dir/x y.txt", []byte("presigned body"), nil)
		hr, _ := http.NewRequest("GET", e.srv.URL+"/auth/dir/x%20y.txt", nil)
		if err := (sigv4.Signer{Credential: alice}).Presign(hr, time.Minute); err != nil {
			t.Fatal(err)
		}
		res, err := http.Get(hr.URL.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "presigned body" {
			t.Errorf("presigned GET = %d %q", res.StatusCode, body)
		}
		put, _ := http.NewRequest("PUT", e.srv.URL+"/auth/up%20load.txt", nil)
		if err := (sigv4.Signer{Credential: alice}).Presign(put, time.Minute); err != nil {
			t.Fatal(err)
		}
		put.Body, put.ContentLength = io.NopCloser(strings.NewReader("uploaded")), 8
		pres, err := http.DefaultClient.Do(put)
		if err != nil {
			t.Fatal(err)
		}
		pres.Body.Close()
		if pres.StatusCode != 200 {
			t.Fatalf("presigned PUT = %d", pres.StatusCode)
		}
		if got := e.get("auth", "up load.txt"); string(got) != "uploaded" {
			t.Errorf("after a presigned PUT: %q", got)
		}
		res, err = http.Get(strings.Replace(hr.URL.String(), "x%20y.txt", "other", 1))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 403 || !bytes.Contains(body, []byte("SignatureDoesNotMatch")) {
			t.Errorf("presigned GET of another key = %d %s", res.StatusCode, body)
		}
	})
	t.Run("a virtual-hosted-style request names the bucket in its host", func(t *testing.T) {
		g, err := New(Config{Client: e.cl, Credentials: creds, Domains: []string{"s3.test"}, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(g)
		defer srv.Close()
		hr, _ := http.NewRequest("GET", srv.URL+"/dir/x%20y.txt", nil)
		hr.Host = "auth.s3.test"
		(sigv4.Signer{Credential: alice}).Sign(hr, sigv4.UnsignedPayload)
		res, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "presigned body" {
			t.Errorf("virtual-hosted GET = %d %q", res.StatusCode, body)
		}
	})
	t.Run("every answer has a request ID, Date and Server", func(t *testing.T) {
		for _, r := range []*resp{e.do(req{method: "GET", target: "/"}), e.do(req{method: "GET", target: "/", cred: &sigv4.Credential{}}), e.do(req{method: "HEAD", target: "/auth/none"})} {
			for _, h := range []string{"X-Amz-Request-Id", "X-Amz-Id-2", "Date", "Server"} {
				if r.h.Get(h) == "" {
					t.Errorf("answer %d has no %s", r.status, h)
				}
			}
		}
	})
}

func TestBuckets(t *testing.T) {
	e := newEnv(t)
	t.Run("a bucket is a directory of the root owned by its creator", func(t *testing.T) {
		res := e.ok(req{method: "PUT", target: "/photos", body: []byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`)})
		if res.h.Get("Location") != "/photos" {
			t.Errorf("Location = %q", res.h.Get("Location"))
		}
		fi, err := e.cl.Stat(e.ctx, "/s3/photos")
		if err != nil || !fi.IsDir || fi.Owner != "alice" {
			t.Errorf("Stat(/s3/photos) = %+v, %v; want a directory of alice", fi, err)
		}
	})
	t.Run("creating it again is BucketAlreadyOwnedByYou, or BucketAlreadyExists for another user", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/photos"}, 409, "BucketAlreadyOwnedByYou")
		e.fails(req{method: "PUT", target: "/photos", cred: &bob}, 409, "BucketAlreadyExists")
	})
	t.Run("bad names and other regions are refused", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/Bad_Name"}, 400, "InvalidBucketName")
		e.fails(req{method: "PUT", target: "/elsewhere", body: []byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)}, 400, "IllegalLocationConstraintException")
		e.fails(req{method: "PUT", target: "/badxml", body: []byte(`<CreateBucketConfiguration>`)}, 400, "MalformedXML")
		if e.exists("/s3/elsewhere") || e.exists("/s3/badxml") {
			t.Error("a refused CreateBucket made a directory")
		}
	})
	t.Run("HeadBucket, location, versioning and acl", func(t *testing.T) {
		if res := e.ok(req{method: "HEAD", target: "/photos"}); res.h.Get("X-Amz-Bucket-Region") != "us-east-1" {
			t.Errorf("HEAD bucket region = %q", res.h.Get("X-Amz-Bucket-Region"))
		}
		e.fails(req{method: "HEAD", target: "/nothing-here"}, 404, "")
		e.fails(req{method: "GET", target: "/nothing-here"}, 404, "NoSuchBucket")
		var lc s3.LocationConstraint
		unmarshal(t, e.ok(req{method: "GET", target: "/photos?location"}), &lc)
		if lc.Region != "" {
			t.Errorf("location = %q, want empty for us-east-1", lc.Region)
		}
		if res := e.ok(req{method: "GET", target: "/photos?versioning"}); !bytes.Contains(res.body, []byte("<VersioningConfiguration")) || bytes.Contains(res.body, []byte("<Status>")) {
			t.Errorf("versioning = %s", res.body)
		}
		if res := e.ok(req{method: "GET", target: "/photos?acl"}); !bytes.Contains(res.body, []byte("<Permission>FULL_CONTROL</Permission>")) || !bytes.Contains(res.body, []byte("<ID>alice</ID>")) {
			t.Errorf("acl = %s", res.body)
		}
		e.fails(req{method: "GET", target: "/photos?policy"}, 404, "NoSuchBucketPolicy")
		e.fails(req{method: "PUT", target: "/photos?policy", body: []byte("{}")}, 501, "NotImplemented")
		e.fails(req{method: "GET", target: "/photos?website"}, 501, "NotImplemented")
	})
	t.Run("ListBuckets lists the directories of the root with valid names", func(t *testing.T) {
		e.ok(req{method: "PUT", target: "/archive"})
		if err := e.cl.Mkdir(e.ctx, "/s3/Not_A_Bucket", 0); err != nil {
			t.Fatal(err)
		}
		if err := e.cl.Touch(e.ctx, "/s3/a-file"); err != nil {
			t.Fatal(err)
		}
		var res s3.ListAllMyBucketsResult
		unmarshal(t, e.ok(req{method: "GET", target: "/"}), &res)
		var names []string
		for _, b := range res.Buckets.Bucket {
			names = append(names, b.Name)
			if time.Since(time.Time(b.CreationDate)) > time.Minute {
				t.Errorf("bucket %s created %v", b.Name, time.Time(b.CreationDate))
			}
		}
		if fmt.Sprint(names) != "[archive photos]" || res.Owner.ID != "alice" {
			t.Errorf("ListBuckets = %v owner %v, want [archive photos] alice", names, res.Owner)
		}
	})
	t.Run("DeleteBucket refuses a bucket with an object or an upload, and removes the gateway's state", func(t *testing.T) {
		e.put("archive", "k", []byte("v"), nil)
		e.fails(req{method: "DELETE", target: "/archive"}, 409, "BucketNotEmpty")
		e.ok(req{method: "DELETE", target: "/archive/k"})
		var up s3.InitiateMultipartUploadResult
		unmarshal(t, e.ok(req{method: "POST", target: "/archive/big?uploads"}), &up)
		e.fails(req{method: "DELETE", target: "/archive"}, 409, "BucketNotEmpty")
		e.ok(req{method: "DELETE", target: "/archive/big?uploadId=" + up.UploadID})
		if !e.exists("/s3/archive/.cairn-s3") {
			t.Fatal("no state directory after a PUT and an upload")
		}
		if res := e.ok(req{method: "DELETE", target: "/archive"}); res.status != 204 {
			t.Errorf("DeleteBucket = %d, want 204", res.status)
		}
		if e.exists("/s3/archive") {
			t.Error("the bucket's directory is still there")
		}
		e.fails(req{method: "DELETE", target: "/archive"}, 404, "NoSuchBucket")
	})
}

func TestObjects(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/objs"})
	data := randomBytes(1, 2*testBlockSize+1234)
	etag := `"` + md5hex(data) + `"`
	var modified time.Time

	t.Run("PutObject stores the bytes, the metadata and the MD5 ETag", func(t *testing.T) {
		res := e.put("objs", "dir/sub/data.bin", data, map[string]string{
			"Content-Type": "application/x-test", "X-Amz-Meta-Origin": "test", "X-Amz-Meta-Two-Words": "a b",
			"Cache-Control": "no-cache", "Content-Disposition": `attachment; filename="d.bin"`,
			"Content-MD5": contentMD5(data),
		})
		if got := res.h.Get("ETag"); got != etag {
			t.Errorf("ETag = %s, want %s", got, etag)
		}
		fi, err := e.cl.StatWith(e.ctx, "/s3/objs/dir/sub/data.bin", client.StatOptions{XAttrs: true})
		if err != nil || fi.Size != int64(len(data)) || fi.Owner != "alice" {
			t.Fatalf("the object's file: %+v, %v", fi, err)
		}
		if string(fi.XAttrs["user.s3.content-type"]) != "application/x-test" || !strings.Contains(string(fi.XAttrs["user.s3.headers"]), "x-amz-meta-origin: test") {
			t.Errorf("the object's attributes: %q", fi.XAttrs)
		}
		modified = fi.ModTime
		// Nothing is left in the temporary directory.
		if page, _, _ := e.cl.ListPage(e.ctx, "/s3/objs/.cairn-s3/tmp", "", 10); len(page) != 0 {
			t.Errorf("temporary files left: %v", page)
		}
	})
	t.Run("GetObject and HeadObject return them", func(t *testing.T) {
		res := e.ok(req{method: "GET", target: "/objs/dir/sub/data.bin"})
		if !bytes.Equal(res.body, data) {
			t.Fatalf("GET returned %d bytes, not the %d put", len(res.body), len(data))
		}
		for k, want := range map[string]string{
			"ETag": etag, "Content-Type": "application/x-test", "X-Amz-Meta-Origin": "test", "X-Amz-Meta-Two-Words": "a b",
			"Cache-Control": "no-cache", "Content-Disposition": `attachment; filename="d.bin"`, "Accept-Ranges": "bytes",
			"Content-Length": fmt.Sprint(len(data)), "Last-Modified": s3.HTTPTime(modified),
		} {
			if got := res.h.Get(k); got != want {
				t.Errorf("GET header %s = %q, want %q", k, got, want)
			}
		}
		head := e.ok(req{method: "HEAD", target: "/objs/dir/sub/data.bin"})
		if len(head.body) != 0 || head.h.Get("ETag") != etag || head.h.Get("Content-Length") != fmt.Sprint(len(data)) {
			t.Errorf("HEAD = %d bytes of body, ETag %s, length %s", len(head.body), head.h.Get("ETag"), head.h.Get("Content-Length"))
		}
		e.fails(req{method: "GET", target: "/objs/dir/sub/missing"}, 404, "NoSuchKey")
		e.fails(req{method: "GET", target: "/objs/dir/sub"}, 404, "NoSuchKey")
		e.fails(req{method: "GET", target: "/objs/dir/sub/"}, 404, "NoSuchKey")
		e.fails(req{method: "HEAD", target: "/objs/missing"}, 404, "")
		e.fails(req{method: "GET", target: "/nobucket/x"}, 404, "NoSuchBucket")
	})
	t.Run("response-* parameters override headers", func(t *testing.T) {
		res := e.ok(req{method: "GET", target: "/objs/dir/sub/data.bin?response-content-type=text%2Fplain&response-content-disposition=inline"})
		if res.h.Get("Content-Type") != "text/plain" || res.h.Get("Content-Disposition") != "inline" {
			t.Errorf("overridden headers: %q %q", res.h.Get("Content-Type"), res.h.Get("Content-Disposition"))
		}
	})
	t.Run("a Range is served with 206 and Content-Range, or refused with 416", func(t *testing.T) {
		n := len(data)
		for _, c := range []struct {
			rng        string
			start, end int // inclusive
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=10-99", 10, 99},
			{fmt.Sprintf("bytes=%d-", testBlockSize-5), testBlockSize - 5, n - 1},
			{"bytes=-100", n - 100, n - 1},
			{fmt.Sprintf("bytes=100-%d", n+1000), 100, n - 1},
		} {
			res := e.ok(req{method: "GET", target: "/objs/dir/sub/data.bin", h: map[string]string{"Range": c.rng}})
			wantCR := fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, n)
			if res.status != 206 || res.h.Get("Content-Range") != wantCR || !bytes.Equal(res.body, data[c.start:c.end+1]) {
				t.Errorf("Range %s = %d, Content-Range %q (want %q), %d bytes", c.rng, res.status, res.h.Get("Content-Range"), wantCR, len(res.body))
			}
		}
		e.fails(req{method: "GET", target: "/objs/dir/sub/data.bin", h: map[string]string{"Range": fmt.Sprintf("bytes=%d-", n)}}, 416, "InvalidRange")
		if res := e.ok(req{method: "GET", target: "/objs/dir/sub/data.bin", h: map[string]string{"Range": "bytes=0-1,5-6"}}); res.status != 200 || len(res.body) != n {
			t.Errorf("several ranges = %d with %d bytes, want the whole object", res.status, len(res.body))
		}
	})
	t.Run("conditional requests follow S3's precedence", func(t *testing.T) {
		past := s3.HTTPTime(modified.Add(-time.Hour))
		future := s3.HTTPTime(modified.Add(time.Hour))
		for _, c := range []struct {
			h      map[string]string
			status int
		}{
			{map[string]string{"If-Match": etag}, 200},
			{map[string]string{"If-Match": `"0123"`}, 412},
			{map[string]string{"If-Match": "*"}, 200},
			{map[string]string{"If-None-Match": etag}, 304},
			{map[string]string{"If-None-Match": `"0123"`}, 200},
			{map[string]string{"If-Modified-Since": future}, 304},
			{map[string]string{"If-Modified-Since": past}, 200},
			{map[string]string{"If-Unmodified-Since": past}, 412},
			{map[string]string{"If-Unmodified-Since": future}, 200},
			// If-Match true wins over If-Unmodified-Since false.
			{map[string]string{"If-Match": etag, "If-Unmodified-Since": past}, 200},
			// If-None-Match false wins over If-Modified-Since false.
			{map[string]string{"If-None-Match": `"0123"`, "If-Modified-Since": future}, 200},
			// 412 before 304.
			{map[string]string{"If-Match": `"0123"`, "If-None-Match": etag}, 412},
		} {
			for _, m := range []string{"GET", "HEAD"} {
				res := e.do(req{method: m, target: "/objs/dir/sub/data.bin", h: c.h})
				if res.status != c.status {
					t.Errorf("%s with %v = %d, want %d", m, c.h, res.status, c.status)
				}
				if c.status == 304 && (len(res.body) != 0 || res.h.Get("ETag") != etag) {
					t.Errorf("%s with %v: 304 with a body of %d bytes and ETag %q", m, c.h, len(res.body), res.h.Get("ETag"))
				}
				if c.status == 412 && m == "GET" && res.code() != "PreconditionFailed" {
					t.Errorf("%s with %v: code %q", m, c.h, res.code())
				}
			}
		}
	})
	t.Run("an object is replaced whole by a new PUT, without the old metadata", func(t *testing.T) {
		e.put("objs", "replace.txt", []byte("version 1"), map[string]string{"X-Amz-Meta-Old": "yes", "Content-Type": "text/old"})
		e.put("objs", "replace.txt", []byte("version 2"), nil)
		res := e.ok(req{method: "GET", target: "/objs/replace.txt"})
		if string(res.body) != "version 2" || res.h.Get("X-Amz-Meta-Old") != "" || res.h.Get("Content-Type") != "binary/octet-stream" {
			t.Errorf("after a second PUT: %q, meta %q, type %q", res.body, res.h.Get("X-Amz-Meta-Old"), res.h.Get("Content-Type"))
		}
	})
	t.Run("conditional writes: If-None-Match * creates only, If-Match replaces only that version", func(t *testing.T) {
		e.put("objs", "cond", []byte("one"), map[string]string{"If-None-Match": "*"})
		e.fails(req{method: "PUT", target: "/objs/cond", body: []byte("two"), h: map[string]string{"If-None-Match": "*"}}, 412, "PreconditionFailed")
		e.fails(req{method: "PUT", target: "/objs/cond", body: []byte("two"), h: map[string]string{"If-Match": `"` + md5hex([]byte("zzz")) + `"`}}, 412, "PreconditionFailed")
		e.put("objs", "cond", []byte("three"), map[string]string{"If-Match": `"` + md5hex([]byte("one")) + `"`})
		if got := e.get("objs", "cond"); string(got) != "three" {
			t.Errorf("after conditional writes: %q", got)
		}
		if page, _, _ := e.cl.ListPage(e.ctx, "/s3/objs/.cairn-s3/tmp", "", 10); len(page) != 0 {
			t.Errorf("temporary files left: %v", page)
		}
	})
	t.Run("an empty object", func(t *testing.T) {
		res := e.put("objs", "empty", nil, nil)
		if res.h.Get("ETag") != `"d41d8cd98f00b204e9800998ecf8427e"` {
			t.Errorf("ETag of an empty object = %s", res.h.Get("ETag"))
		}
		if got := e.ok(req{method: "GET", target: "/objs/empty"}); len(got.body) != 0 || got.h.Get("Content-Length") != "0" {
			t.Errorf("GET empty = %q, length %s", got.body, got.h.Get("Content-Length"))
		}
		e.fails(req{method: "GET", target: "/objs/empty", h: map[string]string{"Range": "bytes=0-"}}, 416, "InvalidRange")
	})
	t.Run("DeleteObject answers 204, present or not, and removes emptied directories", func(t *testing.T) {
		e.put("objs", "deep/a/b/c.txt", []byte("c"), nil)
		e.put("objs", "deep/keep.txt", []byte("k"), nil)
		if res := e.ok(req{method: "DELETE", target: "/objs/deep/a/b/c.txt"}); res.status != 204 {
			t.Errorf("DELETE = %d, want 204", res.status)
		}
		if e.exists("/s3/objs/deep/a") || !e.exists("/s3/objs/deep/keep.txt") {
			t.Errorf("after the delete: deep/a exists %v, deep/keep.txt exists %v", e.exists("/s3/objs/deep/a"), e.exists("/s3/objs/deep/keep.txt"))
		}
		if res := e.ok(req{method: "DELETE", target: "/objs/deep/never-there"}); res.status != 204 {
			t.Errorf("DELETE of a missing key = %d, want 204", res.status)
		}
		e.ok(req{method: "DELETE", target: "/objs/deep/keep.txt"})
		if e.exists("/s3/objs/deep") || !e.exists("/s3/objs") {
			t.Error("the emptied prefix is still there, or the bucket went too")
		}
		// A key that is a directory of other keys is not deleted.
		e.put("objs", "p/q", []byte("q"), nil)
		e.ok(req{method: "DELETE", target: "/objs/p"})
		if !e.exists("/s3/objs/p/q") {
			t.Error("DELETE p removed p/q")
		}
		e.fails(req{method: "DELETE", target: "/none/x"}, 404, "NoSuchBucket")
	})
	t.Run("keys that the tree cannot hold are refused and change nothing", func(t *testing.T) {
		e.put("objs", "tree/leaf", []byte("leaf"), nil)
		e.put("objs", "file", []byte("file"), nil)
		for _, c := range []struct{ key, code string }{
			{"tree", "InvalidArgument"},       // a directory of other keys
			{"file/below", "InvalidArgument"}, // below an object
			{"file/below/more", "InvalidArgument"},
			{"a//b", "InvalidArgument"},
			{".cairn-s3/x", "InvalidArgument"},
			{"x/./y", "InvalidArgument"},
			{strings.Repeat("k", 1025), "KeyTooLongError"},
		} {
			res := e.fails(req{method: "PUT", target: "/objs/" + escapeKey(c.key), body: []byte("x")}, 400, c.code)
			if c.code == "InvalidArgument" && !bytes.Contains(res.body, []byte("cannot be stored in cairn")) {
				t.Errorf("PUT %q: the message does not explain: %s", c.key, res.body)
			}
		}
		if string(e.get("objs", "tree/leaf")) != "leaf" || string(e.get("objs", "file")) != "file" {
			t.Error("a refused PUT changed the objects in its way")
		}
		if page, _, _ := e.cl.ListPage(e.ctx, "/s3/objs/.cairn-s3/tmp", "", 10); len(page) != 0 {
			t.Errorf("temporary files left: %v", page)
		}
	})
	t.Run("a folder marker is a directory, kept until deleted itself", func(t *testing.T) {
		res := e.put("objs", "folder/", nil, map[string]string{"Content-Type": "application/x-directory"})
		if res.h.Get("ETag") != `"d41d8cd98f00b204e9800998ecf8427e"` {
			t.Errorf("folder ETag = %s", res.h.Get("ETag"))
		}
		if fi, err := e.cl.Stat(e.ctx, "/s3/objs/folder"); err != nil || !fi.IsDir {
			t.Fatalf("folder/ is %+v, %v; want a directory", fi, err)
		}
		if got := e.ok(req{method: "HEAD", target: "/objs/folder/"}); got.h.Get("Content-Type") != "application/x-directory" {
			t.Errorf("HEAD folder/ type = %q", got.h.Get("Content-Type"))
		}
		e.put("objs", "folder/in.txt", []byte("in"), nil)
		e.ok(req{method: "DELETE", target: "/objs/folder/in.txt"})
		if !e.exists("/s3/objs/folder") {
			t.Error("deleting the last key below a marked folder removed the folder")
		}
		e.fails(req{method: "PUT", target: "/objs/folder2/", body: []byte("data")}, 400, "InvalidArgument")
		e.ok(req{method: "DELETE", target: "/objs/folder/"})
		if e.exists("/s3/objs/folder") {
			t.Error("DELETE folder/ left the directory")
		}
	})
	t.Run("metadata beyond S3's limits is MetadataTooLarge", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/objs/meta", body: []byte("x"), h: map[string]string{"X-Amz-Meta-Big": strings.Repeat("m", 2100)}}, 400, "MetadataTooLarge")
		e.fails(req{method: "PUT", target: "/objs/meta", body: []byte("x"), h: map[string]string{"Content-Disposition": strings.Repeat("d", 9000)}}, 400, "MetadataTooLarge")
	})
	t.Run("unsupported features are refused, not ignored", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/objs/sse", body: []byte("x"), h: map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}}, 501, "NotImplemented")
		e.fails(req{method: "PUT", target: "/objs/sse?tagging", body: []byte("<Tagging/>")}, 501, "NotImplemented")
		e.fails(req{method: "GET", target: "/objs/replace.txt?versionId=abc"}, 404, "NoSuchVersion")
		e.fails(req{method: "POST", target: "/"}, 405, "MethodNotAllowed")
		if res := e.ok(req{method: "GET", target: "/objs/replace.txt?tagging"}); !bytes.Contains(res.body, []byte("<TagSet></TagSet>")) {
			t.Errorf("GET ?tagging = %s", res.body)
		}
	})
}

// TestOutsideFiles: files written with the client (cairn fs) are
// objects, with an ETag made of their blocks that stays the same until
// their content changes.
func TestOutsideFiles(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/ext"})
	data := randomBytes(2, 3*testBlockSize+77)
	write := func(p string, data []byte) {
		w, err := e.cl.Create(e.ctx, p, &client.CreateOptions{CreateParent: true, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("/s3/ext/logs/day1.log", data)
	res := e.ok(req{method: "GET", target: "/ext/logs/day1.log"})
	if !bytes.Equal(res.body, data) {
		t.Fatalf("GET of a file written by the client: %d bytes, want %d", len(res.body), len(data))
	}
	etag := res.h.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}-4"$`).MatchString(etag) || res.h.Get("Content-Type") != "binary/octet-stream" {
		t.Errorf("ETag %s, type %s; want a blocks ETag of 4 blocks", etag, res.h.Get("Content-Type"))
	}
	var list s3.ListBucketResultV2
	unmarshal(t, e.ok(req{method: "GET", target: "/ext?list-type=2"}), &list)
	if len(list.Contents) != 1 || list.Contents[0].ETag != etag || list.Contents[0].Size != int64(len(data)) || list.Contents[0].Key != "logs/day1.log" {
		t.Errorf("listing = %+v, want logs/day1.log with ETag %s", list.Contents, etag)
	}
	if again := e.ok(req{method: "HEAD", target: "/ext/logs/day1.log"}).h.Get("ETag"); again != etag {
		t.Errorf("the ETag changed from %s to %s without a change of the file", etag, again)
	}
	e.fails(req{method: "GET", target: "/ext/logs/day1.log", h: map[string]string{"If-None-Match": etag}}, 304, "")
	write("/s3/ext/logs/day1.log", data[:100])
	if again := e.ok(req{method: "HEAD", target: "/ext/logs/day1.log"}).h.Get("ETag"); again == etag {
		t.Error("the ETag did not change with the content")
	}
	// A copy of it is an S3 object with the MD5 of its bytes.
	var cp s3.CopyObjectResult
	unmarshal(t, e.ok(req{method: "PUT", target: "/ext/copy.log", h: map[string]string{"X-Amz-Copy-Source": "/ext/logs/day1.log"}}), &cp)
	if cp.ETag != `"`+md5hex(data[:100])+`"` || !bytes.Equal(e.get("ext", "copy.log"), data[:100]) {
		t.Errorf("copy of an outside file: ETag %s", cp.ETag)
	}
	// An object written through S3 then appended to outside falls back
	// to its blocks ETag.
	e.put("ext", "s3.txt", []byte("from s3"), nil)
	write("/s3/ext/s3.txt", []byte("from cairn fs"))
	if got := e.ok(req{method: "HEAD", target: "/ext/s3.txt"}).h.Get("ETag"); got == `"`+md5hex([]byte("from s3"))+`"` {
		t.Error("a file rewritten outside S3 kept the ETag of its S3 version")
	}
}

// bruteList is S3's listing of keys by brute force: sorted byte-wise,
// rolled up by the delimiter.
func bruteList(keys []string, prefix, delim string) (contents, prefixes []string) {
	keys = slices.Clone(keys)
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if len(prefixes) == 0 || prefixes[len(prefixes)-1] != cp {
					prefixes = append(prefixes, cp)
				}
				continue
			}
		}
		contents = append(contents, k)
	}
	return contents, prefixes
}

func TestListObjects(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/list"})
	keys := []string{"a", "a-b", "a.c", "a0", "b/b", "c d", "ünï/ключ", "plus+sign", "x/y/z", "x/y-z", "x/y0", "x-y"}
	for i := range 25 {
		keys = append(keys, fmt.Sprintf("many/%02d", i), fmt.Sprintf("many-%02d", i))
	}
	// "a/b" next to "a-b": S3 order is not the order of a walk.
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "a" })
	keys = append(keys, "a/b", "a/d/", "a/c", "e/", "e/f")
	etags := map[string]string{}
	for _, k := range keys {
		var body []byte
		if !strings.HasSuffix(k, "/") {
			body = []byte("body of " + k)
		}
		etags[k] = e.put("list", k, body, nil).h.Get("ETag")
	}

	// listAll pages through a listing with max-keys n.
	listAll := func(t *testing.T, v2 bool, query string, n int) (contents, prefixes []string) {
		t.Helper()
		token, marker := "", ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("the listing does not end")
			}
			q := fmt.Sprintf("max-keys=%d&%s", n, query)
			if v2 {
				q += "&list-type=2"
				if token != "" {
					q += "&continuation-token=" + url.QueryEscape(token)
				}
			} else if marker != "" {
				q += "&marker=" + url.QueryEscape(marker)
			}
			res := e.ok(req{method: "GET", target: "/list?" + q})
			var page s3.ListBucketResultV2
			var v1 s3.ListBucketResult
			if v2 {
				unmarshal(t, res, &page)
			} else {
				unmarshal(t, res, &v1)
				page = s3.ListBucketResultV2{IsTruncated: v1.IsTruncated, Contents: v1.Contents, CommonPrefixes: v1.CommonPrefixes}
			}
			if len(page.Contents)+len(page.CommonPrefixes) > n {
				t.Fatalf("a page of max-keys %d has %d entries", n, len(page.Contents)+len(page.CommonPrefixes))
			}
			for _, o := range page.Contents {
				contents = append(contents, o.Key)
				if o.ETag != etags[o.Key] {
					t.Errorf("listed %q with ETag %s, want %s", o.Key, o.ETag, etags[o.Key])
				}
			}
			for _, p := range page.CommonPrefixes {
				prefixes = append(prefixes, p.Prefix)
			}
			if !page.IsTruncated {
				return contents, prefixes
			}
			if v2 {
				token = page.NextContinuationToken
			} else if v1.NextMarker != "" {
				marker = v1.NextMarker
			} else {
				marker = contents[len(contents)-1]
			}
		}
	}
	for _, c := range []struct {
		prefix, delim string
	}{
		{"", ""}, {"", "/"}, {"a", ""}, {"a", "/"}, {"x/", "/"}, {"many", "/"}, {"many/", ""}, {"x/y", "/"}, {"a/b", ""},
	} {
		wantC, wantP := bruteList(keys, c.prefix, c.delim)
		for _, v2 := range []bool{true, false} {
			for _, n := range []int{1, 7, 1000} {
				q := "prefix=" + url.QueryEscape(c.prefix) + "&delimiter=" + url.QueryEscape(c.delim)
				gotC, gotP := listAll(t, v2, q, n)
				if !slices.Equal(gotC, wantC) || !slices.Equal(gotP, wantP) {
					t.Errorf("list (v2 %v, prefix %q, delimiter %q, max-keys %d) =\n%q %q\nwant\n%q %q", v2, c.prefix, c.delim, n, gotC, gotP, wantC, wantP)
				}
			}
		}
	}
	t.Run("start-after, encoding-type=url and fetch-owner", func(t *testing.T) {
		var res s3.ListBucketResultV2
		unmarshal(t, e.ok(req{method: "GET", target: "/list?list-type=2&start-after=x%2Fy&prefix=x&fetch-owner=true&encoding-type=url"}), &res)
		var got []string
		for _, o := range res.Contents {
			got = append(got, o.Key)
			if o.Owner == nil || o.Owner.ID != "alice" {
				t.Errorf("owner of %s = %v", o.Key, o.Owner)
			}
		}
		if fmt.Sprint(got) != "[x/y-z x/y/z x/y0]" || res.EncodingType != "url" {
			t.Errorf("start-after x/y = %q (encoding %q)", got, res.EncodingType)
		}
		var enc s3.ListBucketResultV2
		unmarshal(t, e.ok(req{method: "GET", target: "/list?list-type=2&prefix=%C3%BC&encoding-type=url"}), &enc)
		if len(enc.Contents) != 1 || enc.Contents[0].Key != "%C3%BCn%C3%AF/%D0%BA%D0%BB%D1%8E%D1%87" {
			t.Errorf("url-encoded listing = %+v", enc.Contents)
		}
		var plain s3.ListBucketResultV2
		unmarshal(t, e.ok(req{method: "GET", target: "/list?list-type=2&prefix=a&max-keys=2"}), &plain)
		if plain.Contents[0].Owner != nil {
			t.Error("ListObjectsV2 without fetch-owner gave owners")
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		e.fails(req{method: "GET", target: "/list?max-keys=-1"}, 400, "InvalidArgument")
		e.fails(req{method: "GET", target: "/list?encoding-type=base64"}, 400, "InvalidArgument")
		e.fails(req{method: "GET", target: "/list?list-type=2&continuation-token=bogus!"}, 400, "InvalidArgument")
		e.fails(req{method: "GET", target: "/nolist?list-type=2"}, 404, "NoSuchBucket")
	})
	t.Run("a marker that is not UTF-8 still lists", func(t *testing.T) {
		all, _ := bruteList(keys, "", "")
		for _, marker := range []string{"a\xff", "many-0\xc3", "many-1\xc3\x28"} {
			var res s3.ListBucketResult
			unmarshal(t, e.ok(req{method: "GET", target: "/list?marker=" + url.QueryEscape(marker)}), &res)
			var got, want []string
			for _, o := range res.Contents {
				got = append(got, o.Key)
			}
			for _, k := range all {
				if k > marker {
					want = append(want, k)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("marker %q: %q, want %q", marker, got, want)
			}
		}
	})
}

func TestCopyObject(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/src"})
	e.ok(req{method: "PUT", target: "/dst"})
	data := randomBytes(3, testBlockSize+99)
	etag := e.put("src", "dir/orig name.bin", data, map[string]string{"Content-Type": "app/orig", "X-Amz-Meta-A": "1"}).h.Get("ETag")
	source := "/src/" + url.PathEscape("dir/orig name.bin")

	t.Run("COPY keeps the metadata", func(t *testing.T) {
		var res s3.CopyObjectResult
		unmarshal(t, e.ok(req{method: "PUT", target: "/dst/copy.bin", h: map[string]string{"X-Amz-Copy-Source": source}}), &res)
		if res.ETag != etag {
			t.Errorf("copy ETag = %s, want %s", res.ETag, etag)
		}
		got := e.ok(req{method: "GET", target: "/dst/copy.bin"})
		if !bytes.Equal(got.body, data) || got.h.Get("Content-Type") != "app/orig" || got.h.Get("X-Amz-Meta-A") != "1" {
			t.Errorf("copy: %d bytes, type %q, meta %q", len(got.body), got.h.Get("Content-Type"), got.h.Get("X-Amz-Meta-A"))
		}
	})
	t.Run("REPLACE takes the request's", func(t *testing.T) {
		e.ok(req{method: "PUT", target: "/dst/replaced.bin", h: map[string]string{"X-Amz-Copy-Source": "src/" + url.PathEscape("dir/orig name.bin"),
			"X-Amz-Metadata-Directive": "REPLACE", "Content-Type": "app/new", "X-Amz-Meta-B": "2"}})
		got := e.ok(req{method: "HEAD", target: "/dst/replaced.bin"})
		if got.h.Get("Content-Type") != "app/new" || got.h.Get("X-Amz-Meta-A") != "" || got.h.Get("X-Amz-Meta-B") != "2" || got.h.Get("ETag") != etag {
			t.Errorf("replaced: type %q, meta a %q b %q, etag %s", got.h.Get("Content-Type"), got.h.Get("X-Amz-Meta-A"), got.h.Get("X-Amz-Meta-B"), got.h.Get("ETag"))
		}
	})
	t.Run("onto itself it needs REPLACE, and then changes only the metadata", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/dst/copy.bin", h: map[string]string{"X-Amz-Copy-Source": "/dst/copy.bin"}}, 400, "InvalidRequest")
		before, _ := e.cl.Stat(e.ctx, "/s3/dst/copy.bin")
		e.ok(req{method: "PUT", target: "/dst/copy.bin", h: map[string]string{"X-Amz-Copy-Source": "/dst/copy.bin", "X-Amz-Metadata-Directive": "REPLACE", "X-Amz-Meta-C": "3"}})
		after, _ := e.cl.Stat(e.ctx, "/s3/dst/copy.bin")
		got := e.ok(req{method: "GET", target: "/dst/copy.bin"})
		if after.FileID != before.FileID || !bytes.Equal(got.body, data) || got.h.Get("X-Amz-Meta-C") != "3" || got.h.Get("X-Amz-Meta-A") != "" || got.h.Get("ETag") != etag {
			t.Errorf("self-copy: file %d→%d, meta c %q a %q, etag %s", before.FileID, after.FileID, got.h.Get("X-Amz-Meta-C"), got.h.Get("X-Amz-Meta-A"), got.h.Get("ETag"))
		}
	})
	t.Run("source conditions and errors", func(t *testing.T) {
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": source, "X-Amz-Copy-Source-If-Match": `"abc"`}}, 412, "PreconditionFailed")
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": source, "X-Amz-Copy-Source-If-None-Match": etag}}, 412, "PreconditionFailed")
		e.ok(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": source, "X-Amz-Copy-Source-If-Match": etag}})
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": "/src/missing"}}, 404, "NoSuchKey")
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": "/nobucket/x"}}, 404, "NoSuchBucket")
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": "nokey"}}, 400, "InvalidArgument")
		e.fails(req{method: "PUT", target: "/dst/c", h: map[string]string{"X-Amz-Copy-Source": source, "X-Amz-Metadata-Directive": "MERGE"}}, 400, "InvalidArgument")
	})
	t.Run("a slow copy answers 200 early and keeps the connection alive", func(t *testing.T) {
		e.g.keepAliveAfter, e.g.keepAliveEvery = time.Nanosecond, time.Millisecond
		defer func() { e.g.keepAliveAfter, e.g.keepAliveEvery = 5*time.Second, 5*time.Second }()
		res := e.ok(req{method: "PUT", target: "/dst/slow.bin", h: map[string]string{"X-Amz-Copy-Source": source}})
		var r s3.CopyObjectResult
		unmarshal(t, res, &r)
		if r.ETag != etag {
			t.Errorf("slow copy ETag = %s, want %s", r.ETag, etag)
		}
		// The source is checked before the answer begins.
		e.fails(req{method: "PUT", target: "/dst/slow.bin", h: map[string]string{"X-Amz-Copy-Source": "/src/missing"}}, 404, "NoSuchKey")
	})
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/del"})
	for _, k := range []string{"d/x/1", "d/x/2", "d/y", "keep/z", "top"} {
		e.put("del", k, []byte(k), nil)
	}
	body := func(quiet bool, keys ...string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "<Delete><Quiet>%v</Quiet>", quiet)
		for _, k := range keys {
			fmt.Fprintf(&b, "<Object><Key>%s</Key></Object>", k)
		}
		b.WriteString("</Delete>")
		return []byte(b.String())
	}
	t.Run("it needs Content-MD5 or a checksum", func(t *testing.T) {
		e.fails(req{method: "POST", target: "/del?delete", body: body(false, "top")}, 400, "InvalidRequest")
		b := body(false, "top")
		e.fails(req{method: "POST", target: "/del?delete", body: b, h: map[string]string{"Content-MD5": contentMD5([]byte("x"))}}, 400, "BadDigest")
		if !e.exists("/s3/del/top") {
			t.Error("a refused DeleteObjects deleted")
		}
	})
	t.Run("it reports every key, deleted or absent, and removes emptied prefixes", func(t *testing.T) {
		b := body(false, "d/x/1", "d/x/2", "never", "a//b")
		var res s3.DeleteResult
		unmarshal(t, e.ok(req{method: "POST", target: "/del?delete", body: b, h: map[string]string{"Content-MD5": contentMD5(b)}}), &res)
		var deleted []string
		for _, d := range res.Deleted {
			deleted = append(deleted, d.Key)
		}
		if fmt.Sprint(deleted) != "[d/x/1 d/x/2 never]" || len(res.Errors) != 1 || res.Errors[0].Key != "a//b" || res.Errors[0].Code != "InvalidArgument" {
			t.Errorf("DeleteObjects = deleted %v, errors %+v", deleted, res.Errors)
		}
		if e.exists("/s3/del/d/x") || !e.exists("/s3/del/d/y") {
			t.Error("d/x was not removed, or d/y was")
		}
	})
	t.Run("quiet mode lists only errors", func(t *testing.T) {
		b := body(true, "d/y", "keep/z")
		res := e.ok(req{method: "POST", target: "/del?delete", body: b, h: map[string]string{"Content-MD5": contentMD5(b)}})
		if bytes.Contains(res.body, []byte("<Deleted>")) || bytes.Contains(res.body, []byte("<Error>")) {
			t.Errorf("quiet DeleteObjects = %s", res.body)
		}
		if e.exists("/s3/del/d") || e.exists("/s3/del/keep") || !e.exists("/s3/del/top") {
			t.Error("the prefixes were not all removed, or too much was")
		}
	})
}

// TestRun: the cleaner removes abandoned uploads and temporary files,
// and only those.
func TestRun(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/clean"})
	var old, fresh s3.InitiateMultipartUploadResult
	unmarshal(t, e.ok(req{method: "POST", target: "/clean/old?uploads"}), &old)
	e.g.now = func() time.Time { return time.Now().Add(time.Minute) }
	unmarshal(t, e.ok(req{method: "POST", target: "/clean/fresh?uploads"}), &fresh)
	e.g.now = time.Now
	e.put("clean", "obj", []byte("obj"), nil)
	if err := e.cl.Touch(e.ctx, "/s3/clean/.cairn-s3/tmp/leftover"); err != nil {
		t.Fatal(err)
	}
	e.g.maxAge = 30 * time.Second
	e.g.tempMaxAge = 30 * time.Second
	e.g.now = func() time.Time { return time.Now().Add(45 * time.Second) }
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error)
	go func() { done <- e.g.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for e.exists("/s3/clean/.cairn-s3/tmp/leftover") || e.exists("/s3/clean/.cairn-s3/uploads/"+old.UploadID) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not remove the old upload and the temporary file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if !e.exists("/s3/clean/.cairn-s3/uploads/"+fresh.UploadID) || string(e.get("clean", "obj")) != "obj" {
		t.Error("Run removed a fresh upload or an object")
	}
}

func TestLogQueryHidesSignatures(t *testing.T) {
	got := logQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abcdef0123&uploads")
	if strings.Contains(got, "abcdef0123") || !strings.Contains(got, "X-Amz-Signature=REDACTED") || !strings.Contains(got, "uploads") {
		t.Errorf("logQuery = %q", got)
	}
}

// TestConcurrentWrites: PUTs racing on one key leave one of them whole,
// and every GET meanwhile returns some version whole, with its ETag.
func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/race"})
	e.put("race", "k", []byte("initial"), nil)
	versions := map[string][]byte{`"` + md5hex([]byte("initial")) + `"`: []byte("initial")}
	var bodies [][]byte
	for i := range 4 {
		b := randomBytes(uint64(100+i), testBlockSize/2+i*1000)
		bodies = append(bodies, b)
		versions[`"`+md5hex(b)+`"`] = b
	}
	sign := func(hr *http.Request) { (sigv4.Signer{Credential: alice}).Sign(hr, sigv4.UnsignedPayload) }
	errs := make(chan error, 100)
	done := make(chan struct{})
	for _, b := range bodies {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 3 {
				hr, _ := http.NewRequest("PUT", e.srv.URL+"/race/k", bytes.NewReader(b))
				sign(hr)
				res, err := e.srv.Client().Do(hr)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("PUT = %d", res.StatusCode)
				}
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for range 20 {
			hr, _ := http.NewRequest("GET", e.srv.URL+"/race/k", nil)
			sign(hr)
			res, err := e.srv.Client().Do(hr)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 || !bytes.Equal(versions[res.Header.Get("ETag")], body) {
				errs <- fmt.Errorf("GET = %d, ETag %s, %d bytes that are not that version (%v)", res.StatusCode, res.Header.Get("ETag"), len(body), err)
			}
		}
	}()
	for range len(bodies) + 1 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	final := e.ok(req{method: "GET", target: "/race/k"})
	if !bytes.Equal(versions[final.h.Get("ETag")], final.body) {
		t.Errorf("the final object is not a whole version")
	}
	if page, _, _ := e.cl.ListPage(e.ctx, "/s3/race/.cairn-s3/tmp", "", 10); len(page) != 0 {
		t.Errorf("temporary files left: %v", page)
	}
}

// TestPermissions: a request has the rights of its key's user. The
// gateway's root is shared (1777): alice and bob each make a bucket;
// a bucket is private to its creator (0700), so bob can neither list,
// read, write nor delete alice's; one she shares with cairn's modes, he
// can read.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/alices"})
	e.put("alices", "doc.txt", []byte("hers"), nil)
	e.ok(req{method: "PUT", target: "/bobs", cred: &bob})
	root, err := e.cl.Stat(e.ctx, "/s3")
	if err != nil || root.Mode != 0o777|fs.ModeSticky {
		t.Errorf("the gateway's root: %v, %v; want mode 1777", root.Mode, err)
	}
	if fi, err := e.cl.Stat(e.ctx, "/s3/alices"); err != nil || fi.Owner != "alice" || fi.Mode != 0o700 {
		t.Errorf("alice's bucket: %+v, %v; want alice's, mode 0700", fi, err)
	}
	e.fails(req{method: "GET", target: "/alices/doc.txt", cred: &bob}, http.StatusForbidden, "AccessDenied")
	e.fails(req{method: "GET", target: "/alices?list-type=2", cred: &bob}, http.StatusForbidden, "AccessDenied")
	e.fails(req{method: "PUT", target: "/alices/bobs.txt", body: []byte("x"), cred: &bob}, http.StatusForbidden, "AccessDenied")
	e.fails(req{method: "DELETE", target: "/alices/doc.txt", cred: &bob}, http.StatusForbidden, "AccessDenied")
	e.fails(req{method: "DELETE", target: "/bobs"}, http.StatusForbidden, "AccessDenied") // alice may not remove bob's bucket
	if got := e.get("alices", "doc.txt"); string(got) != "hers" {
		t.Fatalf("alice's object after bob's attempts = %q", got)
	}
	// Shared by cairn's modes: bob reads, still cannot write.
	if err := e.cl.Chmod(e.ctx, "/s3/alices", 0o755); err != nil {
		t.Fatal(err)
	}
	if got := e.ok(req{method: "GET", target: "/alices/doc.txt", cred: &bob}).body; string(got) != "hers" {
		t.Errorf("bob's GET of a shared object = %q", got)
	}
	e.fails(req{method: "PUT", target: "/alices/bobs.txt", body: []byte("x"), cred: &bob}, http.StatusForbidden, "AccessDenied")
}

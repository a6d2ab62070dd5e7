package sigv4

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// botocorePythons returns the Python interpreters of the machine that
// can import botocore: the one on PATH (often a recent pip botocore)
// and Debian's /usr/bin/python3 (python3-botocore, an older one). The
// test is skipped, with the reason, if there is none.
func botocorePythons(t *testing.T) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "-c", "import sys, botocore; print(sys.executable, botocore.__version__)").Output()
		if err != nil {
			continue
		}
		id := strings.TrimSpace(string(out))
		if seen[id] {
			continue
		}
		seen[id] = true
		found = append(found, path)
		t.Logf("%s: %s", name, id)
	}
	if len(found) == 0 {
		t.Skip("no python3 with botocore: install Debian's python3-boto3 (apt-get install -y python3-boto3) to verify requests signed by botocore")
	}
	return found
}

type botoSigned struct {
	Method   string
	URL      string
	Headers  [][2]string
	Body     string
	Botocore string
}

func botoSign(t *testing.T, python string, spec map[string]any) []botoSigned {
	t.Helper()
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "botosign.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s botosign.py: %v\n%s", python, err, stderr.String())
	}
	var signed []botoSigned
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatalf("botosign.py output %q: %v", out, err)
	}
	return signed
}

func (b botoSigned) request() *http.Request {
	r := httptest.NewRequest(b.Method, b.URL, strings.NewReader(b.Body))
	for _, h := range b.Headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

// TestBotocoreSignatures verifies requests signed by botocore, and
// refuses them once tampered with.
func TestBotocoreSignatures(t *testing.T) {
	pythons := botocorePythons(t)
	// botocore signs with the real clock.
	v, err := New(Config{Credentials: StaticCredentials{testCred.AccessKey: testCred}})
	if err != nil {
		t.Fatal(err)
	}

	keys := []string{
		"plain.txt",
		"photos/2024 summer/IMG_0001 (1).jpg",
		"ünïcödé/ключ/鍵",
		"a+b=c&d;e,f:g@h$i!j'k(l)m*n",
		"tilde~dash-dot.under_score",
		"trailing/slash/",
		"percent%20literal",
	}
	const deleteBody = "<Delete><Object><Key>a</Key></Object></Delete>"
	deleteMD5 := md5.Sum([]byte(deleteBody))
	var requests []map[string]any
	for _, k := range keys {
		requests = append(requests,
			map[string]any{"method": "PUT", "bucket": "bucket", "key": k, "body": "payload of " + k,
				"headers": map[string]string{"Content-Type": "text/plain", "x-amz-meta-origin": "botocore", "x-amz-meta-Spaces": "  a   b  "}},
			map[string]any{"method": "PUT", "bucket": "bucket", "key": k, "body": "unsigned " + k, "unsigned_payload": true},
			map[string]any{"method": "GET", "bucket": "bucket", "key": k, "headers": map[string]string{"Range": "bytes=0-9"}},
			map[string]any{"method": "GET", "bucket": "bucket", "key": k, "presign": 900},
			map[string]any{"method": "PUT", "bucket": "bucket", "key": k, "presign": 604800},
		)
	}
	requests = append(requests,
		map[string]any{"method": "GET", "bucket": "bucket", "params": map[string]string{
			"list-type": "2", "prefix": "photos/2024 summer/", "delimiter": "/", "encoding-type": "url",
			"start-after": "a+b=c&d", "continuation-token": "eyJrIjoiYS9iIn0=", "max-keys": "1000"}},
		map[string]any{"method": "POST", "bucket": "bucket", "key": "big.bin", "params": map[string]string{"uploads": ""}},
		map[string]any{"method": "PUT", "bucket": "bucket", "key": "big.bin", "params": map[string]string{"partNumber": "3", "uploadId": "u/1+2=3"}, "body": "part three"},
		map[string]any{"method": "POST", "bucket": "bucket", "params": map[string]string{"delete": ""}, "body": deleteBody,
			"headers": map[string]string{"Content-MD5": b64(deleteMD5[:])}},
	)
	for _, python := range pythons {
		t.Run(python, func(t *testing.T) {
			signed := botoSign(t, python, map[string]any{
				"access_key": testCred.AccessKey, "secret_key": testCred.SecretKey, "region": "us-east-1",
				"endpoint": "http://127.0.0.1:9000", "requests": requests,
			})
			if len(signed) != len(requests) {
				t.Fatalf("botocore signed %d requests, want %d", len(signed), len(requests))
			}
			t.Logf("botocore %s", signed[0].Botocore)
			for _, s := range signed {
				r := s.request()
				a, err := v.Verify(r)
				if err != nil {
					t.Errorf("%s %s: Verify = %v", s.Method, s.URL, err)
					continue
				}
				b, err := NewBody(r, a, 0)
				if err != nil {
					t.Errorf("%s %s: NewBody = %v", s.Method, s.URL, err)
					continue
				}
				body, err := io.ReadAll(b)
				if err != nil {
					t.Errorf("%s %s: reading the body: %v", s.Method, s.URL, err)
				}
				if err == nil && string(body) != s.Body {
					t.Errorf("%s %s: body %q, want %q", s.Method, s.URL, body, s.Body)
				}
			}

			// Each kind of tampering is refused.
			put := signed[0] // a PUT with a signed payload and metadata
			tamper := []struct {
				name string
				edit func(r *http.Request)
				code string
			}{
				{"another key", func(r *http.Request) { r.URL.Path += "x"; r.URL.RawPath = "" }, CodeSignatureDoesNotMatch},
				{"another bucket", func(r *http.Request) { r.URL.Path = "/other" + r.URL.Path[len("/bucket"):]; r.URL.RawPath = "" }, CodeSignatureDoesNotMatch},
				{"a query parameter added", func(r *http.Request) { r.URL.RawQuery = "acl=" }, CodeSignatureDoesNotMatch},
				{"a metadata value changed", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Origin", "mallory") }, CodeSignatureDoesNotMatch},
				{"the content type changed", func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, CodeSignatureDoesNotMatch},
				{"a copy source added", func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/bucket/secret") }, CodeAccessDenied},
				{"another secret", func(r *http.Request) {
					a := r.Header.Get("Authorization")
					r.Header.Set("Authorization", strings.Replace(a, testCred.AccessKey, "AKIDOTHER", 1))
				}, CodeInvalidAccessKeyID},
			}
			for _, c := range tamper {
				r := put.request()
				c.edit(r)
				_, err := v.Verify(r)
				if !isCode(err, c.code) {
					t.Errorf("%s: Verify = %v, want %s", c.name, err, c.code)
				}
			}
			// A changed body passes the header check and fails at its end.
			r := put.request()
			r.Body = io.NopCloser(strings.NewReader(strings.ToUpper(put.Body)))
			a, err := v.Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewBody(r, a, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(b); !isCode(err, CodeXAmzContentSHA256Mismatch) {
				t.Errorf("a changed body: read = %v, want %s", err, CodeXAmzContentSHA256Mismatch)
			}
			// A presigned URL with its signature changed.
			pre := signed[3]
			r = httptest.NewRequest(pre.Method, strings.Replace(pre.URL, "X-Amz-Expires=900", "X-Amz-Expires=901", 1), nil)
			if _, err := v.Verify(r); !isCode(err, CodeSignatureDoesNotMatch) {
				t.Errorf("a presigned URL with another validity: %v", err)
			}
		})
	}
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

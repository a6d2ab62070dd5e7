package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=a/b/c/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
		"AWS AKID:sig",
		"AWS4-HMAC-SHA256 Credential=,,,,SignedHeaders=;;;,Signature==",
		"AWS4-HMAC-SHA256 ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAuthorization(s)
		if err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("parseAuthorization(%q) = error without code or message: %+v", s, err)
			}
			return
		}
		// What parses is what was sent.
		if !strings.Contains(s, a.cred.accessKey) || !strings.Contains(s, a.signature) || !strings.Contains(s, a.signedRaw) {
			t.Fatalf("parseAuthorization(%q) = %+v, not from the input", s, a)
		}
		if len(a.signature) != 64 || len(a.signed) == 0 || a.cred.service != "s3" {
			t.Fatalf("parseAuthorization(%q) accepted %+v", s, a)
		}
	})
}

func FuzzParsePresign(f *testing.F) {
	for _, s := range []string{
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1&X-Amz-Expires=99999999999999999999",
		"a=%zz&b=+&&c",
		"X-Amz-Credential=%2F%2F%2F%2F&X-Amz-Date=2013&X-Amz-SignedHeaders=;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		params, err := parseQuery(raw)
		if err != nil {
			return
		}
		_ = canonicalQuery(params, qSignature)
		p, perr := parsePresign(params)
		if perr != nil {
			if perr.Code == "" {
				t.Fatalf("parsePresign(%q): error without code", raw)
			}
			return
		}
		if p.expires < 0 || p.expires > MaxPresignExpires || len(p.signature) != 64 || len(p.signed) == 0 {
			t.Fatalf("parsePresign(%q) accepted %+v", raw, p)
		}
	})
}

// fuzzAuth is the Auth the chunked fuzz targets decode with.
func fuzzAuth(payload string) *Auth {
	s := signer{cred: testCred, region: "us-east-1", t: testNow}
	return &Auth{
		PayloadHash: payload,
		key:         s.key(),
		signature:   strings.Repeat("5", 64),
		amzDate:     s.t.Format(iso8601Basic),
		scope:       s.scope(),
	}
}

func fuzzChunked(t *testing.T, payload string, body []byte, trailer string, declared int) {
	r := httptest.NewRequest("PUT", "/b/k", bytes.NewReader(body))
	r.Header.Set("Content-Encoding", "aws-chunked")
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", trailer)
	}
	if declared >= 0 {
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(declared))
	}
	b, err := NewBody(r, fuzzAuth(payload), 1<<20)
	if err != nil {
		return
	}
	n, err := io.Copy(io.Discard, b)
	if n > int64(len(body)) {
		t.Fatalf("decoded %d bytes from a body of %d", n, len(body))
	}
	if err == nil {
		if declared >= 0 && n != int64(declared) {
			t.Fatalf("decoded %d bytes, declared %d, and no error", n, declared)
		}
		if b.chunked.state != stDone {
			t.Fatalf("success before the final chunk")
		}
	}
	if len(b.chunked.got) > maxTrailers {
		t.Fatalf("%d trailers kept", len(b.chunked.got))
	}
}

func FuzzChunkedSigned(f *testing.F) {
	s := signer{cred: testCred, region: "us-east-1", t: testNow}
	seed := strings.Repeat("5", 64)
	data := []byte("the quick brown fox jumps over the lazy dog")
	f.Add(s.chunked(seed, data, 10), false, len(data))
	f.Add(s.chunked(seed, data, 100, "x-amz-checksum-crc32", checksumOf("crc32", data)), true, len(data))
	f.Add(s.chunked(seed, nil, 1), false, 0)
	f.Add([]byte("0;chunk-signature="+strings.Repeat("a", 64)+"\r\n\r\n"), false, -1)
	f.Add([]byte("ffffffffffffffff;chunk-signature=x\r\n"), false, -1)
	f.Fuzz(func(t *testing.T, body []byte, trailer bool, declared int) {
		if trailer {
			fuzzChunked(t, StreamingPayloadTrailer, body, "x-amz-checksum-crc32", declared)
		} else {
			fuzzChunked(t, StreamingPayload, body, "", declared)
		}
	})
}

func FuzzChunkedUnsignedTrailer(f *testing.F) {
	data := []byte("the quick brown fox jumps over the lazy dog")
	f.Add(unsignedChunked(data, 7, "x-amz-checksum-crc32", checksumOf("crc32", data)), "x-amz-checksum-crc32", len(data))
	f.Add(unsignedChunked(data, 100, "x-amz-checksum-crc64nvme", checksumOf("crc64nvme", data)), "x-amz-checksum-crc64nvme", -1)
	f.Add(unsignedChunked(nil, 1, "", ""), "", 0)
	f.Add([]byte("3;ext=1\r\nabc\r\n0\r\n\r\nx-amz-checksum-sha1:xx\r\n\r\n"), "x-amz-checksum-sha1", 3)
	f.Add([]byte("3\nabc\r\n0\n\n"), "", -1)
	f.Fuzz(func(t *testing.T, body []byte, trailer string, declared int) {
		fuzzChunked(t, StreamingUnsignedTrailer, body, trailer, declared)
	})
}

// endless yields a chunk header claiming size bytes, then size bytes of
// data, without ever holding them: the decoder's memory must not grow
// with the chunk.
type endless struct {
	head []byte
	left int
	tail []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.head) > 0 {
		n := copy(p, e.head)
		e.head = e.head[n:]
		return n, nil
	}
	if e.left > 0 {
		n := min(len(p), e.left)
		for i := range p[:n] {
			p[i] = 'z'
		}
		e.left -= n
		return n, nil
	}
	if len(e.tail) > 0 {
		n := copy(p, e.tail)
		e.tail = e.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

func TestChunkedMemoryIsBounded(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			var head string
			payload := StreamingUnsignedTrailer
			if signed {
				head = fmt.Sprintf("%x;chunk-signature=%s\r\n", MaxChunkSize, strings.Repeat("0", 64))
				payload = StreamingPayload
			} else {
				head = fmt.Sprintf("%x\r\n", MaxChunkSize)
			}
			src := &endless{head: []byte(head), left: MaxChunkSize, tail: []byte("\r\n0\r\n\r\n")}
			r := httptest.NewRequest("PUT", "/b/k", src)
			r.ContentLength = -1
			r.Header.Set("Content-Encoding", "aws-chunked")
			b, err := NewBody(r, fuzzAuth(payload), 0)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n, err := io.CopyBuffer(io.Discard, b, make([]byte, 32<<10))
			runtime.ReadMemStats(&after)
			if n != MaxChunkSize {
				t.Errorf("decoded %d bytes, want %d", n, MaxChunkSize)
			}
			if signed {
				assertCode(t, err, CodeSignatureDoesNotMatch)
			} else if err != nil {
				t.Fatal(err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("decoding a %d-byte chunk allocated %d bytes", MaxChunkSize, alloc)
			}
		})
	}
}

package sigv4

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Checksum is a verified x-amz-checksum-* value of a body.
type Checksum struct {
	Algorithm string // one of the Checksum constants
	Value     string // base64 of the digest, as S3 sends it
}

// Body reads a request body and checks it against everything the
// request claims about it: the signed SHA-256 (x-amz-content-sha256),
// the aws-chunked framing with its chunk and trailer signatures, the
// decoded length, Content-MD5, and an x-amz-checksum-* header or
// trailer. The checks that need the whole body run at its end: Read
// then returns an *Error instead of io.EOF, so a caller must treat any
// error from Read as "discard everything read". Memory is bounded: data
// is hashed as it streams and never buffered.
type Body struct {
	src      io.Reader
	declared int64 // decoded length the request declares, -1 if none
	max      int64 // largest size allowed, 0 for no limit
	n        int64 // bytes read so far

	md5        hash.Hash
	sha        hash.Hash // nil unless the payload hash is a hex SHA-256
	wantSHA    []byte
	contentMD5 []byte // nil unless Content-MD5 was sent

	sum      hash.Hash // checksum of x-amz-checksum-* or the trailer, or nil
	sumAlgo  string
	sumWant  []byte // from the header; nil when it comes in a trailer
	chunked  *chunkReader
	verified Checksum

	md5Sum [md5.Size]byte
	err    error
}

// NewBody returns a reader of r's body as a verified by Verify. maxSize
// is the largest body allowed (EntityTooLarge beyond it); 0 means no
// limit. Errors are *Error: a malformed Content-MD5 (InvalidDigest), a
// malformed or ambiguous checksum header (InvalidRequest), aws-chunked
// framing on a payload that is not streamed (InvalidArgument), a
// declared size above maxSize (EntityTooLarge).
func NewBody(r *http.Request, a *Auth, maxSize int64) (*Body, error) {
	b, err := newBody(r, a, maxSize)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func newBody(r *http.Request, a *Auth, maxSize int64) (*Body, *Error) {
	b := &Body{src: r.Body, declared: -1, max: maxSize, md5: md5.New()}
	if b.src == nil {
		b.src = http.NoBody
	}
	if vs := r.Header.Values("Content-Md5"); len(vs) > 0 {
		sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
		if len(vs) > 1 || err != nil || len(sum) != md5.Size {
			return nil, newError(CodeInvalidDigest, "The Content-MD5 you specified is not valid.")
		}
		b.contentMD5 = sum
	}
	if err := b.headerChecksum(r.Header); err != nil {
		return nil, err
	}
	trailers, err := declaredTrailers(r.Header)
	if err != nil {
		return nil, err
	}
	payload := a.PayloadHash
	streaming := payload == StreamingPayload || payload == StreamingPayloadTrailer || payload == StreamingUnsignedTrailer
	withTrailer := payload == StreamingPayloadTrailer || payload == StreamingUnsignedTrailer
	if !streaming && hasEncoding(r.Header, chunkedEncoding) {
		return nil, newError(CodeInvalidArgument, "aws-chunked encoding is not supported with the specified x-amz-content-sha256 value.")
	}
	if len(trailers) > 0 && !withTrailer {
		return nil, newError(CodeInvalidRequest, "x-amz-trailer is only allowed with x-amz-content-sha256 %s or %s.", StreamingUnsignedTrailer, StreamingPayloadTrailer)
	}
	if len(trailers) > 0 {
		if b.sum != nil {
			return nil, newError(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		algo := strings.TrimPrefix(trailers[0], "x-amz-checksum-")
		b.sum, b.sumAlgo = NewChecksum(algo), algo
	}

	if streaming {
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, newError(CodeInvalidArgument, "x-amz-decoded-content-length %q is not a non-negative integer.", truncate(v))
			}
			b.declared = n
		}
		var signer *chunkSigner
		if payload != StreamingUnsignedTrailer {
			signer = &chunkSigner{key: a.key, amzDate: a.amzDate, scope: a.scope, prev: a.signature}
		}
		b.chunked = newChunkReader(b.src, signer, withTrailer, trailers)
		b.src = b.chunked
	} else {
		b.declared = r.ContentLength
		if b.declared < 0 {
			b.declared = -1
		}
		if isHexSHA256(payload) {
			b.wantSHA, _ = hex.DecodeString(payload)
			b.sha = sha256.New()
		}
	}
	if b.max > 0 && b.declared > b.max {
		return nil, newError(CodeEntityTooLarge, "Your proposed upload of %d bytes exceeds the maximum allowed size of %d bytes.", b.declared, b.max)
	}
	return b, nil
}

// headerChecksum reads the x-amz-checksum-<algorithm> header, if any.
func (b *Body) headerChecksum(h http.Header) *Error {
	for k, vs := range h {
		algo, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-checksum-")
		if !ok || checksumSize(algo) == 0 {
			// x-amz-checksum-type, -algorithm and -mode are not values.
			continue
		}
		if b.sum != nil || len(vs) > 1 {
			return newError(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
		if err != nil || len(want) != checksumSize(algo) {
			return newError(CodeInvalidRequest, "Value for x-amz-checksum-%s header is invalid.", algo)
		}
		b.sum, b.sumAlgo, b.sumWant = NewChecksum(algo), algo, want
	}
	return nil
}

// declaredTrailers parses x-amz-trailer: the trailing headers a body
// will end with. Only one checksum trailer is supported.
func declaredTrailers(h http.Header) ([]string, *Error) {
	var names []string
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, n := range strings.Split(v, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			algo, ok := strings.CutPrefix(n, "x-amz-checksum-")
			if !ok || checksumSize(algo) == 0 {
				return nil, newError(CodeInvalidRequest, "The trailer %q in x-amz-trailer is not supported; only x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 and -sha256 are.", truncate(n))
			}
			names = append(names, n)
		}
	}
	if len(names) > 1 {
		return nil, newError(CodeInvalidRequest, "Expecting a single x-amz-checksum- trailer. Multiple checksum Types are not allowed.")
	}
	return names, nil
}

// hasEncoding reports whether Content-Encoding lists enc.
func hasEncoding(h http.Header, enc string) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), enc) {
				return true
			}
		}
	}
	return false
}

// StoredContentEncoding is the Content-Encoding of an object uploaded
// with h: the request's, without aws-chunked (which describes the
// upload, not the object). Empty if nothing remains.
func StoredContentEncoding(h http.Header) string {
	var keep []string
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if e != "" && !strings.EqualFold(e, chunkedEncoding) {
				keep = append(keep, e)
			}
		}
	}
	return strings.Join(keep, ",")
}

// Size is the decoded length the request declares
// (x-amz-decoded-content-length for aws-chunked, Content-Length
// otherwise), or -1 if it declares none. Read fails if the body's
// length differs.
func (b *Body) Size() int64 { return b.declared }

// Read reads decoded body bytes. At the end of the body it runs the
// checks that need all of it and returns io.EOF only if they pass.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.max > 0 && int64(len(p)) > b.max-b.n+1 {
		p = p[:b.max-b.n+1] // one byte past the limit is enough to see it
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.md5.Write(p[:n])
		if b.sha != nil {
			b.sha.Write(p[:n])
		}
		if b.sum != nil {
			b.sum.Write(p[:n])
		}
		if b.max > 0 && b.n > b.max {
			err = newError(CodeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size of %d bytes.", b.max)
		} else if b.declared >= 0 && b.n > b.declared {
			err = newError(CodeIncompleteBody, "The body is longer than the %d bytes it declares.", b.declared)
		}
	}
	switch {
	case err == io.EOF:
		if ferr := b.finish(); ferr != nil {
			err = ferr
		}
	case err != nil:
		err = readError(err)
	}
	b.err = err
	return n, err
}

// readError maps a failure to read the request body to an *Error.
func readError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Code: CodeEntityTooLarge, Message: "Your proposed upload exceeds the maximum allowed size.", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Code: CodeRequestTimeout, Message: "Your socket connection to the server was not read from or written to within the timeout period.", Err: err}
	}
	return &Error{Code: CodeIncompleteBody, Message: "The request body ended early.", Err: err}
}

// finish runs the end-of-body checks.
func (b *Body) finish() error {
	if b.declared >= 0 && b.n != b.declared {
		return newError(CodeIncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header: %d of %d.", b.n, b.declared)
	}
	if b.sha != nil && !bytes.Equal(b.sha.Sum(nil), b.wantSHA) {
		return newError(CodeXAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	b.md5.Sum(b.md5Sum[:0])
	if b.contentMD5 != nil && !bytes.Equal(b.contentMD5, b.md5Sum[:]) {
		return newError(CodeBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	if b.sum != nil {
		want := b.sumWant
		if want == nil {
			v, _ := b.chunked.trailer(ChecksumHeader(b.sumAlgo))
			dec, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(dec) != checksumSize(b.sumAlgo) {
				return newError(CodeInvalidRequest, "Value for x-amz-checksum-%s trailing header is invalid.", b.sumAlgo)
			}
			want = dec
		}
		got := b.sum.Sum(nil)
		if !bytes.Equal(got, want) {
			return newError(CodeBadDigest, "The %s you specified did not match the calculated checksum.", checksumName(b.sumAlgo))
		}
		b.verified = Checksum{Algorithm: b.sumAlgo, Value: base64.StdEncoding.EncodeToString(got)}
	}
	return nil
}

// MD5 is the MD5 of the body, valid once Read has returned io.EOF.
func (b *Body) MD5() [md5.Size]byte { return b.md5Sum }

// Checksum is the x-amz-checksum-* value the body was verified
// against, valid once Read has returned io.EOF; ok is false if the
// request sent none.
func (b *Body) Checksum() (c Checksum, ok bool) {
	return b.verified, b.verified.Algorithm != ""
}

// Len is the number of decoded bytes read so far.
func (b *Body) Len() int64 { return b.n }

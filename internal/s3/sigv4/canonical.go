package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// The values of x-amz-content-sha256 other than a hex SHA-256.
const (
	// UnsignedPayload: the body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingPayload: an aws-chunked body whose chunks are signed,
	// each signature chained to the one before it.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingPayloadTrailer: as StreamingPayload, followed by
	// trailing headers and their signature.
	StreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedTrailer: an aws-chunked body without chunk
	// signatures, followed by unsigned trailing headers (a checksum).
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	// EmptySHA256 is the hex SHA-256 of no bytes.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// The signature-version-4a payload values, refused with NotImplemented.
const (
	streamingECDSA        = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	streamingECDSATrailer = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

const (
	iso8601Basic = "20060102T150405Z"
	yyyymmdd     = "20060102"
)

// uriEncode percent-encodes every byte of s except the unreserved
// characters A-Z a-z 0-9 - . _ ~ (and '/' unless encodeSlash), with
// upper-case hex, as SigV4's UriEncode.
func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (encodeSlash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!encodeSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalURI is the request path as S3 canonicalizes it: the path as
// sent, percent-decoded once and re-encoded once, neither normalized
// (no removal of "." or ".." segments, no merging of slashes) nor
// encoded twice. A '/' the client escaped as %2F stays %2F; every
// literal '/' stays '/'.
func canonicalURI(u *url.URL) string {
	if u.RawPath != "" {
		// Go keeps RawPath when the client's escaping differs from the
		// one Go would choose (for instance %2F inside a segment).
		// Decode segment by segment so that an escaped slash stays one.
		segs := strings.Split(u.RawPath, "/")
		for i, seg := range segs {
			if dec, err := url.PathUnescape(seg); err == nil {
				seg = dec
			}
			segs[i] = uriEncode(seg, true)
		}
		return strings.Join(segs, "/")
	}
	if u.Path == "" {
		return "/"
	}
	return uriEncode(u.Path, false)
}

// queryParam is one name=value of a query string, percent-decoded ('+'
// decodes to a space, as net/url.ParseQuery does, so that what is
// verified is what the gateway's handler reads).
type queryParam struct {
	name, value string
	hasValue    bool
}

// parseQuery splits a raw query string. Empty pieces ("a=1&&b=2") are
// skipped; a piece that does not percent-decode is an error.
func parseQuery(raw string) ([]queryParam, error) {
	var params []queryParam
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		name, value, hasValue := strings.Cut(piece, "=")
		var err error
		if name, err = url.QueryUnescape(name); err != nil {
			return nil, err
		}
		if value, err = url.QueryUnescape(value); err != nil {
			return nil, err
		}
		params = append(params, queryParam{name: name, value: value, hasValue: hasValue})
	}
	return params, nil
}

// canonicalQuery is the canonical query string: every parameter but
// skip, name and value URI-encoded (with '/' encoded), sorted by encoded
// name and then by encoded value, a parameter without a value written
// "name=".
func canonicalQuery(params []queryParam, skip string) string {
	type kv struct{ k, v string }
	enc := make([]kv, 0, len(params))
	for _, p := range params {
		if skip != "" && p.name == skip {
			continue
		}
		enc = append(enc, kv{uriEncode(p.name, true), uriEncode(p.value, true)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].k != enc[j].k {
			return enc[i].k < enc[j].k
		}
		return enc[i].v < enc[j].v
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// requestHeader returns the values of the header called lname
// (lower-case) as the client sent them. Go's server takes some headers
// out of Header; they are rebuilt here.
func requestHeader(r *http.Request, lname string) ([]string, bool) {
	switch lname {
	case "host":
		return []string{r.Host}, true
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return vs, true
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, true
		}
		return nil, false
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}, true
		}
	case "expect":
		// A proxy may drop Expect after answering it; MinIO assumes the
		// value every client sends.
		if vs := r.Header.Values("Expect"); len(vs) > 0 {
			return vs, true
		}
		return []string{"100-continue"}, true
	}
	if vs, ok := r.Header[http.CanonicalHeaderKey(lname)]; ok {
		return vs, true
	}
	// A header whose name Go could not canonicalize is kept verbatim.
	for k, vs := range r.Header {
		if strings.EqualFold(k, lname) {
			return vs, true
		}
	}
	return nil, false
}

// canonicalHeaderValue joins the values of one header with commas, each
// trimmed and with runs of white space collapsed to one space.
func canonicalHeaderValue(vs []string) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, f := range strings.Fields(v) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f)
		}
	}
	return b.String()
}

// errMissingSignedHeader is returned by canonicalRequest when a header
// named in SignedHeaders is not in the request.
var errMissingSignedHeader = errors.New("a signed header is missing")

// canonicalRequest builds the canonical request of r. signed is the
// list of SignedHeaders in the order the client gave it and signedRaw
// the list as it appeared (both go into the request verbatim).
func canonicalRequest(r *http.Request, query string, signed []string, signedRaw, payload string) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, h := range signed {
		vs, ok := requestHeader(r, h)
		if !ok {
			return "", errMissingSignedHeader
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(vs))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedRaw)
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// stringToSign is the string an algorithm line, the request time, the
// scope and the hash of the signed thing make, one per line.
func stringToSign(algorithm, amzDate, scope, hashHex string) string {
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the key of one day, region and service from a
// secret key.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func signHex(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}

// sameSignature compares a computed signature with the one provided in
// constant time. Hex case is ignored.
func sameSignature(computed, provided string) bool {
	return hmac.Equal([]byte(computed), []byte(strings.ToLower(provided)))
}

// isHexSHA256 reports whether s is 64 hex digits.
func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

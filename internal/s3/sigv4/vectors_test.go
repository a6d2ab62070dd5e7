package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The AWS Signature Version 4 test suite (docs.aws.amazon.com/general/
// latest/gr/signature-v4-test-suite.html): credentials AKIDEXAMPLE,
// service "service", region us-east-1, time 20150830T123600Z. Each case
// is the raw request of the suite and the signature of its .authz file.
// Only the cases whose canonical URI S3 computes as other services do
// are here: S3 does not normalize paths, so the normalize-path cases do
// not apply (the S3 cases below cover S3's path rules).
var suiteCases = []struct {
	name, req, sig string
}{
	{"get-vanilla", "GET / HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-vanilla-empty-query-key", "GET /?Param1=value1 HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
	{"get-vanilla-query-order-key-case", "GET /?Param2=value2&Param1=value1 HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-unreserved", "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
	{"get-vanilla-utf8-query", "GET /?%E1%88%B4=bar HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
	{"get-unreserved", "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
	{"get-utf8", "GET /%E1%88%B4 HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	{"get-header-key-duplicate", "GET / HTTP/1.1\r\nHost:example.amazonaws.com\r\nMy-Header1:value2\r\nMy-Header1:value2\r\nMy-Header1:value1\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
	{"get-header-value-order", "GET / HTTP/1.1\r\nHost:example.amazonaws.com\r\nMy-Header1:value4\r\nMy-Header1:value1\r\nMy-Header1:value3\r\nMy-Header1:value2\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
	{"get-header-value-trim", "GET / HTTP/1.1\r\nHost:example.amazonaws.com\r\nMy-Header1: value1\r\nMy-Header2: \"a   b   c\"\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	{"post-vanilla", "POST / HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-vanilla-empty-query-value", "POST /?Param1=value1 HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
	{"post-header-key-sort", "POST / HTTP/1.1\r\nHost:example.amazonaws.com\r\nMy-Header1:value1\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
	{"post-header-value-case", "POST / HTTP/1.1\r\nHost:example.amazonaws.com\r\nMy-Header1:VALUE1\r\nX-Amz-Date:20150830T123600Z\r\n\r\n",
		"cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
	{"post-x-www-form-urlencoded", "POST / HTTP/1.1\r\nContent-Type:application/x-www-form-urlencoded\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\nContent-Length:13\r\n\r\nParam1=value1",
		"ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	{"post-x-www-form-urlencoded-parameters", "POST / HTTP/1.1\r\nContent-Type:application/x-www-form-urlencoded; charset=utf8\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\nContent-Length:13\r\n\r\nParam1=value1",
		"1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
	{"post-sts-header-before", "POST / HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\nX-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\r\n\r\n",
		"85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
}

// The canonical requests the suite gives for two of its cases.
var suiteCanonical = map[string]string{
	"post-x-www-form-urlencoded": "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	"get-header-value-trim":      "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}

func readRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", raw, err)
	}
	return r
}

// TestSuiteVectors signs each request of the AWS test suite the way the
// verifier computes signatures and compares with the published one.
func TestSuiteVectors(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	key := signingKey(secret, "20150830", "us-east-1", "service")
	for _, c := range suiteCases {
		t.Run(c.name, func(t *testing.T) {
			r := readRequest(t, c.req)
			body, _ := io.ReadAll(r.Body)
			sum := sha256.Sum256(body)
			// The suite signs every header of the request.
			signed := []string{"host"}
			for k := range r.Header {
				if lk := strings.ToLower(k); lk != "content-length" {
					signed = append(signed, lk)
				}
			}
			sort.Strings(signed)
			params, err := parseQuery(r.URL.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			creq, err := canonicalRequest(r, canonicalQuery(params, ""), signed, strings.Join(signed, ";"), hex.EncodeToString(sum[:]))
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := suiteCanonical[c.name]; ok && creq != want {
				t.Errorf("canonical request =\n%s\nwant\n%s", creq, want)
			}
			sts := stringToSign(Algorithm, "20150830T123600Z", "20150830/us-east-1/service/aws4_request", sha256Hex(creq))
			if got := signHex(key, sts); got != c.sig {
				t.Errorf("signature = %s, want %s\ncanonical request:\n%s", got, c.sig, creq)
			}
		})
	}
}

// The examples of AWS's S3 documentation ("Signature Calculations for
// the Authorization Header", "Authenticating Requests: Using Query
// Parameters", "Transferring Payload in Multiple Chunks").
const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var docTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func docVerifier(t *testing.T, now time.Time) *Verifier {
	t.Helper()
	v, err := New(Config{
		Credentials: StaticCredentials{docAccessKey: {AccessKey: docAccessKey, SecretKey: docSecret, User: "alice"}},
		Now:         func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestS3DocumentationExamples(t *testing.T) {
	v := docVerifier(t, docTime.Add(time.Minute))
	cases := []struct {
		name, req string
	}{
		{"GET object with a range", "GET /test.txt HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n" +
			"Range: bytes=0-9\r\nx-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\nx-amz-date: 20130524T000000Z\r\n\r\n"},
		{"PUT object with a dollar in the key and a Date header", "PUT /test%24file.text HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\nDate: Fri, 24 May 2013 00:00:00 GMT\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd\r\n" +
			"x-amz-date: 20130524T000000Z\r\nx-amz-storage-class: REDUCED_REDUNDANCY\r\nx-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\r\nContent-Length: 21\r\n\r\nWelcome to Amazon S3."},
		{"GET bucket lifecycle, a parameter without value", "GET /?lifecycle HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543\r\n" +
			"x-amz-date: 20130524T000000Z\r\nx-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\r\n"},
		{"GET bucket, parameters sorted", "GET /?max-keys=2&prefix=J HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7\r\n" +
			"x-amz-date: 20130524T000000Z\r\nx-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\r\n"},
		{"presigned GET", "GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1\r\n" +
			"Host: examplebucket.s3.amazonaws.com\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := readRequest(t, c.req)
			a, err := v.Verify(r)
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if a.Credential.User != "alice" {
				t.Errorf("user = %q, want alice", a.Credential.User)
			}
			b, err := NewBody(r, a, 0)
			if err != nil {
				t.Fatalf("NewBody = %v", err)
			}
			if _, err := io.ReadAll(b); err != nil {
				t.Fatalf("reading the body: %v", err)
			}
		})
	}
}

// docChunkedBody is the body of the chunked upload example: 66560 bytes
// of 'a' in a 64 KiB chunk, a 1 KiB chunk and the final chunk, with the
// documented signatures.
func docChunkedBody(corrupt bool) []byte {
	var b bytes.Buffer
	for _, c := range []struct {
		size int
		sig  string
	}{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	} {
		b.WriteString(strconv.FormatInt(int64(c.size), 16) + ";chunk-signature=" + c.sig + "\r\n")
		data := bytes.Repeat([]byte("a"), c.size)
		if corrupt && c.size == 1024 {
			data[10] = 'b'
		}
		b.Write(data)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func docChunkedRequest(t *testing.T, body []byte) *http.Request {
	t.Helper()
	head := "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\nHost: s3.amazonaws.com\r\n" +
		"x-amz-date: 20130524T000000Z\r\nx-amz-storage-class: REDUCED_REDUNDANCY\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\r\n" +
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\nContent-Encoding: aws-chunked\r\n" +
		"x-amz-decoded-content-length: 66560\r\nContent-Length: 66824\r\n\r\n"
	return readRequest(t, head+string(body))
}

func TestS3DocumentationChunkedUpload(t *testing.T) {
	v := docVerifier(t, docTime)
	body := docChunkedBody(false)
	if len(body) != 66824 {
		t.Fatalf("the example body is %d bytes, want 66824", len(body))
	}
	r := docChunkedRequest(t, body)
	a, err := v.Verify(r)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if a.PayloadHash != StreamingPayload {
		t.Fatalf("payload = %q", a.PayloadHash)
	}
	b, err := NewBody(r, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Size() != 66560 {
		t.Errorf("Size = %d, want 66560", b.Size())
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading the chunked body: %v", err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
		t.Errorf("decoded %d bytes, not the 66560 'a' of the example", len(got))
	}

	t.Run("a flipped byte fails the chunk signature", func(t *testing.T) {
		r := docChunkedRequest(t, docChunkedBody(true))
		a, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewBody(r, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(b)
		assertCode(t, err, CodeSignatureDoesNotMatch)
	})
}

// The trailer example of "Signature calculations for trailing headers":
// the same 66560 bytes, chunk signatures chained from the seed of a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER request, and a signed
// x-amz-checksum-crc32c trailer.
func TestS3DocumentationTrailerUpload(t *testing.T) {
	body := "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n" +
		strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" +
		strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n" +
		"x-amz-checksum-crc32c:sOO8/Q==\r\n" +
		"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
	a := &Auth{
		PayloadHash: StreamingPayloadTrailer,
		key:         signingKey(docSecret, "20130524", "us-east-1", "s3"),
		signature:   "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
		amzDate:     "20130524T000000Z",
		scope:       "20130524/us-east-1/s3/aws4_request",
	}
	request := func(body string) *http.Request {
		return readRequest(t, "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"+
			"Content-Encoding: aws-chunked\r\nx-amz-decoded-content-length: 66560\r\n"+
			"x-amz-trailer: x-amz-checksum-crc32c\r\n"+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
	r := request(body)
	b, err := NewBody(r, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if len(got) != 66560 {
		t.Fatalf("decoded %d bytes, want 66560", len(got))
	}
	if c, ok := b.Checksum(); !ok || c != (Checksum{ChecksumCRC32C, "sOO8/Q=="}) {
		t.Errorf("Checksum = %v, %v; want crc32c sOO8/Q==", c, ok)
	}

	for _, c := range []struct {
		name, from, to, code string
	}{
		{"a changed trailer value fails the trailer signature", "sOO8/Q==", "AAAAAA==", CodeSignatureDoesNotMatch},
		{"a changed trailer signature fails", "d81f82fc", "d81f82fd", CodeSignatureDoesNotMatch},
		{"a missing trailer signature is malformed", "x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n", "", CodeMalformedTrailerError},
		{"an undeclared trailer is malformed", "x-amz-checksum-crc32c:", "x-amz-checksum-crc32:", CodeMalformedTrailerError},
		{"a changed final chunk signature fails", "2ca2aba2", "2ca2aba3", CodeSignatureDoesNotMatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := request(strings.Replace(body, c.from, c.to, 1))
			b, err := NewBody(r, a, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(b)
			assertCode(t, err, c.code)
		})
	}
}

// The trailer signature vector of AWS's common runtime (aws-crt): three
// trailing headers signed after the final chunk of the chunked example.
func TestTrailerSignatureVector(t *testing.T) {
	s := &chunkSigner{
		key:     signingKey(docSecret, "20130524", "us-east-1", "s3"),
		amzDate: "20130524T000000Z",
		scope:   "20130524/us-east-1/s3/aws4_request",
		prev:    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	const want = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
	if got := s.trailer("first:1st\nsecond:2nd\nthird:3rd\n"); got != want {
		t.Errorf("trailer signature = %s, want %s", got, want)
	}
}

func TestChecksumCheckValues(t *testing.T) {
	// The check values of the CRC catalogue (the checksum of
	// "123456789") and the digests of the same string.
	for algo, want := range map[string]string{
		ChecksumCRC32:     "cbf43926",
		ChecksumCRC32C:    "e3069283",
		ChecksumCRC64NVME: "ae8b14860a799888",
		ChecksumSHA1:      "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
		ChecksumSHA256:    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
	} {
		h := NewChecksum(algo)
		h.Write([]byte("123456789"))
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s(123456789) = %s, want %s", algo, got, want)
		}
		if len(h.Sum(nil)) != checksumSize(algo) {
			t.Errorf("%s: size %d, want %d", algo, len(h.Sum(nil)), checksumSize(algo))
		}
	}
	if NewChecksum("md5") != nil {
		t.Error("NewChecksum(md5) is not nil")
	}
}

package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

func TestErrorCodesHaveAWSStatuses(t *testing.T) {
	// The statuses of AWS's "Error responses" page for the codes the
	// issue lists and the others the gateway needs.
	want := map[ErrorCode]int{
		NoSuchBucket: 404, NoSuchKey: 404, NoSuchUpload: 404, BucketNotEmpty: 409, BucketAlreadyOwnedByYou: 409,
		BucketAlreadyExists: 409, InvalidBucketName: 400, SignatureDoesNotMatch: 403, InvalidAccessKeyID: 403,
		AccessDenied: 403, RequestTimeTooSkewed: 403, InvalidRange: 416, InvalidPart: 400, InvalidPartOrder: 400,
		EntityTooSmall: 400, MalformedXML: 400, BadDigest: 400, NotImplemented: 501, InvalidArgument: 400,
		InvalidRequest: 400, PreconditionFailed: 412, NotModified: 304, MethodNotAllowed: 405, InternalError: 500,
		SlowDown: 503, KeyTooLongError: 400, XAmzContentSHA256Mismatch: 400, MissingContentLength: 411,
		EntityTooLarge: 400, InvalidDigest: 400, AuthorizationHeaderMalformed: 400, AuthorizationQueryParametersError: 400,
		MissingSecurityHeader: 400, ExpiredToken: 400, IncompleteBody: 400, MaxMessageLengthExceeded: 400,
		MissingRequestBodyError: 400, ServiceUnavailable: 503, RequestTimeout: 400, MalformedTrailerError: 400,
	}
	for code, status := range want {
		if got := code.Status(); got != status {
			t.Errorf("%s.Status() = %d, want %d", code, got, status)
		}
	}
	for code, info := range codes {
		if info.message == "" {
			t.Errorf("%s has no message", code)
		}
	}
	// Every code the signature verifier answers with is in the table.
	for _, c := range sigv4.Codes {
		if _, ok := codes[ErrorCode(c)]; !ok {
			t.Errorf("sigv4 code %s is not in the table", c)
		}
	}
	if ErrorCode("Bogus").Status() != 500 {
		t.Error("an unknown code is not 500")
	}
}

func TestErrorIsItsCode(t *testing.T) {
	err := fmt.Errorf("get: %w", &Error{Code: NoSuchKey, Key: "k"})
	if !errors.Is(err, NoSuchKey) || errors.Is(err, NoSuchBucket) {
		t.Errorf("errors.Is on %v is wrong", err)
	}
	if AsError(err).Code != NoSuchKey {
		t.Errorf("AsError(%v) = %v", err, AsError(err))
	}
	internal := AsError(errors.New("namenode exploded at 10.0.0.1"))
	if internal.Code != InternalError || strings.Contains(internal.message(), "10.0.0.1") {
		t.Errorf("AsError of a plain error = %+v", internal)
	}
}

func TestWriteError(t *testing.T) {
	t.Run("a body with the code, message, resource and request ID", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/bucket/some/key", nil)
		WriteError(w, r, &Error{Code: NoSuchKey, Key: "some/key", BucketName: "bucket"}, "REQ123")
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/xml" || w.Header().Get("X-Amz-Request-Id") != "REQ123" {
			t.Fatalf("status %d, headers %v", w.Code, w.Header())
		}
		want := xml.Header + `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><BucketName>bucket</BucketName><Key>some/key</Key><Resource>/bucket/some/key</Resource><RequestId>REQ123</RequestId></Error>`
		if w.Body.String() != want {
			t.Errorf("body =\n%s\nwant\n%s", w.Body.String(), want)
		}
	})
	t.Run("HEAD gets no body", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest("HEAD", "/b/k", nil), &Error{Code: NoSuchKey}, "R")
		if w.Code != 404 || w.Body.Len() != 0 {
			t.Errorf("HEAD: status %d, body %q", w.Code, w.Body.String())
		}
	})
	t.Run("304 gets no body", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest("GET", "/b/k", nil), &Error{Code: NotModified}, "R")
		if w.Code != 304 || w.Body.Len() != 0 {
			t.Errorf("304: status %d, body %q", w.Code, w.Body.String())
		}
	})
	t.Run("a signature error keeps its diagnostics", func(t *testing.T) {
		w := httptest.NewRecorder()
		se := &sigv4.Error{Code: sigv4.CodeSignatureDoesNotMatch, Message: "no", AccessKeyID: "AK", StringToSign: "STS", CanonicalRequest: "CR", SignatureProvided: "SIG"}
		WriteError(w, httptest.NewRequest("PUT", "/b/k", nil), fmt.Errorf("verify: %w", se), "R")
		var body ErrorResponse
		if err := xml.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != 403 || body.Code != "SignatureDoesNotMatch" || body.AWSAccessKeyID != "AK" || body.StringToSign != "STS" || body.CanonicalRequest != "CR" || body.SignatureProvided != "SIG" {
			t.Errorf("status %d, body %+v", w.Code, body)
		}
	})
	t.Run("an internal error does not show its cause", func(t *testing.T) {
		w := httptest.NewRecorder()
		e := WriteError(w, httptest.NewRequest("GET", "/b", nil), errors.New("secret detail"), "R")
		if w.Code != 500 || strings.Contains(w.Body.String(), "secret detail") || e.Err == nil {
			t.Errorf("status %d, body %s, cause %v", w.Code, w.Body.String(), e.Err)
		}
	})
}

func TestResponseBodies(t *testing.T) {
	when := Timestamp(time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("x", 3600)))
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"ListObjectsV2, url-encoded", func() any {
			r := &ListBucketResultV2{Name: "b", Prefix: "a b/", Delimiter: "/", MaxKeys: 2, KeyCount: 2, IsTruncated: true,
				NextContinuationToken: "tok+/=", StartAfter: "a b/0",
				Contents:       []Object{{Key: "a b/é+1", LastModified: when, ETag: QuoteETag("abc"), Size: 3, StorageClass: "STANDARD"}},
				CommonPrefixes: []CommonPrefix{{Prefix: "a b/c/"}}}
			r.URLEncode()
			return r
		}(), `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>a+b/</Prefix><Delimiter>/</Delimiter><MaxKeys>2</MaxKeys><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken><StartAfter>a+b/0</StartAfter><EncodingType>url</EncodingType><Contents><Key>a+b/%C3%A9%2B1</Key><LastModified>2024-02-29T12:14:15.123Z</LastModified><ETag>&#34;abc&#34;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>a+b/c/</Prefix></CommonPrefixes></ListBucketResult>`},
		{"ListBuckets with no bucket", &ListAllMyBucketsResult{Owner: Owner{ID: "alice", DisplayName: "alice"}},
			`<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>alice</ID><DisplayName>alice</DisplayName></Owner><Buckets></Buckets></ListAllMyBucketsResult>`},
		{"DeleteResult, quiet", func() any {
			r := &DeleteResult{Quiet: true}
			r.AddDeleted("gone", "")
			r.AddError("locked", "", &Error{Code: AccessDenied})
			return r
		}(), `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Error><Key>locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`},
		{"LocationConstraint of us-east-1", NewLocationConstraint("us-east-1"), `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`},
		{"LocationConstraint of another region", NewLocationConstraint("eu-west-1"), `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>`},
		{"VersioningConfiguration", &VersioningConfiguration{}, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`},
		{"CompleteMultipartUploadResult", &CompleteMultipartUploadResult{Location: "http://h/b/k", Bucket: "b", Key: "k", ETag: QuoteETag("abc-2"), Checksums: Checksums{ChecksumCRC32: "AAAAAA==-2"}},
			`<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://h/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&#34;abc-2&#34;</ETag><ChecksumCRC32>AAAAAA==-2</ChecksumCRC32></CompleteMultipartUploadResult>`},
		{"CopyObjectResult", &CopyObjectResult{LastModified: when, ETag: QuoteETag("abc")},
			`<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>2024-02-29T12:14:15.123Z</LastModified><ETag>&#34;abc&#34;</ETag></CopyObjectResult>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := MarshalXML(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(string(b), xml.Header); got != c.want {
				t.Errorf("XML =\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// Every response type carries the namespace and parses back.
func TestResponseTypesRoundTrip(t *testing.T) {
	when := Timestamp(time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC))
	for _, v := range []any{
		&ListAllMyBucketsResult{Buckets: Buckets{Bucket: []Bucket{{Name: "b", CreationDate: when}}}},
		&ListBucketResult{Name: "b", Contents: []Object{{Key: "k", LastModified: when}}},
		&ListBucketResultV2{Name: "b"},
		&CopyObjectResult{LastModified: when}, &CopyPartResult{LastModified: when},
		&InitiateMultipartUploadResult{Bucket: "b", Key: "k", UploadID: "u"},
		&CompleteMultipartUploadResult{}, &ListPartsResult{Parts: []Part{{PartNumber: 1, LastModified: when}}},
		&ListMultipartUploadsResult{Uploads: []Upload{{Key: "k", Initiated: when}}},
		&DeleteResult{}, NewLocationConstraint("x"), &VersioningConfiguration{},
	} {
		b, err := MarshalXML(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if !bytes.Contains(b, []byte(`xmlns="`+Namespace+`"`)) {
			t.Errorf("%T has no namespace: %s", v, b)
		}
		if bytes.Contains(b, []byte("T03:04:05")) && !bytes.Contains(b, []byte("2024-01-02T03:04:05.006Z")) {
			t.Errorf("%T: time not in ISO 8601 with milliseconds: %s", v, b)
		}
		back := reflectNew(v)
		if err := xml.Unmarshal(b, back); err != nil {
			t.Errorf("%T does not parse back: %v", v, err)
		}
	}
}

func reflectNew(v any) any {
	switch v.(type) {
	case *ListAllMyBucketsResult:
		return new(ListAllMyBucketsResult)
	case *ListBucketResult:
		return new(ListBucketResult)
	case *ListBucketResultV2:
		return new(ListBucketResultV2)
	case *CopyObjectResult:
		return new(CopyObjectResult)
	case *CopyPartResult:
		return new(CopyPartResult)
	case *InitiateMultipartUploadResult:
		return new(InitiateMultipartUploadResult)
	case *CompleteMultipartUploadResult:
		return new(CompleteMultipartUploadResult)
	case *ListPartsResult:
		return new(ListPartsResult)
	case *ListMultipartUploadsResult:
		return new(ListMultipartUploadsResult)
	case *DeleteResult:
		return new(DeleteResult)
	case *LocationConstraint:
		return new(LocationConstraint)
	case *VersioningConfiguration:
		return new(VersioningConfiguration)
	}
	panic(fmt.Sprintf("%T", v))
}

func TestURLEncodeKey(t *testing.T) {
	for in, want := range map[string]string{
		"plain/key.txt": "plain/key.txt",
		"a b":           "a+b",
		"a+b":           "a%2Bb",
		"é":             "%C3%A9",
		"x\ty*~!":       "x%09y*%7E%21",
		"100%":          "100%25",
		"a&b=c?d#e":     "a%26b%3Dc%3Fd%23e",
		"-_.":           "-_.",
		"日本/東京 (1).txt": "%E6%97%A5%E6%9C%AC/%E6%9D%B1%E4%BA%AC+%281%29.txt",
	} {
		got := URLEncodeKey(in)
		if got != want {
			t.Errorf("URLEncodeKey(%q) = %q, want %q", in, got, want)
		}
		// Clients decode with unquote_plus / QueryUnescape.
		if back, err := url.QueryUnescape(got); err != nil || back != in {
			t.Errorf("QueryUnescape(%q) = %q, %v; want %q", got, back, err, in)
		}
	}
}

func TestParseCompleteMultipartUpload(t *testing.T) {
	good := `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><ETag>"a54357aff0632cce46d942af68356b38"</ETag><PartNumber>1</PartNumber></Part>
  <Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
  <Part><PartNumber>7</PartNumber><ETag>acbd18db4cc2f85cedef654fccc4a4d8</ETag></Part>
</CompleteMultipartUpload>
<!-- trailing comment -->
`
	c, err := ParseCompleteMultipartUpload(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []CompletedPart{
		{PartNumber: 1, ETag: "a54357aff0632cce46d942af68356b38"},
		{PartNumber: 2, ETag: "0c78aef83f66abc1fa1e8477f296d394", Checksums: Checksums{ChecksumCRC32: "AAAAAA=="}},
		{PartNumber: 7, ETag: "acbd18db4cc2f85cedef654fccc4a4d8"},
	}
	if fmt.Sprint(c.Parts) != fmt.Sprint(want) {
		t.Errorf("parts = %+v, want %+v", c.Parts, want)
	}
	part := func(n int, etag string) string {
		return fmt.Sprintf("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etag)
	}
	doc := func(parts ...string) string {
		return "<CompleteMultipartUpload>" + strings.Join(parts, "") + "</CompleteMultipartUpload>"
	}
	for _, c := range []struct {
		name, body string
		code       ErrorCode
	}{
		{"an empty body", "", MalformedXML},
		{"no part", doc(), MalformedXML},
		{"parts out of order", doc(part(2, "x"), part(1, "y")), InvalidPartOrder},
		{"a part twice", doc(part(1, "x"), part(1, "x")), InvalidPartOrder},
		{"part number 0", doc(part(0, "x")), InvalidArgument},
		{"part number 10001", doc(part(10001, "x")), InvalidArgument},
		{"a part without ETag", doc(part(1, `""`)), MalformedXML},
		{"a part number that is not a number", "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber></Part></CompleteMultipartUpload>", MalformedXML},
		{"another root element", "<Delete><Object><Key>k</Key></Object></Delete>", MalformedXML},
		{"not XML", "PartNumber=1", MalformedXML},
		{"a truncated document", doc(part(1, "x"))[:30], MalformedXML},
		{"a second document", doc(part(1, "x")) + doc(part(1, "x")), MalformedXML},
		{"an external entity", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&e;</ETag></Part></CompleteMultipartUpload>`, MalformedXML},
		{"too big", doc(strings.Repeat(part(1, "x"), MaxXMLRequestSize/40)), MaxMessageLengthExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCompleteMultipartUpload(strings.NewReader(c.body))
			if !isCode(err, c.code) {
				t.Errorf("ParseCompleteMultipartUpload = %v, want %s", err, c.code)
			}
		})
	}
}

func TestParseDelete(t *testing.T) {
	d, err := ParseDelete(strings.NewReader(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a &amp; b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>`))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Quiet || len(d.Objects) != 2 || d.Objects[0].Key != "a & b" || d.Objects[1].VersionID != "null" {
		t.Errorf("Delete = %+v", d)
	}
	objects := func(n int) string {
		return "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", n) + "</Delete>"
	}
	if _, err := ParseDelete(strings.NewReader(objects(1000))); err != nil {
		t.Errorf("1000 objects: %v", err)
	}
	for _, c := range []struct {
		name, body string
		code       ErrorCode
	}{
		{"an empty body", "", MissingRequestBodyError},
		{"no object", objects(0), MalformedXML},
		{"1001 objects", objects(1001), MalformedXML},
		{"an object without a key", "<Delete><Object><VersionId>v</VersionId></Object></Delete>", MalformedXML},
		{"a quiet that is not a boolean", "<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>", MalformedXML},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseDelete(strings.NewReader(c.body)); !isCode(err, c.code) {
				t.Errorf("ParseDelete = %v, want %s", err, c.code)
			}
		})
	}
	t.Run("a body that fails its digest at the end", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(objects(1)), errReader{&sigv4.Error{Code: sigv4.CodeBadDigest}})
		_, err := ParseDelete(r)
		if AsError(err).Code != BadDigest {
			t.Errorf("ParseDelete = %v, want BadDigest", err)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestParseCreateBucketConfiguration(t *testing.T) {
	if c, err := ParseCreateBucketConfiguration(strings.NewReader("")); c != nil || err != nil {
		t.Errorf("empty body = %v, %v", c, err)
	}
	c, err := ParseCreateBucketConfiguration(strings.NewReader(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`))
	if err != nil || c.LocationConstraint != "eu-west-1" {
		t.Errorf("= %+v, %v", c, err)
	}
	if _, err := ParseCreateBucketConfiguration(strings.NewReader("<x/>")); !isCode(err, MalformedXML) {
		t.Errorf("another root = %v", err)
	}
}

func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<a><b><c></c></b></a>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCompleteMultipartUpload(bytes.NewReader(body))
		if err != nil {
			if AsError(err).Code == InternalError {
				t.Fatalf("ParseCompleteMultipartUpload(%q) = %v: not an S3 client error", body, err)
			}
			return
		}
		for i, p := range c.Parts {
			if p.PartNumber < 1 || p.PartNumber > MaxPartNumber || p.ETag == "" || i > 0 && p.PartNumber <= c.Parts[i-1].PartNumber {
				t.Fatalf("accepted %+v", c.Parts)
			}
		}
	})
}

func FuzzParseDelete(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key></Key></Object></Delete>`))
	f.Add([]byte(`<?xml version="1.0"?><Delete xmlns="x"><Object><Key>&lt;</Key><VersionId>1</VersionId></Object></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDelete(bytes.NewReader(body))
		if err != nil {
			if AsError(err).Code == InternalError {
				t.Fatalf("ParseDelete(%q) = %v: not an S3 client error", body, err)
			}
			return
		}
		if len(d.Objects) == 0 || len(d.Objects) > MaxDeleteObjects {
			t.Fatalf("accepted %d objects", len(d.Objects))
		}
		for _, o := range d.Objects {
			if o.Key == "" {
				t.Fatal("accepted an empty key")
			}
		}
	})
}

func TestWriteXML(t *testing.T) {
	w := httptest.NewRecorder()
	if err := WriteXML(w, http.StatusOK, &InitiateMultipartUploadResult{Bucket: "b", Key: "k", UploadID: "u"}); err != nil {
		t.Fatal(err)
	}
	if w.Header().Get("Content-Type") != "application/xml" || !strings.HasPrefix(w.Body.String(), xml.Header) {
		t.Errorf("headers %v body %s", w.Header(), w.Body.String())
	}
}

package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// Namespace is the XML namespace of S3's response bodies.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// TimeFormat is how S3 writes times in XML: ISO 8601, UTC, with
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Timestamp is a time written as S3 writes it in XML.
type Timestamp time.Time

// MarshalText formats t in UTC with milliseconds and Z.
func (t Timestamp) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(TimeFormat)), nil
}

// UnmarshalText parses an ISO 8601 time.
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}

// HTTPTime formats t as S3 does in Last-Modified and other headers.
func HTTPTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// QuoteETag returns the ETag in quotes, as S3 sends it in headers and
// XML; an ETag already quoted is returned as is.
func QuoteETag(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag
	}
	return `"` + etag + `"`
}

// UnquoteETag strips the quotes (and a W/ weak prefix) a client may put
// around an ETag in If-Match or a CompleteMultipartUpload part.
func UnquoteETag(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		etag = etag[1 : len(etag)-1]
	}
	return etag
}

// MarshalXML encodes v as an XML document with its declaration.
func MarshalXML(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteXML answers with status and v as its XML body.
func WriteXML(w http.ResponseWriter, status int, v any) error {
	body, err := MarshalXML(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// Owner is the owner of a bucket, object or upload: the cairn user.
type Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// ListAllMyBucketsResult answers ListBuckets.
type ListAllMyBucketsResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   Owner    `xml:"Owner"`
	Buckets Buckets  `xml:"Buckets"`
}

// Buckets is the list of buckets; present (possibly empty) in every
// ListBuckets answer.
type Buckets struct {
	Bucket []Bucket `xml:"Bucket"`
}

// Bucket is one bucket of ListBuckets.
type Bucket struct {
	Name         string    `xml:"Name"`
	CreationDate Timestamp `xml:"CreationDate"`
}

// Object is one key of a listing (an element <Contents>).
type Object struct {
	Key          string    `xml:"Key"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"` // quoted
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *Owner    `xml:"Owner,omitempty"`
}

// CommonPrefix is one rolled-up prefix of a listing with a delimiter.
type CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// ListBucketResult answers ListObjects (version 1).
type ListBucketResult struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []Object       `xml:"Contents"`
	CommonPrefixes []CommonPrefix `xml:"CommonPrefixes"`
}

// URLEncode encodes the keys and prefixes of r as EncodingType=url asks
// (see URLEncodeKey) and sets EncodingType. Call it last, after the
// fields are filled with plain keys.
func (r *ListBucketResult) URLEncode() {
	r.EncodingType = "url"
	r.Prefix = URLEncodeKey(r.Prefix)
	r.Marker = URLEncodeKey(r.Marker)
	r.NextMarker = URLEncodeKey(r.NextMarker)
	r.Delimiter = URLEncodeKey(r.Delimiter)
	encodeObjects(r.Contents, r.CommonPrefixes)
}

// ListBucketResultV2 answers ListObjectsV2.
type ListBucketResultV2 struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	Contents              []Object       `xml:"Contents"`
	CommonPrefixes        []CommonPrefix `xml:"CommonPrefixes"`
}

// URLEncode encodes the keys and prefixes of r as EncodingType=url asks
// and sets EncodingType. The continuation tokens are opaque and left
// alone.
func (r *ListBucketResultV2) URLEncode() {
	r.EncodingType = "url"
	r.Prefix = URLEncodeKey(r.Prefix)
	r.Delimiter = URLEncodeKey(r.Delimiter)
	r.StartAfter = URLEncodeKey(r.StartAfter)
	encodeObjects(r.Contents, r.CommonPrefixes)
}

func encodeObjects(objs []Object, prefixes []CommonPrefix) {
	for i := range objs {
		objs[i].Key = URLEncodeKey(objs[i].Key)
	}
	for i := range prefixes {
		prefixes[i].Prefix = URLEncodeKey(prefixes[i].Prefix)
	}
}

// URLEncodeKey encodes a key for a response with EncodingType=url, as
// S3 and MinIO do: letters, digits and - _ . / * are kept, a space
// becomes '+', every other byte %XX. Clients decode it with
// unquote_plus (botocore) or url.QueryUnescape (Go SDKs).
func URLEncodeKey(s string) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '/', c == '*':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

// Checksums are the x-amz-checksum-* values S3 returns with an object
// or a part, each base64; empty ones are left out.
type Checksums struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

// CopyObjectResult answers CopyObject.
type CopyObjectResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Checksums
}

// CopyPartResult answers UploadPartCopy.
type CopyPartResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Checksums
}

// InitiateMultipartUploadResult answers CreateMultipartUpload.
type InitiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// CompleteMultipartUploadResult answers CompleteMultipartUpload.
type CompleteMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	Checksums
}

// ListMultipartUploadsResult answers ListMultipartUploads.
type ListMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	Uploads            []Upload       `xml:"Upload"`
	CommonPrefixes     []CommonPrefix `xml:"CommonPrefixes"`
}

// URLEncode encodes the keys and prefixes of r as EncodingType=url asks
// and sets EncodingType.
func (r *ListMultipartUploadsResult) URLEncode() {
	r.EncodingType = "url"
	r.KeyMarker = URLEncodeKey(r.KeyMarker)
	r.NextKeyMarker = URLEncodeKey(r.NextKeyMarker)
	r.Prefix = URLEncodeKey(r.Prefix)
	r.Delimiter = URLEncodeKey(r.Delimiter)
	for i := range r.Uploads {
		r.Uploads[i].Key = URLEncodeKey(r.Uploads[i].Key)
	}
	encodeObjects(nil, r.CommonPrefixes)
}

// Upload is one multipart upload in progress.
type Upload struct {
	Key          string    `xml:"Key"`
	UploadID     string    `xml:"UploadId"`
	Initiator    Owner     `xml:"Initiator"`
	Owner        Owner     `xml:"Owner"`
	StorageClass string    `xml:"StorageClass"`
	Initiated    Timestamp `xml:"Initiated"`
}

// ListPartsResult answers ListParts.
type ListPartsResult struct {
	XMLName              xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string   `xml:"Bucket"`
	Key                  string   `xml:"Key"`
	UploadID             string   `xml:"UploadId"`
	Initiator            Owner    `xml:"Initiator"`
	Owner                Owner    `xml:"Owner"`
	StorageClass         string   `xml:"StorageClass"`
	PartNumberMarker     int      `xml:"PartNumberMarker"`
	NextPartNumberMarker int      `xml:"NextPartNumberMarker"`
	MaxParts             int      `xml:"MaxParts"`
	IsTruncated          bool     `xml:"IsTruncated"`
	Parts                []Part   `xml:"Part"`
}

// Part is one uploaded part of ListParts.
type Part struct {
	PartNumber   int       `xml:"PartNumber"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
	Checksums
}

// DeleteResult answers DeleteObjects. In quiet mode only the errors are
// listed: use AddDeleted, which honors Quiet.
type DeleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []DeletedObject `xml:"Deleted"`
	Errors  []DeleteError   `xml:"Error"`
	// Quiet suppresses the Deleted elements.
	Quiet bool `xml:"-"`
}

// DeletedObject is a key DeleteObjects deleted (or found absent, which
// S3 also reports as deleted).
type DeletedObject struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// DeleteError is a key DeleteObjects could not delete.
type DeleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// AddDeleted records a deleted key, unless the request was quiet.
func (r *DeleteResult) AddDeleted(key, versionID string) {
	if !r.Quiet {
		r.Deleted = append(r.Deleted, DeletedObject{Key: key, VersionID: versionID})
	}
}

// AddError records a key that could not be deleted, with the S3 error
// it would have had on its own.
func (r *DeleteResult) AddError(key, versionID string, err error) {
	e := AsError(err)
	r.Errors = append(r.Errors, DeleteError{Key: key, VersionID: versionID, Code: string(e.Code), Message: e.message()})
}

// LocationConstraint answers GetBucketLocation: empty for us-east-1, as
// S3.
type LocationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

// NewLocationConstraint is the answer for a gateway in region.
func NewLocationConstraint(region string) *LocationConstraint {
	if region == "us-east-1" {
		region = ""
	}
	return &LocationConstraint{Region: region}
}

// VersioningConfiguration answers GetBucketVersioning. cairn has no
// versioning, so Status is always empty: versioning was never enabled.
type VersioningConfiguration struct {
	XMLName   xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status    string   `xml:"Status,omitempty"`
	MFADelete string   `xml:"MfaDelete,omitempty"`
}

// Request bodies.

// MaxXMLRequestSize bounds the XML body of a request (a DeleteObjects
// of 1000 keys of 1024 bytes, escaped, is about 6 MiB; a
// CompleteMultipartUpload of 10000 parts about 3 MiB).
const MaxXMLRequestSize = 8 << 20

// Limits of S3 the request parsers check.
const (
	MaxDeleteObjects = 1000
	MaxPartNumber    = 10000
)

// CompleteMultipartUpload is the body of CompleteMultipartUpload.
type CompleteMultipartUpload struct {
	XMLName xml.Name        `xml:"CompleteMultipartUpload"`
	Parts   []CompletedPart `xml:"Part"`
}

// CompletedPart names one part to join: its number and the ETag its
// upload returned (unquoted by the parser).
type CompletedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
	Checksums
}

// Delete is the body of DeleteObjects.
type Delete struct {
	XMLName xml.Name           `xml:"Delete"`
	Quiet   bool               `xml:"Quiet"`
	Objects []ObjectIdentifier `xml:"Object"`
}

// ObjectIdentifier is one key to delete.
type ObjectIdentifier struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// CreateBucketConfiguration is the optional body of CreateBucket.
type CreateBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// limitedReader reads at most n bytes and remembers whether the source
// had more.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// decodeXML decodes one request body into v, reading at most
// MaxXMLRequestSize bytes of it. An empty body is errEmptyBody.
func decodeXML(r io.Reader, v any) error {
	lr := &limitedReader{r: r, n: MaxXMLRequestSize}
	d := xml.NewDecoder(lr)
	err := d.Decode(v)
	switch {
	case lr.over:
		return Errorf(MaxMessageLengthExceeded, "Your request was too big: the XML body is longer than %d bytes.", MaxXMLRequestSize)
	case errors.Is(err, io.EOF) && d.InputOffset() == 0:
		return errEmptyBody
	case err != nil:
		return xmlError(err)
	}
	// Nothing but white space and comments may follow the document.
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if lr.over {
			return Errorf(MaxMessageLengthExceeded, "Your request was too big: the XML body is longer than %d bytes.", MaxXMLRequestSize)
		}
		if err != nil {
			return xmlError(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
		case xml.Comment, xml.ProcInst:
			continue
		}
		return &Error{Code: MalformedXML, Err: fmt.Errorf("data after the document element")}
	}
	return nil
}

var errEmptyBody = errors.New("empty body")

// xmlError classifies an error of decoding a request body: a failure
// to read the body (a signature or digest mismatch found at its end) is
// returned as it is, anything else is MalformedXML.
func xmlError(err error) error {
	var e *Error
	var se *sigv4.Error
	if errors.As(err, &e) || errors.As(err, &se) {
		return err
	}
	return &Error{Code: MalformedXML, Err: err}
}

// ParseCompleteMultipartUpload reads the body of a
// CompleteMultipartUpload: at least one part, part numbers from 1 to
// 10000 in strictly ascending order (InvalidPartOrder otherwise), each
// with an ETag. The ETags are returned without their quotes.
func ParseCompleteMultipartUpload(r io.Reader) (*CompleteMultipartUpload, error) {
	var c CompleteMultipartUpload
	if err := decodeXML(r, &c); err != nil {
		if errors.Is(err, errEmptyBody) {
			return nil, Errorf(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: the body is empty.")
		}
		return nil, err
	}
	if len(c.Parts) == 0 {
		return nil, Errorf(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: it lists no part.")
	}
	if len(c.Parts) > MaxPartNumber {
		return nil, Errorf(MalformedXML, "The XML you provided lists %d parts; at most %d are allowed.", len(c.Parts), MaxPartNumber)
	}
	for i := range c.Parts {
		p := &c.Parts[i]
		p.ETag = UnquoteETag(p.ETag)
		switch {
		case p.PartNumber < 1 || p.PartNumber > MaxPartNumber:
			return nil, &Error{Code: InvalidArgument, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive", MaxPartNumber),
				ArgumentName: "partNumber", ArgumentValue: strconv.Itoa(p.PartNumber)}
		case p.ETag == "":
			return nil, Errorf(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: part %d has no ETag.", p.PartNumber)
		case i > 0 && p.PartNumber <= c.Parts[i-1].PartNumber:
			return nil, &Error{Code: InvalidPartOrder}
		}
	}
	return &c, nil
}

// ParseDelete reads the body of a DeleteObjects: 1 to 1000 objects,
// each with a key.
func ParseDelete(r io.Reader) (*Delete, error) {
	var d Delete
	if err := decodeXML(r, &d); err != nil {
		if errors.Is(err, errEmptyBody) {
			return nil, &Error{Code: MissingRequestBodyError}
		}
		return nil, err
	}
	if len(d.Objects) == 0 || len(d.Objects) > MaxDeleteObjects {
		return nil, Errorf(MalformedXML, "The XML you provided lists %d objects; from 1 to %d are allowed.", len(d.Objects), MaxDeleteObjects)
	}
	for _, o := range d.Objects {
		if o.Key == "" {
			return nil, Errorf(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: an object has no key.")
		}
	}
	return &d, nil
}

// ParseCreateBucketConfiguration reads the optional body of a
// CreateBucket; an empty body is no configuration (nil, nil).
func ParseCreateBucketConfiguration(r io.Reader) (*CreateBucketConfiguration, error) {
	var c CreateBucketConfiguration
	if err := decodeXML(r, &c); err != nil {
		if errors.Is(err, errEmptyBody) {
			return nil, nil
		}
		return nil, err
	}
	return &c, nil
}

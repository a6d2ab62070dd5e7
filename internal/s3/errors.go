package s3

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// ErrorCode is an S3 error code, such as NoSuchKey. It is also an error,
// so that errors.Is(err, s3.NoSuchKey) tests an *Error's code.
type ErrorCode string

// The S3 error codes the gateway answers with, each with the HTTP
// status AWS documents for it (see codes below).
const (
	AccessDenied                       ErrorCode = "AccessDenied"
	AuthorizationHeaderMalformed       ErrorCode = "AuthorizationHeaderMalformed"
	AuthorizationQueryParametersError  ErrorCode = "AuthorizationQueryParametersError"
	BadDigest                          ErrorCode = "BadDigest"
	BucketAlreadyExists                ErrorCode = "BucketAlreadyExists"
	BucketAlreadyOwnedByYou            ErrorCode = "BucketAlreadyOwnedByYou"
	BucketNotEmpty                     ErrorCode = "BucketNotEmpty"
	EntityTooLarge                     ErrorCode = "EntityTooLarge"
	EntityTooSmall                     ErrorCode = "EntityTooSmall"
	ExpiredToken                       ErrorCode = "ExpiredToken"
	IllegalLocationConstraintException ErrorCode = "IllegalLocationConstraintException"
	IncompleteBody                     ErrorCode = "IncompleteBody"
	InternalError                      ErrorCode = "InternalError"
	InvalidAccessKeyID                 ErrorCode = "InvalidAccessKeyId"
	InvalidArgument                    ErrorCode = "InvalidArgument"
	InvalidBucketName                  ErrorCode = "InvalidBucketName"
	InvalidBucketState                 ErrorCode = "InvalidBucketState"
	InvalidDigest                      ErrorCode = "InvalidDigest"
	InvalidLocationConstraint          ErrorCode = "InvalidLocationConstraint"
	InvalidPart                        ErrorCode = "InvalidPart"
	InvalidPartOrder                   ErrorCode = "InvalidPartOrder"
	InvalidRange                       ErrorCode = "InvalidRange"
	InvalidRequest                     ErrorCode = "InvalidRequest"
	InvalidStorageClass                ErrorCode = "InvalidStorageClass"
	InvalidToken                       ErrorCode = "InvalidToken"
	InvalidURI                         ErrorCode = "InvalidURI"
	KeyTooLongError                    ErrorCode = "KeyTooLongError"
	MalformedTrailerError              ErrorCode = "MalformedTrailerError"
	MalformedXML                       ErrorCode = "MalformedXML"
	MaxMessageLengthExceeded           ErrorCode = "MaxMessageLengthExceeded"
	MetadataTooLarge                   ErrorCode = "MetadataTooLarge"
	MethodNotAllowed                   ErrorCode = "MethodNotAllowed"
	MissingContentLength               ErrorCode = "MissingContentLength"
	MissingRequestBodyError            ErrorCode = "MissingRequestBodyError"
	MissingSecurityHeader              ErrorCode = "MissingSecurityHeader"
	NoSuchBucket                       ErrorCode = "NoSuchBucket"
	NoSuchBucketPolicy                 ErrorCode = "NoSuchBucketPolicy"
	NoSuchCORSConfiguration            ErrorCode = "NoSuchCORSConfiguration"
	NoSuchKey                          ErrorCode = "NoSuchKey"
	NoSuchLifecycleConfiguration       ErrorCode = "NoSuchLifecycleConfiguration"
	NoSuchTagSet                       ErrorCode = "NoSuchTagSet"
	NoSuchUpload                       ErrorCode = "NoSuchUpload"
	NoSuchVersion                      ErrorCode = "NoSuchVersion"
	NotImplemented                     ErrorCode = "NotImplemented"
	NotModified                        ErrorCode = "NotModified"
	OperationAborted                   ErrorCode = "OperationAborted"
	PreconditionFailed                 ErrorCode = "PreconditionFailed"
	RequestTimeTooSkewed               ErrorCode = "RequestTimeTooSkewed"
	RequestTimeout                     ErrorCode = "RequestTimeout"
	ServiceUnavailable                 ErrorCode = "ServiceUnavailable"
	SignatureDoesNotMatch              ErrorCode = "SignatureDoesNotMatch"
	SlowDown                           ErrorCode = "SlowDown"
	XAmzContentSHA256Mismatch          ErrorCode = "XAmzContentSHA256Mismatch"
)

type codeInfo struct {
	status  int
	message string
}

// codes is the table of error codes: the HTTP status AWS's "Error
// responses" page gives each, and S3's default message.
var codes = map[ErrorCode]codeInfo{
	AccessDenied:                       {http.StatusForbidden, "Access Denied"},
	AuthorizationHeaderMalformed:       {http.StatusBadRequest, "The authorization header you provided is invalid."},
	AuthorizationQueryParametersError:  {http.StatusBadRequest, "The authorization query parameters you provided are invalid."},
	BadDigest:                          {http.StatusBadRequest, "The Content-MD5 or checksum value that you specified did not match what the server received."},
	BucketAlreadyExists:                {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Select a different name and try again."},
	BucketAlreadyOwnedByYou:            {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	BucketNotEmpty:                     {http.StatusConflict, "The bucket you tried to delete is not empty."},
	EntityTooLarge:                     {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	EntityTooSmall:                     {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	ExpiredToken:                       {http.StatusBadRequest, "The provided token has expired."},
	IllegalLocationConstraintException: {http.StatusBadRequest, "The location constraint is not valid for the region this request was sent to."},
	IncompleteBody:                     {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	InternalError:                      {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	InvalidAccessKeyID:                 {http.StatusForbidden, "The AWS access key ID you provided does not exist in our records."},
	InvalidArgument:                    {http.StatusBadRequest, "Invalid Argument"},
	InvalidBucketName:                  {http.StatusBadRequest, "The specified bucket is not valid."},
	InvalidBucketState:                 {http.StatusConflict, "The request is not valid with the current state of the bucket."},
	InvalidDigest:                      {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	InvalidLocationConstraint:          {http.StatusBadRequest, "The specified location constraint is not valid."},
	InvalidPart:                        {http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	InvalidPartOrder:                   {http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	InvalidRange:                       {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"},
	InvalidRequest:                     {http.StatusBadRequest, "Invalid Request"},
	InvalidStorageClass:                {http.StatusBadRequest, "The storage class you specified is not valid."},
	InvalidToken:                       {http.StatusBadRequest, "The provided token is malformed or otherwise invalid."},
	InvalidURI:                         {http.StatusBadRequest, "Couldn't parse the specified URI."},
	KeyTooLongError:                    {http.StatusBadRequest, "Your key is too long."},
	MalformedTrailerError:              {http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	MalformedXML:                       {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	MaxMessageLengthExceeded:           {http.StatusBadRequest, "Your request was too big."},
	MetadataTooLarge:                   {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	MethodNotAllowed:                   {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	MissingContentLength:               {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	MissingRequestBodyError:            {http.StatusBadRequest, "Request Body is empty."},
	MissingSecurityHeader:              {http.StatusBadRequest, "Your request was missing a required header."},
	NoSuchBucket:                       {http.StatusNotFound, "The specified bucket does not exist."},
	NoSuchBucketPolicy:                 {http.StatusNotFound, "The specified bucket does not have a bucket policy."},
	NoSuchCORSConfiguration:            {http.StatusNotFound, "The specified bucket does not have a CORS configuration."},
	NoSuchKey:                          {http.StatusNotFound, "The specified key does not exist."},
	NoSuchLifecycleConfiguration:       {http.StatusNotFound, "The lifecycle configuration does not exist."},
	NoSuchTagSet:                       {http.StatusNotFound, "There is no tag set associated with the bucket."},
	NoSuchUpload:                       {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed."},
	NoSuchVersion:                      {http.StatusNotFound, "The version ID specified in the request does not match an existing version."},
	NotImplemented:                     {http.StatusNotImplemented, "A header you provided implies functionality that is not implemented."},
	NotModified:                        {http.StatusNotModified, "Not Modified"},
	OperationAborted:                   {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Try again."},
	PreconditionFailed:                 {http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold."},
	RequestTimeTooSkewed:               {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	RequestTimeout:                     {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	ServiceUnavailable:                 {http.StatusServiceUnavailable, "Service is unable to handle request."},
	SignatureDoesNotMatch:              {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	SlowDown:                           {http.StatusServiceUnavailable, "Please reduce your request rate."},
	XAmzContentSHA256Mismatch:          {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
}

// Status is the HTTP status of the code; 500 for a code not in the
// table.
func (c ErrorCode) Status() int {
	if i, ok := codes[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Message is S3's default message for the code.
func (c ErrorCode) Message() string {
	if i, ok := codes[c]; ok {
		return i.message
	}
	return string(c)
}

func (c ErrorCode) Error() string { return string(c) }

// Error is an S3 error to answer a request with. The gateway fills in
// what it knows (bucket, key, upload); WriteError adds the resource and
// the request ID.
type Error struct {
	Code    ErrorCode
	Message string // empty means the code's default message

	BucketName string
	Key        string
	UploadID   string
	// Resource is the bucket or object involved; empty means the
	// request's path.
	Resource string

	// Elements some codes carry (see ErrorResponse).
	Region            string
	ArgumentName      string
	ArgumentValue     string
	MissingHeaderName string
	HeadersNotSigned  string
	AccessKeyID       string
	StringToSign      string
	SignatureProvided string
	CanonicalRequest  string

	// Err is the cause, for logs; it is never sent to the client.
	Err error
}

// Errorf returns an *Error of the code with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	s := "s3: " + string(e.Code) + ": " + e.message()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.Message()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, code) true for an *Error of that code.
func (e *Error) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && c == e.Code
}

// Status is the HTTP status to answer with.
func (e *Error) Status() int { return e.Code.Status() }

// AsError turns any error into the *Error to answer with: an *Error
// (anywhere in the chain) as it is, a signature verification failure
// with its code and diagnostics, and anything else as InternalError,
// with the cause kept for the log but not sent.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		e := &Error{
			Code:              ErrorCode(se.Code),
			Message:           se.Message,
			Region:            se.Region,
			AccessKeyID:       se.AccessKeyID,
			StringToSign:      se.StringToSign,
			SignatureProvided: se.SignatureProvided,
			CanonicalRequest:  se.CanonicalRequest,
			Err:               se.Err,
		}
		switch se.Code {
		case sigv4.CodeMissingSecurityHeader:
			e.MissingHeaderName = se.Header
		case sigv4.CodeAccessDenied:
			e.HeadersNotSigned = se.Header
		}
		return e
	}
	return &Error{Code: InternalError, Err: err}
}

// ErrorResponse is the XML body of an error:
//
//	<Error><Code/><Message/><Resource/><RequestId/></Error>
//
// with the optional elements S3 adds for some codes. It has no
// namespace, as S3's.
type ErrorResponse struct {
	XMLName           xml.Name `xml:"Error"`
	Code              string   `xml:"Code"`
	Message           string   `xml:"Message"`
	BucketName        string   `xml:"BucketName,omitempty"`
	Key               string   `xml:"Key,omitempty"`
	UploadID          string   `xml:"UploadId,omitempty"`
	Region            string   `xml:"Region,omitempty"`
	ArgumentName      string   `xml:"ArgumentName,omitempty"`
	ArgumentValue     string   `xml:"ArgumentValue,omitempty"`
	MissingHeaderName string   `xml:"MissingHeaderName,omitempty"`
	HeadersNotSigned  string   `xml:"HeadersNotSigned,omitempty"`
	AWSAccessKeyID    string   `xml:"AWSAccessKeyId,omitempty"`
	StringToSign      string   `xml:"StringToSign,omitempty"`
	SignatureProvided string   `xml:"SignatureProvided,omitempty"`
	CanonicalRequest  string   `xml:"CanonicalRequest,omitempty"`
	Resource          string   `xml:"Resource"`
	RequestID         string   `xml:"RequestId"`
	HostID            string   `xml:"HostId,omitempty"`
}

// Response is the XML body of e for a request to resource.
func (e *Error) Response(resource, requestID string) *ErrorResponse {
	if e.Resource != "" {
		resource = e.Resource
	}
	return &ErrorResponse{
		Code:              string(e.Code),
		Message:           e.message(),
		BucketName:        e.BucketName,
		Key:               e.Key,
		UploadID:          e.UploadID,
		Region:            e.Region,
		ArgumentName:      e.ArgumentName,
		ArgumentValue:     e.ArgumentValue,
		MissingHeaderName: e.MissingHeaderName,
		HeadersNotSigned:  e.HeadersNotSigned,
		AWSAccessKeyID:    e.AccessKeyID,
		StringToSign:      e.StringToSign,
		SignatureProvided: e.SignatureProvided,
		CanonicalRequest:  e.CanonicalRequest,
		Resource:          resource,
		RequestID:         requestID,
	}
}

// WriteError answers r with err as S3 does: the status of its code, the
// x-amz-request-id header and, except for HEAD requests and 304, the
// XML error body. It returns the *Error written, for the caller's log.
func WriteError(w http.ResponseWriter, r *http.Request, err error, requestID string) *Error {
	e := AsError(err)
	status := e.Status()
	h := w.Header()
	h.Set("X-Amz-Request-Id", requestID)
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return e
	}
	if e.Code == SlowDown || e.Code == ServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	body, merr := MarshalXML(e.Response(r.URL.Path, requestID))
	if merr != nil {
		// Only a bug can get here: the response is plain strings.
		body = []byte(xml.Header + "<Error><Code>InternalError</Code></Error>")
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return e
}

package sigv4

import "fmt"

// The S3 error codes this package answers with. The HTTP status of each
// is in package s3's table of codes (a test there checks that every code
// below is in it).
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeBadDigest                         = "BadDigest"
	CodeEntityTooLarge                    = "EntityTooLarge"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeInternalError                     = "InternalError"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeInvalidArgument                   = "InvalidArgument"
	CodeInvalidDigest                     = "InvalidDigest"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeMalformedTrailerError             = "MalformedTrailerError"
	CodeMissingSecurityHeader             = "MissingSecurityHeader"
	CodeNotImplemented                    = "NotImplemented"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeRequestTimeout                    = "RequestTimeout"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
)

// Codes lists every code above, for tests that check them against the
// gateway's table.
var Codes = []string{
	CodeAccessDenied, CodeAuthorizationHeaderMalformed,
	CodeAuthorizationQueryParametersError, CodeBadDigest, CodeEntityTooLarge,
	CodeIncompleteBody, CodeInternalError, CodeInvalidAccessKeyID,
	CodeInvalidArgument, CodeInvalidDigest, CodeInvalidRequest,
	CodeMalformedTrailerError, CodeMissingSecurityHeader, CodeNotImplemented,
	CodeRequestTimeTooSkewed, CodeRequestTimeout, CodeSignatureDoesNotMatch,
	CodeXAmzContentSHA256Mismatch,
}

// Error is a request that failed verification. Code is the S3 error
// code to answer with and Message a one-line explanation for the
// client; neither ever holds a secret key or a derived key.
type Error struct {
	Code    string
	Message string

	// The diagnostics S3 returns with SignatureDoesNotMatch, so that a
	// client author can compare them with what the client computed.
	// Empty for other codes.
	AccessKeyID       string
	SignatureProvided string
	StringToSign      string
	CanonicalRequest  string

	// Region is the region the gateway expected when a credential scope
	// named another one (AuthorizationHeaderMalformed); S3 returns it in
	// a <Region> element so that SDKs can retry there.
	Region string
	// Header is the missing header of MissingSecurityHeader, or the
	// unsigned headers of an AccessDenied for headers present in the
	// request but not signed.
	Header string

	// Err is the cause, for logs; it is not sent to the client.
	Err error
}

func (e *Error) Error() string {
	s := "sigv4: " + e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

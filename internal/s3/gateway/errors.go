package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/s3"
)

// s3Error maps an error of the cairn client to the S3 error to answer
// with; it is the one place where cairn's error kinds become S3 codes
// (the table is in doc.go). notFound is the code a missing path means
// to the operation (NoSuchKey, NoSuchBucket, NoSuchUpload); empty, a
// missing path is an InternalError. An *s3.Error or a signature error
// passes through unchanged. The cause is kept for the log.
func s3Error(err error, notFound s3.ErrorCode) error {
	if err == nil {
		return nil
	}
	var e *s3.Error
	if errors.As(err, &e) {
		return err
	}
	if s3.AsError(err).Code != s3.InternalError {
		return err // a sigv4 error: a body that failed its checks
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &s3.Error{Code: s3.RequestTimeout, Message: "The request was canceled or timed out.", Err: err}
	}
	switch cairn.KindOf(err) {
	case cairn.NotExist, cairn.NotDir:
		if notFound != "" {
			return &s3.Error{Code: notFound, Err: err}
		}
	case cairn.Permission:
		return &s3.Error{Code: s3.AccessDenied, Err: err}
	case cairn.Unauthenticated:
		// The gateway's own token: expired, revoked, or none on a
		// secured cluster. The operator's to fix; clients may retry.
		return &s3.Error{Code: s3.ServiceUnavailable, Message: "The gateway cannot authenticate to the cluster; try again later.", Err: err}
	case cairn.SafeMode:
		return &s3.Error{Code: s3.ServiceUnavailable, Message: "The cluster is in safe mode; try again later.", Err: err}
	case cairn.Unavailable, cairn.NotLeader:
		return &s3.Error{Code: s3.ServiceUnavailable, Message: "The cluster cannot be reached; try again later.", Err: err}
	case cairn.NotReplicated, cairn.NoSpace:
		return &s3.Error{Code: s3.ServiceUnavailable, Message: "The cluster has not enough DataNodes or space to store the data; try again later.", Err: err}
	case cairn.LeaseConflict:
		return &s3.Error{Code: s3.OperationAborted, Message: "The object is being written by another client; try again.", Err: err}
	}
	return &s3.Error{Code: s3.InternalError, Err: err}
}

// keyConflict is the error of a key that the tree cannot hold as S3
// would: an object that is also the prefix of other keys ("a" when
// "a/b" exists), or a key below an object ("a/b" when "a" exists).
// cairn stores "a" and "a/b" as a file and a directory of the same
// path, which cannot both exist; S3 has no code for this, so it is an
// InvalidArgument naming the key and the reason, as the key mapping's
// other refusals.
func keyConflict(key, format string, args ...any) *s3.Error {
	return &s3.Error{
		Code:          s3.InvalidArgument,
		Message:       fmt.Sprintf("The key %q cannot be stored in cairn: %s.", key, fmt.Sprintf(format, args...)),
		Key:           key,
		ArgumentName:  "key",
		ArgumentValue: key,
	}
}

func isDirConflict(key string) *s3.Error {
	return keyConflict(key, "other keys begin with %q, so it is a directory", key+"/")
}

func underFileConflict(key string) *s3.Error {
	return keyConflict(key, "a prefix of it ending before a '/' is an object, which cannot also hold keys")
}

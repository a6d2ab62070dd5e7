// Package sigv4 verifies AWS Signature Version 4 on the requests of
// cairn's S3 gateway: the Authorization header and presigned URLs
// (Verifier.Verify), then the body the signature speaks for (NewBody):
// a signed SHA-256, the aws-chunked encodings with chained chunk
// signatures or trailing checksums, Content-MD5 and x-amz-checksum-*.
//
// The rules implemented here (canonical request, what is accepted and
// what is refused, error codes, the chunked formats and their limits)
// are specified in the doc.go of package s3, the gateway's package,
// which imports this one. This package depends on nothing of cairn's.
package sigv4

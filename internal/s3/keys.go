package s3

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cairn-fs/cairn"
)

// MaxKeyLength is the longest key S3 accepts, in bytes.
const MaxKeyLength = 1024

// ReservedPrefix begins every name the gateway keeps for itself. An
// entry of a bucket whose name begins with it, at any depth, is never
// listed, and a key with such a segment is refused.
const ReservedPrefix = ".cairn-s3"

// The gateway's own state in a bucket directory (see doc.go).
const (
	stateDir   = ReservedPrefix        // <bucket>/.cairn-s3
	uploadsDir = stateDir + "/uploads" // one directory per multipart upload
	tmpDir     = stateDir + "/tmp"     // objects being written
)

// BucketPath is the cairn directory of a bucket: <root>/<bucket>. The
// root is a valid cairn directory path ("/" or "/s3", say).
func BucketPath(root, bucket string) (string, error) {
	if err := ValidateBucketName(bucket); err != nil {
		return "", err
	}
	return joinPath(root, bucket), nil
}

func joinPath(dir, rel string) string {
	if dir == "/" {
		return "/" + rel
	}
	return dir + "/" + rel
}

// ObjectPath maps an object key to its cairn path. A key ending in '/'
// (a "folder" marker such as "photos/") is a directory: dir is true and
// the path is the directory's. Every other key is a file. Keys that
// cannot be cairn paths are refused (see ValidateKey).
func ObjectPath(root, bucket, key string) (path string, dir bool, err error) {
	bp, err := BucketPath(root, bucket)
	if err != nil {
		return "", false, err
	}
	if err := ValidateKey(key); err != nil {
		return "", false, err
	}
	rel, dir := strings.CutSuffix(key, "/")
	p := joinPath(bp, rel)
	if err := cairn.ValidatePath(p); err != nil {
		return "", false, keyError(key, "it is not a valid cairn path: %v", err)
	}
	return p, dir, nil
}

// ValidateKey checks that a key can be a cairn path: at most
// MaxKeyLength bytes (KeyTooLongError); valid UTF-8 without characters
// XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE;
// U+FFFF), so that every key can be listed; '/'-separated segments
// none of which is empty (no leading '/', no "//"), ".", "..", longer
// than cairn.MaxNameLen bytes, or beginning with ReservedPrefix. One
// trailing '/' is allowed: it makes the key a directory marker.
// Anything else is InvalidArgument, naming the key and the reason.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return keyError(key, "it is empty")
	case len(key) > MaxKeyLength:
		return &Error{Code: KeyTooLongError, Message: fmt.Sprintf("Your key is too long: %d bytes, at most %d are allowed.", len(key), MaxKeyLength), Key: truncateKey(key)}
	case !utf8.ValidString(key):
		return keyError(key, "it is not valid UTF-8")
	}
	for _, r := range key {
		if !xmlChar(r) {
			return keyError(key, "it holds the character %U, which XML cannot carry", r)
		}
	}
	rel := strings.TrimSuffix(key, "/")
	for _, seg := range strings.Split(rel, "/") {
		switch {
		case seg == "":
			return keyError(key, "it has an empty segment (a leading '/' or '//')")
		case seg == "." || seg == "..":
			return keyError(key, "it has a %q segment", seg)
		case len(seg) > cairn.MaxNameLen:
			return keyError(key, "a segment is longer than %d bytes", cairn.MaxNameLen)
		case strings.HasPrefix(seg, ReservedPrefix):
			return keyError(key, "a segment begins with %q, which the gateway reserves", ReservedPrefix)
		}
	}
	return nil
}

func keyError(key, format string, args ...any) *Error {
	return &Error{
		Code:          InvalidArgument,
		Message:       fmt.Sprintf("The key %q cannot be stored in cairn: ", truncateKey(key)) + fmt.Sprintf(format, args...) + ".",
		Key:           truncateKey(key),
		ArgumentName:  "key",
		ArgumentValue: truncateKey(key),
	}
}

func truncateKey(s string) string {
	if len(s) > MaxKeyLength {
		return s[:MaxKeyLength] + "..."
	}
	return s
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return true // surrogates cannot occur in valid UTF-8
}

// Hidden reports whether a directory entry named name is left out of
// listings: a name the gateway reserves, or one that no key can
// address (not UTF-8, or holding a character XML cannot carry).
func Hidden(name string) bool {
	if strings.HasPrefix(name, ReservedPrefix) || !utf8.ValidString(name) {
		return true
	}
	for _, r := range name {
		if !xmlChar(r) {
			return true
		}
	}
	return false
}

// KeyOf is the key of the cairn path p inside the bucket directory
// bucketPath, and false if p is not inside it or is hidden. A directory
// gets a trailing '/'.
func KeyOf(bucketPath, p string, dir bool) (string, bool) {
	rel, ok := strings.CutPrefix(p, bucketPath+"/")
	if !ok || rel == "" {
		return "", false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || Hidden(seg) {
			return "", false
		}
	}
	if dir {
		rel += "/"
	}
	return rel, true
}

// NewUploadID returns a fresh multipart upload ID: 32 random hex
// digits, unguessable, and a valid cairn name.
func NewUploadID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("s3: crypto/rand failed: " + err.Error()) // never, per crypto/rand
	}
	return hex.EncodeToString(b[:])
}

// validUploadID reports whether id could have come from NewUploadID.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// UploadPath is the directory of a multipart upload:
// <bucket>/.cairn-s3/uploads/<uploadID>. An upload ID that NewUploadID
// cannot have made is NoSuchUpload, so that a client's ID never reaches
// a path unchecked.
func UploadPath(root, bucket, uploadID string) (string, error) {
	bp, err := BucketPath(root, bucket)
	if err != nil {
		return "", err
	}
	if !validUploadID(uploadID) {
		return "", &Error{Code: NoSuchUpload, UploadID: truncateKey(uploadID)}
	}
	return joinPath(bp, uploadsDir+"/"+uploadID), nil
}

// UploadsPath is the directory holding a bucket's multipart uploads.
func UploadsPath(root, bucket string) (string, error) {
	bp, err := BucketPath(root, bucket)
	if err != nil {
		return "", err
	}
	return joinPath(bp, uploadsDir), nil
}

// PartPath is the file of one part of an upload: <upload>/<NNNNN>, the
// part number in five digits so that names sort as numbers.
func PartPath(root, bucket, uploadID string, partNumber int) (string, error) {
	up, err := UploadPath(root, bucket, uploadID)
	if err != nil {
		return "", err
	}
	if partNumber < 1 || partNumber > MaxPartNumber {
		return "", &Error{Code: InvalidArgument, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive", MaxPartNumber),
			ArgumentName: "partNumber", ArgumentValue: fmt.Sprint(partNumber)}
	}
	return fmt.Sprintf("%s/%05d", up, partNumber), nil
}

// TempPath is a fresh file name for an object being written in a
// bucket: <bucket>/.cairn-s3/tmp/<random>. The gateway writes there and
// renames the file onto its key once the body has been verified.
func TempPath(root, bucket string) (string, error) {
	bp, err := BucketPath(root, bucket)
	if err != nil {
		return "", err
	}
	return joinPath(bp, tmpDir+"/"+NewUploadID()), nil
}

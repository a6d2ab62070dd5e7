package s3

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-fs/cairn"
)

// ETag is the ETag of an object written in one piece: the hex MD5 of
// its bytes, as S3 (rclone and s3cmd compare it with the MD5 they
// compute).
func ETag(md5sum [md5.Size]byte) string { return hex.EncodeToString(md5sum[:]) }

// MultipartETag is the ETag of an object completed from parts, S3's
// "md5-of-part-md5s-N": the hex MD5 of the concatenated binary MD5s of
// the parts, in part order, then '-' and the number of parts. The
// parts' ETags are their hex MD5s (quotes allowed); one that is not is
// InvalidPart.
func MultipartETag(partETags []string) (string, error) {
	if len(partETags) == 0 {
		return "", &Error{Code: InvalidPart, Message: "A multipart object has at least one part."}
	}
	h := md5.New()
	for i, t := range partETags {
		sum, err := hex.DecodeString(UnquoteETag(t))
		if err != nil || len(sum) != md5.Size {
			return "", &Error{Code: InvalidPart, Message: fmt.Sprintf("The ETag %q of part %d is not an MD5.", truncateKey(t), i+1)}
		}
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partETags)), nil
}

// emptyMD5 is the MD5 of no bytes.
var emptyMD5 = md5.Sum(nil)

// BlocksETag is the ETag of a file written outside S3 (by cairn fs or
// the client), derived from what the NameNode keeps of it: the list of
// its blocks, each (ID, generation stamp, length). cairn never changes
// the bytes of a block without changing its ID or bumping its
// generation stamp, and the length covers truncation, so this list
// names the file's content: the ETag is stable across reads,
// re-replication and NameNode restarts, and changes whenever the
// content changes. It is
//
//	hex(MD5("cairn-blocks-v1\n" || for each block: ID || GenStamp || Len)) "-" N
//
// with each number 8 bytes big-endian and N the number of blocks. The
// "-N" tells clients it is not the MD5 of the bytes, so they do not
// check a download against it (as for a multipart object). An empty
// file, which has no blocks, gets the MD5 of no bytes, which is its
// real MD5.
func BlocksETag(blocks []cairn.Block) string {
	if len(blocks) == 0 {
		return ETag(emptyMD5)
	}
	h := md5.New()
	h.Write([]byte("cairn-blocks-v1\n"))
	var b [24]byte
	for _, blk := range blocks {
		binary.BigEndian.PutUint64(b[0:], uint64(blk.ID))
		binary.BigEndian.PutUint64(b[8:], uint64(blk.GenStamp))
		binary.BigEndian.PutUint64(b[16:], uint64(blk.Len))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(blocks))
}

// StoredETag is the value the gateway keeps in the user.s3.etag
// extended attribute of an object it writes: the object's ETag (hex MD5
// or multipart form) and the BlocksETag of the file it was computed
// for, separated by a space. If the file is changed outside S3 later
// (an append, say), its blocks no longer match and FileETag falls back
// to the BlocksETag.
func StoredETag(etag string, blocks []cairn.Block) string {
	return etag + " " + BlocksETag(blocks)
}

// FileETag is the ETag of a file: the stored one (the value of its
// user.s3.etag attribute, "" if none) if it was computed for the file's
// current blocks, else BlocksETag.
func FileETag(stored string, blocks []cairn.Block) string {
	current := BlocksETag(blocks)
	if etag, fingerprint, ok := strings.Cut(stored, " "); ok && etag != "" && fingerprint == current {
		return etag
	}
	return current
}

// MatchETag reports whether an If-Match or If-None-Match header value
// (a list of quoted ETags, possibly weak, or "*") names etag.
func MatchETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || (t != "" && UnquoteETag(t) == UnquoteETag(etag)) {
			return true
		}
	}
	return false
}

package gateway

import (
	"crypto/md5"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/s3"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// The extended attributes the gateway keeps (see doc.go).
const (
	xaETag     = "user.s3.etag"         // objects and parts: s3.StoredETag
	xaType     = "user.s3.content-type" // objects, uploads: Content-Type
	xaHeaders  = "user.s3.headers"      // objects, uploads: the other stored headers
	xaChecksum = "user.s3.checksum"     // objects: "<algorithm> <base64> <BlocksETag>"
	xaDir      = "user.s3.dir"          // directories: made by a PUT of "key/"
	xaCreated  = "user.s3.created"      // buckets: creation time

	xaUploadKey        = "user.s3.upload.key"        // uploads: the object key
	xaUploadOwner      = "user.s3.upload.owner"      // uploads: the initiator's user
	xaUploadInitiated  = "user.s3.upload.initiated"  // uploads: RFC 3339 time
	xaUploadCompleting = "user.s3.upload.completing" // uploads: a completion begun
)

// defaultContentType is what S3 answers for an object stored without
// a Content-Type.
const defaultContentType = "binary/octet-stream"

// emptyETag is the ETag of a directory object (a folder marker), the
// MD5 of no bytes.
var emptyETag = s3.ETag(md5.Sum(nil))

// storedHeaders are the headers of a PUT that the object keeps, besides
// Content-Type and x-amz-meta-*, in user.s3.headers.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Language", "Expires", "X-Amz-Website-Redirect-Location"}

// maxStoredHeaders bounds all the headers an object keeps, as S3
// bounds a request's headers to 8 KB (and the attributes of a cairn
// file are at most 16 KiB each).
const maxStoredHeaders = 8 << 10

// objectMeta returns the attributes of an object uploaded with h: its
// Content-Type and its other stored headers, always both (an empty
// value is "none"), so that setting them replaces what an older
// version had. User metadata larger than S3's 2 KB is
// MetadataTooLarge.
func objectMeta(h http.Header) (map[string][]byte, error) {
	var lines []string
	size := 0
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-meta-") {
			continue
		}
		v := strings.Join(vs, ",")
		size += len(lk) - len("x-amz-meta-") + len(v)
		lines = append(lines, lk+": "+v)
	}
	if size > maxMetadataSize {
		return nil, s3.Errorf(s3.MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size: %d bytes, at most %d.", size, maxMetadataSize)
	}
	if enc := sigv4.StoredContentEncoding(h); enc != "" {
		lines = append(lines, "Content-Encoding: "+enc)
	}
	for _, k := range storedHeaders {
		if v := h.Get(k); v != "" {
			lines = append(lines, k+": "+v)
		}
	}
	sort.Strings(lines)
	if n := len(h.Get("Content-Type")) + len(strings.Join(lines, "\n")); n > maxStoredHeaders {
		return nil, s3.Errorf(s3.MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size: the headers to keep with the object have %d bytes, at most %d.", n, maxStoredHeaders)
	}
	return map[string][]byte{
		xaType:    []byte(h.Get("Content-Type")),
		xaHeaders: []byte(strings.Join(lines, "\n")),
	}, nil
}

// copyMeta returns the stored metadata attributes of xattrs (those of
// an object or an upload), for another object.
func copyMeta(xattrs map[string][]byte) map[string][]byte {
	return map[string][]byte{xaType: xattrs[xaType], xaHeaders: xattrs[xaHeaders]}
}

// setMetaHeaders sets the response headers of an object's stored
// metadata.
func setMetaHeaders(h http.Header, xattrs map[string][]byte) {
	ct := string(xattrs[xaType])
	if ct == "" {
		ct = defaultContentType
	}
	h.Set("Content-Type", ct)
	for _, line := range strings.Split(string(xattrs[xaHeaders]), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if strings.HasPrefix(k, "x-amz-meta-") {
			h[k] = append(h[k], v) // lower case, as S3 sends them
		} else {
			h.Set(k, v)
		}
	}
}

// blocksOf returns the blocks of a file as its ETag needs them.
func blocksOf(fi cairn.FileInfo) []cairn.Block {
	bs := make([]cairn.Block, len(fi.Blocks))
	for i, lb := range fi.Blocks {
		bs[i] = lb.Block
	}
	return bs
}

// objectETag is the ETag of the object a file or directory is (fi with
// its blocks and attributes).
func objectETag(fi cairn.FileInfo) string {
	if fi.IsDir {
		return emptyETag
	}
	return s3.FileETag(string(fi.XAttrs[xaETag]), blocksOf(fi))
}

// storedChecksum returns the x-amz-checksum-* header and value an
// object was uploaded with, if it still holds the bytes it was computed
// for.
func storedChecksum(fi cairn.FileInfo) (header, value string, ok bool) {
	f := strings.Fields(string(fi.XAttrs[xaChecksum]))
	if len(f) != 3 || fi.IsDir || f[2] != s3.BlocksETag(blocksOf(fi)) {
		return "", "", false
	}
	return sigv4.ChecksumHeader(f[0]), f[1], true
}

// checksumAttr is the user.s3.checksum value of a checksum verified on
// upload, for a file of the given blocks.
func checksumAttr(c sigv4.Checksum, blocks []cairn.Block) []byte {
	return []byte(c.Algorithm + " " + c.Value + " " + s3.BlocksETag(blocks))
}

// isMarked reports whether a directory was made by a PUT of "key/".
func isMarked(fi cairn.FileInfo) bool {
	_, ok := fi.XAttrs[xaDir]
	return ok
}

// formatTime and parseTime are how times are kept in attributes.
func formatTime(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339Nano)) }

func parseTime(b []byte, def time.Time) time.Time {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return def
	}
	return t
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
)

// lister reads a bucket's directories for s3.List, each page in one
// NameNode call that also brings every entry's blocks and attributes
// (for its ETag and whether a directory is marked).
type lister struct {
	c      *client.Client
	bucket string // the bucket's directory
}

var _ s3.Lister = (*lister)(nil)

func (l *lister) path(dir string) string {
	if dir == "" {
		return l.bucket
	}
	return l.bucket + "/" + dir
}

func entryOf(fi cairn.FileInfo) s3.Entry {
	e := s3.Entry{Name: fi.Name, IsDir: fi.IsDir, Size: fi.Size, ModTime: fi.ModTime, Sys: fi}
	if fi.IsDir {
		e.Size = 0
		e.Marker = isMarked(fi)
	}
	return e
}

// notFound reports whether err says that a path is not there to list.
func notFound(err error) bool {
	return errors.Is(err, cairn.NotExist) || errors.Is(err, cairn.NotDir) || errors.Is(err, cairn.Invalid)
}

func (l *lister) List(ctx context.Context, dir, startAfter string, limit int) ([]s3.Entry, bool, error) {
	after, floor := wireAfter(startAfter)
	var out []s3.Entry
	for {
		page, more, err := l.c.ListPageWith(ctx, l.path(dir), after, limit, withAll)
		if notFound(err) {
			return nil, false, fmt.Errorf("%s: %w", l.path(dir), fs.ErrNotExist)
		}
		if err != nil {
			return nil, false, err
		}
		for _, fi := range page {
			if fi.Name > floor {
				out = append(out, entryOf(fi))
			}
		}
		if len(out) > 0 || !more || len(page) == 0 {
			return out, more && len(page) > 0, nil
		}
		after = page[len(page)-1].Name
	}
}

func (l *lister) Lookup(ctx context.Context, dir, name string) (s3.Entry, bool, error) {
	fi, err := l.c.StatWith(ctx, l.path(dir)+"/"+name, withAll)
	if notFound(err) {
		return s3.Entry{}, false, nil
	}
	if err != nil {
		return s3.Entry{}, false, err
	}
	return entryOf(fi), true, nil
}

// wireAfter turns a Lister startAfter, which may hold bytes that are
// not UTF-8 (s3.List makes "name\xff" to skip every name beginning with
// "name"), into one the wire can carry (a protobuf string is UTF-8):
// after, which selects a superset of the names, and floor, the names
// to drop from it (the names are always UTF-8). When the first bad
// byte can begin no UTF-8 sequence and sorts above every byte that can
// (0xf5 to 0xff), the names after the original are exactly those after
// its valid head followed by the highest name of MaxNameLen bytes, and
// nothing need be dropped.
func wireAfter(s string) (after, floor string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	head := s[:i]
	if s[i] >= 0xf5 {
		n := (cairn.MaxNameLen + 1 - len(head) + 3) / 4
		return head + strings.Repeat(string(utf8.MaxRune), max(n, 1)), ""
	}
	return head, s
}

// maxKeysParam parses a max-keys, max-uploads or max-parts parameter:
// default 1000, at most 1000.
func (rq *request) maxKeysParam(name string) (int, error) {
	v := rq.q.Get(name)
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &s3.Error{Code: s3.InvalidArgument, Message: "Provided " + name + " not an integer or within integer range",
			ArgumentName: name, ArgumentValue: v}
	}
	return min(n, 1000), nil
}

func (rq *request) encodingType() (bool, error) {
	switch v := rq.q.Get("encoding-type"); v {
	case "":
		return false, nil
	case "url":
		return true, nil
	default:
		return false, &s3.Error{Code: s3.InvalidArgument, Message: "Invalid Encoding Method specified in Request",
			ArgumentName: "encoding-type", ArgumentValue: v}
	}
}

// listObjects answers ListObjects and ListObjectsV2 (the bucket exists).
func (rq *request) listObjects() error {
	maxKeys, err := rq.maxKeysParam("max-keys")
	if err != nil {
		return err
	}
	urlEnc, err := rq.encodingType()
	if err != nil {
		return err
	}
	v2 := rq.q.Get("list-type") == "2"
	req := s3.ListRequest{Prefix: rq.q.Get("prefix"), Delimiter: rq.q.Get("delimiter"), MaxKeys: maxKeys}
	token := rq.q.Get("continuation-token")
	if v2 {
		req.After = rq.q.Get("start-after")
		if rq.has("continuation-token") {
			if req.After, err = s3.DecodeContinuationToken(token); err != nil {
				return err
			}
		}
	} else {
		req.After = rq.q.Get("marker")
	}
	if maxKeys > 0 {
		req.PageSize = min(s3.DefaultPageSize, maxKeys+1)
	}
	res, err := s3.List(rq.ctx, &lister{c: rq.g.c, bucket: rq.bucketPath()}, req)
	if err != nil {
		return s3Error(err, s3.NoSuchBucket)
	}
	withOwner := !v2 || rq.q.Get("fetch-owner") == "true"
	contents := make([]s3.Object, 0, len(res.Keys))
	for _, k := range res.Keys {
		fi := k.Entry.Sys.(cairn.FileInfo)
		o := s3.Object{Key: k.Key, LastModified: s3.Timestamp(fi.ModTime), ETag: s3.QuoteETag(objectETag(fi)),
			Size: k.Entry.Size, StorageClass: "STANDARD"}
		if withOwner {
			o.Owner = &s3.Owner{ID: fi.Owner, DisplayName: fi.Owner}
		}
		contents = append(contents, o)
	}
	prefixes := make([]s3.CommonPrefix, len(res.CommonPrefixes))
	for i, p := range res.CommonPrefixes {
		prefixes[i] = s3.CommonPrefix{Prefix: p}
	}
	if v2 {
		out := &s3.ListBucketResultV2{Name: rq.bucket, Prefix: req.Prefix, Delimiter: req.Delimiter, MaxKeys: maxKeys,
			KeyCount: len(contents) + len(prefixes), IsTruncated: res.IsTruncated, ContinuationToken: token,
			StartAfter: rq.q.Get("start-after"), Contents: contents, CommonPrefixes: prefixes}
		if res.IsTruncated {
			out.NextContinuationToken = s3.EncodeContinuationToken(res.Next)
		}
		if urlEnc {
			out.URLEncode()
		}
		return s3.WriteXML(rq.w, http.StatusOK, out)
	}
	out := &s3.ListBucketResult{Name: rq.bucket, Prefix: req.Prefix, Marker: req.After, MaxKeys: maxKeys,
		Delimiter: req.Delimiter, IsTruncated: res.IsTruncated, Contents: contents, CommonPrefixes: prefixes}
	if res.IsTruncated && req.Delimiter != "" {
		out.NextMarker = res.Next
	}
	if urlEnc {
		out.URLEncode()
	}
	return s3.WriteXML(rq.w, http.StatusOK, out)
}

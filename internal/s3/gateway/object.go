package gateway

import (
	"context"
	"crypto/md5"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// withAll is what a stat of an object asks for: the blocks and the
// attributes its ETag and headers come from.
var withAll = client.StatOptions{Blocks: true, XAttrs: true}

// statObject returns the file or directory of an object, or NoSuchKey:
// a key ending in '/' is a directory that was made by a PUT of the key
// or is empty (see doc.go); any other key is a file.
func (g *Gateway) statObject(ctx context.Context, bucket, key string) (cairn.FileInfo, string, error) {
	p, dir, err := s3.ObjectPath(g.root, bucket, key)
	if err != nil {
		return cairn.FileInfo{}, "", err
	}
	fi, err := g.c.StatWith(ctx, p, withAll)
	if err != nil {
		return cairn.FileInfo{}, p, s3Error(err, s3.NoSuchKey)
	}
	if fi.IsDir != dir || dir && !isMarked(fi) && fi.Children > 0 {
		return cairn.FileInfo{}, p, &s3.Error{Code: s3.NoSuchKey}
	}
	return fi, p, nil
}

// stat is statObject for the request's key, with S3's error details.
func (rq *request) stat() (cairn.FileInfo, string, error) {
	fi, p, err := rq.g.statObject(rq.ctx, rq.bucket, rq.key)
	if err != nil {
		var e *s3.Error
		if errors.As(err, &e) && e.Code == s3.NoSuchKey {
			e.Key = rq.key
		}
		return fi, p, rq.noSuchBucketIfMissing(err)
	}
	return fi, p, nil
}

// refusedHeaders are request headers asking for what the gateway
// cannot do; it refuses rather than silently ignore them.
var refusedHeaders = []string{"X-Amz-Server-Side-Encryption", "X-Amz-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold"}

func checkRefusedHeaders(h http.Header) error {
	for _, k := range refusedHeaders {
		if h.Get(k) != "" {
			return s3.Errorf(s3.NotImplemented, "The header %s is not implemented by cairn's S3 gateway.", k)
		}
	}
	if v := h.Get("X-Amz-Acl"); v != "" && v != "private" && v != "bucket-owner-full-control" {
		return notImplemented("canned ACL " + v)
	}
	if v := h.Get("X-Amz-Storage-Class"); v != "" && v != "STANDARD" {
		switch v {
		case "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE":
			return s3.Errorf(s3.InvalidStorageClass, "The storage class %s is not available: cairn stores every object as STANDARD.", v)
		}
		return &s3.Error{Code: s3.InvalidStorageClass}
	}
	return nil
}

func (rq *request) putObject() error {
	p, dir, err := s3.ObjectPath(rq.g.root, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	if err := checkRefusedHeaders(rq.r.Header); err != nil {
		return err
	}
	meta, err := objectMeta(rq.r.Header)
	if err != nil {
		return err
	}
	// Conditional writes: If-None-Match "*" (create only), If-Match
	// (replace only that version).
	ifNoneMatch := false
	switch v := rq.r.Header.Get("If-None-Match"); v {
	case "":
	case "*":
		ifNoneMatch = true
	default:
		return notImplemented("PutObject with If-None-Match other than *")
	}
	// If-Match replaces only the version it names: the rename onto the
	// key is a compare-and-swap on that version's file ID, so two PUTs
	// with the same If-Match cannot both succeed.
	var replaceID uint64
	if v := rq.r.Header.Get("If-Match"); v != "" {
		fi, _, err := rq.stat()
		if err != nil {
			return err
		}
		if !s3.MatchETag(v, objectETag(fi)) {
			return &s3.Error{Code: s3.PreconditionFailed, Key: rq.key}
		}
		replaceID = fi.FileID
	}
	body, err := rq.body(MaxObjectSize)
	if err != nil {
		return err
	}
	if body.Size() < 0 {
		return &s3.Error{Code: s3.MissingContentLength}
	}
	if dir {
		return rq.putFolder(p, meta, body)
	}
	tmp, fi, err := rq.g.writeTemp(rq.ctx, rq.bucket, body)
	if err != nil {
		return rq.noSuchBucketIfMissing(err)
	}
	etag := s3.ETag(body.MD5())
	attrs := meta
	attrs[xaETag] = []byte(s3.StoredETag(etag, blocksOf(fi)))
	sum, hasSum := body.Checksum()
	if hasSum {
		attrs[xaChecksum] = checksumAttr(sum, blocksOf(fi))
	}
	if err := rq.g.publish(rq.ctx, tmp, p, rq.key, attrs, !ifNoneMatch, replaceID); err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("ETag", s3.QuoteETag(etag))
	if hasSum {
		h.Set(sigv4.ChecksumHeader(sum.Algorithm), sum.Value)
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// putFolder makes the directory of a key ending in '/', marked as an
// object. It holds no bytes: a body is refused.
func (rq *request) putFolder(p string, meta map[string][]byte, body *sigv4.Body) error {
	if body.Size() > 0 {
		return keyConflict(rq.key, "a key ending in '/' is a directory, which holds no data")
	}
	if n, err := io.Copy(io.Discard, io.LimitReader(body, 1)); err != nil || n > 0 {
		if err != nil {
			return err
		}
		return keyConflict(rq.key, "a key ending in '/' is a directory, which holds no data")
	}
	if _, err := io.Copy(io.Discard, body); err != nil { // verify the signature's end
		return err
	}
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	key := strings.TrimSuffix(rq.key, "/")
	meta[xaDir] = []byte("1")
	// Once marked, the directory is safe from a delete's pruning (which
	// removes it only unmarked, decided on the NameNode); until then a
	// prune may remove it between its making and its marking: make it
	// again.
	var err error
	for range 4 {
		if err = rq.g.mkdirsBelow(rq.ctx, p); err != nil {
			switch {
			case errors.Is(err, cairn.Exist):
				return keyConflict(rq.key, "%q is an object", key)
			case errors.Is(err, cairn.NotDir):
				return underFileConflict(rq.key)
			}
			return s3Error(err, "")
		}
		if err = rq.g.c.SetXAttrs(rq.ctx, p, meta); !errors.Is(err, cairn.NotExist) {
			break
		}
	}
	if err != nil {
		return s3Error(err, s3.NoSuchKey)
	}
	rq.w.Header().Set("ETag", s3.QuoteETag(emptyETag))
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// writeTemp writes src to a new temporary file of the bucket (see
// s3.TempPath) and returns its path and its information with blocks.
// A failure of src (a body that fails its checks at its end) aborts the
// file: nothing is left behind.
func (g *Gateway) writeTemp(ctx context.Context, bucket string, src io.Reader) (string, cairn.FileInfo, error) {
	tmp, err := s3.TempPath(g.root, bucket)
	if err != nil {
		return "", cairn.FileInfo{}, err
	}
	w, err := g.c.Create(ctx, tmp, nil)
	if errors.Is(err, cairn.NotExist) {
		// The first write of the bucket makes its temporary directory;
		// the bucket itself must exist.
		bp, _ := s3.BucketPath(g.root, bucket)
		fi, serr := g.c.Stat(ctx, bp)
		if serr != nil || !fi.IsDir {
			return "", cairn.FileInfo{}, &s3.Error{Code: s3.NoSuchBucket, BucketName: bucket, Err: serr}
		}
		if err := g.mkdirsBelow(ctx, cairn.Dir(tmp)); err != nil {
			return "", cairn.FileInfo{}, s3Error(err, s3.NoSuchBucket)
		}
		w, err = g.c.Create(ctx, tmp, nil)
	}
	if err != nil {
		return "", cairn.FileInfo{}, s3Error(err, s3.NoSuchBucket)
	}
	if _, err := g.copyBody(w, src, true); err != nil {
		w.Abort()
		return "", cairn.FileInfo{}, s3Error(err, "")
	}
	if err := w.Close(); err != nil {
		w.Abort()
		return "", cairn.FileInfo{}, s3Error(err, "")
	}
	fi, err := g.c.StatWith(ctx, tmp, client.StatOptions{Blocks: true})
	if err != nil {
		g.removeQuietly(ctx, tmp)
		return "", cairn.FileInfo{}, s3Error(err, "")
	}
	return tmp, fi, nil
}

// removeQuietly removes a file the gateway made and no longer needs;
// a failure is only logged (Run removes it later).
func (g *Gateway) removeQuietly(ctx context.Context, p string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := g.c.Remove(ctx, p); err != nil && !errors.Is(err, cairn.NotExist) {
		g.log.Warn("cannot remove a temporary file", "path", p, "err", err)
	}
}

// publish gives the file tmp its attributes and renames it onto the
// object's path p, replacing the file there if overwrite is set (else
// an existing object is PreconditionFailed: a PUT with If-None-Match
// "*", decided atomically by the rename): the object appears whole,
// with its metadata, or not at all. Missing directories of the key are
// made. With replaceID (not 0) it replaces only the file with that ID
// (If-Match): any other outcome is PreconditionFailed. On failure tmp is
// removed.
func (g *Gateway) publish(ctx context.Context, tmp, p, key string, attrs map[string][]byte, overwrite bool, replaceID uint64) (err error) {
	defer func() {
		if err != nil {
			g.removeQuietly(ctx, tmp)
		}
	}()
	if len(attrs) > 0 {
		if err := g.c.SetXAttrs(ctx, tmp, attrs); err != nil {
			return s3Error(err, "")
		}
	}
	return g.renameOnto(ctx, tmp, p, key, overwrite, replaceID, s3.NoSuchBucket)
}

// renameOnto renames the file src onto the object path p, as publish
// describes, making the key's missing directories (never the bucket)
// and trying again when they were missing or pruned meanwhile. A src
// that is gone is srcGone: NoSuchBucket for a temporary (a DeleteBucket
// removed it), NoSuchUpload for a completion's joined part.
func (g *Gateway) renameOnto(ctx context.Context, src, p, key string, overwrite bool, replaceID uint64, srcGone s3.ErrorCode) error {
	var err error
	for range 4 {
		err = g.c.RenameTo(ctx, src, p, &client.RenameOptions{Overwrite: overwrite, ReplaceFileID: replaceID})
		switch {
		case err == nil:
			return nil
		case replaceID != 0 && (errors.Is(err, cairn.Exist) || errors.Is(err, cairn.NotExist)):
			return &s3.Error{Code: s3.PreconditionFailed, Message: "At least one of the preconditions you specified did not hold: the object changed (If-Match).", Key: key, Err: err}
		case errors.Is(err, cairn.Exist) && !overwrite:
			return &s3.Error{Code: s3.PreconditionFailed, Message: "At least one of the preconditions you specified did not hold: the object exists (If-None-Match: *).", Key: key, Err: err}
		case errors.Is(err, cairn.IsDir), errors.Is(err, cairn.Exist):
			return isDirConflict(key)
		case errors.Is(err, cairn.NotDir):
			return underFileConflict(key)
		case !errors.Is(err, cairn.NotExist):
			return s3Error(err, "")
		}
		// The key's directory is missing (or was pruned by a delete
		// meanwhile), or src itself: make the directory, never the
		// bucket, and try again.
		if _, serr := g.c.Stat(ctx, src); serr != nil {
			return s3Error(serr, srcGone)
		}
		if err := g.mkdirsBelow(ctx, cairn.Dir(p)); err != nil {
			if errors.Is(err, cairn.Exist) || errors.Is(err, cairn.NotDir) {
				return underFileConflict(key)
			}
			return s3Error(err, "")
		}
	}
	return s3Error(err, srcGone)
}

// byteRange is a satisfiable range of an object.
type byteRange struct{ start, length int64 }

// parseRange parses a Range header for an object of size bytes. S3
// serves one range: a header it cannot use (not bytes=, several
// ranges, not a range) is ignored and the whole object is served, as
// RFC 9110 allows; a range that starts past the end is InvalidRange.
func parseRange(h string, size int64) (*byteRange, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil, nil
	}
	invalid := &s3.Error{Code: s3.InvalidRange, Message: fmt.Sprintf("The requested range is not satisfiable: %s of an object of %d bytes.", h, size)}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return nil, nil
		}
		if n == 0 || size == 0 {
			return nil, invalid
		}
		n = min(n, size)
		return &byteRange{start: size - n, length: n}, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return nil, nil
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < start {
			return nil, nil
		}
		end = min(end, size-1)
	}
	if start >= size {
		return nil, invalid
	}
	return &byteRange{start: start, length: end - start + 1}, nil
}

// checkConditions applies If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since as S3 does (RFC 9110's order): a failed
// If-Match, or a failed If-Unmodified-Since without If-Match, is
// PreconditionFailed; then a matching If-None-Match, or an unmet
// If-Modified-Since without If-None-Match, is NotModified for GET and
// HEAD. prefix is "" for the object's own headers and
// "X-Amz-Copy-Source-" for a copy's source, whose failures are all
// PreconditionFailed.
func checkConditions(h http.Header, prefix, etag string, modified time.Time, read bool) error {
	modified = modified.Truncate(time.Second)
	failed := &s3.Error{Code: s3.PreconditionFailed}
	notModified := &s3.Error{Code: s3.NotModified}
	if !read {
		notModified = failed
	}
	since := func(name string) (time.Time, bool) {
		v := h.Get(prefix + name)
		if v == "" {
			return time.Time{}, false
		}
		t, err := http.ParseTime(v)
		return t, err == nil
	}
	if v := h.Get(prefix + "If-Match"); v != "" {
		if !s3.MatchETag(v, etag) {
			return failed
		}
	} else if t, ok := since("If-Unmodified-Since"); ok && modified.After(t) {
		return failed
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" {
		if s3.MatchETag(v, etag) {
			return notModified
		}
	} else if t, ok := since("If-Modified-Since"); ok && !modified.After(t) {
		return notModified
	}
	return nil
}

// responseOverrides are the query parameters of a GET that set a
// response header.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject answers GetObject and HeadObject.
func (rq *request) getObject() error {
	head := rq.r.Method == http.MethodHead
	if pn := rq.q.Get("partNumber"); pn != "" {
		if pn != "1" {
			return s3.Errorf(s3.InvalidArgument, "Part number %s is not available: cairn keeps an object as one piece.", pn)
		}
	}
	// A file replaced between its stat and its open is read again, so
	// that the headers (ETag, length) always describe the bytes sent.
	for attempt := 0; ; attempt++ {
		fi, p, err := rq.stat()
		if err != nil {
			return err
		}
		etag := objectETag(fi)
		h := rq.w.Header()
		h.Set("ETag", s3.QuoteETag(etag))
		h.Set("Last-Modified", s3.HTTPTime(fi.ModTime))
		if err := checkConditions(rq.r.Header, "", etag, fi.ModTime, true); err != nil {
			return err
		}
		size := fi.Size
		if fi.IsDir {
			size = 0
		}
		rg, err := parseRange(rq.r.Header.Get("Range"), size)
		if err != nil {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return err
		}
		var rd *client.Reader
		if !head && size > 0 {
			rd, err = rq.g.c.Open(rq.ctx, p)
			if err != nil {
				return rq.noSuchBucketIfMissing(s3Error(err, s3.NoSuchKey))
			}
			if rd.Stat().FileID != fi.FileID && attempt < 3 {
				rd.Close()
				continue
			}
			defer rd.Close()
		}
		setMetaHeaders(h, fi.XAttrs)
		for q, k := range responseOverrides {
			if v := rq.q.Get(q); v != "" {
				h.Set(k, v)
			}
		}
		h.Set("Accept-Ranges", "bytes")
		if hd, v, ok := storedChecksum(fi); ok && rg == nil && strings.EqualFold(rq.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
			h.Set(hd, v)
		}
		status, start, length := http.StatusOK, int64(0), size
		if rg != nil {
			status, start, length = http.StatusPartialContent, rg.start, rg.length
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, size))
		}
		h.Set("Content-Length", strconv.FormatInt(length, 10))
		if rd == nil {
			rq.w.WriteHeader(status)
			return nil
		}
		if start > 0 {
			if _, err := rd.Seek(start, io.SeekStart); err != nil {
				return s3Error(err, s3.NoSuchKey)
			}
		}
		rq.w.WriteHeader(status)
		n, err := rq.g.copyBody(rq.w, io.LimitReader(rd, length), false)
		if err == nil && n < length {
			err = fmt.Errorf("%s ended after %d of %d bytes", p, n, length)
		}
		if err != nil {
			return s3Error(err, "") // the answer has begun: fail cuts the connection
		}
		return nil
	}
}

func (rq *request) deleteObject() error {
	if _, _, err := s3.ObjectPath(rq.g.root, rq.bucket, rq.key); err != nil {
		return err
	}
	found, err := rq.g.removeKey(rq.ctx, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	if !found {
		if _, err := rq.bucketInfo(); err != nil {
			return err
		}
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeKey deletes an object; an absent one is no error, as in S3.
// A directory key loses its mark, and the directory goes if it is
// empty. Directories left empty are removed up to the bucket's, so that
// prefixes vanish as S3 users expect, except those that are objects
// themselves (marked). found says whether the key's path was there.
func (g *Gateway) removeKey(ctx context.Context, bucket, key string) (found bool, err error) {
	p, dir, err := s3.ObjectPath(g.root, bucket, key)
	if err != nil {
		return false, err
	}
	fi, err := g.c.StatWith(ctx, p, client.StatOptions{XAttrs: true})
	if errors.Is(err, cairn.NotExist) || errors.Is(err, cairn.NotDir) {
		return false, nil
	}
	if err != nil {
		return false, s3Error(err, "")
	}
	switch {
	case fi.IsDir != dir:
		return true, nil // "a" when "a/" is a directory, or "a/" when "a" is a file
	case dir && fi.Children > 0:
		if isMarked(fi) {
			if err := g.c.RemoveXAttr(ctx, p, xaDir); err != nil && !errors.Is(err, cairn.NotExist) {
				return true, s3Error(err, "")
			}
		}
		return true, nil
	}
	if err := g.c.Remove(ctx, p); err != nil {
		if errors.Is(err, cairn.NotExist) || errors.Is(err, cairn.NotEmpty) {
			return true, nil // gone meanwhile, or no longer an empty directory
		}
		return true, s3Error(err, "")
	}
	bp, _ := s3.BucketPath(g.root, bucket)
	g.prune(ctx, cairn.Dir(p), bp)
	return true, nil
}

// prune removes dir and its parents below stop while they are empty
// and not objects of their own.
func (g *Gateway) prune(ctx context.Context, dir, stop string) {
	for dir != stop && cairn.IsWithin(dir, stop) {
		fi, err := g.c.StatWith(ctx, dir, client.StatOptions{XAttrs: true})
		if err != nil || !fi.IsDir || fi.Children > 0 || isMarked(fi) {
			return
		}
		// The marker is checked again where the removal is applied: a
		// PUT of "dir/" that marked it after the stat above keeps it.
		if err := g.c.RemoveUnlessXAttr(ctx, dir, xaDir); err != nil {
			return // a key was put there, or it was marked, meanwhile
		}
		dir = cairn.Dir(dir)
	}
}

// deleteWorkers is how many keys of a DeleteObjects are deleted at
// once.
const deleteWorkers = 8

func (rq *request) deleteObjects() error {
	h := rq.r.Header
	hasSum := h.Get("Content-Md5") != "" || h.Get("X-Amz-Trailer") != ""
	for k := range h {
		if a, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-checksum-"); ok && sigv4.NewChecksum(a) != nil {
			hasSum = true
		}
	}
	if !hasSum {
		return &s3.Error{Code: s3.InvalidRequest, Message: "Missing required header for this request: Content-MD5 or x-amz-checksum-*."}
	}
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	body, err := rq.body(s3.MaxXMLRequestSize)
	if err != nil {
		return err
	}
	req, err := s3.ParseDelete(body)
	if err != nil {
		return err
	}
	errs := make([]error, len(req.Objects))
	next := make(chan int)
	done := make(chan struct{})
	for range min(deleteWorkers, len(req.Objects)) {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range next {
				o := req.Objects[i]
				if o.VersionID != "" && o.VersionID != "null" {
					errs[i] = &s3.Error{Code: s3.NoSuchVersion}
					continue
				}
				_, errs[i] = rq.g.removeKey(rq.ctx, rq.bucket, o.Key)
			}
		}()
	}
	for i := range req.Objects {
		next <- i
	}
	close(next)
	for range min(deleteWorkers, len(req.Objects)) {
		<-done
	}
	res := &s3.DeleteResult{Quiet: req.Quiet}
	for i, o := range req.Objects {
		if errs[i] != nil {
			e := s3.AsError(errs[i])
			if e.Code == s3.InternalError {
				rq.g.log.Error("delete failed", "id", rq.id, "bucket", rq.bucket, "key", o.Key, "err", errs[i])
			}
			res.AddError(o.Key, o.VersionID, e)
			continue
		}
		res.AddDeleted(o.Key, o.VersionID)
	}
	return s3.WriteXML(rq.w, http.StatusOK, res)
}

// copySource is the object an x-amz-copy-source names.
type copySource struct{ bucket, key string }

// parseCopySource parses x-amz-copy-source: "[/]bucket/key", URL
// encoded, with an optional "?versionId=" (only "null" exists here).
func parseCopySource(v string) (copySource, error) {
	raw, query, _ := strings.Cut(v, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return copySource{}, s3.Errorf(s3.InvalidArgument, "Invalid copy source: %v", err)
		}
		if vid := q.Get("versionId"); vid != "" && vid != "null" {
			return copySource{}, &s3.Error{Code: s3.NoSuchVersion}
		}
	}
	s, err := url.PathUnescape(raw)
	if err != nil {
		return copySource{}, &s3.Error{Code: s3.InvalidArgument, Message: "Invalid copy source encoding.", ArgumentName: "x-amz-copy-source", ArgumentValue: v}
	}
	s = strings.TrimPrefix(s, "/")
	b, k, ok := strings.Cut(s, "/")
	if !ok || b == "" || k == "" {
		return copySource{}, &s3.Error{Code: s3.InvalidArgument, Message: "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.", ArgumentName: "x-amz-copy-source", ArgumentValue: v}
	}
	if err := s3.ValidateBucketName(b); err != nil {
		return copySource{}, err
	}
	return copySource{bucket: b, key: k}, nil
}

// openSource stats the source of a copy and checks its conditions.
func (rq *request) openSource() (copySource, cairn.FileInfo, string, error) {
	src, err := parseCopySource(rq.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return src, cairn.FileInfo{}, "", err
	}
	fi, p, err := rq.g.statObject(rq.ctx, src.bucket, src.key)
	if err != nil {
		var e *s3.Error
		if errors.As(err, &e) && e.Code == s3.NoSuchKey {
			e.Key = src.key
			bp, _ := s3.BucketPath(rq.g.root, src.bucket)
			if bi, berr := rq.g.c.Stat(rq.ctx, bp); berr != nil || !bi.IsDir {
				return src, fi, p, &s3.Error{Code: s3.NoSuchBucket, BucketName: src.bucket}
			}
		}
		return src, fi, p, err
	}
	if fi.IsDir {
		return src, fi, p, s3.Errorf(s3.InvalidRequest, "The copy source %q is a directory marker; copying it is not supported.", src.key)
	}
	if err := checkConditions(rq.r.Header, "X-Amz-Copy-Source-", objectETag(fi), fi.ModTime, false); err != nil {
		return src, fi, p, err
	}
	return src, fi, p, nil
}

func (rq *request) copyObject() error {
	p, dir, err := s3.ObjectPath(rq.g.root, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	if dir {
		return keyConflict(rq.key, "a key ending in '/' is a directory, which holds no data")
	}
	if err := checkRefusedHeaders(rq.r.Header); err != nil {
		return err
	}
	directive := rq.r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return &s3.Error{Code: s3.InvalidArgument, Message: "Unknown metadata directive.", ArgumentName: "x-amz-metadata-directive", ArgumentValue: directive}
	}
	_, sfi, sp, err := rq.openSource()
	if err != nil {
		return err
	}
	meta := copyMeta(sfi.XAttrs)
	if directive == "REPLACE" {
		if meta, err = objectMeta(rq.r.Header); err != nil {
			return err
		}
	}
	if sp == p {
		if directive != "REPLACE" {
			return s3.Errorf(s3.InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
		// Only the metadata changes, in one step, and the time.
		if err := rq.g.c.SetXAttrs(rq.ctx, p, meta); err != nil {
			return s3Error(err, s3.NoSuchKey)
		}
		if err := rq.g.c.Touch(rq.ctx, p); err != nil {
			return s3Error(err, s3.NoSuchKey)
		}
		return s3.WriteXML(rq.w, http.StatusOK, &s3.CopyObjectResult{LastModified: s3.Timestamp(rq.g.now()), ETag: s3.QuoteETag(objectETag(sfi))})
	}
	if sfi.Size > MaxObjectSize {
		return s3.Errorf(s3.InvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", int64(MaxObjectSize))
	}
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	return rq.slowXML(func(ctx context.Context) (any, error) {
		etag, fi, err := rq.g.copyFile(ctx, sp, sfi, rq.bucket, p, rq.key, 0, sfi.Size, meta)
		if err != nil {
			return nil, err
		}
		return &s3.CopyObjectResult{LastModified: s3.Timestamp(fi.ModTime), ETag: s3.QuoteETag(etag)}, nil
	})
}

// copyFile copies length bytes from offset off of the file src (whose
// info is sfi) to a temporary file of bucket, streaming them through
// the gateway, and publishes it at p with attrs and the MD5 ETag of the
// bytes. With p empty it returns the temporary file unpublished (for a
// part). It returns the ETag and the new file's info.
func (g *Gateway) copyFile(ctx context.Context, src string, sfi cairn.FileInfo, bucket, p, key string, off, length int64, attrs map[string][]byte) (string, cairn.FileInfo, error) {
	var rd io.Reader = eofReader{}
	if length > 0 {
		f, err := g.c.Open(ctx, src)
		if err != nil {
			return "", cairn.FileInfo{}, s3Error(err, s3.NoSuchKey)
		}
		defer f.Close()
		if f.Stat().FileID != sfi.FileID {
			return "", cairn.FileInfo{}, s3.Errorf(s3.OperationAborted, "The copy source changed during the copy; try again.")
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return "", cairn.FileInfo{}, s3Error(err, "")
		}
		rd = io.LimitReader(f, length)
	}
	h := md5.New()
	cr := &countingReader{r: io.TeeReader(rd, h)}
	tmp, fi, err := g.writeTemp(ctx, bucket, cr)
	if err != nil {
		return "", cairn.FileInfo{}, err
	}
	if cr.n != length {
		g.removeQuietly(ctx, tmp)
		return "", cairn.FileInfo{}, s3Error(fmt.Errorf("copy of %s ended after %d of %d bytes", src, cr.n, length), "")
	}
	etag := hexSum(h)
	if attrs == nil {
		attrs = map[string][]byte{}
	}
	attrs[xaETag] = []byte(s3.StoredETag(etag, blocksOf(fi)))
	if p == "" {
		if err := g.c.SetXAttrs(ctx, tmp, attrs); err != nil {
			g.removeQuietly(ctx, tmp)
			return "", cairn.FileInfo{}, s3Error(err, "")
		}
		fi.Path = tmp
		return etag, fi, nil
	}
	if err := g.publish(ctx, tmp, p, key, attrs, true, 0); err != nil {
		return "", cairn.FileInfo{}, err
	}
	return etag, fi, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func hexSum(h hash.Hash) string {
	var sum [md5.Size]byte
	h.Sum(sum[:0])
	return s3.ETag(sum)
}

// slowXML answers with the XML that fn returns. fn may take long (a
// copy streams the bytes through the gateway): if it has not returned
// after keepAliveAfter, the gateway commits to 200 and sends a space
// every keepAliveEvery, so that neither the client nor a proxy times
// out, then the XML of the result or of the error, as S3 does for
// CopyObject, UploadPartCopy and CompleteMultipartUpload (clients look
// for an <Error> in their 200 answers).
func (rq *request) slowXML(fn func(ctx context.Context) (any, error)) error {
	type result struct {
		v   any
		err error
	}
	ctx, cancel := context.WithCancel(rq.ctx)
	defer cancel()
	ch := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	timer := time.NewTimer(rq.g.keepAliveAfter)
	defer timer.Stop()
	var ticker <-chan time.Time
	rc := http.NewResponseController(rq.w)
	for {
		select {
		case res := <-ch:
			if rq.w.status == 0 {
				if res.err != nil {
					return res.err
				}
				return s3.WriteXML(rq.w, http.StatusOK, res.v)
			}
			v := res.v
			if res.err != nil {
				e := s3.AsError(res.err)
				if e.Code == s3.InternalError {
					rq.g.log.Error("request failed", "id", rq.id, "method", rq.r.Method, "path", rq.r.URL.Path, "err", res.err)
				}
				v = e.Response(rq.r.URL.Path, rq.id)
			}
			body, err := s3.MarshalXML(v)
			if err != nil {
				return err
			}
			// The declaration went out first; send the rest.
			_, err = rq.w.Write(body[len(xml.Header):])
			return err
		case <-timer.C:
			rq.w.Header().Set("Content-Type", "application/xml")
			rq.w.WriteHeader(http.StatusOK)
			io.WriteString(rq.w, xml.Header)
			rc.Flush()
			t := time.NewTicker(rq.g.keepAliveEvery)
			defer t.Stop()
			ticker = t.C
		case <-ticker:
			if _, err := io.WriteString(rq.w, " "); err != nil {
				cancel()
			}
			rc.Flush()
		}
	}
}

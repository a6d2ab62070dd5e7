package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
)

// completeTimeout bounds a CompleteMultipartUpload, which does not
// stop when its client goes away.
const completeTimeout = 5 * time.Minute

// upload is a multipart upload in progress, as its directory keeps it.
type upload struct {
	id        string
	path      string // its directory
	key       string
	owner     string
	initiated time.Time
	xattrs    map[string][]byte
}

func uploadOf(id, path string, fi cairn.FileInfo) *upload {
	return &upload{
		id:        id,
		path:      path,
		key:       string(fi.XAttrs[xaUploadKey]),
		owner:     string(fi.XAttrs[xaUploadOwner]),
		initiated: parseTime(fi.XAttrs[xaUploadInitiated], fi.ModTime),
		xattrs:    fi.XAttrs,
	}
}

// loadUpload reads the upload of the request's uploadId, which must be
// of the request's key: anything else is NoSuchUpload.
func (rq *request) loadUpload() (*upload, error) {
	id := rq.q.Get("uploadId")
	p, err := s3.UploadPath(rq.g.root, rq.bucket, id)
	if err != nil {
		return nil, rq.noSuchBucketIfMissing(err)
	}
	fi, err := rq.g.c.StatWith(rq.ctx, p, client.StatOptions{XAttrs: true})
	if err != nil {
		return nil, rq.noSuchBucketIfMissing(s3Error(err, s3.NoSuchUpload))
	}
	u := uploadOf(id, p, fi)
	if !fi.IsDir || u.key != rq.key {
		return nil, &s3.Error{Code: s3.NoSuchUpload, UploadID: id}
	}
	return u, nil
}

func (rq *request) createUpload() error {
	if _, dir, err := s3.ObjectPath(rq.g.root, rq.bucket, rq.key); err != nil {
		return err
	} else if dir {
		return keyConflict(rq.key, "a key ending in '/' is a directory, which holds no data")
	}
	if err := checkRefusedHeaders(rq.r.Header); err != nil {
		return err
	}
	attrs, err := objectMeta(rq.r.Header)
	if err != nil {
		return err
	}
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	id := s3.NewUploadID()
	p, _ := s3.UploadPath(rq.g.root, rq.bucket, id)
	attrs[xaUploadKey] = []byte(rq.key)
	attrs[xaUploadOwner] = []byte(rq.user)
	attrs[xaUploadInitiated] = formatTime(rq.g.now())
	// The directory is made and described under a temporary name, then
	// renamed into place: an upload is listed whole or not at all.
	tmp, _ := s3.TempPath(rq.g.root, rq.bucket)
	if err := rq.g.mkdirsBelow(rq.ctx, tmp); err != nil {
		return s3Error(err, s3.NoSuchBucket)
	}
	err = rq.g.c.SetXAttrs(rq.ctx, tmp, attrs)
	if err == nil {
		err = rq.g.mkdirsBelow(rq.ctx, cairn.Dir(p))
	}
	if err == nil {
		err = rq.g.c.RenameTo(rq.ctx, tmp, p, nil)
	}
	if err != nil {
		rq.g.c.RemoveAll(context.WithoutCancel(rq.ctx), tmp)
		return s3Error(err, s3.NoSuchBucket)
	}
	return s3.WriteXML(rq.w, http.StatusOK, &s3.InitiateMultipartUploadResult{Bucket: rq.bucket, Key: rq.key, UploadID: id})
}

// partNumber parses the request's partNumber.
func (rq *request) partNumber() (int, error) {
	v := rq.q.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > s3.MaxPartNumber {
		return 0, &s3.Error{Code: s3.InvalidArgument, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive", s3.MaxPartNumber),
			ArgumentName: "partNumber", ArgumentValue: v}
	}
	return n, nil
}

func (rq *request) uploadPart() error {
	n, err := rq.partNumber()
	if err != nil {
		return err
	}
	u, err := rq.loadUpload()
	if err != nil {
		return err
	}
	body, err := rq.body(MaxObjectSize)
	if err != nil {
		return err
	}
	if body.Size() < 0 {
		return &s3.Error{Code: s3.MissingContentLength}
	}
	tmp, fi, err := rq.g.writeTemp(rq.ctx, rq.bucket, body)
	if err != nil {
		return err
	}
	etag := s3.ETag(body.MD5())
	attrs := map[string][]byte{xaETag: []byte(s3.StoredETag(etag, blocksOf(fi)))}
	sum, hasSum := body.Checksum()
	if hasSum {
		attrs[xaChecksum] = checksumAttr(sum, blocksOf(fi))
	}
	if err := rq.g.publishPart(rq.ctx, tmp, u, n, attrs); err != nil {
		return err
	}
	rq.w.Header().Set("ETag", s3.QuoteETag(etag))
	if hasSum {
		rq.w.Header().Set("X-Amz-Checksum-"+sum.Algorithm, sum.Value)
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// publishPart renames a written part into its upload, replacing an
// earlier upload of the same number. An upload completed or aborted
// meanwhile is NoSuchUpload.
func (g *Gateway) publishPart(ctx context.Context, tmp string, u *upload, n int, attrs map[string][]byte) (err error) {
	defer func() {
		if err != nil {
			g.removeQuietly(ctx, tmp)
		}
	}()
	if attrs != nil {
		if err := g.c.SetXAttrs(ctx, tmp, attrs); err != nil {
			return s3Error(err, "")
		}
	}
	part := fmt.Sprintf("%s/%05d", u.path, n)
	if err := g.c.RenameTo(ctx, tmp, part, &client.RenameOptions{Overwrite: true}); err != nil {
		if errors.Is(err, cairn.NotExist) {
			return &s3.Error{Code: s3.NoSuchUpload, UploadID: u.id, Err: err}
		}
		return s3Error(err, "")
	}
	return nil
}

// parseCopyRange parses x-amz-copy-source-range, "bytes=first-last",
// for a source of size bytes.
func parseCopyRange(v string, size int64) (start, length int64, err error) {
	if v == "" {
		return 0, size, nil
	}
	bad := &s3.Error{Code: s3.InvalidArgument, Message: "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
		ArgumentName: "x-amz-copy-source-range", ArgumentValue: v}
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, bad
	}
	if last >= size {
		return 0, 0, &s3.Error{Code: s3.InvalidRange, Message: fmt.Sprintf("The requested range %s is not satisfiable: the source has %d bytes.", v, size)}
	}
	return first, last - first + 1, nil
}

func (rq *request) uploadPartCopy() error {
	n, err := rq.partNumber()
	if err != nil {
		return err
	}
	u, err := rq.loadUpload()
	if err != nil {
		return err
	}
	_, sfi, sp, err := rq.openSource()
	if err != nil {
		return err
	}
	start, length, err := parseCopyRange(rq.r.Header.Get("X-Amz-Copy-Source-Range"), sfi.Size)
	if err != nil {
		return err
	}
	if length > MaxObjectSize {
		return s3.Errorf(s3.InvalidRequest, "The specified copy range is larger than the maximum part size of %d bytes.", int64(MaxObjectSize))
	}
	return rq.slowXML(func(ctx context.Context) (any, error) {
		etag, fi, err := rq.g.copyFile(ctx, sp, sfi, rq.bucket, "", rq.key, start, length, nil)
		if err != nil {
			return nil, err
		}
		if err := rq.g.publishPart(ctx, fi.Path, u, n, nil); err != nil {
			return nil, err
		}
		return &s3.CopyPartResult{LastModified: s3.Timestamp(fi.ModTime), ETag: s3.QuoteETag(etag)}, nil
	})
}

// part is one uploaded part.
type part struct {
	number int
	etag   string
	fi     cairn.FileInfo
}

// parts lists the parts of an upload after the part number marker, at
// most limit of them (0: all), and whether more follow.
func (g *Gateway) parts(ctx context.Context, u *upload, marker, limit int) ([]part, bool, error) {
	var out []part
	after := ""
	if marker > 0 {
		after = fmt.Sprintf("%05d", marker)
	}
	for {
		page, more, err := g.c.ListPageWith(ctx, u.path, after, 1000, withAll)
		if err != nil {
			return nil, false, s3Error(err, s3.NoSuchUpload)
		}
		for _, fi := range page {
			n, err := strconv.Atoi(fi.Name)
			if err != nil || fi.IsDir || len(fi.Name) != 5 {
				continue
			}
			if limit > 0 && len(out) == limit {
				return out, true, nil
			}
			out = append(out, part{number: n, etag: objectETag(fi), fi: fi})
		}
		if !more || len(page) == 0 {
			return out, false, nil
		}
		after = page[len(page)-1].Name
	}
}

func (rq *request) listParts() error {
	u, err := rq.loadUpload()
	if err != nil {
		return err
	}
	maxParts, err := rq.maxKeysParam("max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v := rq.q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return &s3.Error{Code: s3.InvalidArgument, Message: "Provided part-number-marker not an integer or within integer range",
				ArgumentName: "part-number-marker", ArgumentValue: v}
		}
	}
	res := &s3.ListPartsResult{Bucket: rq.bucket, Key: u.key, UploadID: u.id,
		Initiator: s3.Owner{ID: u.owner, DisplayName: u.owner}, Owner: s3.Owner{ID: u.owner, DisplayName: u.owner},
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts}
	if maxParts > 0 {
		ps, more, err := rq.g.parts(rq.ctx, u, marker, maxParts)
		if err != nil {
			return err
		}
		for _, p := range ps {
			res.Parts = append(res.Parts, s3.Part{PartNumber: p.number, LastModified: s3.Timestamp(p.fi.ModTime),
				ETag: s3.QuoteETag(p.etag), Size: p.fi.Size})
		}
		res.IsTruncated = more
		if len(ps) > 0 {
			res.NextPartNumberMarker = ps[len(ps)-1].number
		}
	}
	return s3.WriteXML(rq.w, http.StatusOK, res)
}

func (rq *request) abortUpload() error {
	u, err := rq.loadUpload()
	if err != nil {
		return err
	}
	if err := rq.g.c.RemoveAll(rq.ctx, u.path); err != nil {
		return s3Error(err, s3.NoSuchUpload)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// completionRecord is what user.s3.upload.completing holds while an
// upload is being completed: the object's ETag, the number of parts
// and a SHA-256 of their numbers in order, so that a completion
// interrupted after its concat (a gateway that died) can be finished by
// the client's retry of the same list. It has a fixed size: a list of
// 10,000 part numbers would not fit in an extended attribute.
func completionRecord(etag string, numbers []int) string {
	return etag + " " + strconv.Itoa(len(numbers)) + " " + partListSum(numbers)
}

// partListSum is the hex SHA-256 of the part numbers, comma-separated.
func partListSum(numbers []int) string {
	h := sha256.New()
	for i, n := range numbers {
		if i > 0 {
			h.Write([]byte{','})
		}
		h.Write([]byte(strconv.Itoa(n)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// parseCompletionRecord reads a completion record: the ETag, and
// whether it was made for the list numbers.
func parseCompletionRecord(v string, numbers []int) (etag string, same, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", false, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return "", false, false
	}
	return f[0], n == len(numbers) && f[2] == partListSum(numbers), true
}

// completeUpload joins the parts a CompleteMultipartUpload lists, with
// no byte copied: their blocks are moved onto the first part (client
// Concat, one logged step), which is then renamed onto the key.
func (rq *request) completeUpload() error {
	u, err := rq.loadUpload()
	if err != nil {
		return err
	}
	p, _, err := s3.ObjectPath(rq.g.root, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	body, err := rq.body(s3.MaxXMLRequestSize)
	if err != nil {
		return err
	}
	req, err := s3.ParseCompleteMultipartUpload(body)
	if err != nil {
		return err
	}
	return rq.slowXML(func(ctx context.Context) (any, error) {
		// A completion runs to its end even if the client goes away:
		// stopped between its concat and its rename, the object would
		// wait for a retry that may never come.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
		defer cancel()
		etag, err := rq.g.complete(ctx, u, p, rq.key, req.Parts)
		if err != nil {
			var e *s3.Error
			if errors.As(err, &e) && e.Code == s3.NoSuchUpload {
				e.UploadID = u.id
			}
			return nil, err
		}
		loc := &urlLocation{r: rq.r, bucket: rq.bucket, key: rq.key}
		return &s3.CompleteMultipartUploadResult{Location: loc.String(), Bucket: rq.bucket, Key: rq.key, ETag: s3.QuoteETag(etag)}, nil
	})
}

func (g *Gateway) complete(ctx context.Context, u *upload, p, key string, listed []s3.CompletedPart) (string, error) {
	numbers := make([]int, len(listed))
	for i, lp := range listed {
		numbers[i] = lp.PartNumber
	}
	partPath := func(n int) string { return fmt.Sprintf("%s/%05d", u.path, n) }
	have, _, err := g.parts(ctx, u, 0, 0)
	if err != nil {
		return "", err
	}
	byNumber := make(map[int]part, len(have))
	for _, pt := range have {
		byNumber[pt.number] = pt
	}

	// A completion of the same parts interrupted after its concat is
	// finished; one interrupted before is started again.
	etag := ""
	if recETag, same, ok := parseCompletionRecord(string(u.xattrs[xaUploadCompleting]), numbers); ok {
		joined := false
		for _, n := range numbers[1:] {
			if _, ok := byNumber[n]; !ok {
				joined = true
			}
		}
		// A list other than the recorded one finds the parts the
		// recorded completion joined missing, or the first of them
		// changed (its stored ETag no longer matches its blocks): it is
		// refused below as InvalidPart.
		if joined && !same {
			return "", &s3.Error{Code: s3.InvalidPart, Message: "The upload was being completed with other parts: complete it with the same list."}
		}
		if joined {
			if _, ok := byNumber[numbers[0]]; !ok {
				// The joined file was renamed onto the key: only the
				// removal of the upload was left to do. The retry of a
				// completion whose answer was lost succeeds, as long as
				// the object is still the one it made.
				fi, err := g.c.StatWith(ctx, p, withAll)
				if rerr := g.c.RemoveAll(ctx, u.path); rerr != nil {
					return "", s3Error(rerr, s3.NoSuchUpload)
				}
				if err == nil && !fi.IsDir && objectETag(fi) == recETag {
					return recETag, nil
				}
				return "", &s3.Error{Code: s3.NoSuchUpload}
			}
			etag = recETag
		}
	}
	if etag == "" {
		etags := make([]string, len(listed))
		for i, lp := range listed {
			pt, ok := byNumber[lp.PartNumber]
			if !ok || pt.etag != lp.ETag {
				return "", &s3.Error{Code: s3.InvalidPart, Message: fmt.Sprintf("Part %d was not uploaded, or its ETag is not %q.", lp.PartNumber, lp.ETag)}
			}
			if i < len(listed)-1 && pt.fi.Size < g.minPartSize {
				return "", &s3.Error{Code: s3.EntityTooSmall, Message: fmt.Sprintf("Part %d has %d bytes; every part but the last must have at least %d.", lp.PartNumber, pt.fi.Size, g.minPartSize)}
			}
			etags[i] = pt.etag
		}
		if etag, err = s3.MultipartETag(etags); err != nil {
			return "", err
		}
		// The key must be able to hold the object before the parts are
		// joined, which cannot be undone.
		if err := g.checkDestination(ctx, p, key); err != nil {
			return "", err
		}
		if len(numbers) > 1 {
			if err := g.c.SetXAttrs(ctx, u.path, map[string][]byte{xaUploadCompleting: []byte(completionRecord(etag, numbers))}); err != nil {
				return "", s3Error(err, s3.NoSuchUpload)
			}
			srcs := make([]string, len(numbers)-1)
			for i, n := range numbers[1:] {
				srcs[i] = partPath(n)
			}
			if err := g.c.Concat(ctx, partPath(numbers[0]), srcs...); err != nil {
				return "", s3Error(err, s3.NoSuchUpload)
			}
		}
	}
	first := partPath(numbers[0])
	fi, err := g.c.StatWith(ctx, first, client.StatOptions{Blocks: true})
	if err != nil {
		return "", s3Error(err, s3.NoSuchUpload)
	}
	attrs := copyMeta(u.xattrs)
	attrs[xaETag] = []byte(s3.StoredETag(etag, blocksOf(fi)))
	// A part's user.s3.checksum stays: it names the blocks it was
	// computed for, which a joined file no longer has.
	if err := g.c.SetXAttrs(ctx, first, attrs); err != nil {
		return "", s3Error(err, s3.NoSuchUpload)
	}
	if err := g.publishJoined(ctx, first, p, key); err != nil {
		return "", err
	}
	if err := g.c.RemoveAll(ctx, u.path); err != nil {
		g.log.Warn("cannot remove a completed upload", "path", u.path, "err", err)
	}
	return etag, nil
}

// checkDestination checks that the object path p can receive a file:
// its directory can be made, and p is not a directory.
func (g *Gateway) checkDestination(ctx context.Context, p, key string) error {
	if err := g.mkdirsBelow(ctx, cairn.Dir(p)); err != nil {
		var e *s3.Error
		if errors.As(err, &e) {
			return err
		}
		if errors.Is(err, cairn.Exist) || errors.Is(err, cairn.NotDir) {
			return underFileConflict(key)
		}
		return s3Error(err, "")
	}
	fi, err := g.c.Stat(ctx, p)
	if err == nil && fi.IsDir {
		return isDirConflict(key)
	}
	return nil
}

// publishJoined renames the joined first part onto the key. Unlike
// publish it leaves the file in place on failure: it is the upload's
// data, and the client may retry the completion.
func (g *Gateway) publishJoined(ctx context.Context, first, p, key string) error {
	return g.renameOnto(ctx, first, p, key, true, 0, s3.NoSuchUpload)
}

// urlLocation is the Location of a completed object: its URL as the
// client addressed the gateway.
type urlLocation struct {
	r           *http.Request
	bucket, key string
}

func (l *urlLocation) String() string {
	scheme := "http"
	if l.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + l.r.Host + "/" + l.bucket + "/" + s3.URLEncodeKey(l.key)
}

// listUploads answers ListMultipartUploads (the bucket exists). The
// uploads are read whole from the bucket's uploads directory (one
// NameNode call per thousand) and ordered by key, then upload ID, which
// the markers follow.
func (rq *request) listUploads() error {
	maxUploads, err := rq.maxKeysParam("max-uploads")
	if err != nil {
		return err
	}
	urlEnc, err := rq.encodingType()
	if err != nil {
		return err
	}
	prefix, delim := rq.q.Get("prefix"), rq.q.Get("delimiter")
	keyMarker, idMarker := rq.q.Get("key-marker"), rq.q.Get("upload-id-marker")
	if keyMarker == "" {
		idMarker = ""
	}
	all, err := rq.g.uploads(rq.ctx, rq.bucket)
	if err != nil {
		return err
	}
	res := &s3.ListMultipartUploadsResult{Bucket: rq.bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker,
		Delimiter: delim, Prefix: prefix, MaxUploads: maxUploads}
	lastPrefix := ""
	n := 0
	for _, u := range all {
		if !strings.HasPrefix(u.key, prefix) {
			continue
		}
		if keyMarker != "" && (u.key < keyMarker || u.key == keyMarker && (idMarker == "" || u.id <= idMarker)) {
			continue
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(u.key[len(prefix):], delim); i >= 0 {
				cp = u.key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && cp == lastPrefix {
			continue
		}
		if cp != "" && keyMarker != "" && strings.HasPrefix(keyMarker, cp) {
			continue // the marker is inside this common prefix: past it
		}
		if n == maxUploads {
			res.IsTruncated = true
			break
		}
		n++
		if cp != "" {
			lastPrefix = cp
			res.CommonPrefixes = append(res.CommonPrefixes, s3.CommonPrefix{Prefix: cp})
			res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
			continue
		}
		o := s3.Owner{ID: u.owner, DisplayName: u.owner}
		res.Uploads = append(res.Uploads, s3.Upload{Key: u.key, UploadID: u.id, Initiator: o, Owner: o,
			StorageClass: "STANDARD", Initiated: s3.Timestamp(u.initiated)})
		res.NextKeyMarker, res.NextUploadIDMarker = u.key, u.id
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	if urlEnc {
		res.URLEncode()
	}
	return s3.WriteXML(rq.w, http.StatusOK, res)
}

// uploads returns the uploads of a bucket in order of key and ID.
func (g *Gateway) uploads(ctx context.Context, bucket string) ([]*upload, error) {
	dir, err := s3.UploadsPath(g.root, bucket)
	if err != nil {
		return nil, err
	}
	var out []*upload
	after := ""
	for {
		page, more, err := g.c.ListPageWith(ctx, dir, after, 1000, client.StatOptions{XAttrs: true})
		if errors.Is(err, cairn.NotExist) {
			break
		}
		if err != nil {
			return nil, s3Error(err, "")
		}
		for _, fi := range page {
			if _, err := s3.UploadPath(g.root, bucket, fi.Name); err != nil || !fi.IsDir {
				continue
			}
			u := uploadOf(fi.Name, cairn.Join(dir, fi.Name), fi)
			if u.key != "" {
				out = append(out, u)
			}
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].Name
	}
	slices.SortFunc(out, func(a, b *upload) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out, nil
}

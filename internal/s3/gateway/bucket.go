package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"io/fs"
	"net/http"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
)

// bucketPath is the directory of the request's bucket.
func (rq *request) bucketPath() string {
	p, _ := s3.BucketPath(rq.g.root, rq.bucket) // ParseTarget checked the name
	return p
}

// bucketInfo returns the bucket's directory, or NoSuchBucket.
func (rq *request) bucketInfo() (cairn.FileInfo, error) {
	fi, err := rq.g.c.Stat(rq.ctx, rq.bucketPath())
	if err == nil && !fi.IsDir {
		err = cairn.E("stat", rq.bucketPath(), cairn.NotDir)
	}
	if err != nil {
		e := s3Error(err, s3.NoSuchBucket)
		if se, ok := e.(*s3.Error); ok && se.Code == s3.NoSuchBucket {
			se.BucketName = rq.bucket
		}
		return cairn.FileInfo{}, e
	}
	return fi, nil
}

// noSuchBucketIfMissing turns a NoSuchKey or NoSuchUpload into
// NoSuchBucket when the bucket is missing, as S3 answers.
func (rq *request) noSuchBucketIfMissing(err error) error {
	var e *s3.Error
	if errors.As(err, &e) && (e.Code == s3.NoSuchKey || e.Code == s3.NoSuchUpload) {
		if _, berr := rq.bucketInfo(); berr != nil {
			return berr
		}
	}
	return err
}

func (rq *request) listBuckets() error {
	res := &s3.ListAllMyBucketsResult{Owner: rq.owner()}
	after := ""
	for {
		page, more, err := rq.g.c.ListPageWith(rq.ctx, rq.g.root, after, 1000, client.StatOptions{XAttrs: true})
		if errors.Is(err, cairn.NotExist) {
			break
		}
		if err != nil {
			return s3Error(err, "")
		}
		for _, fi := range page {
			if !fi.IsDir || s3.ValidateBucketName(fi.Name) != nil {
				continue
			}
			created := parseTime(fi.XAttrs[xaCreated], fi.ModTime)
			res.Buckets.Bucket = append(res.Buckets.Bucket, s3.Bucket{Name: fi.Name, CreationDate: s3.Timestamp(created)})
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].Name
	}
	return s3.WriteXML(rq.w, http.StatusOK, res)
}

func (rq *request) createBucket() error {
	body, err := rq.body(s3.MaxXMLRequestSize)
	if err != nil {
		return err
	}
	cfg, err := s3.ParseCreateBucketConfiguration(body)
	if err != nil {
		return err
	}
	if cfg != nil && cfg.LocationConstraint != "" {
		lc := cfg.LocationConstraint
		if lc == "US" {
			lc = "us-east-1"
		}
		if lc != rq.g.region {
			return &s3.Error{Code: s3.IllegalLocationConstraintException, BucketName: rq.bucket,
				Message: "The " + cfg.LocationConstraint + " location constraint is incompatible for the region specific endpoint this request was sent to (" + rq.g.region + ")."}
		}
	}
	if v := rq.r.Header.Get("X-Amz-Acl"); v != "" && v != "private" {
		return notImplemented("canned ACL " + v)
	}
	// A bucket is private to its creator, as S3's are (mode 0700);
	// cairn's owners and modes may share it later.
	p := rq.bucketPath()
	err = rq.g.c.Mkdir(rq.ctx, p, bucketMode)
	if errors.Is(err, cairn.NotExist) {
		// The root is made by the first bucket, as the gateway's own
		// user, shared as /tmp is: anyone may make a bucket there, only
		// its owner remove it.
		if err = rq.g.makeRoot(rq.r.Context()); err == nil {
			err = rq.g.c.Mkdir(rq.ctx, p, bucketMode)
		}
	}
	if errors.Is(err, cairn.Exist) {
		fi, serr := rq.g.c.Stat(rq.ctx, p)
		if serr == nil && fi.IsDir && fi.Owner == rq.user {
			return &s3.Error{Code: s3.BucketAlreadyOwnedByYou, BucketName: rq.bucket}
		}
		return &s3.Error{Code: s3.BucketAlreadyExists, BucketName: rq.bucket}
	}
	if err != nil {
		return s3Error(err, "")
	}
	if err := rq.g.c.SetXAttrs(rq.ctx, p, map[string][]byte{xaCreated: formatTime(rq.g.now())}); err != nil {
		return s3Error(err, s3.NoSuchBucket)
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (rq *request) headBucket() error {
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	rq.w.Header().Set("X-Amz-Bucket-Region", rq.g.region)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucket removes an empty bucket: one with no entry but the
// gateway's state directory, and no multipart upload in progress.
func (rq *request) deleteBucket() error {
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	p := rq.bucketPath()
	page, _, err := rq.g.c.ListPage(rq.ctx, p, "", 2)
	if err != nil {
		return s3Error(err, s3.NoSuchBucket)
	}
	for _, fi := range page {
		if fi.Name != s3.ReservedPrefix {
			return &s3.Error{Code: s3.BucketNotEmpty, BucketName: rq.bucket}
		}
	}
	if len(page) > 0 {
		up, _ := s3.UploadsPath(rq.g.root, rq.bucket)
		uploads, _, err := rq.g.c.ListPage(rq.ctx, up, "", 1)
		if err != nil && !errors.Is(err, cairn.NotExist) {
			return s3Error(err, "")
		}
		if len(uploads) > 0 {
			return &s3.Error{Code: s3.BucketNotEmpty, BucketName: rq.bucket,
				Message: "The bucket you tried to delete is not empty: it has multipart uploads in progress."}
		}
		if err := rq.g.c.RemoveAll(rq.ctx, cairn.Join(p, s3.ReservedPrefix)); err != nil {
			return s3Error(err, "")
		}
	}
	if err := rq.g.c.Remove(rq.ctx, p); err != nil {
		if errors.Is(err, cairn.NotEmpty) {
			return &s3.Error{Code: s3.BucketNotEmpty, BucketName: rq.bucket}
		}
		return s3Error(err, s3.NoSuchBucket)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// accessControlPolicy answers GET ?acl: the owner has full control,
// which is all a cairn bucket or object can say (s3cmd and rclone ask).
type accessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   s3.Owner `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

func (rq *request) writeACL() error {
	o := rq.owner()
	return s3.WriteXML(rq.w, http.StatusOK, &accessControlPolicy{
		Owner: o,
		Grants: []grant{{
			Grantee:    grantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
			Permission: "FULL_CONTROL",
		}},
	})
}

// tagging answers GET ?tagging of an object: no tags.
type tagging struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  struct{} `xml:"TagSet"`
}

// bucketMode is the mode of a new bucket's directory.
const bucketMode fs.FileMode = 0o700

// rootMode is the mode of the root the gateway makes: everyone's, with
// the sticky bit.
const rootMode = 0o777 | fs.ModeSticky

// makeRoot makes the gateway's root directory, as the gateway's own
// user (not a caller's), with rootMode.
func (g *Gateway) makeRoot(ctx context.Context) error {
	if err := g.c.MkdirAll(ctx, g.root, 0); err != nil {
		return err
	}
	fi, err := g.c.Stat(ctx, g.root)
	if err != nil {
		return err
	}
	if fi.Mode == rootMode || fi.Owner != g.c.User() {
		return nil // an operator's choice, or another's
	}
	return g.c.Chmod(ctx, g.root, rootMode)
}

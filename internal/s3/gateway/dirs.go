package gateway

import (
	"context"
	"errors"
	"strings"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/s3"
)

// mkdirsBelow makes the directory dir and its missing parents, all
// below a bucket's directory, and never the bucket's directory itself:
// a bucket deleted by a DeleteBucket that ran meanwhile is NoSuchBucket,
// not made again (MkdirAll would bring it back, without its creation
// time and owned by whoever wrote). A file in the way is an error of
// kind cairn.Exist (dir is a file) or cairn.NotDir (a parent is).
func (g *Gateway) mkdirsBelow(ctx context.Context, dir string) error {
	bp, bucket, ok := g.bucketDirOf(dir)
	if !ok {
		return &s3.Error{Code: s3.InternalError, Err: errors.New("gateway: " + dir + " is not below a bucket")}
	}
	if dir == bp {
		fi, err := g.c.Stat(ctx, bp)
		if err != nil || !fi.IsDir {
			return &s3.Error{Code: s3.NoSuchBucket, BucketName: bucket, Err: err}
		}
		return nil
	}
	var err error
	for range 4 {
		err = g.c.Mkdir(ctx, dir, 0)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, cairn.Exist):
			fi, serr := g.c.Stat(ctx, dir)
			if serr == nil && fi.IsDir {
				return nil
			}
			if serr == nil || !errors.Is(serr, cairn.NotExist) {
				return err
			}
			continue // removed meanwhile
		case !errors.Is(err, cairn.NotExist):
			return err
		}
		// The parent is missing: make it (or find the bucket gone), and
		// try again; a delete may prune it again meanwhile.
		if err := g.mkdirsBelow(ctx, cairn.Dir(dir)); err != nil {
			return err
		}
	}
	return err
}

// bucketDirOf returns the directory and name of the bucket p lies in
// (or is).
func (g *Gateway) bucketDirOf(p string) (dir, bucket string, ok bool) {
	prefix := g.root + "/"
	if g.root == "/" {
		prefix = "/"
	}
	rel, ok := strings.CutPrefix(p, prefix)
	if !ok || rel == "" {
		return "", "", false
	}
	bucket, _, _ = strings.Cut(rel, "/")
	return prefix + bucket, bucket, true
}

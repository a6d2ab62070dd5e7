package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
)

// Run removes, until ctx is done, the multipart uploads older than
// UploadMaxAge and the temporary files that failed writes left behind
// (see doc.go): a pass at start, then one every hour. Several gateways
// may run it on the same buckets. It returns nil when ctx is done.
func (g *Gateway) Run(ctx context.Context) error {
	t := time.NewTicker(g.cleanInterval)
	defer t.Stop()
	for {
		g.clean(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// clean makes one pass over every bucket.
func (g *Gateway) clean(ctx context.Context) {
	after := ""
	for ctx.Err() == nil {
		page, more, err := g.c.ListPage(ctx, g.root, after, 1000)
		if errors.Is(err, cairn.NotExist) {
			return
		}
		if err != nil {
			g.log.Warn("cleaning: cannot list the buckets", "root", g.root, "err", err)
			return
		}
		for _, fi := range page {
			if fi.IsDir && s3.ValidateBucketName(fi.Name) == nil {
				g.cleanBucket(ctx, fi.Name)
			}
		}
		if !more || len(page) == 0 {
			return
		}
		after = page[len(page)-1].Name
	}
}

func (g *Gateway) cleanBucket(ctx context.Context, bucket string) {
	now := g.now()
	up, _ := s3.UploadsPath(g.root, bucket)
	g.eachEntry(ctx, up, client.StatOptions{XAttrs: true}, func(fi cairn.FileInfo) {
		initiated := parseTime(fi.XAttrs[xaUploadInitiated], fi.ModTime)
		if now.Sub(initiated) <= g.maxAge {
			return
		}
		if err := g.c.RemoveAll(ctx, fi.Path); err != nil {
			g.log.Warn("cleaning: cannot remove an abandoned upload", "path", fi.Path, "err", err)
			return
		}
		g.log.Info("removed an abandoned multipart upload", "bucket", bucket, "upload", fi.Name,
			"key", string(fi.XAttrs[xaUploadKey]), "initiated", initiated)
	})
	tmp, _ := s3.TempPath(g.root, bucket)
	g.eachEntry(ctx, cairn.Dir(tmp), client.StatOptions{}, func(fi cairn.FileInfo) {
		// A temporary file is renamed away as soon as it is closed; one
		// still open is a write in progress, until its lease is
		// recovered (a gateway that died) or it is very old.
		age := now.Sub(fi.ModTime)
		if age <= g.tempMaxAge || fi.UnderConstruction && age <= g.tempOpenMaxAge {
			return
		}
		if err := g.c.RemoveAll(ctx, fi.Path); err != nil {
			g.log.Warn("cleaning: cannot remove a temporary file", "path", fi.Path, "err", err)
			return
		}
		g.log.Info("removed a temporary file", "path", fi.Path, "modified", fi.ModTime)
	})
}

// eachEntry calls fn for every entry of dir, a page at a time.
func (g *Gateway) eachEntry(ctx context.Context, dir string, opts client.StatOptions, fn func(cairn.FileInfo)) {
	after := ""
	for ctx.Err() == nil {
		page, more, err := g.c.ListPageWith(ctx, dir, after, 1000, opts)
		if errors.Is(err, cairn.NotExist) {
			return
		}
		if err != nil {
			g.log.Warn("cleaning: cannot list", "dir", dir, "err", err)
			return
		}
		for _, fi := range page {
			fn(fi)
		}
		if !more || len(page) == 0 {
			return
		}
		after = page[len(page)-1].Name
	}
}

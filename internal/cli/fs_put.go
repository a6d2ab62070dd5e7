package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// cleanupTimeout bounds the removal of a put's temporary file, done on
// a fresh context since the command's may have ended (Ctrl-C).
const cleanupTimeout = 10 * time.Second

// tempMarker is in the name of every temporary file a put writes:
// "<dir>/.<name>._COPYING_.<random>".
const tempMarker = "._COPYING_."

type putCmd struct {
	r           *remote
	force       bool
	direct      bool
	recursive   bool
	replication int
	blockSize   sizeValue
	cmd         *cobra.Command
}

func newPutCmd(r *remote) *cobra.Command {
	p := &putCmd{r: r}
	cmd := &cobra.Command{
		Use:   "put [-f] [-d] [-r] [--replication N] [--block-size SIZE] LOCAL... DEST",
		Short: "Copy local files into the cluster",
		Long: `Copy local files into the cluster. LOCAL "-" reads standard input.

With one source, DEST is the new file's name, or an existing directory to
put it in. With several sources, DEST must be an existing directory. A
directory source needs -r: it is copied as DEST if DEST does not exist, or
into DEST if it is a directory.

Each file is written under a temporary name in its target directory
(".NAME._COPYING_.RANDOM") and renamed to exactly its name when complete,
so readers never see a partial file. A failed or interrupted put removes
its temporary; a put killed outright (kill -9) leaves it behind until the
NameNode's lease recovery removes it (after the lease hard limit, 1h by
default). With -d (as HDFS's put -d) the file is written under its own
name: readers see it grow, and a put killed outright leaves it open until
lease recovery closes it with every byte its replicas acknowledged.

Without -f, a put onto an existing file fails and leaves it intact. A put
whose target becomes a directory, or whose target directory is removed,
while it uploads fails and writes nothing.`,
		Args: minArgs(2, "LOCAL... DEST"),
		RunE: runE(p.run),
	}
	f := cmd.Flags()
	f.BoolVarP(&p.force, "force", "f", false, "overwrite existing files")
	f.BoolVarP(&p.direct, "direct", "d", false, "write each file under its own name, without a temporary")
	f.BoolVarP(&p.recursive, "recursive", "r", false, "copy directories recursively")
	f.IntVar(&p.replication, "replication", 0, "replication of the new files (default: the NameNode's)")
	f.Var(&p.blockSize, "block-size", "block size of the new files, e.g. 64MiB (default: the NameNode's)")
	p.cmd = cmd
	return cmd
}

func (p *putCmd) run(ctx context.Context, args []string) error {
	const op = "put"
	srcs, dest := args[:len(args)-1], args[len(args)-1]
	if err := checkPath(op, dest); err != nil {
		return err
	}
	if p.cmd.Flags().Changed("replication") && p.replication <= 0 {
		return failf(op, dest, cairn.Invalid, "invalid replication %d: must be at least 1", p.replication)
	}
	if p.cmd.Flags().Changed("block-size") && p.blockSize <= 0 {
		return failf(op, dest, cairn.Invalid, "invalid block-size %d: must be positive", int64(p.blockSize))
	}
	// Check every source before writing anything.
	infos := make([]fs.FileInfo, len(srcs))
	stdin := 0
	for i, src := range srcs {
		if src == "-" {
			stdin++
			continue
		}
		fi, err := os.Stat(src)
		if err != nil {
			return fail(op, src, err)
		}
		if fi.IsDir() && !p.recursive {
			return failf(op, src, cairn.IsDir, "is a directory (use -r to copy directories)")
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return failf(op, src, cairn.Invalid, "not a regular file")
		}
		infos[i] = fi
	}
	if stdin > 1 {
		return failf(op, "-", cairn.Invalid, "standard input given more than once")
	}
	return p.r.withClient(ctx, op, dest, func(c *client.Client) error {
		destInfo, err := c.Stat(ctx, dest)
		destExists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(op, dest, err)
		}
		destIsDir := destExists && destInfo.IsDir
		if len(srcs) > 1 {
			if !destExists {
				return failf(op, dest, cairn.NotExist, "no such directory (several sources need an existing directory)")
			}
			if !destIsDir {
				return failf(op, dest, cairn.NotDir, "not a directory (several sources need an existing directory)")
			}
		}
		for i, src := range srcs {
			target := dest
			if destIsDir {
				if src == "-" {
					return failf(op, dest, cairn.IsDir, "is a directory (name the file to write standard input to)")
				}
				name := filepath.Base(src)
				if err := cairn.ValidateName(name); err != nil {
					return failf(op, src, cairn.Invalid, "cannot name a file after it: %v", err)
				}
				target = cairn.Join(dest, name)
			}
			if src == "-" {
				if err := p.putFile(ctx, c, "-", p.r.e.stdin, -1, target); err != nil {
					return err
				}
				continue
			}
			if infos[i].IsDir() {
				if err := p.putTree(ctx, c, src, target); err != nil {
					return err
				}
				continue
			}
			if err := p.putLocal(ctx, c, src, infos[i].Size(), target); err != nil {
				return err
			}
		}
		return nil
	})
}

// putLocal copies the local file src to target.
func (p *putCmd) putLocal(ctx context.Context, c *client.Client, src string, size int64, target string) error {
	f, err := os.Open(src)
	if err != nil {
		return fail("put", src, err)
	}
	defer f.Close()
	return p.putFile(ctx, c, src, f, size, target)
}

// putTree copies the local directory src to the directory target,
// creating it if needed.
func (p *putCmd) putTree(ctx context.Context, c *client.Client, src, target string) error {
	const op = "put"
	return filepath.WalkDir(src, func(local string, d fs.DirEntry, err error) error {
		if err != nil {
			return fail(op, local, err)
		}
		if err := ctx.Err(); err != nil {
			return fail(op, target, err)
		}
		rel, err := filepath.Rel(src, local)
		if err != nil {
			return fail(op, local, err)
		}
		remote := target
		if rel != "." {
			for _, name := range splitSlash(filepath.ToSlash(rel)) {
				if err := cairn.ValidateName(name); err != nil {
					return failf(op, local, cairn.Invalid, "cannot name a file after it: %v", err)
				}
				remote = cairn.Join(remote, name)
			}
		}
		if d.IsDir() {
			if err := c.MkdirAll(ctx, remote, 0o755); err != nil {
				return fail(op, remote, err)
			}
			return nil
		}
		fi, err := os.Stat(local) // follows symbolic links
		if err != nil {
			return fail(op, local, err)
		}
		if !fi.Mode().IsRegular() {
			return failf(op, local, cairn.Invalid, "not a regular file")
		}
		return p.putLocal(ctx, c, local, fi.Size(), remote)
	})
}

// splitSlash splits a relative slash-separated path into its names.
func splitSlash(rel string) []string {
	var names []string
	for len(rel) > 0 {
		i := 0
		for i < len(rel) && rel[i] != '/' {
			i++
		}
		if i > 0 {
			names = append(names, rel[:i])
		}
		if i == len(rel) {
			break
		}
		rel = rel[i+1:]
	}
	return names
}

// putFile writes r (size bytes, -1 if unknown) to target through a
// temporary file in target's directory, renamed to exactly target when
// complete. Whatever goes wrong (the source, the DataNodes, the
// NameNode, the namespace changing underneath, an interrupt, even a
// panic), the temporary is removed before putFile returns.
func (p *putCmd) putFile(ctx context.Context, c *client.Client, src string, r io.Reader, size int64, target string) error {
	const op = "put"
	info, err := c.Stat(ctx, target)
	switch {
	case err == nil && info.IsDir:
		return failf(op, target, cairn.IsDir, "is a directory")
	case err == nil && !p.force:
		return failf(op, target, cairn.Exist, "file already exists")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fail(op, target, err)
	}
	// The file is written under a temporary name and renamed, or with
	// -d under its own name (a file there is replaced only with -f).
	name, renamed := target, false
	if !p.direct {
		name = tempName(target)
		defer func() {
			if !renamed {
				// Also after a failed Create: it may have taken effect
				// with its answer lost.
				p.removeTemp(ctx, c, name)
			}
		}()
	}
	failed := func(err error) error {
		if p.direct {
			return fail(op, target, err)
		}
		return p.uploadFailed(ctx, c, name, target, err)
	}
	w, err := c.Create(ctx, name, &client.CreateOptions{
		Overwrite:   p.direct && p.force,
		Replication: p.replication,
		BlockSize:   int64(p.blockSize),
	})
	if err != nil {
		return fail(op, target, err)
	}
	// Tears down the pipeline and removes the file unless Close
	// succeeded; it runs before removeTemp, which then finds nothing
	// unless Abort could not reach the NameNode.
	defer w.Abort()
	label := src
	if src == "-" {
		label = "stdin"
	}
	_, err = p.r.e.copyWithProgress(ctx, errWriter{w}, r, label+" -> "+target, size)
	if err != nil {
		var we writeErr
		if ctx.Err() != nil {
			return fail(op, target, ctx.Err())
		}
		if errors.As(err, &we) {
			return failed(we.err)
		}
		return fail(op, src, err)
	}
	if err := w.Close(); err != nil {
		return failed(err)
	}
	if p.direct {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fail(op, target, err)
	}
	// Exactly target: if it became a directory meanwhile, the rename
	// fails rather than move the temporary into it.
	err = c.RenameTo(ctx, name, target, &client.RenameOptions{Overwrite: p.force})
	switch {
	case err == nil:
		renamed = true
		return nil
	case errors.Is(err, cairn.IsDir):
		return failf(op, target, cairn.IsDir, "became a directory during the upload; nothing was written")
	case errors.Is(err, fs.ErrExist):
		return failf(op, target, cairn.Exist, "file already exists")
	}
	return failed(err)
}

// uploadFailed explains an error writing, closing or renaming tmp, the
// temporary file of target: when tmp is gone (the NameNode then says
// the file is not open, or does not exist), the put failed because its
// directory, or tmp itself, was removed meanwhile.
func (p *putCmd) uploadFailed(ctx context.Context, c *client.Client, tmp, target string, err error) error {
	const op = "put"
	if ctx.Err() != nil {
		return fail(op, target, ctx.Err())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, serr := c.Stat(sctx, tmp); !errors.Is(serr, fs.ErrNotExist) {
		return fail(op, target, err)
	}
	dir := cairn.Dir(target)
	if _, serr := c.Stat(sctx, dir); errors.Is(serr, fs.ErrNotExist) {
		return failf(op, target, cairn.NotExist, "directory %s was removed during the upload", dir)
	}
	return failf(op, target, cairn.NotExist, "its temporary file %s was removed during the upload", tmp)
}

// writeErr marks an error of the destination of a copy, to tell it from
// an error reading the source.
type writeErr struct{ err error }

func (w writeErr) Error() string { return w.err.Error() }
func (w writeErr) Unwrap() error { return w.err }

// errWriter marks the errors of w as writeErr.
type errWriter struct{ w io.Writer }

func (e errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

// removeTemp removes a put's temporary file on a fresh context, since
// ctx may have ended, trying again while the NameNode is unreachable or
// restarting (unavailable, in safe mode or not the leader), for at most
// cleanupTimeout. A temporary it cannot remove is left to the
// NameNode's lease recovery.
func (p *putCmd) removeTemp(ctx context.Context, c *client.Client, tmp string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := c.Remove(cctx, tmp)
		switch cairn.KindOf(err) {
		case cairn.Unavailable, cairn.SafeMode, cairn.NotLeader:
		default:
			return // done, gone already, or not worth trying again
		}
		t := time.NewTimer(wait)
		select {
		case <-cctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// tempName returns a fresh temporary name beside target:
// "<dir>/.<name>._COPYING_.<8 hex digits>", with the name shortened if
// the whole would be too long.
func tempName(target string) string {
	var b [4]byte
	rand.Read(b[:])
	suffix := tempMarker + hex.EncodeToString(b[:])
	name := cairn.Base(target)
	if max := cairn.MaxNameLen - 1 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return cairn.Join(cairn.Dir(target), "."+name+suffix)
}

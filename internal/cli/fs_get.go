package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

type getCmd struct {
	r         *remote
	recursive bool
	force     bool
}

func newGetCmd(r *remote) *cobra.Command {
	g := &getCmd{r: r}
	cmd := &cobra.Command{
		Use:   "get [-r] SRC... LOCAL",
		Short: "Copy files from the cluster to local files",
		Long: `Copy files from the cluster to local files. LOCAL "-" writes to standard
output.

With one source, LOCAL is the new local file, or an existing directory to
put it in. With several sources, LOCAL must be an existing directory. A
directory source needs -r: it is copied as LOCAL if LOCAL does not exist,
or into LOCAL if it is a directory.

Each file is written to a temporary file beside its target and renamed
when complete, so a failed get leaves no partial local file. An existing
local file is replaced, as cp does.`,
		Args: minArgs(2, "SRC... LOCAL"),
		RunE: runE(g.run),
	}
	cmd.Flags().BoolVarP(&g.recursive, "recursive", "r", false, "copy directories recursively")
	cmd.Flags().BoolVarP(&g.force, "force", "f", false, "replace existing local files (the default; accepted for compatibility)")
	return cmd
}

func (g *getCmd) run(ctx context.Context, args []string) error {
	const op = "get"
	srcs, local := args[:len(args)-1], args[len(args)-1]
	if err := checkPaths(op, srcs); err != nil {
		return err
	}
	localIsDir := false
	if local != "-" {
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			localIsDir = true
		}
	}
	if len(srcs) > 1 && local != "-" && !localIsDir {
		return failf(op, local, cairn.NotDir, "not a directory (several sources need an existing directory)")
	}
	return g.r.withClient(ctx, op, srcs[0], func(c *client.Client) error {
		for _, src := range srcs {
			info, err := c.Stat(ctx, src)
			if err != nil {
				return fail(op, src, err)
			}
			if info.IsDir && !g.recursive {
				return failf(op, src, cairn.IsDir, "is a directory (use -r to copy directories)")
			}
			if local == "-" {
				if info.IsDir {
					return failf(op, src, cairn.IsDir, "is a directory (cannot write a directory to standard output)")
				}
				if err := g.toStdout(ctx, c, src); err != nil {
					return err
				}
				continue
			}
			target := local
			if localIsDir {
				target = filepath.Join(local, cairn.Base(src))
			}
			if info.IsDir {
				err = g.getTree(ctx, c, src, target)
			} else {
				err = g.getFile(ctx, c, info, target)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (g *getCmd) toStdout(ctx context.Context, c *client.Client, src string) error {
	const op = "get"
	rd, err := c.Open(ctx, src)
	if err != nil {
		return fail(op, src, err)
	}
	defer rd.Close()
	_, err = g.r.e.copyWithProgress(ctx, errWriter{g.r.e.stdout}, rd, src, rd.Stat().Size)
	if err != nil {
		var we writeErr
		if errors.As(err, &we) {
			return fail(op, "-", we.err)
		}
		return fail(op, src, err)
	}
	return nil
}

// getTree copies the cluster directory src to the local directory
// target, creating it if needed.
func (g *getCmd) getTree(ctx context.Context, c *client.Client, src, target string) error {
	const op = "get"
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fail(op, target, err)
	}
	entries, err := c.ReadDir(ctx, src)
	if err != nil {
		return fail(op, src, err)
	}
	for _, ent := range entries {
		if err := ctx.Err(); err != nil {
			return fail(op, src, err)
		}
		child := cairn.Join(src, ent.Name)
		local := filepath.Join(target, ent.Name)
		if ent.IsDir {
			err = g.getTree(ctx, c, child, local)
		} else {
			ent.Path = child
			err = g.getFile(ctx, c, ent, local)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// getFile copies the cluster file described by info to the local file
// target, through a temporary file beside it.
func (g *getCmd) getFile(ctx context.Context, c *client.Client, info cairn.FileInfo, target string) error {
	const op = "get"
	src := info.Path
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		return failf(op, target, cairn.IsDir, "is a directory")
	}
	rd, err := c.Open(ctx, src)
	if err != nil {
		return fail(op, src, err)
	}
	defer rd.Close()
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".cairn-get-*")
	if err != nil {
		return fail(op, target, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	_, err = g.r.e.copyWithProgress(ctx, errWriter{tmp}, rd, src+" -> "+target, rd.Stat().Size)
	if err != nil {
		var we writeErr
		if ctx.Err() != nil {
			return fail(op, src, ctx.Err())
		}
		if errors.As(err, &we) {
			return fail(op, target, we.err)
		}
		return fail(op, src, err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(op, target, err)
	}
	if err := tmp.Close(); err != nil {
		return fail(op, target, err)
	}
	perm := info.Mode.Perm()
	if perm == 0 {
		perm = 0o644
	}
	if err := os.Chmod(tmp.Name(), perm&^0o022|0o600); err != nil {
		return fail(op, target, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fail(op, target, err)
	}
	ok = true
	return nil
}

package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// tailBytes is how much of a file's end tail shows, as hdfs dfs -tail.
const tailBytes = 1024

func newCatCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "cat PATH...",
		Short: "Write files to standard output",
		Args:  minArgs(1, "at least one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "cat"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			return r.withClient(ctx, op, args[0], func(c *client.Client) error {
				for _, p := range args {
					if _, err := catFile(ctx, c, r.e.stdout, op, p, 0); err != nil {
						return err
					}
				}
				return nil
			})
		}),
	}
}

// catFile copies the file p from offset off to w and returns the
// number of bytes copied.
func catFile(ctx context.Context, c *client.Client, w io.Writer, op, p string, off int64) (int64, error) {
	rd, err := c.Open(ctx, p)
	if err != nil {
		return 0, fail(op, p, err)
	}
	defer rd.Close()
	if rd.Stat().IsDir {
		return 0, failf(op, p, cairn.IsDir, "is a directory")
	}
	if off > 0 {
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			return 0, fail(op, p, err)
		}
	}
	n, err := io.CopyBuffer(onlyWriter{errWriter{w}}, &progressReader{ctx: ctx, r: rd}, make([]byte, copyBufferSize))
	if err != nil {
		var we writeErr
		if errors.As(err, &we) {
			return n, fail(op, "-", we.err)
		}
		return n, fail(op, p, err)
	}
	return n, nil
}

type tailCmd struct {
	r        *remote
	follow   bool
	interval time.Duration
}

func newTailCmd(r *remote) *cobra.Command {
	t := &tailCmd{r: r}
	cmd := &cobra.Command{
		Use:   "tail [-f] PATH",
		Short: "Write the last KiB of a file to standard output",
		Long: `Write the last KiB of a file to standard output. With -f, keep watching
the file and write what is appended to it, until interrupted.`,
		Args: exactArgs(1, "one PATH"),
		RunE: runE(t.run),
	}
	cmd.Flags().BoolVarP(&t.follow, "follow", "f", false, "write data as the file grows")
	cmd.Flags().DurationVar(&t.interval, "interval", time.Second, "how often -f looks for new data")
	return cmd
}

func (t *tailCmd) run(ctx context.Context, args []string) error {
	const op = "tail"
	p := args[0]
	if err := checkPath(op, p); err != nil {
		return err
	}
	if t.interval <= 0 {
		return usageError("invalid --interval %v: must be positive", t.interval)
	}
	return t.r.withClient(ctx, op, p, func(c *client.Client) error {
		info, err := c.Stat(ctx, p)
		if err != nil {
			return fail(op, p, err)
		}
		if info.IsDir {
			return failf(op, p, cairn.IsDir, "is a directory")
		}
		off := max(info.Size-tailBytes, 0)
		n, err := catFile(ctx, c, t.r.e.stdout, op, p, off)
		if err != nil {
			return err
		}
		if !t.follow {
			return nil
		}
		off += n
		tick := time.NewTicker(t.interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil // interrupting tail -f is its normal end
			case <-tick.C:
			}
			info, err := c.Stat(ctx, p)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fail(op, p, err)
			}
			if info.Size <= off {
				off = min(off, info.Size) // truncated or replaced: follow the new end
				continue
			}
			n, err := catFile(ctx, c, t.r.e.stdout, op, p, off)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			off += n
		}
	})
}

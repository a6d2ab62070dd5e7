package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Namespace commands: mkdir, rm, mv, touch, chmod, chown, setrep. Each
// stops at the first failure, so it prints exactly one error line.

func newMkdirCmd(r *remote) *cobra.Command {
	var parents bool
	cmd := &cobra.Command{
		Use:   "mkdir [-p] PATH...",
		Short: "Create directories",
		Long:  "Create directories (mode 0755). With -p, create missing parents too, and accept existing directories.",
		Args:  minArgs(1, "at least one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "mkdir"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			return r.withClient(ctx, op, args[0], func(c *client.Client) error {
				for _, p := range args {
					var err error
					if parents {
						err = c.MkdirAll(ctx, p, 0o755)
					} else {
						err = c.Mkdir(ctx, p, 0o755)
					}
					if err != nil {
						return fail(op, p, err)
					}
				}
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create missing parents; no error if the directory exists")
	return cmd
}

func newRmCmd(r *remote) *cobra.Command {
	var recursive, force bool
	cmd := &cobra.Command{
		Use:   "rm [-r] [-f] PATH...",
		Short: "Remove files and directories",
		Long: `Remove files and empty directories. With -r, remove directories and
everything below them. With -f, a missing PATH is not an error.`,
		Args: minArgs(1, "at least one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "rm"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			return r.withClient(ctx, op, args[0], func(c *client.Client) error {
				for _, p := range args {
					if err := remove(ctx, c, p, recursive); err != nil {
						if force && errors.Is(err, fs.ErrNotExist) {
							continue
						}
						return fail(op, p, err)
					}
				}
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove directories and their contents")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "ignore missing paths")
	return cmd
}

// remove removes p; a missing p is an error of kind NotExist.
func remove(ctx context.Context, c *client.Client, p string, recursive bool) error {
	if p == "/" {
		info, err := c.Stat(ctx, p)
		if err != nil {
			return err
		}
		if info.Children > 0 && !recursive {
			return cairn.E("rm", p, cairn.NotEmpty)
		}
		return cairn.Errorf("rm", p, cairn.Invalid, "cannot remove the root directory")
	}
	if !recursive {
		return c.Remove(ctx, p)
	}
	// RemoveAll ignores a missing path; rm -r does not.
	if _, err := c.Stat(ctx, p); err != nil {
		return err
	}
	return c.RemoveAll(ctx, p)
}

func newMvCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "mv SRC... DEST",
		Short: "Move or rename files and directories",
		Long: `Move or rename files and directories. If DEST is an existing directory,
the sources move into it; otherwise the single SRC is renamed DEST. Moving
onto an existing file fails.`,
		Args: minArgs(2, "SRC... DEST"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "mv"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			srcs, dest := args[:len(args)-1], args[len(args)-1]
			return r.withClient(ctx, op, srcs[0], func(c *client.Client) error {
				if len(srcs) > 1 {
					info, err := c.Stat(ctx, dest)
					if err != nil {
						return fail(op, dest, err)
					}
					if !info.IsDir {
						return failf(op, dest, cairn.NotDir, "not a directory (several sources need an existing directory)")
					}
				}
				for _, src := range srcs {
					if err := c.Rename(ctx, src, dest, false); err != nil {
						return fail(op, src, err)
					}
				}
				return nil
			})
		}),
	}
}

func newTouchCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "touch PATH...",
		Short: "Create empty files or update modification times",
		Args:  minArgs(1, "at least one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "touch"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			return r.withClient(ctx, op, args[0], func(c *client.Client) error {
				for _, p := range args {
					if err := c.Touch(ctx, p); err != nil {
						return fail(op, p, err)
					}
				}
				return nil
			})
		}),
	}
}

func newChmodCmd(r *remote) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "chmod [-R] MODE PATH...",
		Short: "Change permissions (octal MODE, such as 644)",
		Args:  minArgs(2, "MODE PATH..."),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "chmod"
			mode, err := parseMode(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			paths := args[1:]
			if err := checkPaths(op, paths); err != nil {
				return err
			}
			return r.withClient(ctx, op, paths[0], func(c *client.Client) error {
				return forEach(ctx, c, op, paths, recursive, func(p string) error {
					return c.Chmod(ctx, p, mode)
				})
			})
		}),
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "change everything below directories too")
	return cmd
}

func newChownCmd(r *remote) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "chown [-R] OWNER[:GROUP] PATH...",
		Short: "Change owner and group",
		Long:  "Change owner and group: OWNER, OWNER:GROUP, or :GROUP to change only the group.",
		Args:  minArgs(2, "OWNER[:GROUP] PATH..."),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "chown"
			owner, group, err := parseOwner(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			paths := args[1:]
			if err := checkPaths(op, paths); err != nil {
				return err
			}
			return r.withClient(ctx, op, paths[0], func(c *client.Client) error {
				return forEach(ctx, c, op, paths, recursive, func(p string) error {
					return c.Chown(ctx, p, owner, group)
				})
			})
		}),
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "change everything below directories too")
	return cmd
}

// forEach calls fn on each path and, if recursive, on everything below
// the directories among them, stopping at the first error.
func forEach(ctx context.Context, c *client.Client, op string, paths []string, recursive bool, fn func(p string) error) error {
	var walk func(p string) error
	walk = func(p string) error {
		if err := ctx.Err(); err != nil {
			return fail(op, p, err)
		}
		if err := fn(p); err != nil {
			return fail(op, p, err)
		}
		if !recursive {
			return nil
		}
		info, err := c.Stat(ctx, p)
		if err != nil {
			return fail(op, p, err)
		}
		if !info.IsDir {
			return nil
		}
		entries, err := c.ReadDir(ctx, p)
		if err != nil {
			return fail(op, p, err)
		}
		for _, ent := range entries {
			if err := walk(cairn.Join(p, ent.Name)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range paths {
		if err := walk(p); err != nil {
			return err
		}
	}
	return nil
}

type setrepCmd struct {
	r        *remote
	wait     bool
	interval time.Duration
	timeout  time.Duration
}

func newSetrepCmd(r *remote) *cobra.Command {
	s := &setrepCmd{r: r}
	cmd := &cobra.Command{
		Use:   "setrep [-w] N PATH...",
		Short: "Change the replication of files",
		Long: `Change the replication of files, or of every file below a directory. The
NameNode adds or removes replicas in the background; with -w, wait until
every block has at least N live replicas.`,
		Args: minArgs(2, "N PATH..."),
		RunE: runE(s.run),
	}
	cmd.Flags().BoolVarP(&s.wait, "wait", "w", false, "wait until every block has N live replicas")
	cmd.Flags().DurationVar(&s.interval, "interval", time.Second, "how often -w checks")
	cmd.Flags().DurationVar(&s.timeout, "timeout", 0, "give up waiting after this long (0: wait until interrupted)")
	return cmd
}

func (s *setrepCmd) run(ctx context.Context, args []string) error {
	const op = "setrep"
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return usageError("invalid replication %q: not a number", args[0])
	}
	if s.interval <= 0 {
		return usageError("invalid --interval %v: must be positive", s.interval)
	}
	paths := args[1:]
	if err := checkPaths(op, paths); err != nil {
		return err
	}
	return s.r.withClient(ctx, op, paths[0], func(c *client.Client) error {
		for _, p := range paths {
			if err := c.SetReplication(ctx, p, n); err != nil {
				return fail(op, p, err)
			}
			fmt.Fprintf(s.r.e.stdout, "Replication %d set: %s\n", n, p)
		}
		if !s.wait {
			return nil
		}
		wctx := ctx
		if s.timeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, s.timeout)
			defer cancel()
		}
		for _, p := range paths {
			fmt.Fprintf(s.r.e.stdout, "Waiting for %s to have %d replicas of every block ...", p, n)
			if err := s.waitReplicated(wctx, c, p, n); err != nil {
				fmt.Fprintln(s.r.e.stdout)
				if ctx.Err() == nil && wctx.Err() != nil {
					return failf(op, p, cairn.NotReplicated, "not every block has %d live replicas after %v", n, s.timeout)
				}
				return fail(op, p, err)
			}
			fmt.Fprintln(s.r.e.stdout, " done")
		}
		return nil
	})
}

// waitReplicated polls fsck until every block below p has at least n
// live replicas.
func (s *setrepCmd) waitReplicated(ctx context.Context, c *client.Client, p string, n int) error {
	for {
		rep, err := c.Fsck(ctx, p, client.FsckOptions{Files: true, Blocks: true})
		if err != nil {
			return err
		}
		if replicated(rep, n) {
			return nil
		}
		t := time.NewTimer(s.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// replicated reports whether an fsck report shows every block with at
// least n live replicas.
func replicated(rep client.FsckReport, n int) bool {
	if rep.MissingBlocks > 0 || rep.CorruptBlocks > 0 {
		return false
	}
	if len(rep.FileDetails) == 0 {
		return rep.UnderReplicatedBlocks == 0
	}
	for _, f := range rep.FileDetails {
		for _, b := range f.Blocks {
			if b.LiveReplicas < n {
				return false
			}
		}
	}
	return true
}

package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// lsTimeFormat is the modification time in ls -l, as hdfs dfs -ls.
const lsTimeFormat = "2006-01-02 15:04"

type lsCmd struct {
	r         *remote
	long      bool
	recursive bool
	human     bool
	dirOnly   bool
}

func newLsCmd(r *remote) *cobra.Command {
	l := &lsCmd{r: r}
	cmd := &cobra.Command{
		Use:   "ls [-l] [-R] [-h] [-d] [PATH...]",
		Short: "List directories",
		Long: `List directories (/ by default), one full path a line. A file lists itself.

With -l each line is as hdfs dfs -ls: mode, replication ("-" for a
directory), owner, group, size, modification time and path, and each
listed directory starts with "Found N items".`,
		Args: cobra.ArbitraryArgs,
		RunE: runE(l.run),
	}
	f := cmd.Flags()
	f.BoolVarP(&l.long, "long", "l", false, "show mode, replication, owner, group, size and time")
	f.BoolVarP(&l.recursive, "recursive", "R", false, "list subdirectories recursively")
	f.BoolVarP(&l.human, "human-readable", "h", false, "show sizes as 1.5K, 128M, 3.2G")
	f.BoolVarP(&l.dirOnly, "directory", "d", false, "list directories themselves, not their contents")
	f.Bool("help", false, "help for ls") // no -h: it means --human-readable
	return cmd
}

func (l *lsCmd) run(ctx context.Context, args []string) error {
	const op = "ls"
	if len(args) == 0 {
		args = []string{"/"}
	}
	if err := checkPaths(op, args); err != nil {
		return err
	}
	return l.r.withClient(ctx, op, args[0], func(c *client.Client) error {
		for _, p := range args {
			if err := l.list(ctx, c, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// list lists one path argument.
func (l *lsCmd) list(ctx context.Context, c *client.Client, p string) error {
	const op = "ls"
	info, err := c.Stat(ctx, p)
	if err != nil {
		return fail(op, p, err)
	}
	info.Path = p
	if !info.IsDir || l.dirOnly {
		l.print([]cairn.FileInfo{info})
		return nil
	}
	var rows []cairn.FileInfo
	if l.recursive {
		if err := l.walk(ctx, c, p, &rows); err != nil {
			return err
		}
		l.print(rows)
		return nil
	}
	rows, err = l.readDir(ctx, c, p)
	if err != nil {
		return err
	}
	if l.long {
		fmt.Fprintf(l.r.e.stdout, "Found %d item%s\n", len(rows), plural(len(rows)))
	}
	l.print(rows)
	return nil
}

// readDir lists dir with full paths.
func (l *lsCmd) readDir(ctx context.Context, c *client.Client, dir string) ([]cairn.FileInfo, error) {
	entries, err := c.ReadDir(ctx, dir)
	if err != nil {
		return nil, fail("ls", dir, err)
	}
	for i := range entries {
		entries[i].Path = cairn.Join(dir, entries[i].Name)
	}
	return entries, nil
}

// walk appends everything below dir to rows, each directory followed
// by its contents.
func (l *lsCmd) walk(ctx context.Context, c *client.Client, dir string, rows *[]cairn.FileInfo) error {
	entries, err := l.readDir(ctx, c, dir)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		*rows = append(*rows, ent)
		if ent.IsDir {
			if err := ctx.Err(); err != nil {
				return fail("ls", dir, err)
			}
			if err := l.walk(ctx, c, ent.Path, rows); err != nil {
				return err
			}
		}
	}
	return nil
}

// print writes rows, aligned in columns with -l.
func (l *lsCmd) print(rows []cairn.FileInfo) {
	w := l.r.e.stdout
	if !l.long {
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(r.Path)
			b.WriteByte('\n')
		}
		fmt.Fprint(w, b.String())
		return
	}
	type line struct{ perm, repl, owner, group, size, mtime, path string }
	lines := make([]line, len(rows))
	var wRepl, wOwner, wGroup, wSize int
	for i, r := range rows {
		ln := line{
			perm:  permString(r.IsDir, r.Mode),
			repl:  "-",
			owner: r.Owner,
			group: r.Group,
			size:  l.size(r.Size),
			mtime: r.ModTime.Local().Format(lsTimeFormat),
			path:  r.Path,
		}
		if !r.IsDir {
			ln.repl = strconv.Itoa(r.Replication)
		}
		if r.IsDir {
			ln.size = "0"
		}
		wRepl = max(wRepl, len(ln.repl))
		wOwner = max(wOwner, len(ln.owner))
		wGroup = max(wGroup, len(ln.group))
		wSize = max(wSize, len(ln.size))
		lines[i] = ln
	}
	var b strings.Builder
	for _, ln := range lines {
		fmt.Fprintf(&b, "%s %*s %-*s %-*s %*s %s %s\n", ln.perm, wRepl+2, ln.repl, wOwner, ln.owner,
			wGroup, ln.group, wSize, ln.size, ln.mtime, ln.path)
	}
	fmt.Fprint(w, b.String())
}

func (l *lsCmd) size(n int64) string {
	if l.human {
		return humanSize(n)
	}
	return strconv.FormatInt(n, 10)
}

type duCmd struct {
	r       *remote
	summary bool
	human   bool
}

func newDuCmd(r *remote) *cobra.Command {
	d := &duCmd{r: r}
	cmd := &cobra.Command{
		Use:   "du [-s] [-h] PATH...",
		Short: "Show the space used by files and directories",
		Long: `Show the space used below each PATH, one line per entry of a directory
(or one line per PATH with -s), as hdfs dfs -du: the length of the files,
the space they take with all their replicas, and the path.`,
		Args: minArgs(1, "at least one PATH"),
		RunE: runE(d.run),
	}
	cmd.Flags().BoolVarP(&d.summary, "summary", "s", false, "one total line per PATH")
	cmd.Flags().BoolVarP(&d.human, "human-readable", "h", false, "show sizes as 1.5K, 128M, 3.2G")
	cmd.Flags().Bool("help", false, "help for du") // no -h: it means --human-readable
	return cmd
}

func (d *duCmd) run(ctx context.Context, args []string) error {
	const op = "du"
	if err := checkPaths(op, args); err != nil {
		return err
	}
	type row struct {
		length, space int64
		path          string
	}
	var rows []row
	err := d.r.withClient(ctx, op, args[0], func(c *client.Client) error {
		summarize := func(p string) error {
			cs, err := c.ContentSummary(ctx, p)
			if err != nil {
				return fail(op, p, err)
			}
			rows = append(rows, row{cs.Length, cs.SpaceConsumed, p})
			return nil
		}
		for _, p := range args {
			info, err := c.Stat(ctx, p)
			if err != nil {
				return fail(op, p, err)
			}
			if d.summary {
				if err := summarize(p); err != nil {
					return err
				}
				continue
			}
			if !info.IsDir {
				rows = append(rows, row{info.Size, info.Size * int64(info.Replication), p})
				continue
			}
			entries, err := c.ReadDir(ctx, p)
			if err != nil {
				return fail(op, p, err)
			}
			for _, ent := range entries {
				child := cairn.Join(p, ent.Name)
				if ent.IsDir {
					if err := summarize(child); err != nil {
						return err
					}
					continue
				}
				rows = append(rows, row{ent.Size, ent.Size * int64(ent.Replication), child})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	size := func(n int64) string {
		if d.human {
			return humanSize(n)
		}
		return strconv.FormatInt(n, 10)
	}
	wLen, wSpace := 0, 0
	for _, r := range rows {
		wLen = max(wLen, len(size(r.length)))
		wSpace = max(wSpace, len(size(r.space)))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", wLen, size(r.length), wSpace, size(r.space), r.path)
	}
	fmt.Fprint(d.r.e.stdout, b.String())
	return nil
}

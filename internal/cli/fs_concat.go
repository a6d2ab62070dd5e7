package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/client"
)

func newConcatCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "concat TARGET SRC...",
		Short: "Append files to a file by moving their blocks (no copy)",
		Long: `Append the SRC files, in order, to the end of TARGET and remove them, in one
step on the NameNode (HDFS's concat): their blocks move, no byte is copied,
and readers see either the files before or the joined TARGET after.

TARGET and every SRC must be distinct, closed files; the SRC files may be in
any directory. TARGET keeps its replication, block size, permissions and
owner; blocks of a SRC with another replication are copied or trimmed to
TARGET's by the NameNode afterwards. Since the SRC files' last blocks are
usually partial, TARGET then holds blocks of different lengths, which
readers handle as any other file.`,
		Args: minArgs(2, "TARGET SRC..."),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "concat"
			if err := checkPaths(op, args); err != nil {
				return err
			}
			target, srcs := args[0], args[1:]
			return r.withClient(ctx, op, target, func(c *client.Client) error {
				return fail(op, target, c.Concat(ctx, target, srcs...))
			})
		}),
	}
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// statJSON is the output of 'cairn fs stat --json'. The field names are
// a contract with scripts: never rename them.
type statJSON struct {
	Path        string `json:"path"`
	Type        string `json:"type"` // "file" or "directory"
	Size        int64  `json:"size"`
	Replication int    `json:"replication"` // 0 for a directory
	BlockSize   int64  `json:"blockSize"`   // 0 for a directory
	Owner       string `json:"owner"`
	Group       string `json:"group"`
	Mode        string `json:"mode"`    // four octal digits, such as "0644"
	ModTime     string `json:"modTime"` // RFC 3339
	// Blocks are a file's blocks in order; absent for a directory.
	Blocks *[]blockJSON `json:"blocks,omitempty"`
}

// blockJSON is one block in statJSON.
type blockJSON struct {
	ID       uint64 `json:"id"`
	GenStamp uint64 `json:"genStamp"`
	// Offset is where the block starts in the file: the sum of the
	// sizes before it (blocks may differ in size, after a concat).
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
	// Locations are the data-transfer addresses (a DataNode's --addr)
	// of the replicas, nearest first.
	Locations []string `json:"locations"`
}

// newStatJSON converts a FileInfo with its blocks.
func newStatJSON(info cairn.FileInfo) statJSON {
	s := statJSON{
		Path:        info.Path,
		Type:        "file",
		Size:        info.Size,
		Replication: info.Replication,
		BlockSize:   info.BlockSize,
		Owner:       info.Owner,
		Group:       info.Group,
		Mode:        octalMode(info.Mode),
		ModTime:     info.ModTime.UTC().Format(time.RFC3339),
	}
	if info.IsDir {
		s.Type = "directory"
		s.Replication, s.BlockSize = 0, 0
		return s
	}
	blocks := make([]blockJSON, 0, len(info.Blocks))
	for _, b := range info.Blocks {
		locs := make([]string, 0, len(b.Locations))
		for _, l := range b.Locations {
			locs = append(locs, l.Addr)
		}
		blocks = append(blocks, blockJSON{
			ID:        uint64(b.Block.ID),
			GenStamp:  uint64(b.Block.GenStamp),
			Offset:    b.Offset,
			Size:      b.Block.Len,
			Locations: locs,
		})
	}
	s.Blocks = &blocks
	return s
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type statCmd struct {
	r    *remote
	json bool
}

func newStatCmd(r *remote) *cobra.Command {
	s := &statCmd{r: r}
	cmd := &cobra.Command{
		Use:   "stat [--json] PATH",
		Short: "Show a file's or directory's metadata and blocks",
		Long: `Show a file's or directory's metadata and, for a file, its blocks and where
their replicas are.

--json prints one object with the fields path, type ("file" or
"directory"), size, replication, blockSize, owner, group, mode (four octal
digits, such as "0644"), modTime (RFC 3339) and, for a file, blocks: a list
of {id, genStamp, offset, size, locations}, locations being the DataNodes'
--addr. A file's blocks are usually of its block size but the last; after a
concat, any block may be shorter (or longer).`,
		Args: exactArgs(1, "one PATH"),
		RunE: runE(s.run),
	}
	cmd.Flags().BoolVar(&s.json, "json", false, "print JSON")
	return cmd
}

func (s *statCmd) run(ctx context.Context, args []string) error {
	const op = "stat"
	p := args[0]
	if err := checkPath(op, p); err != nil {
		return err
	}
	return s.r.withClient(ctx, op, p, func(c *client.Client) error {
		info, err := c.StatBlocks(ctx, p)
		if err != nil {
			return fail(op, p, err)
		}
		info.Path = p
		st := newStatJSON(info)
		if s.json {
			return writeJSON(s.r.e.stdout, st)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Path:        %s\n", st.Path)
		fmt.Fprintf(&b, "Type:        %s\n", st.Type)
		if info.IsDir {
			fmt.Fprintf(&b, "Entries:     %d\n", info.Children)
		} else {
			fmt.Fprintf(&b, "Size:        %d (%s)\n", st.Size, humanBytes(st.Size))
			fmt.Fprintf(&b, "Replication: %d\n", st.Replication)
			fmt.Fprintf(&b, "Block size:  %d (%s)\n", st.BlockSize, humanBytes(st.BlockSize))
		}
		fmt.Fprintf(&b, "Owner:       %s\n", st.Owner)
		fmt.Fprintf(&b, "Group:       %s\n", st.Group)
		fmt.Fprintf(&b, "Mode:        %s (%s)\n", st.Mode, permString(info.IsDir, info.Mode))
		fmt.Fprintf(&b, "Modified:    %s\n", st.ModTime)
		if info.UnderConstruction {
			fmt.Fprintf(&b, "Open:        being written\n")
		}
		if st.Blocks != nil {
			fmt.Fprintf(&b, "Blocks:      %d\n", len(*st.Blocks))
			for i, blk := range *st.Blocks {
				fmt.Fprintf(&b, "  %d. blk_%d_%d off=%d len=%d [%s]\n", i, blk.ID, blk.GenStamp, blk.Offset, blk.Size, strings.Join(blk.Locations, ", "))
			}
		}
		_, err = io.WriteString(s.r.e.stdout, b.String())
		return err
	})
}

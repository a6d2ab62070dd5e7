package client

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Default permissions, before the umask, as HDFS's.
const (
	defaultFileMode fs.FileMode = 0o666
	defaultDirMode  fs.FileMode = 0o777
	defaultUmask    fs.FileMode = 0o022
)

// masked is the mode of a new file or directory asked for perm
// (def when 0): perm without the Client's umask bits, the sticky bit
// kept.
func (c *Client) masked(perm, def fs.FileMode) fs.FileMode {
	if perm.Perm() == 0 {
		perm = def | perm&fs.ModeSticky
	}
	return perm &^ c.umask
}

// Stat returns the metadata of a file or directory, without its
// blocks. It is one NameNode call.
func (c *Client) Stat(ctx context.Context, name string) (cairn.FileInfo, error) {
	return c.stat(ctx, "stat", name, false)
}

// StatBlocks is Stat with the file's blocks and their locations filled
// in (nearest DataNode first).
func (c *Client) StatBlocks(ctx context.Context, name string) (cairn.FileInfo, error) {
	return c.stat(ctx, "stat", name, true)
}

func (c *Client) stat(ctx context.Context, op, name string, blocks bool) (cairn.FileInfo, error) {
	if err := checkPath(op, name); err != nil {
		return cairn.FileInfo{}, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.GetFileInfoRequest{Path: name, WithBlocks: blocks}, protocol.ClientProtocolClient.GetFileInfo)
	if err != nil {
		return cairn.FileInfo{}, err
	}
	if resp.GetFile() == nil {
		return cairn.FileInfo{}, cairn.E(op, name, cairn.NotExist)
	}
	return fileInfo(resp.GetFile(), name), nil
}

// fileInfo converts a wire FileInfo, filling in the path when the
// NameNode left it out.
func fileInfo(p *protocol.FileInfo, name string) cairn.FileInfo {
	fi := protocol.FileInfoFromProto(p)
	if fi.Path == "" {
		fi.Path = name
		fi.Name = cairn.Base(name)
	}
	return fi
}

// ReadDir returns the entries of a directory sorted by name. A large
// directory is fetched a page at a time, and held whole in memory: List
// and ListPage do not.
func (c *Client) ReadDir(ctx context.Context, name string) ([]cairn.FileInfo, error) {
	const op = "readdir"
	if err := checkPath(op, name); err != nil {
		return nil, err
	}
	var out []cairn.FileInfo
	after := ""
	for {
		page, more, err := c.listPage(ctx, op, name, after, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if !more || len(page) == 0 {
			break
		}
		after = out[len(out)-1].Name
	}
	slices.SortFunc(out, func(a, b cairn.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ListPage returns one page of a directory's entries: up to limit
// entries (0: the NameNode's default, 1000; it caps a page at 10000)
// whose names sort after startAfter ("" for the first page), in order
// of name, and whether more follow. The next page starts after the
// last name of this one. It is one NameNode call; a directory changed
// between pages is seen as it is when each page is read.
func (c *Client) ListPage(ctx context.Context, dir, startAfter string, limit int) ([]cairn.FileInfo, bool, error) {
	const op = "readdir"
	if err := checkPath(op, dir); err != nil {
		return nil, false, err
	}
	if limit < 0 {
		return nil, false, cairn.Errorf(op, dir, cairn.Invalid, "negative limit %d", limit)
	}
	return c.listPage(ctx, op, dir, startAfter, min(limit, math.MaxInt32))
}

// List returns an iterator over a directory's entries in order of
// name, fetched from the NameNode a page at a time as the loop goes on:
// a directory of any size is listed in the memory of one page. An error
// ends the iteration, yielded with a zero FileInfo.
//
//	for fi, err := range c.List(ctx, "/logs") {
//		if err != nil { ... }
//		...
//	}
func (c *Client) List(ctx context.Context, dir string) iter.Seq2[cairn.FileInfo, error] {
	return func(yield func(cairn.FileInfo, error) bool) {
		after := ""
		for {
			page, more, err := c.ListPage(ctx, dir, after, 0)
			if err != nil {
				yield(cairn.FileInfo{}, err)
				return
			}
			for _, fi := range page {
				if !yield(fi, nil) {
					return
				}
			}
			if !more || len(page) == 0 {
				return
			}
			after = page[len(page)-1].Name
		}
	}
}

// listPage is one ListDir call.
func (c *Client) listPage(ctx context.Context, op, dir, startAfter string, limit int) ([]cairn.FileInfo, bool, error) {
	return c.listPageReq(ctx, op, dir, &protocol.ListDirRequest{Path: dir, StartAfter: startAfter, Limit: int32(limit)})
}

func (c *Client) listPageReq(ctx context.Context, op, dir string, req *protocol.ListDirRequest) ([]cairn.FileInfo, bool, error) {
	resp, err := call(ctx, c.nn, op, dir, req, protocol.ClientProtocolClient.ListDir)
	if err != nil {
		return nil, false, err
	}
	out := make([]cairn.FileInfo, 0, len(resp.GetEntries()))
	for _, e := range resp.GetEntries() {
		fi := protocol.FileInfoFromProto(e)
		if !strings.HasPrefix(fi.Path, "/") {
			// The NameNode gave a bare name.
			fi.Name = fi.Path
			fi.Path = cairn.Join(dir, fi.Name)
		}
		out = append(out, fi)
	}
	return out, resp.GetHasMore(), nil
}

// Mkdir creates a directory whose parent exists. perm 0 means 0755.
// An existing name is an error of kind cairn.Exist.
func (c *Client) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return c.mkdirs(ctx, "mkdir", name, perm, false)
}

// MkdirAll creates a directory and any missing parents; an existing
// directory is not an error. perm 0 means 0755.
func (c *Client) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	return c.mkdirs(ctx, "mkdir", name, perm, true)
}

func (c *Client) mkdirs(ctx context.Context, op, name string, perm fs.FileMode, parents bool) error {
	if err := checkPath(op, name); err != nil {
		return err
	}
	perm = c.masked(perm, defaultDirMode)
	owner, group := c.ownerOf(ctx)
	_, err := call(ctx, c.nn, op, name, &protocol.MkdirsRequest{
		Path: name, Mode: protocol.WireMode(perm), Parents: parents, Owner: owner, Group: group,
	}, protocol.ClientProtocolClient.Mkdirs)
	return err
}

// Rename moves src to dst with mv semantics: if dst is an existing
// directory, src moves into it. An existing file at the final
// destination is replaced only with overwrite. RenameTo renames to
// exactly dst.
func (c *Client) Rename(ctx context.Context, src, dst string, overwrite bool) error {
	const op = "rename"
	if err := checkPath(op, src); err != nil {
		return err
	}
	if err := checkPath(op, dst); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, src, &protocol.RenameRequest{Src: src, Dst: dst, Overwrite: overwrite}, protocol.ClientProtocolClient.Rename)
	return err
}

// RenameOptions are the options of RenameTo. A nil *RenameOptions
// gives the defaults.
type RenameOptions struct {
	// Overwrite replaces an existing file at the destination. A
	// directory is never replaced.
	Overwrite bool
	// ReplaceFileID, if not 0, makes the rename a compare-and-swap: it
	// replaces the file at dst only if that is the file with this ID
	// (FileInfo.FileID), in the same logged step. A missing dst gives
	// an error of kind cairn.NotExist, another file there one of kind
	// cairn.Exist. It implies Overwrite.
	ReplaceFileID uint64
}

// RenameTo renames src to exactly dst, atomically, as HDFS's rename2
// and POSIX rename do: dst is the new path of src, never a directory to
// move it into. An existing directory at dst gives an error of kind
// cairn.IsDir, an existing file one of kind cairn.Exist unless
// opts.Overwrite is set, and a missing parent of dst one of kind
// cairn.NotExist; a rename that fails changes nothing.
func (c *Client) RenameTo(ctx context.Context, src, dst string, opts *RenameOptions) error {
	const op = "rename"
	if err := checkPath(op, src); err != nil {
		return err
	}
	if err := checkPath(op, dst); err != nil {
		return err
	}
	if opts == nil {
		opts = &RenameOptions{}
	}
	_, err := call(ctx, c.nn, op, src, &protocol.RenameRequest{Src: src, Dst: dst, Overwrite: opts.Overwrite || opts.ReplaceFileID != 0, Exact: true, ReplaceFileId: opts.ReplaceFileID}, protocol.ClientProtocolClient.Rename)
	return err
}

// Remove removes a file or an empty directory.
func (c *Client) Remove(ctx context.Context, name string) error {
	const op = "remove"
	if err := checkPath(op, name); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, name, &protocol.DeleteRequest{Path: name}, protocol.ClientProtocolClient.Delete)
	return err
}

// RemoveUnlessXAttr is Remove, refused with an error of kind
// cairn.Exist if name has the extended attribute attr, decided in the
// same logged step as the removal: a clean-up that must not remove
// what another client marked meanwhile.
func (c *Client) RemoveUnlessXAttr(ctx context.Context, name, attr string) error {
	const op = "remove"
	if err := checkPath(op, name); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, name, &protocol.DeleteRequest{Path: name, UnlessXattr: attr}, protocol.ClientProtocolClient.Delete)
	return err
}

// RemoveAll removes name and everything below it. As with os.RemoveAll,
// a missing name is not an error.
func (c *Client) RemoveAll(ctx context.Context, name string) error {
	const op = "remove"
	if err := checkPath(op, name); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, name, &protocol.DeleteRequest{Path: name, Recursive: true}, protocol.ClientProtocolClient.Delete)
	if errors.Is(err, cairn.NotExist) {
		return nil
	}
	return err
}

// SetReplication sets the replication factor of a file, or of every
// file below a directory.
func (c *Client) SetReplication(ctx context.Context, name string, replication int) error {
	const op = "setrep"
	if err := checkPath(op, name); err != nil {
		return err
	}
	if replication < 1 || replication > 1<<15 {
		return cairn.Errorf(op, name, cairn.Invalid, "invalid replication %d", replication)
	}
	_, err := call(ctx, c.nn, op, name, &protocol.SetReplicationRequest{
		Path: name, Replication: int32(replication), Recursive: true,
	}, protocol.ClientProtocolClient.SetReplication)
	return err
}

// Chmod sets the permission bits of a file or directory.
func (c *Client) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	const op = "chmod"
	if err := checkPath(op, name); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, name, &protocol.SetPermissionRequest{Path: name, Mode: protocol.WireMode(mode)}, protocol.ClientProtocolClient.SetPermission)
	return err
}

// Chown sets the owner and group of a file or directory; an empty
// owner or group is left unchanged.
func (c *Client) Chown(ctx context.Context, name, owner, group string) error {
	const op = "chown"
	if err := checkPath(op, name); err != nil {
		return err
	}
	if owner == "" && group == "" {
		return nil
	}
	_, err := call(ctx, c.nn, op, name, &protocol.SetOwnerRequest{Path: name, Owner: owner, Group: group}, protocol.ClientProtocolClient.SetOwner)
	return err
}

// SetTimes sets the modification time of a file or directory (HDFS's
// setTimes; cairn keeps no access time). The zero time means now, as
// does the Unix epoch exactly.
func (c *Client) SetTimes(ctx context.Context, name string, mtime time.Time) error {
	const op = "settimes"
	if err := checkPath(op, name); err != nil {
		return err
	}
	var ns int64
	if !mtime.IsZero() {
		ns = mtime.UnixNano()
	}
	_, err := call(ctx, c.nn, op, name, &protocol.SetTimesRequest{Path: name, MtimeUnixNano: ns}, protocol.ClientProtocolClient.SetTimes)
	return err
}

// Touch creates an empty file, or sets the modification time of an
// existing one to now.
func (c *Client) Touch(ctx context.Context, name string) error {
	const op = "touch"
	if err := checkPath(op, name); err != nil {
		return err
	}
	owner, group := c.ownerOf(ctx)
	_, err := call(ctx, c.nn, op, name, &protocol.CreateRequest{
		Path: name, Mode: protocol.WireMode(c.masked(0, defaultFileMode)), ClientName: c.name,
		Owner: owner, Group: group, Touch: true,
	}, protocol.ClientProtocolClient.Create)
	return err
}

// ContentSummary is the size of a tree.
type ContentSummary = cairn.ContentSummary

// ContentSummary sums the files and directories below name.
func (c *Client) ContentSummary(ctx context.Context, name string) (ContentSummary, error) {
	const op = "du"
	if err := checkPath(op, name); err != nil {
		return ContentSummary{}, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.GetContentSummaryRequest{Path: name}, protocol.ClientProtocolClient.GetContentSummary)
	if err != nil {
		return ContentSummary{}, err
	}
	return protocol.ContentSummaryFromProto(resp), nil
}

// ServerDefaults are the NameNode's defaults for new files.
type ServerDefaults = cairn.ServerDefaults

// ServerDefaults asks the NameNode for its defaults.
func (c *Client) ServerDefaults(ctx context.Context) (ServerDefaults, error) {
	resp, err := call(ctx, c.nn, "serverdefaults", c.nn.list, &protocol.GetServerDefaultsRequest{}, protocol.ClientProtocolClient.GetServerDefaults)
	if err != nil {
		return ServerDefaults{}, err
	}
	return protocol.ServerDefaultsFromProto(resp), nil
}

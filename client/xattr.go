package client

import (
	"context"
	"math"
	"slices"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// StatOptions says what a stat or a listing returns beside a file's
// basic metadata.
type StatOptions struct {
	// Blocks fills in FileInfo.Blocks. A listing leaves the replicas
	// unsorted; Stat sorts them nearest first.
	Blocks bool
	// XAttrs fills in FileInfo.XAttrs (an empty map if there are none).
	XAttrs bool
}

// StatWith is Stat with what opts asks for, in one NameNode call.
func (c *Client) StatWith(ctx context.Context, name string, opts StatOptions) (cairn.FileInfo, error) {
	const op = "stat"
	if err := checkPath(op, name); err != nil {
		return cairn.FileInfo{}, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.GetFileInfoRequest{Path: name, WithBlocks: opts.Blocks, WithXattrs: opts.XAttrs},
		protocol.ClientProtocolClient.GetFileInfo)
	if err != nil {
		return cairn.FileInfo{}, err
	}
	if resp.GetFile() == nil {
		return cairn.FileInfo{}, cairn.E(op, name, cairn.NotExist)
	}
	fi := fileInfo(resp.GetFile(), name)
	if opts.XAttrs && fi.XAttrs == nil {
		fi.XAttrs = map[string][]byte{}
	}
	return fi, nil
}

// ListPageWith is ListPage with what opts asks for of every entry, in
// one NameNode call.
func (c *Client) ListPageWith(ctx context.Context, dir, startAfter string, limit int, opts StatOptions) ([]cairn.FileInfo, bool, error) {
	const op = "readdir"
	if err := checkPath(op, dir); err != nil {
		return nil, false, err
	}
	if limit < 0 {
		return nil, false, cairn.Errorf(op, dir, cairn.Invalid, "negative limit %d", limit)
	}
	page, more, err := c.listPageReq(ctx, op, dir, &protocol.ListDirRequest{
		Path: dir, StartAfter: startAfter, Limit: int32(min(limit, math.MaxInt32)),
		WithBlocks: opts.Blocks, WithXattrs: opts.XAttrs,
	})
	if err == nil && opts.XAttrs {
		for i := range page {
			if page[i].XAttrs == nil {
				page[i].XAttrs = map[string][]byte{}
			}
		}
	}
	return page, more, err
}

// XAttrFlag says what SetXAttr may do (HDFS's XAttrSetFlag).
type XAttrFlag int

const (
	// XAttrCreate fails with cairn.Exist if the attribute exists.
	XAttrCreate XAttrFlag = 1 << iota
	// XAttrReplace fails with cairn.NotExist if it does not.
	XAttrReplace
)

// SetXAttr sets one extended attribute of a file or directory. The
// name is "user.<name>" or "trusted.<name>", as in HDFS; flag 0 (or
// both flags) creates or replaces it.
func (c *Client) SetXAttr(ctx context.Context, name, attr string, value []byte, flag XAttrFlag) error {
	return c.setXAttrs(ctx, "setfattr", name, map[string][]byte{attr: value}, flag)
}

// SetXAttrs creates or replaces several extended attributes of a file
// or directory in one logged step: all are set, or none.
func (c *Client) SetXAttrs(ctx context.Context, name string, attrs map[string][]byte) error {
	return c.setXAttrs(ctx, "setfattr", name, attrs, 0)
}

func (c *Client) setXAttrs(ctx context.Context, op, name string, attrs map[string][]byte, flag XAttrFlag) error {
	if err := checkPath(op, name); err != nil {
		return err
	}
	if len(attrs) == 0 {
		return nil
	}
	_, err := call(ctx, c.nn, op, name, &protocol.SetXAttrRequest{
		Path: name, Xattrs: protocol.XAttrsToProto(attrs),
		Create: flag&XAttrCreate != 0, Replace: flag&XAttrReplace != 0,
	}, protocol.ClientProtocolClient.SetXAttr)
	return err
}

// GetXAttrs returns the named extended attributes of a file or
// directory, or all of them if no name is given. A name that the file
// does not have is an error of kind cairn.NotExist.
func (c *Client) GetXAttrs(ctx context.Context, name string, attrs ...string) (map[string][]byte, error) {
	const op = "getfattr"
	if err := checkPath(op, name); err != nil {
		return nil, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.GetXAttrsRequest{Path: name, Names: attrs}, protocol.ClientProtocolClient.GetXAttrs)
	if err != nil {
		return nil, err
	}
	return protocol.XAttrsFromProto(resp.GetXattrs()), nil
}

// ListXAttrs returns the names of a file's or directory's extended
// attributes, sorted.
func (c *Client) ListXAttrs(ctx context.Context, name string) ([]string, error) {
	const op = "listxattrs"
	if err := checkPath(op, name); err != nil {
		return nil, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.ListXAttrsRequest{Path: name}, protocol.ClientProtocolClient.ListXAttrs)
	if err != nil {
		return nil, err
	}
	names := resp.GetNames()
	slices.Sort(names)
	return names, nil
}

// RemoveXAttr removes one extended attribute; one the file does not
// have is an error of kind cairn.NotExist.
func (c *Client) RemoveXAttr(ctx context.Context, name, attr string) error {
	const op = "setfattr"
	if err := checkPath(op, name); err != nil {
		return err
	}
	_, err := call(ctx, c.nn, op, name, &protocol.RemoveXAttrRequest{Path: name, Name: attr}, protocol.ClientProtocolClient.RemoveXAttr)
	return err
}

// Concat moves the blocks of srcs, in order, onto the end of target and
// removes srcs, in one logged step on the NameNode (HDFS's concat): no
// byte is copied, and readers see either the files before or the joined
// target after. Every file must exist, be closed, and be distinct; the
// target keeps its replication, permissions and attributes. Its blocks
// may then differ in length.
func (c *Client) Concat(ctx context.Context, target string, srcs ...string) error {
	const op = "concat"
	if err := checkPath(op, target); err != nil {
		return err
	}
	if len(srcs) == 0 {
		return cairn.Errorf(op, target, cairn.Invalid, "no source files")
	}
	for _, s := range srcs {
		if err := checkPath(op, s); err != nil {
			return err
		}
	}
	_, err := call(ctx, c.nn, op, target, &protocol.ConcatRequest{Target: target, Srcs: slices.Clone(srcs)}, protocol.ClientProtocolClient.Concat)
	return err
}

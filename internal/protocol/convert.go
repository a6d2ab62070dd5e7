package protocol

import (
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
)

// Conversions between wire messages and the vocabulary of package
// cairn. Wire types stay at the edges: servers and the client convert
// here and work with cairn types inside.

// BlockToProto converts a block to its wire form.
func BlockToProto(b cairn.Block) *Block {
	return &Block{Id: uint64(b.ID), GenStamp: uint64(b.GenStamp), Len: b.Len}
}

// BlockFromProto converts a wire block; nil gives the zero Block.
func BlockFromProto(b *Block) cairn.Block {
	if b == nil {
		return cairn.Block{}
	}
	return cairn.Block{ID: cairn.BlockID(b.Id), GenStamp: cairn.GenStamp(b.GenStamp), Len: b.Len}
}

// BlocksToProto converts a list of blocks.
func BlocksToProto(bs []cairn.Block) []*Block {
	out := make([]*Block, len(bs))
	for i, b := range bs {
		out[i] = BlockToProto(b)
	}
	return out
}

// BlocksFromProto converts a list of wire blocks.
func BlocksFromProto(bs []*Block) []cairn.Block {
	out := make([]cairn.Block, len(bs))
	for i, b := range bs {
		out[i] = BlockFromProto(b)
	}
	return out
}

// DatanodeToProto converts a DataNode address.
func DatanodeToProto(d cairn.DatanodeInfo) *DatanodeInfo {
	return &DatanodeInfo{Id: string(d.ID), Addr: d.Addr, HttpAddr: d.HTTPAddr}
}

// DatanodeFromProto converts a wire DataNode address.
func DatanodeFromProto(d *DatanodeInfo) cairn.DatanodeInfo {
	if d == nil {
		return cairn.DatanodeInfo{}
	}
	return cairn.DatanodeInfo{ID: cairn.NodeID(d.Id), Addr: d.Addr, HTTPAddr: d.HttpAddr}
}

// DatanodesToProto converts a list of DataNode addresses.
func DatanodesToProto(ds []cairn.DatanodeInfo) []*DatanodeInfo {
	out := make([]*DatanodeInfo, len(ds))
	for i, d := range ds {
		out[i] = DatanodeToProto(d)
	}
	return out
}

// DatanodesFromProto converts a list of wire DataNode addresses.
func DatanodesFromProto(ds []*DatanodeInfo) []cairn.DatanodeInfo {
	out := make([]cairn.DatanodeInfo, len(ds))
	for i, d := range ds {
		out[i] = DatanodeFromProto(d)
	}
	return out
}

// LocatedBlockToProto converts a located block.
func LocatedBlockToProto(lb cairn.LocatedBlock) *LocatedBlock {
	return &LocatedBlock{
		Block:      BlockToProto(lb.Block),
		Offset:     lb.Offset,
		Locations:  DatanodesToProto(lb.Locations),
		Corrupt:    lb.Corrupt,
		BlockToken: lb.Token,
	}
}

// LocatedBlockFromProto converts a wire located block.
func LocatedBlockFromProto(lb *LocatedBlock) cairn.LocatedBlock {
	if lb == nil {
		return cairn.LocatedBlock{}
	}
	return cairn.LocatedBlock{
		Block:     BlockFromProto(lb.Block),
		Offset:    lb.Offset,
		Locations: DatanodesFromProto(lb.Locations),
		Corrupt:   lb.Corrupt,
		Token:     lb.BlockToken,
	}
}

// FileInfoToProto converts file metadata.
func FileInfoToProto(fi cairn.FileInfo) *FileInfo {
	p := &FileInfo{
		Path:              fi.Path,
		IsDir:             fi.IsDir,
		Size:              fi.Size,
		Replication:       int32(fi.Replication),
		BlockSize:         fi.BlockSize,
		Owner:             fi.Owner,
		Group:             fi.Group,
		Mode:              WireMode(fi.Mode),
		UnderConstruction: fi.UnderConstruction,
		Children:          int64(fi.Children),
		FileId:            fi.FileID,
	}
	if !fi.ModTime.IsZero() {
		p.MtimeUnixNano = fi.ModTime.UnixNano()
	}
	for _, lb := range fi.Blocks {
		p.Blocks = append(p.Blocks, LocatedBlockToProto(lb))
	}
	p.Xattrs = XAttrsToProto(fi.XAttrs)
	return p
}

// XAttrsToProto converts extended attributes, sorted by name.
func XAttrsToProto(m map[string][]byte) []*XAttr {
	if len(m) == 0 {
		return nil
	}
	out := make([]*XAttr, 0, len(m))
	for name, v := range m {
		out = append(out, &XAttr{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b *XAttr) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// XAttrsFromProto converts wire extended attributes; none is an empty,
// non-nil map, so that a caller can tell "asked, none" from "not asked".
func XAttrsFromProto(xs []*XAttr) map[string][]byte {
	m := make(map[string][]byte, len(xs))
	for _, x := range xs {
		m[x.GetName()] = x.GetValue()
	}
	return m
}

// FileInfoFromProto converts wire file metadata. Name is derived from
// Path.
func FileInfoFromProto(p *FileInfo) cairn.FileInfo {
	if p == nil {
		return cairn.FileInfo{}
	}
	fi := cairn.FileInfo{
		Path:              p.Path,
		Name:              cairn.Base(p.Path),
		IsDir:             p.IsDir,
		Size:              p.Size,
		Replication:       int(p.Replication),
		BlockSize:         p.BlockSize,
		Owner:             p.Owner,
		Group:             p.Group,
		Mode:              FileMode(p.Mode),
		UnderConstruction: p.UnderConstruction,
		Children:          int(p.Children),
		FileID:            p.FileId,
	}
	if p.MtimeUnixNano != 0 {
		fi.ModTime = time.Unix(0, p.MtimeUnixNano)
	}
	for _, lb := range p.Blocks {
		fi.Blocks = append(fi.Blocks, LocatedBlockFromProto(lb))
	}
	if len(p.Xattrs) > 0 {
		fi.XAttrs = XAttrsFromProto(p.Xattrs)
	}
	return fi
}

// CommandToProto converts an order to a DataNode.
func CommandToProto(c cairn.Command) *Command {
	return &Command{
		Id:          c.ID,
		Type:        Command_Type(c.Type),
		Blocks:      BlocksToProto(c.Blocks),
		Targets:     DatanodesToProto(c.Targets),
		NewGenStamp: uint64(c.NewGenStamp),
		Term:        c.Term,
	}
}

// CommandFromProto converts a wire order to a DataNode.
func CommandFromProto(p *Command) cairn.Command {
	if p == nil {
		return cairn.Command{}
	}
	return cairn.Command{
		ID:          p.Id,
		Type:        cairn.CommandType(p.Type),
		Blocks:      BlocksFromProto(p.Blocks),
		Targets:     DatanodesFromProto(p.Targets),
		NewGenStamp: cairn.GenStamp(p.NewGenStamp),
		Term:        p.Term,
	}
}

// WireMode is a file mode as the wire and the NameNode's inodes carry
// it: the permission bits and the sticky bit in Unix's layout (0o1000
// sticky, 0o777 rwx), as HDFS's FsPermission. Other bits are dropped.
func WireMode(m fs.FileMode) uint32 {
	w := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		w |= 0o1000
	}
	return w
}

// FileMode is the fs.FileMode of a WireMode.
func FileMode(w uint32) fs.FileMode {
	m := fs.FileMode(w).Perm()
	if w&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

package namenode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
)

// The snapshot format is specified in doc.go.

const (
	snapshotMagic   = "CAIRNNS\x00"
	snapshotVersion = 4 // 1: without the decommissioning nodes; 2: without extended attributes; 3: without tokens
)

// encodeSnapshot serializes the replicated state (not the replicas,
// which come from DataNode reports). The caller holds ns.mu, at least
// for reading.
func (r *replicated) encodeSnapshot() []byte {
	b := make([]byte, 0, 64+int(r.files+r.dirs)*48)
	b = appendSnapshotHeader(b, r.nextInodeID, r.nextBlockID, r.nextGenStamp, r.strs)
	b = r.appendInode(b, r.root)
	decom := make([]string, 0, len(r.decom))
	for id := range r.decom {
		decom = append(decom, string(id))
	}
	slices.Sort(decom)
	b = appendSnapshotTrailer(b, decom, &r.tokens)
	return binary.LittleEndian.AppendUint32(b, checksum.CRC32C(b))
}

// The append functions below are the snapshot format's one writer: the
// state machine's encodeSnapshot and the exported SnapshotWriter (for
// a namespace generated outside the NameNode, which fills an inode to
// hand to appendRecord) both use them.

// appendSnapshotHeader appends the magic, the version, the counters and
// the string table.
func appendSnapshotHeader(b []byte, nextInodeID, nextBlockID, nextGenStamp uint64, strs []string) []byte {
	b = append(b, snapshotMagic...)
	b = binary.AppendUvarint(b, snapshotVersion)
	b = binary.AppendUvarint(b, nextInodeID)
	b = binary.AppendUvarint(b, nextBlockID)
	b = binary.AppendUvarint(b, nextGenStamp)
	b = binary.AppendUvarint(b, uint64(len(strs)))
	for _, s := range strs {
		b = appendString(b, s)
	}
	return b
}

// appendSnapshotTrailer appends the sorted IDs of the DataNodes being
// decommissioned and the token section (tokens.go; nil: an empty one);
// the checksum follows.
func appendSnapshotTrailer(b []byte, decom []string, tokens *tokenState) []byte {
	b = binary.AppendUvarint(b, uint64(len(decom)))
	for _, id := range decom {
		b = appendString(b, id)
	}
	return appendTokenSnapshot(b, tokens)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Inode record kinds.
const (
	recDir  = 0
	recFile = 1
	recUC   = 2 // a file under construction

	// recXAttrs is or'ed into a record's kind when the inode's
	// extended attributes follow its mtime (version 3).
	recXAttrs = 0x80
)

// appendInode appends the records of n and of everything below it, in
// pre-order.
func (r *replicated) appendInode(b []byte, n *inode) []byte {
	b = r.appendRecord(b, n, len(n.children))
	for _, c := range n.children {
		if c.isDir() {
			b = r.appendInode(b, c)
		} else {
			b = r.appendRecord(b, c, 0)
		}
	}
	return b
}

// appendRecord appends n's own record; a directory's says it has
// children children (whose records the caller appends next).
func (r *replicated) appendRecord(b []byte, n *inode, children int) []byte {
	kind := byte(recDir)
	switch {
	case n.isDir():
	case n.underConstruction():
		kind = recUC
	default:
		kind = recFile
	}
	if n.xattrs != nil {
		b = append(b, kind|recXAttrs)
	} else {
		b = append(b, kind)
	}
	b = binary.AppendUvarint(b, n.id)
	b = appendString(b, n.name)
	b = binary.AppendUvarint(b, uint64(n.mode))
	b = binary.AppendUvarint(b, uint64(n.owner))
	b = binary.AppendUvarint(b, uint64(n.group))
	b = binary.AppendVarint(b, n.mtime)
	if n.xattrs != nil {
		b = binary.AppendUvarint(b, uint64(len(n.xattrs.items)))
		for _, x := range n.xattrs.items {
			b = appendString(b, x.name)
			b = appendString(b, x.value)
		}
	}
	if kind == recDir {
		return binary.AppendUvarint(b, uint64(children))
	}
	b = binary.AppendUvarint(b, uint64(n.repl))
	b = binary.AppendVarint(b, n.blkSize)
	if kind == recUC {
		var u ucFile
		if p := r.uc[n.id]; p != nil {
			u = *p
		}
		b = appendString(b, u.holder)
		b = binary.AppendUvarint(b, uint64(len(u.expected)))
		for _, id := range u.expected {
			b = appendString(b, string(id))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(n.blocks)))
	for _, blk := range n.blocks {
		b = binary.AppendUvarint(b, uint64(blk.id))
		b = binary.AppendUvarint(b, uint64(blk.gs))
		b = binary.AppendVarint(b, blk.len)
		committed := byte(0)
		if blk.committed {
			committed = 1
		}
		b = append(b, committed)
	}
	return b
}

// decodeSnapshot parses a snapshot into a new replicated state.
func decodeSnapshot(data []byte) (*replicated, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a cairn namespace snapshot")
	}
	body := data[:len(data)-4]
	if sum := binary.LittleEndian.Uint32(data[len(data)-4:]); sum != checksum.CRC32C(body) {
		return nil, errors.New("snapshot checksum mismatch")
	}
	d := &decoder{b: body[len(snapshotMagic):]}
	version := d.uvarint()
	if d.err == nil && (version < 1 || version > snapshotVersion) {
		return nil, fmt.Errorf("unknown snapshot version %d", version)
	}
	r := newReplicated()
	r.nextInodeID = d.uvarint()
	r.nextBlockID = d.uvarint()
	r.nextGenStamp = d.uvarint()
	nstr := d.uvarint()
	if nstr == 0 || nstr > uint64(len(d.b)) {
		return nil, errors.New("snapshot: bad string table")
	}
	r.strs = make([]string, 0, nstr)
	r.strIdx = make(map[string]uint32, nstr)
	for i := uint64(0); i < nstr && d.err == nil; i++ {
		s := d.str()
		r.strIdx[s] = uint32(i)
		r.strs = append(r.strs, s)
	}
	r.files, r.dirs = 0, 0
	root, err := r.readInode(d, nil, version)
	if err != nil {
		return nil, err
	}
	if !root.isDir() {
		return nil, errors.New("snapshot: root is not a directory")
	}
	r.root = root
	if version >= 2 {
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return nil, errors.New("snapshot: bad decommissioning node count")
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			r.decom[cairn.NodeID(d.str())] = struct{}{}
		}
		if d.err != nil {
			return nil, fmt.Errorf("snapshot: %w", d.err)
		}
	}
	if version >= 4 {
		if err := readTokenSnapshot(d, &r.tokens); err != nil {
			return nil, err
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("snapshot: %d trailing bytes", len(d.b))
	}
	return r, nil
}

func (r *replicated) readInode(d *decoder, parent *inode, version uint64) (*inode, error) {
	kind := d.byte()
	n := &inode{parent: parent}
	n.id = d.uvarint()
	n.name = d.str()
	n.mode = uint16(d.uvarint() & 0o777)
	owner, group := d.uvarint(), d.uvarint()
	n.mtime = d.varint()
	if kind&recXAttrs != 0 && version >= 3 {
		kind &^= recXAttrs
		if err := readXAttrs(d, n); err != nil {
			return nil, err
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("snapshot: %w", d.err)
	}
	if owner >= uint64(len(r.strs)) || group >= uint64(len(r.strs)) {
		return nil, errors.New("snapshot: bad owner or group index")
	}
	n.owner, n.group = uint32(owner), uint32(group)
	if parent != nil {
		if err := cairn.ValidateName(n.name); err != nil {
			return nil, fmt.Errorf("snapshot: inode %d: %v", n.id, err)
		}
	}
	switch kind {
	case recDir:
		n.flags = inodeDir
		r.dirs++
		count := d.uvarint()
		if count > uint64(len(d.b)) {
			return nil, errors.New("snapshot: bad child count")
		}
		if count > 0 {
			n.children = make([]*inode, 0, count)
		}
		for i := uint64(0); i < count; i++ {
			c, err := r.readInode(d, n, version)
			if err != nil {
				return nil, err
			}
			if k := len(n.children); k > 0 && n.children[k-1].name >= c.name {
				return nil, fmt.Errorf("snapshot: children of inode %d not sorted", n.id)
			}
			n.children = append(n.children, c)
		}
		return n, nil
	case recFile, recUC:
	default:
		return nil, fmt.Errorf("snapshot: unknown inode kind %d", kind)
	}
	r.files++
	n.repl = uint16(d.uvarint())
	n.blkSize = d.varint()
	if kind == recUC {
		n.flags |= inodeUnderConstruction
		u := &ucFile{f: n, holder: d.str()}
		count := d.uvarint()
		if count > uint64(len(d.b)) {
			return nil, errors.New("snapshot: bad target count")
		}
		for i := uint64(0); i < count && d.err == nil; i++ {
			u.expected = append(u.expected, cairn.NodeID(d.str()))
		}
		r.uc[n.id] = u
	}
	count := d.uvarint()
	if count > uint64(len(d.b)) {
		return nil, errors.New("snapshot: bad block count")
	}
	if count > 0 {
		n.blocks = make([]*blockInfo, 0, count)
	}
	for i := uint64(0); i < count && d.err == nil; i++ {
		b := &blockInfo{file: n}
		b.id = cairn.BlockID(d.uvarint())
		b.gs = cairn.GenStamp(d.uvarint())
		b.len = d.varint()
		b.committed = d.byte() == 1
		if _, dup := r.blocks[b.id]; dup {
			return nil, fmt.Errorf("snapshot: block %d appears twice", b.id)
		}
		r.blocks[b.id] = b
		n.blocks = append(n.blocks, b)
	}
	if d.err != nil {
		return nil, fmt.Errorf("snapshot: %w", d.err)
	}
	return n, nil
}

// readXAttrs reads an inode's extended attributes: a count, then
// (name, value) string pairs sorted by name.
func readXAttrs(d *decoder, n *inode) error {
	count := d.uvarint()
	if count == 0 || count > maxXAttrsPerInode {
		return fmt.Errorf("snapshot: inode %d: bad xattr count %d", n.id, count)
	}
	l := &xattrList{items: make([]xattr, 0, count)}
	for i := uint64(0); i < count && d.err == nil; i++ {
		x := xattr{name: d.str(), value: d.str()}
		if k := len(l.items); k > 0 && l.items[k-1].name >= x.name {
			return fmt.Errorf("snapshot: xattrs of inode %d not sorted", n.id)
		}
		l.items = append(l.items, x)
	}
	n.xattrs = l
	return d.err
}

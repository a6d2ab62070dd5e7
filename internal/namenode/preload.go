package namenode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// A namespace made outside the NameNode (the bench's generated tree of
// millions of files) is loaded through the snapshot code: Preload
// formats a NameNode directory whose only state is a Raft snapshot,
// written record by record by a SnapshotWriter with the same encoders
// as the state machine's snapshots (snapshot.go), so that New loads it
// as if the log had made it.

// SnapshotHeader opens a snapshot: the counters of the namespace to
// come and the owner and group names its records use.
type SnapshotHeader struct {
	NextInodeID  uint64 // above every inode ID in the snapshot
	NextBlockID  cairn.BlockID
	NextGenStamp cairn.GenStamp
	Names        []string // owner and group names; "" is added first
}

// SnapshotDir is a directory record. Its Children records follow it,
// sorted by name (each directory's whole subtree before the next
// sibling: pre-order).
type SnapshotDir struct {
	ID           uint64 // the root's is 1
	Name         string // "" for the root
	Mode         fs.FileMode
	Owner, Group string // among SnapshotHeader.Names
	ModTime      time.Time
	Children     int
}

// SnapshotFile is the record of a complete (closed) file whose blocks
// are all committed.
type SnapshotFile struct {
	ID           uint64
	Name         string
	Mode         fs.FileMode
	Owner, Group string
	ModTime      time.Time
	Replication  int
	BlockSize    int64
	Blocks       []cairn.Block
}

// SnapshotWriter writes a snapshot's records in pre-order. It checks
// names and modes but not the tree's shape: New refuses a snapshot
// whose records do not make a tree.
type SnapshotWriter struct {
	out io.Writer
	w   *bufio.Writer // out and crc
	crc hash.Hash32
	r   *replicated // its string table, and appendRecord
	b   []byte
	err error
	// n, blocks and ptrs are the record being written, reused.
	n      inode
	blocks []blockInfo
	ptrs   []*blockInfo
	// The last owner and group looked up, and their indexes: records
	// mostly repeat them.
	owner, group   string
	ownerI, groupI uint32
}

func newSnapshotWriter(w io.Writer, h SnapshotHeader) *SnapshotWriter {
	sw := &SnapshotWriter{out: w, crc: checksum.New(), r: newReplicated()}
	sw.w = bufio.NewWriterSize(io.MultiWriter(w, sw.crc), 1<<20)
	for _, s := range h.Names {
		sw.r.intern(s)
	}
	sw.b = appendSnapshotHeader(sw.b, h.NextInodeID, uint64(h.NextBlockID), uint64(h.NextGenStamp), sw.r.strs)
	return sw
}

// setHead fills the fields every record has into sw.n.
func (sw *SnapshotWriter) setHead(flags uint8, id uint64, name string, mode fs.FileMode, owner, group string, mtime time.Time) error {
	if owner != sw.owner || group != sw.group {
		o, ok1 := sw.r.strIdx[owner]
		g, ok2 := sw.r.strIdx[group]
		if !ok1 || !ok2 {
			return fmt.Errorf("snapshot: owner %q or group %q not among the header's names", owner, group)
		}
		sw.owner, sw.group, sw.ownerI, sw.groupI = owner, group, o, g
	}
	sw.n = inode{id: id, name: name, flags: flags, mode: uint16(protocol.WireMode(mode)), owner: sw.ownerI, group: sw.groupI, mtime: mtime.UnixNano()}
	return nil
}

// Dir writes a directory record.
func (sw *SnapshotWriter) Dir(d SnapshotDir) error {
	if sw.err != nil {
		return sw.err
	}
	if sw.err = sw.setHead(inodeDir, d.ID, d.Name, d.Mode, d.Owner, d.Group, d.ModTime); sw.err != nil {
		return sw.err
	}
	sw.b = sw.r.appendRecord(sw.b, &sw.n, d.Children)
	return sw.flush()
}

// File writes a file record.
func (sw *SnapshotWriter) File(f SnapshotFile) error {
	if sw.err != nil {
		return sw.err
	}
	if sw.err = sw.setHead(0, f.ID, f.Name, f.Mode, f.Owner, f.Group, f.ModTime); sw.err != nil {
		return sw.err
	}
	sw.n.repl = uint16(f.Replication)
	sw.n.blkSize = f.BlockSize
	sw.blocks = sw.blocks[:0]
	for _, blk := range f.Blocks {
		sw.blocks = append(sw.blocks, blockInfo{id: blk.ID, gs: blk.GenStamp, len: blk.Len, committed: true})
	}
	sw.ptrs = sw.ptrs[:0]
	for i := range sw.blocks {
		sw.ptrs = append(sw.ptrs, &sw.blocks[i])
	}
	sw.n.blocks = sw.ptrs
	sw.b = sw.r.appendRecord(sw.b, &sw.n, 0)
	return sw.flush()
}

// flush hands the records buffered to the bufio.Writer once they are
// worth a write.
func (sw *SnapshotWriter) flush() error {
	if sw.err == nil && len(sw.b) >= 64<<10 {
		_, sw.err = sw.w.Write(sw.b)
		sw.b = sw.b[:0]
	}
	return sw.err
}

// close writes the trailer (no node being decommissioned) and the
// checksum.
func (sw *SnapshotWriter) close() error {
	if sw.err != nil {
		return sw.err
	}
	sw.b = appendSnapshotTrailer(sw.b, nil, nil)
	if _, err := sw.w.Write(sw.b); err != nil {
		return err
	}
	if err := sw.w.Flush(); err != nil {
		return err
	}
	// The checksum covers every byte before it.
	_, err := sw.out.Write(binary.LittleEndian.AppendUint32(nil, sw.crc.Sum32()))
	return err
}

// preloadSnapshotIndex is the log index of a preloaded snapshot.
const preloadSnapshotIndex = 10

// Preload formats cfg.Dir, which must be new, as a NameNode directory
// (cluster cfg.ClusterID, a Raft group of one member, cfg.RaftID)
// whose only state is a snapshot: h, then the records fill writes.
// New(cfg) then loads it as it loads any snapshot. Preload returns the
// snapshot's size in bytes.
func Preload(cfg Config, log *slog.Logger, h SnapshotHeader, fill func(*SnapshotWriter) error) (int64, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return 0, err
	}
	if _, _, err := loadOrFormat(c.Dir, c.ClusterID, log); err != nil {
		return 0, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(c.Dir, "raft"), 2, hclog.NewNullLogger())
	if err != nil {
		return 0, fmt.Errorf("open raft snapshots: %w", err)
	}
	if list, err := snaps.List(); err != nil || len(list) > 0 {
		return 0, errors.Join(err, fmt.Errorf("%s already holds a snapshot", c.Dir))
	}
	// The member's address, as openRaft bootstraps it.
	addr := raft.ServerAddress(c.RaftID)
	if c.RaftAddr != "" {
		addr = raft.ServerAddress(c.RaftAddr)
	}
	_, trans := raft.NewInmemTransport(addr)
	defer trans.Close()
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(c.RaftID), Address: addr}}}
	sink, err := snaps.Create(raft.SnapshotVersionMax, preloadSnapshotIndex, 1, conf, 1, trans)
	if err != nil {
		return 0, fmt.Errorf("create snapshot: %w", err)
	}
	cw := &countingWriter{w: sink}
	sw := newSnapshotWriter(cw, h)
	if err := fill(sw); err != nil {
		sink.Cancel()
		return 0, err
	}
	if err := sw.close(); err != nil {
		sink.Cancel()
		return 0, fmt.Errorf("write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return 0, fmt.Errorf("write snapshot: %w", err)
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

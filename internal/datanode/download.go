package datanode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/webui"
)

// The web download (GET /download?path=P, see package webui): the
// DataNode asks a NameNode where the file's blocks are, over its own
// sessions (the first that answers, locate), and then either redirects
// the browser to a DataNode holding the file's first block, or streams
// the whole file: each block from its local replica when this node
// holds it, else from another DataNode over the data-transfer protocol,
// as any reader would.

// locate asks the NameNodes for the block locations of the file at p,
// over each session in turn until one answers: a NameNode that cannot
// be reached or does not lead (Unavailable, NotLeader; or its session
// not running) leaves it to the next, any other answer is the answer.
func (d *DataNode) locate(ctx context.Context, op, p string) (*protocol.GetBlockLocationsResponse, error) {
	err := cairn.Errorf(op, p, cairn.Unavailable, "not connected to the namenode")
	for _, s := range d.sessions {
		cl := s.client()
		if cl == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		resp, rerr := cl.GetBlockLocations(cctx, &protocol.GetBlockLocationsRequest{Path: p})
		cancel()
		if rerr == nil {
			return resp, nil
		}
		err = protocol.FromStatus(op, p, rerr)
		if k := cairn.KindOf(err); (k != cairn.Unavailable && k != cairn.NotLeader) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// openDownload answers a download of the file at p: a redirect to
// another DataNode when this one holds no replica of the file's first
// block and another does, else the file's bytes. A request that was
// already redirected (redirected) is always served here, so that two
// nodes with stale locations never bounce it between them.
func (d *DataNode) openDownload(ctx context.Context, p string, redirected bool) (webui.Download, error) {
	const op = "download"
	resp, err := d.locate(ctx, op, p)
	if err != nil {
		return webui.Download{}, err
	}
	if resp.GetFile() == nil {
		return webui.Download{}, cairn.E(op, p, cairn.NotExist)
	}
	fi := protocol.FileInfoFromProto(resp.GetFile())
	if fi.IsDir {
		return webui.Download{}, cairn.Errorf(op, p, cairn.IsDir, "cannot download a directory")
	}
	blocks := fi.Blocks
	slices.SortFunc(blocks, func(a, b cairn.LocatedBlock) int { return cmpInt64(a.Offset, b.Offset) })
	if !redirected && len(blocks) > 0 && fi.Size > 0 && !d.holds(blocks[0].Block) {
		for _, l := range blocks[0].Locations {
			if l.ID != d.ID() && l.HTTPAddr != "" {
				return webui.Download{Redirect: l.HTTPAddr, Size: fi.Size}, nil
			}
		}
	}
	return webui.Download{Body: &download{d: d, ctx: ctx, path: p, blocks: blocks, size: fi.Size}, Size: fi.Size}, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// holds reports whether this node has a finalized replica of b.
func (d *DataNode) holds(b cairn.Block) bool {
	rep, ok := d.store.lookup(b.ID)
	return ok && rep.gs == b.GenStamp && rep.len >= b.Len
}

// download reads a file block by block. Each block is read from the
// first source that works: the local replica, then the other
// DataNodes holding it, in the NameNode's order; a source that fails
// mid-block is dropped and the next one resumes at the same offset.
type download struct {
	d      *DataNode
	ctx    context.Context
	path   string
	blocks []cairn.LocatedBlock // sorted by offset
	size   int64

	pos    int64         // file offset of the next byte
	cur    io.ReadCloser // the current block from pos, or nil
	curEnd int64         // file offset where cur ends
	curSrc string        // the source of cur: "" (local) or a node ID
	blk    int           // index in blocks of the current block
	failed map[string]error
}

// Read reads the file at d.pos.
func (dl *download) Read(p []byte) (int, error) {
	for {
		if dl.pos >= dl.size {
			return 0, io.EOF
		}
		if dl.cur == nil {
			if err := dl.open(); err != nil {
				return 0, err
			}
		}
		n, err := dl.cur.Read(p[:min(int64(len(p)), dl.curEnd-dl.pos)])
		dl.pos += int64(n)
		if dl.pos == dl.curEnd {
			dl.cur.Close()
			dl.cur = nil
			return n, nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			dl.cur.Close()
			dl.cur = nil
			dl.failed[dl.curSrc] = err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// open opens the block holding dl.pos on the first source not failed.
func (dl *download) open() error {
	const op = "download"
	i, ok := slices.BinarySearchFunc(dl.blocks, dl.pos, func(lb cairn.LocatedBlock, off int64) int {
		if off < lb.Offset {
			return 1
		}
		if off >= lb.Offset+lb.Block.Len {
			return -1
		}
		return 0
	})
	if !ok {
		return cairn.Errorf(op, dl.path, cairn.IO, "no block holds offset %d of %d bytes", dl.pos, dl.size)
	}
	if i != dl.blk || dl.failed == nil {
		dl.blk, dl.failed = i, make(map[string]error)
	}
	lb := dl.blocks[i]
	off := dl.pos - lb.Offset
	end := min(lb.Block.Len, dl.size-lb.Offset)
	d := dl.d
	if _, tried := dl.failed[""]; !tried {
		r, inc, err := d.store.openReplica(lb.Block)
		if err == nil && r.Block().Len >= end {
			dl.cur, dl.curSrc, dl.curEnd = &localBlock{d: d, r: r, inc: inc, pos: off, end: end}, "", lb.Offset+end
			return nil
		}
		if err == nil {
			r.Close()
			err = cairn.Errorf(op, blockName(lb.Block), cairn.NotExist, "local replica has %d bytes, want %d", r.Block().Len, end)
		}
		dl.failed[""] = err
	}
	opts := datatransfer.Options{Timeout: d.cfg.socketReadTimeout(), Transport: d.cfg.Transport}
	for _, node := range lb.Locations {
		if _, tried := dl.failed[string(node.ID)]; tried || node.ID == d.ID() {
			continue
		}
		rc, err := opts.ReadBlock(dl.ctx, node, lb.Block, off, end-off, "datanode-"+string(d.ID())+"-web")
		if err != nil {
			dl.failed[string(node.ID)] = err
			continue
		}
		dl.cur, dl.curSrc, dl.curEnd = rc, string(node.ID), lb.Offset+end
		return nil
	}
	var errs []error
	for src, err := range dl.failed {
		if src == "" {
			src = "local"
		}
		errs = append(errs, fmt.Errorf("%s: %w", src, err))
	}
	return cairn.Errorf(op, dl.path, cairn.Unavailable, "no replica of %s could be read: %v", blockName(lb.Block), errors.Join(errs...))
}

func (dl *download) Close() error {
	if dl.cur != nil {
		dl.cur.Close()
		dl.cur = nil
	}
	return nil
}

// localBlock reads [pos, end) of a local replica, checking every
// checksum; a replica found damaged stops being served (replicaDamaged).
type localBlock struct {
	d        *DataNode
	r        Replica
	inc      uint64
	pos, end int64
	buf      []byte
	sums     []byte
	pending  []byte // checked bytes from pos on, not yet returned
}

func (l *localBlock) Read(p []byte) (int, error) {
	if len(l.pending) == 0 {
		if l.pos >= l.end {
			return 0, io.EOF
		}
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	l.pos += int64(n)
	return n, nil
}

// fill reads and checks the whole chunks holding pos onward, up to a
// packet's worth.
func (l *localBlock) fill() error {
	if l.buf == nil {
		l.buf = make([]byte, cairn.PacketSize)
		l.sums = make([]byte, datatransfer.SumsLen(cairn.PacketSize))
	}
	b := l.r.Block()
	start := l.pos - l.pos%cairn.ChunkSize
	stop := min(start+int64(len(l.buf)), b.Len, l.end+(cairn.ChunkSize-l.end%cairn.ChunkSize)%cairn.ChunkSize)
	data, sums := l.buf[:stop-start], l.sums[:datatransfer.SumsLen(int(stop-start))]
	if err := readFull(l.r.Data(), data, start); err != nil {
		l.d.replicaDamaged(b, l.inc, fmt.Sprintf("reading data at offset %d: %v", start, err))
		return cairn.E("download", blockName(b), cairn.IO, err)
	}
	if err := readFull(l.r.Checksums(), sums, sumsAt(start)); err != nil {
		l.d.replicaDamaged(b, l.inc, fmt.Sprintf("reading checksums at offset %d: %v", start, err))
		return cairn.E("download", blockName(b), cairn.IO, err)
	}
	if bad := datatransfer.VerifySums(sums, data); bad >= 0 {
		at := start + int64(bad)*cairn.ChunkSize
		l.d.metrics.checksumFailures.Inc()
		l.d.replicaDamaged(b, l.inc, fmt.Sprintf("checksum mismatch at offset %d found by a web download", at))
		return cairn.Errorf("download", blockName(b), cairn.Corrupt, "checksum mismatch at offset %d", at)
	}
	l.pending = data[l.pos-start : min(stop, l.end)-start]
	return nil
}

func (l *localBlock) Close() error { return l.r.Close() }

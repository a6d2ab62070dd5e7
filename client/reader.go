package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

const (
	// locationBatch is how many blocks' locations a Reader asks for
	// at a time.
	locationBatch = 10
	// maxCachedBlocks bounds the located blocks a Reader keeps; past
	// it, a new batch replaces the cache instead of joining it.
	maxCachedBlocks = 1024
	// maxReadFailures bounds the replica failures one read survives
	// before it gives up, so a flapping DataNode cannot make a read
	// loop forever.
	maxReadFailures = 16
	// windowSize is how many bytes a small ReadAt fetches and keeps,
	// so that a run of small reads near each other costs one DataNode
	// request, not one each.
	windowSize = cairn.PacketSize
	// smallRead is the largest ReadAt served through the window.
	smallRead = windowSize / 4
	// skipLimit is how far a sequential stream reads and discards to
	// serve a short forward Seek, rather than open a new stream.
	skipLimit = cairn.PacketSize
)

// Reader reads a file. It is an io.Reader, io.ReaderAt and io.Seeker.
// Read and Seek share a file offset and must not be called
// concurrently with each other; ReadAt is safe for concurrent use, with
// itself and with Read.
//
// Block locations are fetched from the NameNode a few blocks at a time
// and refreshed when a read fails on every replica. Each block is read
// from the nearest replica first; on a connection failure or a checksum
// mismatch the Reader fails over to the next one, and reports a corrupt
// replica to the NameNode. Bytes that fail their checksum are never
// returned.
type Reader struct {
	c    *Client
	ctx  context.Context
	path string
	info cairn.FileInfo // without Blocks

	closed atomic.Bool

	mu sync.Mutex // guards the fields below
	// blocks are the located blocks known, sorted by offset.
	blocks []cairn.LocatedBlock
	// dead are DataNodes that failed to serve this Reader; they are
	// tried again after a refresh of locations.
	dead map[cairn.NodeID]bool
	// corrupt are replicas found corrupt; never tried again.
	corrupt map[replica]bool
	// failures are the replica failures seen per block, for the
	// error of a block no replica can serve.
	failures map[cairn.BlockID][]replicaFailure
	// win holds the bytes last fetched for a small ReadAt.
	win window

	seq    sync.Mutex // guards off and stream: the state of Read and Seek
	off    int64
	stream *blockStream // open stream of Read; nil if none
}

// replica names one replica of a block.
type replica struct {
	block cairn.BlockID
	node  cairn.NodeID
}

// replicaFailure is one failed attempt to read a replica.
type replicaFailure struct {
	node cairn.DatanodeInfo
	err  error
}

// maxFailuresKept bounds the failures remembered per block.
const maxFailuresKept = 8

// window is a run of verified bytes of one block.
type window struct {
	block cairn.BlockID
	off   int64 // file offset of data[0]
	data  []byte
}

// blockStream is an open read of part of one block from one replica.
type blockStream struct {
	ctx  context.Context // the context it was opened under
	rc   io.ReadCloser
	lb   cairn.LocatedBlock
	node cairn.DatanodeInfo
	pos  int64 // file offset of the next byte rc gives
	end  int64 // file offset where rc ends
}

// Open opens a file for reading. A directory gives an error of kind
// cairn.IsDir. Reads use ctx: cancel it to interrupt them.
func (c *Client) Open(ctx context.Context, name string) (*Reader, error) {
	r, fi, err := c.open(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, cairn.E("open", fi.Path, cairn.IsDir)
	}
	return r, nil
}

// open opens a file, or returns a directory's info and a nil Reader.
func (c *Client) open(ctx context.Context, op, name string) (*Reader, cairn.FileInfo, error) {
	if err := checkPath(op, name); err != nil {
		return nil, cairn.FileInfo{}, err
	}
	resp, err := call(ctx, c.nn, op, name, &protocol.GetBlockLocationsRequest{
		Path: name, Length: locationBatch * c.blockSize,
	}, protocol.ClientProtocolClient.GetBlockLocations)
	if err != nil {
		if cairn.KindOf(err) == cairn.IsDir {
			fi, serr := c.stat(ctx, op, name, false)
			if serr == nil && fi.IsDir {
				return nil, fi, nil
			}
		}
		return nil, cairn.FileInfo{}, err
	}
	if resp.GetFile() == nil {
		return nil, cairn.FileInfo{}, cairn.E(op, name, cairn.NotExist)
	}
	fi := fileInfo(resp.GetFile(), name)
	if fi.IsDir {
		fi.Blocks = nil
		return nil, fi, nil
	}
	r := &Reader{
		c:        c,
		ctx:      ctx,
		path:     name,
		blocks:   fi.Blocks,
		dead:     make(map[cairn.NodeID]bool),
		corrupt:  make(map[replica]bool),
		failures: make(map[cairn.BlockID][]replicaFailure),
	}
	sortBlocks(r.blocks)
	fi.Blocks = nil
	r.info = fi
	return r, fi, nil
}

// Stat returns the file's metadata as of Open, without its blocks.
func (r *Reader) Stat() cairn.FileInfo { return r.info }

// Read reads up to len(p) bytes at the file offset and advances it.
// One stream per block serves consecutive Reads. It runs under the
// context given to Open.
func (r *Reader) Read(p []byte) (int, error) {
	return r.ReadContext(r.ctx, p)
}

// ReadContext is Read under ctx instead of the context given to Open:
// ctx bounds this call and every request it makes, and carries the
// identity of AsUser. Consecutive calls under the same ctx share one
// stream per block; a call under another one opens its own.
func (r *Reader) ReadContext(ctx context.Context, p []byte) (int, error) {
	const op = "read"
	r.seq.Lock()
	defer r.seq.Unlock()
	if r.closed.Load() {
		return 0, cairn.E(op, r.path, cairn.Closed)
	}
	if r.off >= r.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	failures := 0
	for {
		if err := r.positionStream(ctx); err != nil {
			return 0, err
		}
		s := r.stream
		want := min(int64(len(p)), s.end-s.pos)
		n, err := s.rc.Read(p[:want])
		s.pos += int64(n)
		r.off += int64(n)
		if s.pos == s.end {
			// The block is done: bytes given were verified, so an
			// error now (such as io.EOF) does not matter.
			r.closeStream()
			err = nil
		}
		if err != nil {
			if err == io.EOF {
				err = cairn.Errorf(op, r.path, cairn.IO, "replica ended %d bytes early", s.end-s.pos)
			}
			r.closeStream()
			if rerr := r.replicaFailed(ctx, s.lb, s.node, err); rerr != nil {
				return n, rerr
			}
			failures++
			if n == 0 && failures >= maxReadFailures {
				return 0, r.gaveUp(s.lb, err)
			}
		}
		if n > 0 {
			return n, nil
		}
	}
}

// positionStream makes r.stream an open stream at r.off: it keeps the
// current one, skips forward in it a little, or opens a new one to the
// end of the block holding r.off. A stream opened under another
// context than ctx is closed: it must not outlive the call it serves.
func (r *Reader) positionStream(ctx context.Context) error {
	if s := r.stream; s != nil && s.ctx != ctx {
		r.closeStream()
	}
	if s := r.stream; s != nil {
		if s.pos == r.off {
			return nil
		}
		if r.off > s.pos && r.off < s.end && r.off-s.pos <= skipLimit {
			n, err := io.CopyN(io.Discard, s.rc, r.off-s.pos)
			s.pos += n
			if err == nil {
				return nil
			}
		}
		r.closeStream()
	}
	s, err := r.openStream(ctx, r.off, -1)
	if err != nil {
		return err
	}
	r.stream = s
	return nil
}

func (r *Reader) closeStream() {
	if r.stream != nil {
		r.stream.rc.Close()
		r.stream = nil
	}
}

// ReadAt reads len(p) bytes at offset off, as io.ReaderAt: fewer bytes
// come with an error, io.EOF at the end of the file. It does not move
// the file offset of Read. A large read opens one stream per block
// touched, for exactly the bytes asked; a small one (up to 16 KiB)
// fetches and keeps the 64 KiB around it, so that a run of small reads
// close together does not cost a DataNode request each. It runs under
// the context given to Open.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.ReadAtContext(r.ctx, p, off)
}

// ReadAtContext is ReadAt under ctx instead of the context given to
// Open: ctx bounds this call and every request it makes, and carries
// the identity of AsUser. It is safe for concurrent use, as ReadAt.
func (r *Reader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	const op = "read"
	if r.closed.Load() {
		return 0, cairn.E(op, r.path, cairn.Closed)
	}
	if off < 0 {
		return 0, cairn.Errorf(op, r.path, cairn.Invalid, "negative offset %d", off)
	}
	if off >= r.info.Size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.info.Size)
	n := 0
	for pos := off; pos < end; {
		lb, err := r.locate(ctx, pos, false)
		if err != nil {
			return n, err
		}
		stop := min(lb.Offset+lb.Block.Len, end)
		var m int
		if stop-pos <= smallRead {
			m, err = r.readSmall(ctx, p[pos-off:stop-off], pos, lb)
		} else {
			m, err = r.readRange(ctx, p[pos-off:stop-off], pos)
		}
		n += m
		pos += int64(m)
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readSmall fills p from file offset off within block lb through the
// window, fetching a new window when the current one does not hold
// the range.
func (r *Reader) readSmall(ctx context.Context, p []byte, off int64, lb cairn.LocatedBlock) (int, error) {
	r.mu.Lock()
	w := r.win
	r.mu.Unlock()
	if w.block != lb.Block.ID || off < w.off || off+int64(len(p)) > w.off+int64(len(w.data)) {
		start := off - (off-lb.Offset)%cairn.ChunkSize
		// Not past the size seen at open: a block located later may
		// hold bytes synced since, which this reader does not give.
		end := min(start+windowSize, lb.Offset+lb.Block.Len, r.info.Size)
		data := make([]byte, end-start)
		if _, err := r.readRange(ctx, data, start); err != nil {
			return 0, err
		}
		w = window{block: lb.Block.ID, off: start, data: data}
		r.mu.Lock()
		r.win = w
		r.mu.Unlock()
	}
	return copy(p, w.data[off-w.off:]), nil
}

// readRange fills p from file offset off; the range lies within one
// block. It fails over between replicas, resuming where the failed one
// stopped.
func (r *Reader) readRange(ctx context.Context, p []byte, off int64) (int, error) {
	n := 0
	failures := 0
	for n < len(p) {
		s, err := r.openStream(ctx, off+int64(n), int64(len(p)-n))
		if err != nil {
			return n, err
		}
		m, err := io.ReadFull(s.rc, p[n:])
		s.rc.Close()
		n += m
		if err == nil {
			break
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = cairn.Errorf("read", r.path, cairn.IO, "replica ended %d bytes early", len(p)-n)
		}
		if rerr := r.replicaFailed(ctx, s.lb, s.node, err); rerr != nil {
			return n, rerr
		}
		if failures++; failures >= maxReadFailures {
			return n, r.gaveUp(s.lb, err)
		}
	}
	return n, nil
}

// Seek sets the file offset for the next Read, as io.Seeker. Seeking
// past the end is allowed; Read there gives io.EOF.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	const op = "seek"
	r.seq.Lock()
	defer r.seq.Unlock()
	if r.closed.Load() {
		return 0, cairn.E(op, r.path, cairn.Closed)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.info.Size + offset
	default:
		return r.off, cairn.Errorf(op, r.path, cairn.Invalid, "invalid whence %d", whence)
	}
	if abs < 0 {
		return r.off, cairn.Errorf(op, r.path, cairn.Invalid, "negative offset %d", abs)
	}
	r.off = abs
	return abs, nil
}

// Close closes the Reader. Close after Close gives an error of kind
// cairn.Closed.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return cairn.E("close", r.path, cairn.Closed)
	}
	r.seq.Lock()
	r.closeStream()
	r.seq.Unlock()
	return nil
}

// openStream opens a stream of length bytes at file offset off (-1:
// to the end of its block) on the first replica that answers. When
// every replica fails it fetches the block's locations again and tries
// once more before giving up.
func (r *Reader) openStream(ctx context.Context, off, length int64) (*blockStream, error) {
	for round := 0; ; round++ {
		lb, err := r.locate(ctx, off, round > 0)
		if err != nil {
			return nil, err
		}
		start := off - lb.Offset
		n := length
		if n < 0 || start+n > lb.Block.Len {
			n = lb.Block.Len - start
		}
		// A file being written may have grown since Open: the reader
		// gives the bytes of the size it saw, as Stat says.
		n = min(n, r.info.Size-off)
		if n <= 0 {
			// A caller's mistake, not a replica's: no DataNode is
			// asked, none is blamed.
			return nil, cairn.Errorf("read", r.path, cairn.Invalid, "nothing to read at offset %d of %d", off, r.info.Size)
		}
		for _, node := range r.candidates(lb) {
			rc, err := readBlock(ctx, r.c.transport, r.c.pool, node, lb.Block, start, n, r.c.name)
			if err == nil {
				return &blockStream{ctx: ctx, rc: rc, lb: lb, node: node, pos: off, end: off + n}, nil
			}
			if rerr := r.replicaFailed(ctx, lb, node, err); rerr != nil {
				return nil, rerr
			}
		}
		if round == 1 {
			return nil, r.allFailed(lb)
		}
	}
}

// candidates returns lb's replicas not known to be bad, nearest first.
func (r *Reader) candidates(lb cairn.LocatedBlock) []cairn.DatanodeInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cairn.DatanodeInfo
	for _, n := range lb.Locations {
		if !r.dead[n.ID] && !r.corrupt[replica{lb.Block.ID, n.ID}] {
			out = append(out, n)
		}
	}
	return out
}

// replicaFailed records that node failed to serve lb, reporting a
// checksum failure to the NameNode. It returns an error only when the
// call's context has ended, which no other replica can help.
func (r *Reader) replicaFailed(ctx context.Context, lb cairn.LocatedBlock, node cairn.DatanodeInfo, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cairn.E("read", r.path, cairn.Unavailable, cerr)
	}
	corrupt := cairn.KindOf(err) == cairn.Corrupt
	r.mu.Lock()
	if corrupt {
		r.corrupt[replica{lb.Block.ID, node.ID}] = true
	} else {
		r.dead[node.ID] = true
	}
	fs := append(r.failures[lb.Block.ID], replicaFailure{node, err})
	if len(fs) > maxFailuresKept {
		fs = fs[len(fs)-maxFailuresKept:]
	}
	r.failures[lb.Block.ID] = fs
	r.mu.Unlock()
	if corrupt {
		// Best effort: the NameNode also learns of it from the
		// DataNode's own scanner.
		call(ctx, r.c.nn, "reportbadblocks", r.path, &protocol.ReportBadBlocksRequest{Blocks: []*protocol.BadBlock{{
			Block:  protocol.BlockToProto(lb.Block),
			NodeId: string(node.ID),
			Reason: err.Error(),
		}}}, protocol.ClientProtocolClient.ReportBadBlocks)
	}
	return nil
}

// allFailed is the error of a block no replica could serve. It names
// the block and every replica tried, with what went wrong. Its kind is
// Corrupt when every replica tried failed its checksum (or the
// NameNode knows them all corrupt), else Unavailable.
func (r *Reader) allFailed(lb cairn.LocatedBlock) error {
	r.mu.Lock()
	fails := slices.Clone(r.failures[lb.Block.ID])
	r.mu.Unlock()
	kind := cairn.Unavailable
	if lb.Corrupt || len(fails) > 0 {
		kind = cairn.Corrupt
	}
	tried := make([]string, len(fails))
	for i, f := range fails {
		tried[i] = fmt.Sprintf("%s: %v", f.node.Addr, rootCause(f.err))
		if cairn.KindOf(f.err) != cairn.Corrupt {
			kind = cairn.Unavailable
		}
	}
	if len(fails) == 0 {
		what := "no live replica"
		if lb.Corrupt {
			what = "every replica is corrupt"
		}
		return cairn.Errorf("read", r.path, kind, "could not read %s at offset %d: %s", blockName(lb.Block), lb.Offset, what)
	}
	return cairn.Errorf("read", r.path, kind, "could not read %s at offset %d from any replica: tried %s",
		blockName(lb.Block), lb.Offset, strings.Join(tried, "; "))
}

// rootCause returns the innermost error of err's chain, which says
// what went wrong without the layers that say where.
func rootCause(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err
		}
		err = inner
	}
}

// gaveUp is the error of a read that failed too many times.
func (r *Reader) gaveUp(lb cairn.LocatedBlock, last error) error {
	kind := cairn.KindOf(last)
	if kind == cairn.Other {
		kind = cairn.IO
	}
	return cairn.Errorf("read", r.path, kind, "could not read %s: %d replica failures, last: %v", blockName(lb.Block), maxReadFailures, last)
}

// locate returns the block holding file offset off, asking the
// NameNode when it is not known or when refresh is set (which also
// forgives the DataNodes that failed before).
func (r *Reader) locate(ctx context.Context, off int64, refresh bool) (cairn.LocatedBlock, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !refresh {
		if lb, ok := r.find(off); ok {
			return lb, nil
		}
	}
	if err := r.fetch(ctx, off); err != nil {
		return cairn.LocatedBlock{}, err
	}
	if refresh {
		clear(r.dead)
	}
	if lb, ok := r.find(off); ok {
		return lb, nil
	}
	return cairn.LocatedBlock{}, cairn.Errorf("read", r.path, cairn.IO, "namenode knows no block at offset %d of %d", off, r.info.Size)
}

// find looks off up in the known blocks. r.mu must be held.
func (r *Reader) find(off int64) (cairn.LocatedBlock, bool) {
	i := sort.Search(len(r.blocks), func(i int) bool {
		return r.blocks[i].Offset+r.blocks[i].Block.Len > off
	})
	if i < len(r.blocks) && r.blocks[i].Offset <= off {
		return r.blocks[i], true
	}
	return cairn.LocatedBlock{}, false
}

// fetch asks the NameNode for the locations of a batch of blocks from
// off. r.mu must be held.
func (r *Reader) fetch(ctx context.Context, off int64) error {
	bs := r.info.BlockSize
	if bs <= 0 {
		bs = r.c.blockSize
	}
	resp, err := call(ctx, r.c.nn, "read", r.path, &protocol.GetBlockLocationsRequest{
		Path: r.path, Offset: off, Length: locationBatch * bs,
	}, protocol.ClientProtocolClient.GetBlockLocations)
	if err != nil {
		return err
	}
	fi := protocol.FileInfoFromProto(resp.GetFile())
	if fi.IsDir || fi.FileID != r.info.FileID {
		// The path now names another file (or a directory): its
		// blocks must not be read as this file's.
		return cairn.Errorf("read", r.path, cairn.NotExist, "file was removed or replaced while being read")
	}
	fresh := fi.Blocks
	if len(r.blocks)+len(fresh) > maxCachedBlocks {
		r.blocks = nil
	}
	byOffset := make(map[int64]cairn.LocatedBlock, len(r.blocks)+len(fresh))
	for _, lb := range r.blocks {
		byOffset[lb.Offset] = lb
	}
	for _, lb := range fresh {
		byOffset[lb.Offset] = lb
	}
	r.blocks = r.blocks[:0]
	for _, lb := range byOffset {
		r.blocks = append(r.blocks, lb)
	}
	sortBlocks(r.blocks)
	return nil
}

func sortBlocks(bs []cairn.LocatedBlock) {
	sort.Slice(bs, func(i, j int) bool { return bs[i].Offset < bs[j].Offset })
}

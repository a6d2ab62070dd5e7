package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// CreateOptions are the options of Create. A nil *CreateOptions gives
// the defaults.
type CreateOptions struct {
	Replication  int         // 0: the NameNode's default
	BlockSize    int64       // 0: the NameNode's default; else a multiple of 512
	Overwrite    bool        // replace an existing file
	Mode         fs.FileMode // 0: 0644
	CreateParent bool        // create missing parent directories
}

// Retries of NameNode calls that fail with cairn.NotReplicated, which
// says "not yet": the DataNodes have not reported enough replicas or
// have not registered yet.
const (
	notReplicatedRetries = 5
	notReplicatedWait    = 100 * time.Millisecond // doubled after each try
	// pipelineSetupTries is how many pipelines a Writer tries for one
	// block before giving up, excluding a failed DataNode each time.
	pipelineSetupTries = 3
	// abortTimeout bounds the cleanup of Abort, which runs even when
	// the Writer's context has ended.
	abortTimeout = 30 * time.Second
	// abandonTries is how many times a Writer asks the NameNode to
	// abandon a block it could not write, while the NameNode cannot be
	// reached, waiting abandonWait and then twice as long each time.
	abandonTries = 5
	abandonWait  = 100 * time.Millisecond
	// firstBlockMaxAge is how long the block Create allocates with the
	// file stays the one the first Write uses. Older, its pipeline was
	// chosen from a view of the DataNodes that may have changed (and
	// its token may be near its end): it is given back and AddBlock
	// asked for another.
	firstBlockMaxAge = time.Minute
)

// writerState is where a Writer is in its life.
type writerState uint8

const (
	writerOpen    writerState = iota
	writerClosed              // Close succeeded: the file is complete
	writerFailed              // Close failed: the file is incomplete
	writerAborted             // Abort was called
)

// Writer writes a new file. It is an io.WriteCloser. Its methods must
// not be called concurrently; cancel the context given to Create to
// interrupt a blocked Write.
//
// Bytes are cut into blocks of the file's block size; each block is
// streamed down a pipeline of DataNodes with a bounded window of
// packets in flight, so a Writer holds about one window of data in
// memory whatever the size of the file.
type Writer struct {
	c *Client
	// ctx is the Writer's life: the context given to Create, ended
	// also by cancel, which a call under a context of its own
	// (WriteContext, CloseContext, SyncContext) fires when its
	// context ends.
	ctx         context.Context
	cancel      context.CancelFunc
	path        string
	fileID      uint64
	blockSize   int64
	replication int

	written atomic.Int64 // bytes accepted by Write

	mu sync.Mutex // serializes Write, Close and Abort; guards the fields below
	// cur is the pipeline of the block being written; nil between
	// blocks. block is that block, its Len the bytes written to it.
	// Together with cur.Acked() they are what a pipeline recovery
	// needs: the block, its pipeline and the length acknowledged.
	cur   blockWriter
	block cairn.LocatedBlock
	// prev is the last finished block, with its final length; nil
	// before the first block ends.
	prev *cairn.Block
	// first is the block the NameNode allocated with the file at
	// Create, until the first block starts (or Close finds the file
	// empty); nil if none came. firstAt is when it came.
	first   *cairn.LocatedBlock
	firstAt time.Time
	// width is the number of nodes the current block's pipeline
	// started with; pipeline recovery tries to keep it.
	width int
	// exclude are DataNodes that failed a pipeline of this file.
	exclude []string
	// fsynced is the last block length given to the NameNode by Sync.
	fsynced cairn.Block
	err     error // sticky: the first write failure
	state   writerState
}

// Create creates a file and returns a Writer for it. The Client holds
// a lease on the file until the Writer is closed or aborted. A second
// writer of the same file gets an error of kind cairn.LeaseConflict;
// an existing file gives cairn.Exist unless opts.Overwrite is set.
//
// The NameNode allocates the file's first block in the same call, so
// that a file of one block costs a create, its pipeline and a
// complete; a file closed empty gives that block back.
func (c *Client) Create(ctx context.Context, name string, opts *CreateOptions) (*Writer, error) {
	const op = "create"
	if err := checkPath(op, name); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &CreateOptions{}
	}
	if opts.Replication < 0 || opts.Replication > 1<<15 {
		return nil, cairn.Errorf(op, name, cairn.Invalid, "invalid replication %d", opts.Replication)
	}
	if opts.BlockSize < 0 || opts.BlockSize%cairn.ChunkSize != 0 {
		return nil, cairn.Errorf(op, name, cairn.Invalid, "invalid block size %d: not a positive multiple of %d", opts.BlockSize, cairn.ChunkSize)
	}
	if c.isClosed() {
		return nil, cairn.E(op, name, cairn.Closed, errors.New("client closed"))
	}
	mode := c.masked(opts.Mode.Perm(), defaultFileMode)
	owner, group := c.ownerOf(ctx)
	resp, err := call(ctx, c.nn, op, name, &protocol.CreateRequest{
		Path:         name,
		Mode:         protocol.WireMode(mode),
		Replication:  int32(opts.Replication),
		BlockSize:    opts.BlockSize,
		Overwrite:    opts.Overwrite,
		CreateParent: opts.CreateParent,
		ClientName:   c.name,
		Owner:        owner,
		Group:        group,
		// The first block with the file; a NameNode without the
		// field (or without a DataNode) answers without one.
		AllocateBlock: !c.faults.noFirstBlock,
	}, protocol.ClientProtocolClient.Create)
	if err != nil {
		return nil, err
	}
	f := resp.GetFile()
	wctx, cancel := context.WithCancel(ctx)
	w := &Writer{
		c:           c,
		ctx:         wctx,
		cancel:      cancel,
		path:        name,
		fileID:      f.GetFileId(),
		blockSize:   f.GetBlockSize(),
		replication: int(f.GetReplication()),
	}
	if w.blockSize <= 0 {
		w.blockSize = opts.BlockSize
	}
	if w.blockSize <= 0 {
		w.blockSize = c.blockSize
	}
	if b := resp.GetBlock(); b != nil {
		lb := protocol.LocatedBlockFromProto(b)
		w.first, w.firstAt = &lb, time.Now()
	}
	if err := c.addWriter(w); err != nil {
		w.state = writerAborted
		w.deleteFile()
		cancel()
		return nil, err
	}
	return w, nil
}

// Write writes p to the file. It returns an error, and keeps returning
// it, once any DataNode write fails.
func (w *Writer) Write(p []byte) (int, error) {
	return w.write(p)
}

// WriteContext is Write bounded by ctx as well as by the context given
// to Create: when ctx ends while the call is under way, the Writer is
// interrupted and fails, as when Create's context ends (Abort it then).
// A ctx already ended fails the call alone, before anything is written.
func (w *Writer) WriteContext(ctx context.Context, p []byte) (int, error) {
	defer w.bound(ctx)()
	if err := ctx.Err(); err != nil {
		return 0, cairn.E("write", w.path, cairn.Unavailable, err)
	}
	return w.write(p)
}

// bound makes the end of ctx end the Writer's own context until the
// returned function is called.
func (w *Writer) bound(ctx context.Context) (stop func()) {
	if ctx.Err() != nil || ctx.Done() == nil {
		return func() {}
	}
	s := context.AfterFunc(ctx, w.cancel)
	return func() { s() }
}

func (w *Writer) write(p []byte) (int, error) {
	const op = "write"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return 0, cairn.E(op, w.path, cairn.Closed)
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if w.cur == nil {
			if err := w.startBlock(); err != nil {
				return n, w.fail(op, err)
			}
		}
		chunk := p[:min(int64(len(p)), w.blockSize-w.block.Block.Len)]
		m, err := w.cur.Write(chunk)
		w.block.Block.Len += int64(m)
		w.written.Add(int64(m))
		n += m
		p = p[m:]
		if err != nil {
			// The bytes taken are safe: recovery sends again what
			// was not acknowledged.
			err = w.recoverPipeline(err)
		} else if m < len(chunk) {
			err = errors.New("short write to pipeline")
		}
		if err != nil {
			return n, w.fail(op, err)
		}
		if w.block.Block.Len == w.blockSize {
			if err := w.endBlock(); err != nil {
				return n, w.fail(op, err)
			}
		}
	}
	return n, nil
}

// Sync makes the bytes written so far durable and visible, as HDFS's
// hsync with its length update: when it returns nil, every DataNode of
// the current block's pipeline has written and fsync'd them (earlier
// blocks are durable once the Writer moves past them), so they survive
// a crash of this client, of the DataNodes' processes or machines, and
// are kept by lease recovery; and the NameNode counts them in the
// file's size (Fsync), so that a reader opening the file from then on
// reads them, while the Writer is still open. Writing goes on after
// it. A pipeline that fails during Sync is recovered, as during Write.
func (w *Writer) Sync() error {
	const op = "sync"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return cairn.E(op, w.path, cairn.Closed)
	}
	if w.err != nil {
		return w.err
	}
	// Between blocks the last one is finalized, fsync'd, but not yet
	// committed at the NameNode: its length is given as synced.
	last := w.prev
	if w.cur != nil {
		for {
			err := w.cur.Sync()
			if err == nil {
				break
			}
			if rerr := w.recoverPipeline(err); rerr != nil {
				return w.fail(op, rerr)
			}
		}
		b := w.block.Block
		last = &b
	}
	if last == nil || *last == w.fsynced {
		return nil
	}
	_, err := call(w.ctx, w.c.nn, op, w.path, &protocol.FsyncRequest{
		Path: w.path, FileId: w.fileID, ClientName: w.c.name, Last: protocol.BlockToProto(*last),
	}, protocol.ClientProtocolClient.Fsync)
	if err != nil {
		// The bytes are durable; a later Sync tells the NameNode.
		return err
	}
	w.fsynced = *last
	return nil
}

// SyncContext is Sync bounded by ctx as well as by the context given to
// Create: when ctx ends while it runs, the Writer is interrupted and
// fails, as with WriteContext.
func (w *Writer) SyncContext(ctx context.Context) error {
	defer w.bound(ctx)()
	if err := ctx.Err(); err != nil {
		return cairn.E("sync", w.path, cairn.Unavailable, err)
	}
	return w.Sync()
}

// FileID returns the file's inode ID (cairn.FileInfo.FileID), which
// stays with the file through renames: a gateway uses it as the file's
// inode number without asking the NameNode again.
func (w *Writer) FileID() uint64 { return w.fileID }

// Written returns the number of bytes accepted by Write so far. It may
// be called concurrently with Write, for progress reports.
func (w *Writer) Written() int64 { return w.written.Load() }

// Close finishes the last block and marks the file complete. It
// returns only when every block is acknowledged by every DataNode of
// its pipeline, which fsyncs it, and the NameNode has completed the
// file: after a nil error the file is durable and readable at its full
// length. Close after Close or Abort returns an error of kind
// cairn.Closed.
func (w *Writer) Close() error {
	return w.closeWriter()
}

// CloseContext is Close bounded by ctx as well as by the context given
// to Create: when ctx ends before the file is complete, the Writer is
// interrupted and Close fails (Abort it then). A ctx already ended
// fails the call alone, leaving the Writer open.
func (w *Writer) CloseContext(ctx context.Context) error {
	defer w.bound(ctx)()
	if err := ctx.Err(); err != nil {
		return cairn.E("close", w.path, cairn.Unavailable, err)
	}
	return w.closeWriter()
}

func (w *Writer) closeWriter() error {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return cairn.E(op, w.path, cairn.Closed)
	}
	err := w.close()
	if err != nil {
		w.state = writerFailed
		if w.cur != nil {
			w.cur.Abort()
			w.cur = nil
		}
	} else {
		w.state = writerClosed
	}
	w.cancel()
	w.c.removeWriter(w)
	return err
}

func (w *Writer) close() error {
	const op = "close"
	if w.err != nil {
		return w.err
	}
	last := w.prev
	if w.cur != nil {
		if err := w.endBlock(); err != nil {
			return w.fail(op, err)
		}
		last = w.prev
	}
	if w.first != nil {
		// Nothing was written: the file is empty, without the block
		// Create allocated.
		if err := w.abandon(w.first.Block); err != nil {
			return err
		}
		w.first = nil
	}
	req := &protocol.CompleteRequest{Path: w.path, FileId: w.fileID, ClientName: w.c.name}
	if last != nil {
		req.Last = protocol.BlockToProto(*last)
	}
	return retryNotReplicated(w.ctx, func() error {
		_, err := call(w.ctx, w.c.nn, op, w.path, req, protocol.ClientProtocolClient.Complete)
		return err
	})
}

// Abort stops writing, tears down the pipeline and removes the file.
// It is a no-op after a successful Close, so `defer w.Abort()` is a
// safe way to clean up after a failure. Abort runs even when the
// context given to Create has ended.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case writerClosed, writerAborted:
		return nil
	}
	w.state = writerAborted
	if w.cur != nil {
		w.cur.Abort()
		w.cur = nil
	}
	w.c.removeWriter(w)
	err := w.deleteFile()
	w.cancel()
	return err
}

// deleteFile removes the file being written, unless the name now holds
// another file (created by someone else after this Writer lost its
// lease).
func (w *Writer) deleteFile() error {
	const op = "abort"
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	resp, err := call(ctx, w.c.nn, op, w.path, &protocol.GetFileInfoRequest{Path: w.path}, protocol.ClientProtocolClient.GetFileInfo)
	if err == nil && w.fileID != 0 && resp.GetFile().GetFileId() != w.fileID {
		return nil
	}
	if err == nil {
		_, err = call(ctx, w.c.nn, op, w.path, &protocol.DeleteRequest{Path: w.path}, protocol.ClientProtocolClient.Delete)
	}
	if errors.Is(err, cairn.NotExist) {
		return nil
	}
	return err
}

// fail records the first write failure and returns it.
func (w *Writer) fail(op string, err error) error {
	if w.err == nil {
		if cairn.KindOf(err) == cairn.Other {
			err = cairn.E(op, w.path, cairn.IO, err)
		} else {
			err = cairn.E(op, w.path, err)
		}
		w.err = err
	}
	return w.err
}

// startBlock asks the NameNode for a new block and opens its pipeline.
// A pipeline that cannot be set up is abandoned and another asked for
// without the DataNode that failed. The NameNode must hear of the
// abandon: a block left allocated would be answered again to the next
// AddBlock, pipeline and all, so abandon insists while the NameNode is
// unreachable, and an AddBlock that excludes a node of the block's
// pipeline makes the NameNode give it up itself. A pipeline that still
// holds an excluded node is never used.
func (w *Writer) startBlock() error {
	for try := 1; ; try++ {
		lb, err := w.nextBlock()
		if err != nil {
			return err
		}
		if len(lb.Locations) == 0 {
			w.abandon(lb.Block)
			return cairn.Errorf("addblock", w.path, cairn.NotReplicated,
				"namenode gave no datanode for block %s", blockName(lb.Block))
		}
		if n, ok := excluded(lb.Locations, w.exclude); ok {
			err = fmt.Errorf("namenode gave block %s on %s again, a datanode that failed", blockName(lb.Block), n.Addr)
		} else {
			bw, perr := w.c.openPipeline(w.ctx, lb.Block, lb.Token, lb.Locations)
			if perr == nil {
				w.cur = bw
				w.block = lb
				w.block.Block.Len = 0
				w.width = len(lb.Locations)
				return nil
			}
			err = fmt.Errorf("set up pipeline %s for block %s: %w", pipelineString(lb.Locations), blockName(lb.Block), perr)
			bad, ok := failedNode(perr)
			if !ok || w.ctx.Err() != nil {
				w.abandon(lb.Block)
				return err
			}
			w.exclude = appendUnique(w.exclude, string(bad.ID))
		}
		if aerr := w.abandon(lb.Block); aerr != nil && !transient(aerr) {
			return aerr // the file is gone, or its lease
		}
		if try >= pipelineSetupTries || w.ctx.Err() != nil {
			return err
		}
	}
}

// excluded returns the first of nodes that is in exclude.
func excluded(nodes []cairn.DatanodeInfo, exclude []string) (cairn.DatanodeInfo, bool) {
	for _, n := range nodes {
		if slices.Contains(exclude, string(n.ID)) {
			return n, true
		}
	}
	return cairn.DatanodeInfo{}, false
}

// transient reports whether err says the NameNode could not answer now
// (unreachable, restarting, in safe mode), not that it refused.
func transient(err error) bool {
	switch cairn.KindOf(err) {
	case cairn.Unavailable, cairn.SafeMode, cairn.NotLeader:
		return true
	}
	return false
}

// nextBlock is the block to write next: the one Create allocated with
// the file, while it is fresh and has a pipeline, else a new one from
// AddBlock (the first one given back first).
func (w *Writer) nextBlock() (cairn.LocatedBlock, error) {
	if f := w.first; f != nil {
		w.first = nil
		if len(f.Locations) > 0 && time.Since(w.firstAt) < firstBlockMaxAge {
			return *f, nil
		}
		// Given back, else AddBlock would answer it again (as the
		// retry of a lost answer). If the NameNode cannot be told
		// now, AddBlock does answer it again, and it serves.
		if err := w.abandon(f.Block); err != nil && !transient(err) {
			return cairn.LocatedBlock{}, err
		}
	}
	return w.addBlock()
}

// addBlock allocates the next block, committing the previous one.
func (w *Writer) addBlock() (cairn.LocatedBlock, error) {
	const op = "addblock"
	req := &protocol.AddBlockRequest{
		Path:         w.path,
		FileId:       w.fileID,
		ClientName:   w.c.name,
		ExcludeNodes: w.exclude,
	}
	if w.prev != nil {
		req.Previous = protocol.BlockToProto(*w.prev)
	}
	var resp *protocol.AddBlockResponse
	err := retryNotReplicated(w.ctx, func() error {
		var err error
		resp, err = call(w.ctx, w.c.nn, op, w.path, req, protocol.ClientProtocolClient.AddBlock)
		return err
	})
	if err != nil {
		return cairn.LocatedBlock{}, err
	}
	return protocol.LocatedBlockFromProto(resp.GetBlock()), nil
}

// abandon gives a block that was never written back to the NameNode,
// trying again abandonTries times, with growing waits, while the
// NameNode cannot answer (AbandonBlock is idempotent). It returns the
// last error.
func (w *Writer) abandon(b cairn.Block) error {
	const op = "abandonblock"
	wait := abandonWait
	for try := 1; ; try++ {
		var err error
		if f := w.c.faults.abandonBlock; f != nil {
			err = f(b)
		}
		if err == nil {
			_, err = call(w.ctx, w.c.nn, op, w.path, &protocol.AbandonBlockRequest{
				Path: w.path, FileId: w.fileID, ClientName: w.c.name, Block: protocol.BlockToProto(b),
			}, protocol.ClientProtocolClient.AbandonBlock)
		}
		if err == nil || !transient(err) || try >= abandonTries {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// endBlock waits until the current block is acknowledged by its whole
// pipeline.
func (w *Writer) endBlock() error {
	for {
		err := w.cur.Close()
		if err == nil {
			break
		}
		if rerr := w.recoverPipeline(err); rerr != nil {
			w.cur = nil
			return fmt.Errorf("block %s on %s: %w", blockName(w.block.Block), pipelineString(w.block.Locations), rerr)
		}
	}
	w.cur = nil
	b := w.block.Block
	w.prev = &b
	return nil
}

// retryNotReplicated calls fn again, with a growing wait, while it
// fails with cairn.NotReplicated.
func retryNotReplicated(ctx context.Context, fn func() error) error {
	wait := notReplicatedWait
	for try := 1; ; try++ {
		err := fn()
		if err == nil || try > notReplicatedRetries || cairn.KindOf(err) != cairn.NotReplicated {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// pipelineString lists DataNode addresses, e.g. [127.0.0.1:1 127.0.0.1:2].
func pipelineString(nodes []cairn.DatanodeInfo) string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr
	}
	return fmt.Sprint(addrs)
}

package datatransfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

const opWrite = "datatransfer.WriteBlock"

// BlockWriter streams one block down a pipeline of DataNodes. Write
// and Close must be called from one goroutine; Abort and Acked may be
// called from any.
type BlockWriter struct {
	opts     Options
	ctx      context.Context
	block    cairn.Block
	name     string
	pipeline []cairn.DatanodeInfo
	conn     net.Conn
	br       *bufio.Reader
	timeout  time.Duration
	window   int
	pool     *sync.Pool
	stopCtx  func() bool
	ackDone  chan struct{} // closed when the ack reader returns
	hbStop   chan struct{} // closed to stop the heartbeat goroutine
	hbDone   chan struct{}
	acked    atomic.Int64
	// writeBroken is set when a write failed: the ack reader then waits
	// only briefly for the ack that says why.
	writeBroken atomic.Bool

	// Used only by the goroutine calling Write, Sync and Close.
	cur    *PacketBuf
	curLen int
	// resent is how many bytes at the start of cur were sent already,
	// in a packet that ended off a chunk boundary (Sync): cur starts
	// at the chunk boundary before offset.
	resent int
	offset int64 // block offset of the end of the bytes handed to packets so far
	seqno  int64
	closed bool

	wmu      sync.Mutex // serializes sends: queue order equals wire order
	lastSend time.Time  // guarded by wmu

	mu       sync.Mutex // guards the fields below
	cond     sync.Cond  // signaled when the queue shrinks or err is set
	queue    []pending  // packets sent and not yet acked, in order
	err      error      // the first failure
	finished bool       // the last packet was acked
	// tail holds the bytes of the last, partial chunk of the data
	// acknowledged (Acked()%cairn.ChunkSize of them); nil when the
	// acknowledged data ends on a chunk boundary.
	tail []byte
}

type pending struct {
	seqno int64
	off   int64      // block offset of the packet's first byte
	buf   *PacketBuf // nil for heartbeats and empty packets
	n     int        // data bytes in the packet
	skip  int        // of which the first skip were sent (and acknowledged) before
	last  bool
}

// NewBlockWriter dials pipeline[0], sends OpWriteBlock naming
// pipeline[1:] as its downstream targets and waits for the pipeline to
// be set up. It uses the zero Options.
func NewBlockWriter(ctx context.Context, block cairn.Block, pipeline []cairn.DatanodeInfo, clientName string) (*BlockWriter, error) {
	return Options{}.NewBlockWriter(ctx, block, pipeline, clientName)
}

// NewBlockWriter is the package-level NewBlockWriter with these
// options. ctx bounds the set-up and, until Close or Abort, the whole
// write: cancelling it aborts the pipeline.
func (o Options) NewBlockWriter(ctx context.Context, block cairn.Block, pipeline []cairn.DatanodeInfo, clientName string) (*BlockWriter, error) {
	name := BlockName(block)
	if len(pipeline) == 0 || len(pipeline) > MaxPipeline {
		return nil, cairn.Errorf(opWrite, name, cairn.Invalid, "pipeline of %d nodes", len(pipeline))
	}
	if len(clientName) > 1024 {
		return nil, cairn.Errorf(opWrite, name, cairn.Invalid, "client name of %d bytes", len(clientName))
	}
	w := &BlockWriter{
		opts:     o,
		ctx:      ctx,
		block:    block,
		name:     name,
		pipeline: append([]cairn.DatanodeInfo(nil), pipeline...),
		timeout:  o.timeout(),
		window:   o.window(),
		ackDone:  make(chan struct{}),
		hbStop:   make(chan struct{}),
		hbDone:   make(chan struct{}),
	}
	w.cond.L = &w.mu
	w.pool = poolFor(o.packetSize())
	if o.Offset < 0 || o.Offset > MaxBlockOffset {
		return nil, cairn.Errorf(opWrite, name, cairn.Invalid, "bad start offset %d", o.Offset)
	}
	w.offset = o.Offset
	w.acked.Store(o.Offset)
	if t := o.Offset % cairn.ChunkSize; t != 0 && int64(len(o.Tail)) == t {
		// The first packet starts at the chunk boundary, with the
		// partial chunk again.
		w.tail = append([]byte(nil), o.Tail...)
		w.cur = w.pool.Get().(*PacketBuf)
		w.curLen = copy(w.cur.Data(), o.Tail)
		w.resent = w.curLen
	}
	conn, err := o.dial(ctx, pipeline[0].Addr)
	if err != nil {
		return nil, w.nodeErr(0, netKind(err), err)
	}
	w.conn = conn
	w.br = bufio.NewReaderSize(conn, 4096)
	if err := w.setup(ctx, block, clientName); err != nil {
		conn.Close()
		return nil, err
	}
	w.lastSend = time.Now()
	go w.readAcks()
	go w.heartbeats()
	w.stopCtx = context.AfterFunc(ctx, func() {
		w.fail(cairn.E(opWrite, w.name, cairn.Unavailable, ctx.Err()))
		w.conn.Close()
	})
	return w, nil
}

func (w *BlockWriter) setup(ctx context.Context, block cairn.Block, clientName string) error {
	deadline := time.Now().Add(w.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	w.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { w.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	op := &protocol.OpWriteBlock{
		Block:       protocol.BlockToProto(cairn.Block{ID: block.ID, GenStamp: block.GenStamp, Len: w.opts.Offset}),
		Targets:     protocol.DatanodesToProto(w.pipeline[1:]),
		ClientName:  clientName,
		Stage:       protocol.OpWriteBlock_Stage(w.opts.Stage),
		TimeoutMs:   w.timeout.Milliseconds(),
		Recoverable: w.opts.Recoverable,
		BlockToken:  w.opts.Token,
		Window:      int32(w.opts.window()),
	}
	if err := WriteOp(w.conn, OpWriteBlock, op); err != nil {
		return w.nodeErr(0, netKind(err), ctxErr(ctx, err))
	}
	resp, err := ReadResponse(w.br)
	if err != nil {
		return w.nodeErr(0, netKind(err), ctxErr(ctx, err))
	}
	if serr := protocol.ErrorFromStatus(opWrite, w.name, resp.Status); serr != nil {
		idx := 0
		if resp.FirstBadLink != "" {
			for i := 1; i < len(w.pipeline); i++ {
				if w.pipeline[i].Addr == resp.FirstBadLink {
					idx = i
					break
				}
			}
		}
		return &PipelineError{Index: idx, Node: w.pipeline[idx], Err: serr}
	}
	w.conn.SetDeadline(time.Time{})
	return nil
}

// ctxErr prefers the context's error to the network error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (w *BlockWriter) nodeErr(i int, kind cairn.Kind, err error) *PipelineError {
	return &PipelineError{
		Index: i,
		Node:  w.pipeline[i],
		Err:   &cairn.Error{Op: opWrite, Path: w.name, Kind: kind, Err: fmt.Errorf("datanode %s: %w", w.pipeline[i].Addr, err)},
	}
}

// Write buffers p into packets and sends every full one. It blocks
// while a window of packets is in flight, and fails as soon as the
// pipeline has failed.
func (w *BlockWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, cairn.E(opWrite, w.name, cairn.Closed)
	}
	n := 0
	for len(p) > 0 {
		if err := w.failure(); err != nil {
			return n, err
		}
		if w.cur == nil {
			w.cur = w.pool.Get().(*PacketBuf)
			w.curLen = 0
		}
		c := copy(w.cur.Data()[w.curLen:], p)
		w.curLen += c
		n += c
		p = p[c:]
		if w.curLen == w.cur.MaxData() {
			if err := w.sendData(false, false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *BlockWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail records the first failure and wakes every waiter.
func (w *BlockWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil && !w.finished {
		w.err = err
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// sendData sends the current packet (possibly empty), marked last or
// not, and sync or not.
func (w *BlockWriter) sendData(last, sync bool) error {
	buf, n, skip := w.cur, w.curLen, w.resent
	w.cur, w.curLen, w.resent = nil, 0, 0
	if buf == nil {
		buf = w.pool.Get().(*PacketBuf)
	}
	// A packet that never got queued goes back to cur, so that
	// Unacked still has its bytes.
	restore := func() { w.cur, w.curLen, w.resent = buf, n, skip }
	off := w.offset - int64(skip)
	ComputeSums(buf.Sums(n), buf.Data()[:n])
	frame, err := buf.Frame(PacketHeader{Offset: off, Seqno: w.seqno, Last: last, DataLen: n, Sync: sync})
	if err != nil {
		return cairn.E(opWrite, w.name, err)
	}
	if err := w.ctx.Err(); err != nil {
		restore()
		w.fail(cairn.E(opWrite, w.name, cairn.Unavailable, err))
		w.conn.Close()
		return w.failure()
	}
	// Wait for room in the window.
	w.mu.Lock()
	for len(w.queue) >= w.window && w.err == nil {
		w.cond.Wait()
	}
	err = w.err
	w.mu.Unlock()
	if err != nil {
		restore()
		return err
	}
	// The bytes of a partial last chunk are sent again, whole, at the
	// start of the next packet: copy them before buf can be acked and
	// reused.
	var carry *PacketBuf
	if t := int((off + int64(n)) % cairn.ChunkSize); t != 0 && n > 0 && !last {
		carry = w.pool.Get().(*PacketBuf)
		copy(carry.Data(), buf.Data()[n-t:n])
	}
	w.offset += int64(n - skip)
	w.seqno++
	queued, err := w.send(pending{seqno: w.seqno - 1, off: off, buf: buf, n: n, skip: skip, last: last}, frame)
	if !queued {
		w.offset -= int64(n - skip)
		w.seqno--
		restore()
		if carry != nil {
			w.pool.Put(carry)
		}
		return err
	}
	if carry != nil {
		w.cur = carry
		w.curLen = int((off + int64(n)) % cairn.ChunkSize)
		w.resent = w.curLen
	}
	return err
}

// release lets go of a packet in flight; the last holder returns it to
// the pool.
func (w *BlockWriter) release(b *PacketBuf) {
	if b != nil && b.refs.Add(-1) == 0 {
		w.pool.Put(b)
	}
}

// send queues p for its ack and writes its frame. It reports whether p
// was queued.
func (w *BlockWriter) send(p pending, frame []byte) (bool, error) {
	w.wmu.Lock()
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		w.wmu.Unlock()
		return false, err
	}
	if p.buf != nil {
		// Held by this write and by the ack reader: the ack may come
		// back before Write returns, and the buffer must not be reused
		// until both are done with it.
		p.buf.refs.Store(2)
	}
	w.queue = append(w.queue, p)
	w.mu.Unlock()
	w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.conn.Write(frame)
	w.lastSend = time.Now()
	w.wmu.Unlock()
	w.release(p.buf)
	if err != nil {
		return true, w.writeFailed(err)
	}
	return true, nil
}

// writeFailed turns a failed write into the pipeline's error. The
// first node usually closed the connection because it or a node
// downstream failed, and sent an ack that says which: give the ack
// reader a moment to read it.
func (w *BlockWriter) writeFailed(werr error) error {
	w.writeBroken.Store(true)
	w.conn.SetReadDeadline(time.Now().Add(w.drainTimeout()))
	<-w.ackDone
	w.fail(w.nodeErr(0, netKind(werr), werr))
	return w.failure()
}

// readAcks reads acks until the last packet is acked or the pipeline
// fails.
func (w *BlockWriter) readAcks() {
	defer close(w.ackDone)
	for {
		if w.writeBroken.Load() {
			w.conn.SetReadDeadline(time.Now().Add(w.drainTimeout()))
		} else {
			w.conn.SetReadDeadline(time.Now().Add(w.timeout))
		}
		ack, err := ReadAck(w.br)
		if err != nil {
			if w.failure() == nil {
				w.fail(w.nodeErr(0, netKind(err), fmt.Errorf("reading ack: %w", err)))
				w.conn.Close()
			}
			return
		}
		if bad := FirstFailure(ack); bad >= 0 {
			idx := min(bad, len(w.pipeline)-1)
			kind := cairn.Kind(ack.Replies[bad])
			msg := ack.Message
			if msg == "" {
				msg = kind.String()
			}
			w.fail(&PipelineError{Index: idx, Node: w.pipeline[idx], Err: &cairn.Error{Op: opWrite, Path: w.name, Kind: kind, Err: errors.New(msg)}})
			w.conn.Close()
			return
		}
		if len(ack.Replies) != len(w.pipeline) {
			w.fail(w.nodeErr(0, cairn.Invalid, fmt.Errorf("ack with %d replies for a pipeline of %d", len(ack.Replies), len(w.pipeline))))
			w.conn.Close()
			return
		}
		w.mu.Lock()
		if len(w.queue) == 0 || w.queue[0].seqno != ack.Seqno {
			want := "none"
			if len(w.queue) > 0 {
				want = fmt.Sprint(w.queue[0].seqno)
			}
			w.mu.Unlock()
			w.fail(w.nodeErr(0, cairn.Invalid, fmt.Errorf("ack for packet %d, want %s", ack.Seqno, want)))
			w.conn.Close()
			return
		}
		p := w.queue[0]
		w.queue[0] = pending{}
		w.queue = w.queue[1:]
		if p.last {
			w.finished = true
		}
		if p.n > 0 {
			if t := int((p.off + int64(p.n)) % cairn.ChunkSize); t == 0 {
				w.tail = nil
			} else {
				w.tail = append(w.tail[:0], p.buf.Data()[p.n-t:p.n]...)
			}
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		w.acked.Add(int64(p.n - p.skip))
		w.release(p.buf)
		if p.last {
			return
		}
	}
}

// heartbeats sends an empty heartbeat packet whenever nothing was sent
// for half the timeout, so that the receivers' reads do not time out
// while the producer is slow.
func (w *BlockWriter) heartbeats() {
	defer close(w.hbDone)
	period := max(w.timeout/4, time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	hb := NewPacketBuf(0)
	frame, _ := hb.Frame(PacketHeader{Seqno: Heartbeat})
	for {
		select {
		case <-w.hbStop:
			return
		case <-t.C:
		}
		w.wmu.Lock()
		idle := time.Since(w.lastSend) >= w.timeout/2
		w.wmu.Unlock()
		if idle {
			if _, err := w.send(pending{seqno: Heartbeat}, frame); err != nil {
				return
			}
		}
	}
}

// Close sends the last packets and waits until every node of the
// pipeline has acked them: on success the block is finalized and
// fsync'd on every node.
func (w *BlockWriter) Close() error {
	if w.closed {
		return w.failure()
	}
	w.closed = true
	err := w.failure()
	if err == nil && w.curLen > w.resent {
		err = w.sendData(false, false)
	}
	if err == nil && w.cur != nil {
		// Only the bytes of a synced partial chunk, sent already.
		w.pool.Put(w.cur)
		w.cur, w.curLen, w.resent = nil, 0, 0
	}
	if err == nil {
		// No heartbeat may follow the last packet.
		w.stopHeartbeats()
		err = w.sendData(true, false)
	}
	if err == nil {
		w.mu.Lock()
		for !w.finished && w.err == nil {
			w.cond.Wait()
		}
		err = w.err
		w.mu.Unlock()
	}
	w.shutdown()
	return err
}

// Sync sends the bytes written so far, in a packet marked sync, and
// waits until every node of the pipeline has acknowledged it: each has
// then written and fsync'd the block's data and checksums up to there
// (HDFS's hsync). With nothing new to send it sends an empty sync
// packet. Writing may go on after it. A partial last chunk is sent
// again, whole, at the start of the next packet, and each node rewrites
// it with its checksum.
func (w *BlockWriter) Sync() error {
	if w.closed {
		return cairn.E(opWrite, w.name, cairn.Closed)
	}
	if err := w.failure(); err != nil {
		return err
	}
	var err error
	if w.curLen > w.resent {
		err = w.sendData(false, true)
	} else {
		// An empty packet at the end: the bytes of a synced partial
		// chunk, if any, stay in cur for the next packet.
		keep, keepLen, keepResent := w.cur, w.curLen, w.resent
		w.cur, w.curLen, w.resent = nil, 0, 0
		err = w.sendData(false, true)
		if w.cur != nil {
			w.pool.Put(w.cur)
		}
		w.cur, w.curLen, w.resent = keep, keepLen, keepResent
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) > 0 && w.err == nil {
		w.cond.Wait()
	}
	return w.err
}

// Abort tears the pipeline down: the receivers discard the partial
// block.
func (w *BlockWriter) Abort() {
	w.fail(cairn.Errorf(opWrite, w.name, cairn.Closed, "write aborted"))
	w.shutdown()
}

func (w *BlockWriter) shutdown() {
	w.stopCtx()
	w.conn.Close()
	w.stopHeartbeats()
	<-w.ackDone
}

func (w *BlockWriter) stopHeartbeats() {
	w.mu.Lock()
	select {
	case <-w.hbStop:
	default:
		close(w.hbStop)
	}
	w.mu.Unlock()
	<-w.hbDone
}

// Acked returns the block offset up to which the whole pipeline has
// acknowledged the data: Options.Offset plus the bytes acknowledged.
func (w *BlockWriter) Acked() int64 { return w.acked.Load() }

// Unacked returns, after the writer failed and was aborted, the bytes
// given to Write that the whole pipeline did not acknowledge, in
// order: they belong at block offset Acked(). Pipeline recovery sends
// them again down the new pipeline.
func (w *BlockWriter) Unacked() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []byte
	for _, p := range w.queue {
		if p.buf != nil && p.n > p.skip {
			out = append(out, p.buf.Data()[p.skip:p.n]...)
		}
	}
	if w.cur != nil {
		out = append(out, w.cur.Data()[w.resent:w.curLen]...)
	}
	return out
}

// AckedTail returns the bytes of the partial last chunk of the data
// the whole pipeline acknowledged: the Acked()%cairn.ChunkSize bytes
// before Acked(), empty when it ends on a chunk boundary. A recovered
// pipeline resuming at Acked() gets them as Options.Tail.
func (w *BlockWriter) AckedTail() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.tail...)
}

// packetPool holds PacketBufs of the default packet size, shared by
// every writer of the process (a buffer pool is the one piece of
// package-level state worth having: it saves allocating 64 KiB per
// packet).
var packetPool = sync.Pool{New: func() any { return NewPacketBuf(cairn.PacketSize) }}

// poolFor returns the shared pool for the default size, and a pool of
// the writer's own for any other.
func poolFor(size int) *sync.Pool {
	if size == cairn.PacketSize {
		return &packetPool
	}
	return &sync.Pool{New: func() any { return NewPacketBuf(size) }}
}

func (w *BlockWriter) drainTimeout() time.Duration { return min(w.timeout, 5*time.Second) }

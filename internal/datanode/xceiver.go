package datanode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// drainTimeout is how long a failed write waits for its upstream to
// hang up, and a finished read for its reader's status.
const drainTimeout = 5 * time.Second

// idleConn gives every Read and Write on a connection a deadline of its
// own, so that a peer is declared dead only once it has moved no byte
// for the timeout, however long the whole transfer takes: a Write that
// times out after the peer took some of its bytes goes on with a fresh
// deadline. A timeout of 0 leaves that side's deadline to the caller.
// To interrupt a Read or Write, close the connection: a deadline set
// from outside would be replaced by the next fresh one.
type idleConn struct {
	net.Conn
	read  atomic.Int64 // time.Duration; 0: the caller sets deadlines
	write atomic.Int64 // time.Duration; 0: the caller sets deadlines
}

func newIdleConn(c net.Conn, read, write time.Duration) *idleConn {
	ic := &idleConn{Conn: c}
	ic.read.Store(int64(read))
	ic.write.Store(int64(write))
	return ic
}

func (c *idleConn) setTimeouts(read, write time.Duration) {
	c.read.Store(int64(read))
	c.write.Store(int64(write))
}

func (c *idleConn) Read(p []byte) (int, error) {
	if d := time.Duration(c.read.Load()); d > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(d))
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	d := time.Duration(c.write.Load())
	if d <= 0 {
		return c.Conn.Write(p)
	}
	n := 0
	for {
		c.Conn.SetWriteDeadline(time.Now().Add(d))
		k, err := c.Conn.Write(p[n:])
		n += k
		var ne net.Error
		if err == nil || k == 0 || !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		// The peer took bytes before the deadline: it is alive.
	}
}

// packetPool holds the buffers in which read packets are built.
var packetPool = sync.Pool{New: func() any { return datatransfer.NewPacketBuf(cairn.PacketSize) }}

// serveConn runs the data-transfer operations of a connection: one, or
// a series of reads (see "Reusing a connection" in package
// datatransfer).
func (d *DataNode) serveConn(ctx context.Context, raw net.Conn) {
	// Idle deadlines on both sides: see Config.SocketReadTimeout and
	// SocketWriteTimeout.
	conn := newIdleConn(raw, d.cfg.socketReadTimeout(), d.cfg.socketWriteTimeout())
	// A small buffer (one per connection, and a small read is one
	// connection): packet payloads larger than it are read straight into
	// the packet buffer.
	br := bufio.NewReaderSize(conn, 4096)
	first := true
	for d.serveOp(ctx, conn, br, first) {
		first = false
	}
}

// serveOp reads one operation and runs it: the first of a connection,
// waiting up to SocketReadTimeout for it, or a later one, waiting up to
// datatransfer.ReadIdleTimeout. It reports whether the connection may
// carry another: only after a read that ended cleanly.
func (d *DataNode) serveOp(ctx context.Context, conn *idleConn, br *bufio.Reader, first bool) bool {
	wait := datatransfer.ReadIdleTimeout
	if first {
		wait = d.cfg.socketReadTimeout()
	}
	conn.setTimeouts(wait, d.cfg.socketWriteTimeout())
	op, err := datatransfer.ReadOp(br)
	if err != nil {
		if !errors.Is(err, io.EOF) && first {
			d.log.Debug("bad operation header", "remote", conn.RemoteAddr(), "err", err)
		}
		return false
	}
	conn.setTimeouts(d.cfg.socketReadTimeout(), d.cfg.socketWriteTimeout())
	d.active.Add(1)
	defer d.active.Add(-1)
	switch op {
	case datatransfer.OpWriteBlock:
		m := new(protocol.OpWriteBlock)
		if err := datatransfer.ReadMessage(br, m); err != nil {
			d.log.Debug("bad write operation", "remote", conn.RemoteAddr(), "err", err)
			return false
		}
		if err := d.admit(conn, op, m.ClientName, m.Block, m.BlockToken, writeNeed(m.Stage)); err != nil {
			respond(conn, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err)})
			return false
		}
		d.receiveBlock(ctx, conn, br, m)
	case datatransfer.OpReadBlock:
		m := new(protocol.OpReadBlock)
		if err := datatransfer.ReadMessage(br, m); err != nil {
			d.log.Debug("bad read operation", "remote", conn.RemoteAddr(), "err", err)
			return false
		}
		if err := d.admit(conn, op, m.ClientName, m.Block, m.BlockToken, blocktoken.Read); err != nil {
			respond(conn, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err)})
			return false
		}
		return d.sendBlock(conn, br, m)
	case datatransfer.OpTransferBlock:
		m := new(protocol.OpTransferBlock)
		if err := datatransfer.ReadMessage(br, m); err != nil {
			d.log.Debug("bad transfer operation", "remote", conn.RemoteAddr(), "err", err)
			return false
		}
		if err := d.admit(conn, op, m.ClientName, m.Block, m.BlockToken, blocktoken.Copy); err != nil {
			respond(conn, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err)})
			return false
		}
		d.transferBlock(ctx, conn, m)
	case datatransfer.OpRecoverBlock:
		m := new(protocol.OpRecoverBlock)
		if err := datatransfer.ReadMessage(br, m); err != nil {
			d.log.Debug("bad recover operation", "remote", conn.RemoteAddr(), "err", err)
			return false
		}
		if err := d.admit(conn, op, "", m.Block, nil, 0); err != nil {
			datatransfer.WriteMessage(conn, &protocol.ReplicaRecoveryResponse{Status: protocol.StatusFromError(err)})
			return false
		}
		d.recoverReplica(conn, m)
	}
	return false
}

// respond answers an operation; conn's idle deadline bounds the write.
func respond(conn *idleConn, resp *protocol.BlockOpResponse) error {
	return datatransfer.WriteMessage(conn, resp)
}

// receiver is one write pipeline passing through this node.
type receiver struct {
	d       *DataNode
	block   cairn.Block
	name    string
	targets []cairn.DatanodeInfo
	up      *idleConn
	upR     *bufio.Reader
	down    *idleConn // nil on the last node; its reads (acks) have explicit deadlines
	downR   *bufio.Reader
	rbw     *rbwReplica
	acks    chan ackItem
	stop    chan struct{} // closed by fail
	once    sync.Once

	upMu   sync.Mutex // serializes acks to upstream
	upDone bool       // guarded by upMu: an error ack was sent, or the last ack

	finalized bool // set by the receive loop once the replica is finalized

	stage        protocol.OpWriteBlock_Stage
	keep         bool          // keep the partial replica if the write fails
	start        int64         // block offset of the first packet (stage RECOVERY)
	readTimeout  time.Duration // idle wait for packets from upstream, and for a downstream's response
	writeTimeout time.Duration // idle wait on writes to upstream and downstream
	ackTimeout   time.Duration // how long to wait for a downstream ack

	// holdMax is how many packets' acks may be held back while the
	// replica is in memory (the writer's window less one; 0: none),
	// and held those acks, in order: they go out once the replica is
	// stored, in its container or its rbw/ files (see doc.go,
	// "Containers").
	holdMax   int
	held      []ackItem
	heldSince time.Time     // when the first held ack was held
	holdFor   time.Duration // how long acks may be held
}

// ackItem is a packet handled locally, waiting for its downstream ack.
type ackItem struct {
	seqno int64
	last  bool
	// broken says the downstream connection failed while forwarding;
	// the responder finds out why and fails the pipeline.
	broken error
}

// receiveBlock runs a WRITE_BLOCK operation.
func (d *DataNode) receiveBlock(ctx context.Context, up *idleConn, upR *bufio.Reader, op *protocol.OpWriteBlock) {
	block := protocol.BlockFromProto(op.Block)
	start := block.Len
	block.Len = 0
	r := &receiver{
		d:            d,
		block:        block,
		name:         blockName(block),
		targets:      protocol.DatanodesFromProto(op.Targets),
		up:           up,
		upR:          upR,
		acks:         make(chan ackItem, 2*datatransfer.DefaultWindow),
		stop:         make(chan struct{}),
		stage:        op.Stage,
		keep:         op.Recoverable && (op.Stage == protocol.OpWriteBlock_CREATE || op.Stage == protocol.OpWriteBlock_RECOVERY),
		readTimeout:  d.cfg.socketReadTimeout(),
		writeTimeout: d.cfg.socketWriteTimeout(),
		ackTimeout:   d.cfg.socketReadTimeout(),
	}
	if op.TimeoutMs > 0 {
		// The writer's own timeout: it sends a packet or a heartbeat
		// at least every half of it, and waits that long for acks. A
		// node with k nodes downstream waits k/(k+1) of it for an ack,
		// so that the node nearest a stalled one gives up first and
		// names it.
		t := time.Duration(op.TimeoutMs) * time.Millisecond
		k := time.Duration(len(r.targets))
		r.readTimeout, r.writeTimeout = t, t
		r.ackTimeout = t * k / (k + 1)
	}
	if op.Window > 1 && (op.Stage == protocol.OpWriteBlock_CREATE || op.Stage == protocol.OpWriteBlock_TRANSFER) {
		// Never more than the acks queue holds, whatever the
		// writer claims.
		r.holdMax = int(min(op.Window, datatransfer.DefaultWindow)) - 1
		// A writer slower than this gets its acks from the rbw/
		// files: well within its ack timeout, and within the
		// upstream nodes' share of it if they do not hold.
		r.holdFor = min(r.readTimeout/8, time.Second)
	}
	up.setTimeouts(r.readTimeout, r.writeTimeout)
	log := d.log.With("block", r.name, "remote", up.RemoteAddr())
	if op.Block == nil || len(r.targets) >= datatransfer.MaxPipeline || start < 0 || start > datatransfer.MaxBlockOffset ||
		(start != 0 && op.Stage != protocol.OpWriteBlock_RECOVERY) {
		respond(up, &protocol.BlockOpResponse{Status: protocol.StatusFromError(cairn.Errorf("datanode.WriteBlock", r.name, cairn.Invalid, "bad write operation"))})
		return
	}
	var rbw *rbwReplica
	var err error
	switch op.Stage {
	case protocol.OpWriteBlock_RECOVERY:
		rbw, err = d.store.reopenForRecovery(cairn.Block{ID: block.ID, GenStamp: block.GenStamp, Len: start})
		r.start = start
	case protocol.OpWriteBlock_TRANSFER_RBW:
		// Reported receiving once kept whole.
		rbw, err = d.store.create(block, true, false, false)
	case protocol.OpWriteBlock_TRANSFER:
		// A copy is told to the NameNode once finalized, as HDFS's
		// temporary replicas.
		rbw, err = d.store.create(block, false, false, r.holdMax > 0)
	default:
		rbw, err = d.store.create(block, false, true, r.holdMax > 0)
	}
	if err != nil {
		log.Info("refusing write", "stage", op.Stage, "err", err)
		respond(up, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err)})
		return
	}
	r.rbw = rbw
	rbw.setInterrupt(func() {
		r.abandon()
		up.Close()
	})
	if len(r.targets) > 0 {
		if bad, err := r.connectDownstream(ctx, op); err != nil {
			r.discard()
			log.Warn("cannot set up downstream", "target", bad, "err", err)
			respond(up, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err), FirstBadLink: bad})
			return
		}
		defer r.down.Close()
	}
	if err := respond(up, &protocol.BlockOpResponse{}); err != nil {
		r.discard()
		return
	}
	log.Debug("receiving block", "targets", len(r.targets), "stage", op.Stage)

	respDone := make(chan struct{})
	go func() {
		defer close(respDone)
		r.respond()
	}()
	ok := r.receive()
	if !ok {
		// Let the responder find out why the downstream broke, if it
		// did, and discard the partial replica; then drop what the
		// upstream still sends until it hangs up, so it reads the
		// error ack instead of a reset connection.
		<-respDone
		r.abandon()
		if !r.finalized {
			r.discard()
		}
		r.drainUpstream()
		return
	}
	<-respDone
	select {
	case <-r.stop:
		// The replica is finalized here but a node downstream failed
		// before acking it: the writer sees the failure, and the
		// NameNode decides what to do with this replica.
		log.Info("block finalized but the pipeline failed downstream")
	default:
		log.Debug("received block")
	}
}

// connectDownstream sets up the rest of the pipeline. On failure it
// returns the address of the first node that failed.
func (r *receiver) connectDownstream(ctx context.Context, op *protocol.OpWriteBlock) (string, error) {
	next := r.targets[0]
	dctx, cancel := context.WithTimeout(ctx, datatransfer.DefaultDialTimeout)
	defer cancel()
	raw, err := r.d.cfg.Transport.DialContext(dctx, next.Addr)
	if err != nil {
		return next.Addr, cairn.E("datanode.WriteBlock", r.name, cairn.Unavailable, fmt.Errorf("connecting to %s: %w", next.Addr, err))
	}
	// Writes (packets) get idle deadlines; reads (the response, then
	// acks) explicit ones.
	conn := newIdleConn(raw, 0, r.writeTimeout)
	conn.SetReadDeadline(time.Now().Add(r.readTimeout))
	down := &protocol.OpWriteBlock{
		Block:       op.Block,
		Targets:     op.Targets[1:],
		ClientName:  op.ClientName,
		Stage:       op.Stage,
		TimeoutMs:   op.TimeoutMs,
		Recoverable: op.Recoverable,
		Window:      op.Window,
		// The next node knows this one by its certificate; the
		// token goes along for a cluster whose nodes have none.
		BlockToken: op.BlockToken,
	}
	br := bufio.NewReaderSize(conn, 4096)
	if err := datatransfer.WriteOp(conn, datatransfer.OpWriteBlock, down); err != nil {
		conn.Close()
		return next.Addr, cairn.E("datanode.WriteBlock", r.name, cairn.Unavailable, fmt.Errorf("sending to %s: %w", next.Addr, err))
	}
	resp, err := datatransfer.ReadResponse(br)
	if err != nil {
		conn.Close()
		return next.Addr, cairn.E("datanode.WriteBlock", r.name, cairn.Unavailable, fmt.Errorf("response of %s: %w", next.Addr, err))
	}
	if serr := protocol.ErrorFromStatus("datanode.WriteBlock", r.name, resp.Status); serr != nil {
		conn.Close()
		bad := resp.FirstBadLink
		if bad == "" {
			bad = next.Addr
		}
		return bad, serr
	}
	conn.SetReadDeadline(time.Time{})
	r.down, r.downR = conn, br
	return "", nil
}

// receive reads packets from upstream, checks them, forwards them
// downstream and writes them locally. It reports whether the block was
// received whole and finalized.
func (r *receiver) receive() bool {
	pr := datatransfer.NewPacketReader(r.upR)
	var seqno int64
	pos := r.start
	partial := pos%cairn.ChunkSize != 0
	for {
		select {
		case <-r.stop:
			return false
		default:
		}
		pkt, err := pr.Next()
		if err != nil {
			select {
			case <-r.stop:
				return false
			default:
			}
			kind := cairn.Unavailable
			if datatransfer.IsMalformed(err) {
				kind = cairn.Invalid
			}
			r.fail(seqno, 0, kind, fmt.Sprintf("reading packet %d: %v", seqno, err))
			return false
		}
		// resend: after a sync that ended off a chunk boundary, the
		// writer sends the partial chunk again, whole, with more.
		resend := false
		if pkt.Seqno != datatransfer.Heartbeat {
			t := pos % cairn.ChunkSize
			resend = partial && pkt.Offset == pos-t && int64(pkt.DataLen) >= t
			switch {
			case pkt.Seqno != seqno || (pkt.Offset != pos && !resend):
				r.fail(pkt.Seqno, 0, cairn.Invalid, fmt.Sprintf("packet %d at offset %d, want packet %d at offset %d", pkt.Seqno, pkt.Offset, seqno, pos))
				return false
			case partial && pkt.DataLen > 0 && !resend:
				r.fail(pkt.Seqno, 0, cairn.Invalid, fmt.Sprintf("packet %d follows a partial chunk", pkt.Seqno))
				return false
			}
			if bad := datatransfer.VerifySums(pkt.Sums, pkt.Data); bad >= 0 {
				r.fail(pkt.Seqno, 0, cairn.Corrupt, fmt.Sprintf("checksum mismatch in packet %d at offset %d", pkt.Seqno, pkt.Offset+int64(bad)*cairn.ChunkSize))
				return false
			}
		}
		if r.down != nil {
			if _, err := r.down.Write(pkt.Frame); err != nil {
				r.enqueue(ackItem{seqno: pkt.Seqno, broken: err})
				return false
			}
		}
		if pkt.Seqno == datatransfer.Heartbeat {
			// A writer that goes quiet gets its acks: what it sent
			// is written out to rbw/ files.
			if !r.unhold(pkt.Seqno) || !r.enqueue(ackItem{seqno: pkt.Seqno}) {
				return false
			}
			continue
		}
		if resend {
			pos = pkt.Offset
		}
		if len(pkt.Data) > 0 {
			if err := r.rbw.writeAt(pkt.Offset, pkt.Sums, pkt.Data); err != nil {
				r.fail(pkt.Seqno, 0, cairn.KindOf(err), err.Error())
				return false
			}
			r.d.metrics.bytesWritten.Add(float64(len(pkt.Data)))
		}
		if pkt.Sync {
			if err := r.rbw.sync(); err != nil {
				r.fail(pkt.Seqno, 0, cairn.KindOf(err), err.Error())
				return false
			}
		}
		pos += int64(pkt.DataLen)
		partial = pos%cairn.ChunkSize != 0
		seqno++
		if pkt.Last && r.stage == protocol.OpWriteBlock_TRANSFER_RBW {
			// A copy for a recovered pipeline: durable, not finalized.
			if err := r.rbw.keep(); err != nil {
				r.fail(pkt.Seqno, 0, cairn.KindOf(err), err.Error())
				return false
			}
			r.finalized = true
			return r.enqueue(ackItem{seqno: pkt.Seqno, last: true})
		}
		if pkt.Last {
			if _, err := r.rbw.finalize(); err != nil {
				r.fail(pkt.Seqno, 0, cairn.KindOf(err), err.Error())
				return false
			}
			r.finalized = true
			r.d.metrics.blocksWritten.Inc()
			return r.release() && r.enqueue(ackItem{seqno: pkt.Seqno, last: true})
		}
		if r.rbw.mem != nil && len(r.held) < r.holdMax && len(pkt.Data) > 0 &&
			(len(r.held) == 0 || time.Since(r.heldSince) < r.holdFor) {
			if len(r.held) == 0 {
				r.heldSince = time.Now()
			}
			r.held = append(r.held, ackItem{seqno: pkt.Seqno})
			continue
		}
		if !r.unhold(pkt.Seqno) || !r.enqueue(ackItem{seqno: pkt.Seqno}) {
			return false
		}
	}
}

// unhold ends holding acks back: the replica, if still in memory, is
// written to its rbw/ files, and the held acks go out. It reports
// false if the receive must stop.
func (r *receiver) unhold(seqno int64) bool {
	if r.rbw.mem != nil {
		r.rbw.io.Lock()
		err := r.rbw.spill()
		r.rbw.io.Unlock()
		if err != nil {
			r.fail(seqno, 0, cairn.KindOf(err), err.Error())
			return false
		}
	}
	return r.release()
}

// release sends on the acks held back.
func (r *receiver) release() bool {
	for _, it := range r.held {
		if !r.enqueue(it) {
			return false
		}
	}
	r.held = r.held[:0]
	return true
}

func (r *receiver) enqueue(it ackItem) bool {
	select {
	case r.acks <- it:
		return true
	case <-r.stop:
		return false
	}
}

// respond acks packets upstream once they are local and acked
// downstream.
func (r *receiver) respond() {
	n := 1 + len(r.targets)
	for {
		var it ackItem
		select {
		case it = <-r.acks:
		case <-r.stop:
			return
		}
		replies := make([]uint32, n)
		if r.down != nil {
			timeout := r.ackTimeout
			if it.broken != nil {
				timeout = drainTimeout
			}
			r.down.SetReadDeadline(time.Now().Add(timeout))
			ack, err := datatransfer.ReadAck(r.downR)
			switch {
			case err != nil:
				select {
				case <-r.stop:
					return
				default:
				}
				cause := err
				if it.broken != nil {
					cause = it.broken
				}
				r.fail(it.seqno, 1, cairn.Unavailable, fmt.Sprintf("downstream %s: %v", r.targets[0].Addr, cause))
				return
			case len(ack.Replies) != len(r.targets):
				r.fail(it.seqno, 1, cairn.Invalid, fmt.Sprintf("downstream %s: ack with %d replies for %d nodes", r.targets[0].Addr, len(ack.Replies), len(r.targets)))
				return
			case datatransfer.FirstFailure(ack) >= 0:
				r.failWith(it.seqno, append([]uint32{0}, ack.Replies...), ack.Message)
				return
			case it.broken != nil:
				r.fail(it.seqno, 1, cairn.Unavailable, fmt.Sprintf("downstream %s: %v", r.targets[0].Addr, it.broken))
				return
			case ack.Seqno != it.seqno:
				r.fail(it.seqno, 1, cairn.Invalid, fmt.Sprintf("downstream %s: ack for packet %d, want %d", r.targets[0].Addr, ack.Seqno, it.seqno))
				return
			}
			copy(replies[1:], ack.Replies)
		}
		if err := r.sendAck(&protocol.PipelineAck{Seqno: it.seqno, Replies: replies}, it.last); err != nil {
			r.abandon()
			return
		}
		if it.last {
			return
		}
	}
}

func (r *receiver) sendAck(ack *protocol.PipelineAck, final bool) error {
	r.upMu.Lock()
	defer r.upMu.Unlock()
	if r.upDone {
		return errors.New("pipeline already failed")
	}
	if final {
		r.upDone = true
	}
	return datatransfer.WriteMessage(r.up, ack)
}

// discard lets go of the replica after a failed write. The replica of
// a writer that recovers pipelines (stages CREATE and RECOVERY) is
// kept, idle, for pipeline or lease recovery; any other (a copy, or a
// writer that does not recover) is removed.
func (r *receiver) discard() {
	if r.keep {
		// Read before detach: once idle, a recovery may reopen the
		// replica and change it.
		n := r.rbw.block.Len
		if err := r.rbw.detach(); err != nil {
			r.d.log.Warn("write failed; partial replica could not be kept and was discarded", "block", r.name, "err", err)
			return
		}
		r.d.log.Info("write failed; partial replica kept for recovery", "block", r.name, "len", n)
		return
	}
	r.rbw.abort()
	r.d.log.Info("write failed; partial replica discarded", "block", r.name)
}

// abandon stops the pipeline without a word to the upstream.
func (r *receiver) abandon() { r.failWith(0, nil, "") }

// fail stops the pipeline, sending upstream, if it still can, an error
// ack whose reply at index blame (0: this node, 1: the next) is kind k,
// with msg.
func (r *receiver) fail(seqno int64, blame int, k cairn.Kind, msg string) {
	if k == cairn.Other {
		k = cairn.IO
	}
	replies := make([]uint32, 1+len(r.targets))
	replies[blame] = uint32(k)
	who := "this node"
	if blame > 0 {
		who = r.targets[blame-1].Addr
	}
	r.d.log.Warn("write pipeline failed", "block", r.name, "failed", who, "err", msg)
	r.d.metrics.pipelineFailures.Inc()
	if k == cairn.Corrupt {
		r.d.metrics.checksumFailures.Inc()
	}
	r.failWith(seqno, replies, fmt.Sprintf("datanode %s: %s", r.d.ID(), msg))
}

func (r *receiver) failWith(seqno int64, replies []uint32, msg string) {
	r.once.Do(func() {
		if replies != nil {
			r.upMu.Lock()
			if !r.upDone {
				r.upDone = true
				// A bounded wait, on the bare connection.
				r.up.Conn.SetWriteDeadline(time.Now().Add(drainTimeout))
				datatransfer.WriteMessage(r.up.Conn, &protocol.PipelineAck{Seqno: seqno, Replies: replies, Message: msg})
			}
			r.upMu.Unlock()
		}
		close(r.stop)
		if r.down != nil {
			r.down.Close()
		}
	})
}

// drainUpstream half-closes the upstream connection and drops what it
// still sends until it hangs up or drainTimeout passes.
func (r *receiver) drainUpstream() {
	if tc, ok := r.up.Conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	r.up.setTimeouts(0, r.writeTimeout)
	r.up.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, r.upR)
}

// sendBlock runs a READ_BLOCK operation. It reports whether the read
// ended cleanly, with the reader's status, so that the connection may
// carry another operation.
//
// Every write to the reader has an idle deadline (SocketWriteTimeout):
// a reader that reads, however slowly, is never cut off; one that
// stopped is dropped after that long without progress, and its
// connection freed.
func (d *DataNode) sendBlock(conn *idleConn, br *bufio.Reader, op *protocol.OpReadBlock) bool {
	block := protocol.BlockFromProto(op.Block)
	name := blockName(block)
	fail := func(err error) {
		respond(conn, &protocol.BlockOpResponse{Status: protocol.StatusFromError(err)})
	}
	if op.Block == nil || op.Offset < 0 || op.Length < 0 || op.Offset > datatransfer.MaxBlockOffset-op.Length {
		fail(cairn.Errorf("datanode.ReadBlock", name, cairn.Invalid, "bad read range [%d, +%d)", op.Offset, op.Length))
		return false
	}
	rep, inc, err := d.store.openReplica(block)
	// A replica not finalized yet is read up to the length written
	// whole (see openForRead).
	writing := false
	if err != nil && cairn.KindOf(err) == cairn.NotExist && inc == 0 {
		if rr, rerr := d.store.openForRead(block); rerr == nil {
			rep, writing, err = rr, true, nil
		} else {
			// Finalized in between, or being finalized: its files
			// move from rbw/ to finalized/ under the block's lock,
			// in neither map until the move ends. Wait for it.
			d.store.lockBlock(block.ID)()
			rep, inc, err = d.store.openReplica(block)
		}
	}
	if err != nil {
		if inc != 0 {
			// In the map but its files cannot be opened: removed
			// from the disk behind our back (unless a recovery
			// renamed them meanwhile, which markBad sees).
			d.replicaDamaged(block, inc, fmt.Sprintf("cannot open the replica's files: %v", err))
		}
		d.log.Debug("read refused", "block", name, "err", err)
		fail(err)
		return false
	}
	defer rep.Close()
	repLen := rep.Block().Len
	data, sums := rep.Data(), rep.Checksums()
	if op.Offset+op.Length > repLen {
		fail(cairn.Errorf("datanode.ReadBlock", name, cairn.Invalid, "range [%d, %d) beyond the replica's %d bytes", op.Offset, op.Offset+op.Length, repLen))
		return false
	}
	start := op.Offset - op.Offset%cairn.ChunkSize
	end := start
	if op.Length > 0 {
		end = op.Offset + op.Length
		end = min(end+(cairn.ChunkSize-end%cairn.ChunkSize)%cairn.ChunkSize, repLen)
	}
	// The response and short packets go out together in one write (a
	// small read is then one write); a packet larger than the buffer
	// goes straight to the socket.
	bw := bufio.NewWriterSize(conn, 4096)
	if err := datatransfer.WriteMessage(bw, &protocol.BlockOpResponse{FirstChunkOffset: start, BlockLen: repLen}); err != nil {
		return false
	}
	pb := packetPool.Get().(*datatransfer.PacketBuf)
	defer packetPool.Put(pb)
	var seqno int64
	pos := start
	for {
		n := int(min(int64(pb.MaxData()), end-pos))
		h := datatransfer.PacketHeader{Offset: pos, Seqno: seqno, DataLen: n, Last: n == 0}
		if n > 0 {
			if err := readFull(data, pb.Data()[:n], pos); err != nil {
				d.log.Warn("cannot read replica", "block", name, "err", err)
				if !writing {
					d.replicaDamaged(block, inc, fmt.Sprintf("reading data at offset %d: %v", pos, err))
				}
				return false
			}
			if err := readFull(sums, pb.Sums(n), sumsAt(pos)); err != nil {
				d.log.Warn("cannot read replica checksums", "block", name, "err", err)
				if !writing {
					d.replicaDamaged(block, inc, fmt.Sprintf("reading checksums at offset %d: %v", pos, err))
				}
				return false
			}
		}
		frame, err := pb.Frame(h)
		if err != nil {
			d.log.Error("cannot frame packet", "block", name, "err", err)
			return false
		}
		if _, err := bw.Write(frame); err != nil {
			d.log.Debug("reader went away", "block", name, "err", err)
			return false
		}
		d.metrics.bytesRead.Add(float64(n))
		if n == 0 {
			break
		}
		pos += int64(n)
		seqno++
	}
	if err := bw.Flush(); err != nil {
		d.log.Debug("reader went away", "block", name, "err", err)
		return false
	}
	d.metrics.blocksRead.Inc()
	// The reader says how it went.
	conn.setTimeouts(drainTimeout, d.cfg.socketWriteTimeout())
	var st protocol.Status
	statusErr := datatransfer.ReadMessage(br, &st)
	if statusErr == nil && cairn.Kind(st.Kind) == cairn.Corrupt {
		d.log.Warn("reader found a checksum error", "block", name, "remote", conn.RemoteAddr(), "msg", st.Message)
		d.metrics.checksumFailures.Inc()
	}
	return statusErr == nil
}

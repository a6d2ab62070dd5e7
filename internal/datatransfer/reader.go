package datatransfer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

const opRead = "datatransfer.ReadBlock"

// ReadBlock streams bytes [offset, offset+length) of a block from one
// DataNode and verifies every checksum; a mismatch is an error of kind
// cairn.Corrupt naming the block and the node. It uses the zero
// Options.
func ReadBlock(ctx context.Context, node cairn.DatanodeInfo, block cairn.Block, offset, length int64, clientName string) (io.ReadCloser, error) {
	return Options{}.ReadBlock(ctx, node, block, offset, length, clientName)
}

// ReadBlock is the package-level ReadBlock with these options. ctx
// bounds the whole read: cancelling it fails the reader's next Read.
func (o Options) ReadBlock(ctx context.Context, node cairn.DatanodeInfo, block cairn.Block, offset, length int64, clientName string) (io.ReadCloser, error) {
	name := BlockName(block)
	if offset < 0 || length < 0 || offset > MaxBlockOffset-length {
		return nil, cairn.Errorf(opRead, name, cairn.Invalid, "bad range [%d, +%d)", offset, length)
	}
	if len(clientName) > 1024 {
		return nil, cairn.Errorf(opRead, name, cairn.Invalid, "client name of %d bytes", len(clientName))
	}
	r := &blockReader{
		ctx:     ctx,
		node:    node,
		name:    name,
		timeout: o.timeout(),
		token:   o.Token,
		offset:  offset,
		end:     offset + length,
	}
	conn, br, pooled := o.Pool.get(node.Addr)
	for {
		if !pooled {
			c, err := o.dial(ctx, node.Addr)
			if err != nil {
				return nil, r.err(netKind(err), err)
			}
			// A small buffer: packet payloads larger than it are
			// read straight into the packet buffer.
			conn, br = c, bufio.NewReaderSize(c, 4096)
		}
		r.conn, r.br = conn, br
		r.pr = NewPacketReader(br)
		err := r.setup(ctx, block, clientName)
		if err == nil {
			break
		}
		conn.Close()
		if pooled && !r.answered && ctx.Err() == nil {
			// The DataNode may have closed the idle connection
			// meanwhile: try once more on a new one.
			pooled = false
			continue
		}
		return nil, err
	}
	r.pool = o.Pool
	r.stopCtx = context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.ctxErr = ctx.Err()
		r.mu.Unlock()
		conn.SetDeadline(time.Unix(1, 0))
	})
	return r, nil
}

// blockReader is the io.ReadCloser returned by ReadBlock.
type blockReader struct {
	ctx     context.Context
	node    cairn.DatanodeInfo
	name    string
	conn    net.Conn
	br      *bufio.Reader
	pr      *PacketReader
	timeout time.Duration
	token   []byte      // the block access token sent with the operation
	stopCtx func() bool // stops the AfterFunc that unblocks a read when ctx ends
	pool    *ConnPool   // takes the connection back at Close; nil: none

	answered bool // the DataNode answered the operation
	statusOK bool // the final status of a whole read was sent

	offset int64 // first byte asked for
	end    int64 // end of the range asked for
	pos    int64 // block offset of the next packet expected
	seqno  int64 // next packet seqno expected
	avail  []byte
	done   bool  // the last packet arrived
	failed error // sticky error
	closed bool

	mu     sync.Mutex
	ctxErr error // guarded by mu: set when ctx ends
}

func (r *blockReader) err(kind cairn.Kind, err error) error {
	return &cairn.Error{Op: opRead, Path: r.name, Kind: kind, Err: fmt.Errorf("datanode %s (%s): %w", r.node.ID, r.node.Addr, err)}
}

func (r *blockReader) setup(ctx context.Context, block cairn.Block, clientName string) error {
	deadline := time.Now().Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { r.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	op := &protocol.OpReadBlock{
		Block:          protocol.BlockToProto(block),
		Offset:         r.offset,
		Length:         r.end - r.offset,
		ClientName:     clientName,
		VerifyChecksum: true,
		BlockToken:     r.token,
	}
	if err := WriteOp(r.conn, OpReadBlock, op); err != nil {
		return r.err(netKind(err), ctxErr(ctx, err))
	}
	resp, err := ReadResponse(r.br)
	if err != nil {
		return r.err(netKind(err), ctxErr(ctx, err))
	}
	r.answered = true
	if serr := protocol.ErrorFromStatus(opRead, r.name, resp.Status); serr != nil {
		return r.err(cairn.KindOf(serr), fmt.Errorf("%s", resp.Status.Message))
	}
	want := r.offset - r.offset%cairn.ChunkSize
	if resp.FirstChunkOffset != want || resp.BlockLen < r.end {
		return r.err(cairn.Invalid, fmt.Errorf("response starts at %d of a %d-byte replica, want %d and at least %d", resp.FirstChunkOffset, resp.BlockLen, want, r.end))
	}
	r.pos = want
	r.conn.SetDeadline(time.Time{})
	return nil
}

func (r *blockReader) Read(p []byte) (int, error) {
	for len(r.avail) == 0 {
		if r.failed != nil {
			return 0, r.failed
		}
		if r.done {
			return 0, io.EOF
		}
		if r.closed {
			return 0, cairn.E(opRead, r.name, cairn.Closed)
		}
		if err := r.next(); err != nil {
			r.failed = err
			return 0, err
		}
	}
	n := copy(p, r.avail)
	r.avail = r.avail[n:]
	return n, nil
}

// WriteTo lets io.Copy take the verified bytes straight from the packet
// buffer.
func (r *blockReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.avail) > 0 {
			n, err := w.Write(r.avail)
			total += int64(n)
			r.avail = r.avail[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if r.failed != nil {
			return total, r.failed
		}
		if r.done {
			return total, nil
		}
		if r.closed {
			return total, cairn.E(opRead, r.name, cairn.Closed)
		}
		if err := r.next(); err != nil {
			r.failed = err
			return total, err
		}
	}
}

// next reads and verifies one packet.
func (r *blockReader) next() error {
	if err := r.ctx.Err(); err != nil {
		return r.err(cairn.Unavailable, err)
	}
	r.conn.SetReadDeadline(time.Now().Add(r.timeout))
	pkt, err := r.pr.Next()
	if err != nil {
		r.mu.Lock()
		cerr := r.ctxErr
		r.mu.Unlock()
		if cerr != nil {
			return r.err(cairn.Unavailable, cerr)
		}
		if IsMalformed(err) {
			return r.err(cairn.Invalid, err)
		}
		return r.err(netKind(err), unexpected(err))
	}
	if pkt.Seqno != r.seqno || pkt.Offset != r.pos {
		return r.err(cairn.Invalid, fmt.Errorf("packet %d at offset %d, want packet %d at %d", pkt.Seqno, pkt.Offset, r.seqno, r.pos))
	}
	r.seqno++
	if pkt.Last {
		if r.end > r.offset && r.pos < r.end {
			return r.err(cairn.Invalid, fmt.Errorf("stream ended at %d, want %d", r.pos, r.end))
		}
		r.done = true
		r.statusOK = r.sendStatus(nil) == nil
		return nil
	}
	if pkt.Offset >= r.end && r.end > r.offset || pkt.Offset%cairn.ChunkSize != 0 {
		return r.err(cairn.Invalid, fmt.Errorf("unexpected packet at offset %d", pkt.Offset))
	}
	if bad := VerifySums(pkt.Sums, pkt.Data); bad >= 0 {
		at := pkt.Offset + int64(bad)*cairn.ChunkSize
		err := r.err(cairn.Corrupt, fmt.Errorf("checksum mismatch in the chunk at offset %d", at))
		r.sendStatus(err)
		return err
	}
	r.pos += int64(len(pkt.Data))
	lo := max(r.offset-pkt.Offset, 0)
	hi := min(r.end-pkt.Offset, int64(len(pkt.Data)))
	if lo < hi {
		r.avail = pkt.Data[lo:hi]
	}
	return nil
}

// sendStatus tells the server how the read ended, best effort.
func (r *blockReader) sendStatus(err error) error {
	st := &protocol.Status{}
	if err != nil {
		st = protocol.StatusFromError(err)
	}
	r.conn.SetWriteDeadline(time.Now().Add(min(r.timeout, 5*time.Second)))
	return WriteMessage(r.conn, st)
}

// Close ends the read. With a pool, the connection of a read that got
// every byte it asked for goes back to the pool: if only the last
// (empty) packet is still unread, Close reads it first.
func (r *blockReader) Close() error {
	if r.closed {
		return nil
	}
	if r.pool != nil && !r.done && r.failed == nil && len(r.avail) == 0 && r.pos >= r.end {
		// The last packet follows the data at once: do not wait long.
		r.timeout = min(r.timeout, time.Second)
		if err := r.next(); err != nil {
			r.failed = err
		}
	}
	r.closed = true
	r.avail = nil
	stopped := r.stopCtx()
	if r.pool != nil && stopped && r.done && r.statusOK && r.failed == nil {
		r.pool.put(r.node.Addr, r.conn, r.br)
		return nil
	}
	return r.conn.Close()
}

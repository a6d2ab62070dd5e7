package datatransfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Version is the protocol version sent at the start of every
// connection.
const Version = 1

// Op is an operation code.
type Op uint8

// The operations.
const (
	OpWriteBlock    Op = 80
	OpReadBlock     Op = 81
	OpTransferBlock Op = 86 // pipeline recovery: copy a replica to a replacement node
	OpRecoverBlock  Op = 87 // lease recovery: block synchronization
)

func (op Op) String() string {
	switch op {
	case OpWriteBlock:
		return "WRITE_BLOCK"
	case OpReadBlock:
		return "READ_BLOCK"
	case OpTransferBlock:
		return "TRANSFER_BLOCK"
	case OpRecoverBlock:
		return "RECOVER_BLOCK"
	}
	return fmt.Sprintf("op(%d)", uint8(op))
}

// Limits enforced by every decoder before it allocates.
const (
	// MaxMessageSize bounds a delimited message: operations,
	// responses, acks and read statuses.
	MaxMessageSize = 64 << 10
	// MaxPacketHeaderSize bounds the encoded PacketHeader.
	MaxPacketHeaderSize = 1024
	// MaxPacketDataSize bounds the data of one packet.
	MaxPacketDataSize = 16 << 20
	// MaxBlockOffset bounds offsets in a block.
	MaxBlockOffset = 1 << 48
	// MaxPipeline bounds the number of nodes in a pipeline, and so the
	// number of replies in an ack.
	MaxPipeline = 64
)

// errFrame is the cause of every malformed-input error.
var errFrame = errors.New("malformed frame")

func frameErr(format string, args ...any) error {
	return cairn.E("datatransfer", cairn.Invalid, fmt.Errorf("%w: %s", errFrame, fmt.Sprintf(format, args...)))
}

// IsMalformed reports whether err says the peer sent bytes that break
// the protocol (rather than that the connection failed).
func IsMalformed(err error) bool { return errors.Is(err, errFrame) }

var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteOp writes an operation header: version, op code and the
// delimited operation message, in one Write.
func WriteOp(w io.Writer, op Op, msg proto.Message) error {
	bp := msgPool.Get().(*[]byte)
	defer msgPool.Put(bp)
	b := append((*bp)[:0], Version>>8, Version&0xff, byte(op))
	b, err := appendDelimited(b, msg)
	if err != nil {
		return err
	}
	*bp = b
	_, err = w.Write(b)
	return err
}

// ReadOp reads the version and op code of an operation header. The
// caller then reads the operation message with ReadMessage.
func ReadOp(r io.Reader) (Op, error) {
	var b [3]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	if v := binary.BigEndian.Uint16(b[:2]); v != Version {
		return 0, frameErr("protocol version %d, want %d", v, Version)
	}
	op := Op(b[2])
	switch op {
	case OpWriteBlock, OpReadBlock, OpTransferBlock, OpRecoverBlock:
	default:
		return 0, frameErr("unknown op %d", b[2])
	}
	return op, nil
}

func appendDelimited(b []byte, msg proto.Message) ([]byte, error) {
	size := proto.Size(msg)
	if size > MaxMessageSize {
		return b, frameErr("message of %d bytes exceeds %d", size, MaxMessageSize)
	}
	b = binary.AppendUvarint(b, uint64(size))
	return proto.MarshalOptions{}.MarshalAppend(b, msg)
}

// WriteMessage writes msg as a delimited message, in one Write.
func WriteMessage(w io.Writer, msg proto.Message) error {
	bp := msgPool.Get().(*[]byte)
	defer msgPool.Put(bp)
	b, err := appendDelimited((*bp)[:0], msg)
	if err != nil {
		return err
	}
	*bp = b
	_, err = w.Write(b)
	return err
}

// ReadMessage reads a delimited message into msg. A length above
// MaxMessageSize is refused before anything is allocated.
func ReadMessage(r *bufio.Reader, msg proto.Message) error {
	n, err := readLen(r)
	if err != nil {
		return err
	}
	bp := msgPool.Get().(*[]byte)
	defer msgPool.Put(bp)
	b := *bp
	if cap(b) < int(n) {
		b = make([]byte, n)
	}
	b = b[:n]
	*bp = b
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return frameErr("bad %T: %v", msg, err)
	}
	return nil
}

// readLen reads a message length: an unsigned varint of at most
// MaxMessageSize, refused as soon as it is too long.
func readLen(r io.ByteReader) (int, error) {
	var n uint64
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 {
				err = unexpected(err)
			}
			return 0, err
		}
		n |= uint64(c&0x7f) << (7 * i)
		if n > MaxMessageSize {
			return 0, frameErr("message length exceeds %d", MaxMessageSize)
		}
		if c < 0x80 {
			return int(n), nil
		}
		if i >= 3 {
			return 0, frameErr("message length varint too long")
		}
	}
}

// ReadResponse reads a delimited BlockOpResponse and checks it.
func ReadResponse(r *bufio.Reader) (*protocol.BlockOpResponse, error) {
	resp := new(protocol.BlockOpResponse)
	if err := ReadMessage(r, resp); err != nil {
		return nil, err
	}
	if resp.FirstChunkOffset < 0 || resp.FirstChunkOffset > MaxBlockOffset || resp.FirstChunkOffset%cairn.ChunkSize != 0 {
		return nil, frameErr("bad first chunk offset %d", resp.FirstChunkOffset)
	}
	if resp.BlockLen < 0 || resp.BlockLen > MaxBlockOffset {
		return nil, frameErr("bad block length %d", resp.BlockLen)
	}
	return resp, nil
}

// ReadAck reads a delimited PipelineAck and checks it: a seqno of -1
// (heartbeat) or more, and at most MaxPipeline replies.
func ReadAck(r *bufio.Reader) (*protocol.PipelineAck, error) {
	ack := new(protocol.PipelineAck)
	if err := ReadMessage(r, ack); err != nil {
		return nil, err
	}
	if ack.Seqno < -1 {
		return nil, frameErr("bad ack seqno %d", ack.Seqno)
	}
	if len(ack.Replies) > MaxPipeline {
		return nil, frameErr("ack with %d replies exceeds %d", len(ack.Replies), MaxPipeline)
	}
	return ack, nil
}

// FirstFailure returns the index of the first non-zero reply of ack,
// or -1 if every reply is success.
func FirstFailure(ack *protocol.PipelineAck) int {
	for i, r := range ack.Replies {
		if r != 0 {
			return i
		}
	}
	return -1
}

// PacketHeader describes one packet.
type PacketHeader struct {
	Offset  int64 // offset in the block of the packet's first data byte
	Seqno   int64 // 0, 1, ... in a stream; -1 for a heartbeat
	Last    bool  // the empty packet that ends a block
	DataLen int   // bytes of data
	Sync    bool  // the writer asks every node to fsync the replica before acking (BlockWriter.Sync)
}

// Heartbeat is the seqno of a heartbeat packet.
const Heartbeat = -1

// SumsLen returns the length of the checksums of n data bytes.
func SumsLen(n int) int { return 4 * ((n + cairn.ChunkSize - 1) / cairn.ChunkSize) }

func (h PacketHeader) check() error {
	switch {
	case h.DataLen < 0 || h.DataLen > MaxPacketDataSize:
		return frameErr("packet data length %d out of range", h.DataLen)
	case h.Offset < 0 || h.Offset > MaxBlockOffset-int64(h.DataLen):
		return frameErr("packet offset %d out of range", h.Offset)
	case h.Seqno < Heartbeat:
		return frameErr("bad packet seqno %d", h.Seqno)
	case h.Last && h.DataLen != 0:
		return frameErr("last packet carries %d bytes", h.DataLen)
	case h.Seqno == Heartbeat && (h.DataLen != 0 || h.Last):
		return frameErr("heartbeat packet carries data")
	}
	return nil
}

// appendProto appends h encoded as a protocol.PacketHeader, by hand to
// spare two allocations per packet: proto3 fields in field order,
// zero values omitted, exactly as proto.Marshal would.
func (h PacketHeader) appendProto(b []byte) []byte {
	if h.Offset != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(h.Offset))
	}
	if h.Seqno != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(h.Seqno))
	}
	if h.Last {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if h.DataLen != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(h.DataLen))))
	}
	if h.Sync {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

// packetPrefix is the room before the checksums kept in a PacketBuf for
// the length fields and the encoded header, which never exceeds 64
// bytes (four varints of at most 10 bytes plus tags, and two bools).
const packetPrefix = 6 + 64

// PacketBuf is a reusable buffer in which a packet is built in place:
// the caller fills Data and Sums, and Frame encodes the lengths and
// header in front of them and returns the whole packet, without
// copying the data.
type PacketBuf struct {
	b       []byte
	maxData int
	dataOff int
	// refs counts the holders of a packet in flight (its sender until
	// its frame is written, its ack reader until it is acked): the last
	// to let go returns it to its pool (BlockWriter.release).
	refs atomic.Int32
}

// NewPacketBuf returns a PacketBuf for packets of up to maxData bytes
// of data.
func NewPacketBuf(maxData int) *PacketBuf {
	if maxData < 0 {
		maxData = 0
	}
	sums := SumsLen(maxData)
	off := packetPrefix + sums
	return &PacketBuf{b: make([]byte, off+maxData), maxData: maxData, dataOff: off}
}

// MaxData returns the most data bytes a packet built here can carry.
func (p *PacketBuf) MaxData() int { return p.maxData }

// Data returns the data area, MaxData bytes long.
func (p *PacketBuf) Data() []byte { return p.b[p.dataOff:] }

// Sums returns the area for the checksums of n data bytes, right before
// the data.
func (p *PacketBuf) Sums(n int) []byte { return p.b[p.dataOff-SumsLen(n) : p.dataOff] }

// Frame encodes h in front of the checksums of h.DataLen bytes and
// returns the packet: the caller must have filled Data()[:h.DataLen]
// and Sums(h.DataLen). The frame is valid until the buffer is reused.
func (p *PacketBuf) Frame(h PacketHeader) ([]byte, error) {
	if h.DataLen > p.maxData {
		return nil, frameErr("packet of %d bytes exceeds buffer of %d", h.DataLen, p.maxData)
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	var hb [64]byte
	hdr := h.appendProto(hb[:0])
	if len(hdr) > packetPrefix-6 {
		return nil, frameErr("packet header of %d bytes", len(hdr))
	}
	sums := SumsLen(h.DataLen)
	start := p.dataOff - sums - len(hdr) - 6
	binary.BigEndian.PutUint32(p.b[start:], uint32(sums+h.DataLen))
	binary.BigEndian.PutUint16(p.b[start+4:], uint16(len(hdr)))
	copy(p.b[start+6:], hdr)
	return p.b[start : p.dataOff+h.DataLen], nil
}

// Packet is a packet as read by a PacketReader.
type Packet struct {
	PacketHeader
	Sums  []byte // 4 bytes per chunk of Data
	Data  []byte
	Frame []byte // the whole packet as received, to forward unchanged
}

// PacketReader reads packets from a stream. The Packet returned by Next
// and its slices are valid until the next call to Next.
type PacketReader struct {
	r   io.Reader
	buf []byte
	hdr protocol.PacketHeader
	pkt Packet
}

// NewPacketReader returns a reader of the packets on r. Its buffer
// starts at the size of one normal packet and grows, up to the limits,
// only when a larger one arrives.
func NewPacketReader(r io.Reader) *PacketReader {
	return &PacketReader{r: r}
}

// Next reads the next packet. A malformed packet gives an error for
// which IsMalformed is true; io.EOF means the stream ended cleanly
// before a packet.
func (pr *PacketReader) Next() (*Packet, error) {
	if pr.buf == nil {
		// Room for any header; grown below to the first packet that
		// needs more, so that a short read costs a short buffer.
		pr.buf = make([]byte, 6+MaxPacketHeaderSize)
	}
	pre := pr.buf[:6]
	if _, err := io.ReadFull(pr.r, pre); err != nil {
		return nil, err
	}
	plen := binary.BigEndian.Uint32(pre)
	hlen := int(binary.BigEndian.Uint16(pre[4:]))
	if hlen > MaxPacketHeaderSize {
		return nil, frameErr("packet header of %d bytes exceeds %d", hlen, MaxPacketHeaderSize)
	}
	if plen > uint32(SumsLen(MaxPacketDataSize)+MaxPacketDataSize) {
		return nil, frameErr("packet payload of %d bytes exceeds limit", plen)
	}
	hb := pr.buf[6 : 6+hlen]
	if _, err := io.ReadFull(pr.r, hb); err != nil {
		return nil, unexpected(err)
	}
	pr.hdr.Reset()
	if err := proto.Unmarshal(hb, &pr.hdr); err != nil {
		return nil, frameErr("bad packet header: %v", err)
	}
	h := PacketHeader{
		Offset:  pr.hdr.OffsetInBlock,
		Seqno:   pr.hdr.Seqno,
		Last:    pr.hdr.LastPacketInBlock,
		DataLen: int(pr.hdr.DataLen),
		Sync:    pr.hdr.Sync,
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	sums := SumsLen(h.DataLen)
	if int(plen) != sums+h.DataLen {
		return nil, frameErr("packet payload of %d bytes does not match %d bytes of data", plen, h.DataLen)
	}
	total := 6 + hlen + int(plen)
	if total > len(pr.buf) {
		// Headroom for the header to grow by a few bytes as seqnos
		// and offsets do.
		nb := make([]byte, total+64)
		copy(nb, pr.buf[:6+hlen])
		pr.buf = nb
	}
	if _, err := io.ReadFull(pr.r, pr.buf[6+hlen:total]); err != nil {
		return nil, unexpected(err)
	}
	pr.pkt = Packet{
		PacketHeader: h,
		Sums:         pr.buf[6+hlen : 6+hlen+sums],
		Data:         pr.buf[6+hlen+sums : total],
		Frame:        pr.buf[:total],
	}
	return &pr.pkt, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

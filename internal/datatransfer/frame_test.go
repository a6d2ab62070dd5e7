package datatransfer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

func reader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func TestOpRoundTrip(t *testing.T) {
	ops := []struct {
		op  Op
		msg proto.Message
	}{
		{OpWriteBlock, &protocol.OpWriteBlock{
			Block:      &protocol.Block{Id: 1, GenStamp: 2},
			Targets:    []*protocol.DatanodeInfo{{Id: "a", Addr: "127.0.0.1:1"}},
			ClientName: "c",
			Stage:      protocol.OpWriteBlock_TRANSFER,
		}},
		{OpReadBlock, &protocol.OpReadBlock{Block: &protocol.Block{Id: 3, GenStamp: 4}, Offset: 5, Length: 6, ClientName: "d"}},
	}
	for _, tc := range ops {
		var buf bytes.Buffer
		if err := WriteOp(&buf, tc.op, tc.msg); err != nil {
			t.Fatalf("WriteOp(%v) = %v", tc.op, err)
		}
		r := reader(buf.Bytes())
		op, err := ReadOp(r)
		if err != nil || op != tc.op {
			t.Fatalf("ReadOp = %v, %v; want %v", op, err, tc.op)
		}
		got := tc.msg.ProtoReflect().New().Interface()
		if err := ReadMessage(r, got); err != nil {
			t.Fatalf("ReadMessage = %v", err)
		}
		if !proto.Equal(got, tc.msg) {
			t.Errorf("ReadMessage = %v, want %v", got, tc.msg)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("bytes left after the operation")
		}
	}
}

func TestReadOpRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"another version", []byte{0, 2, 80}},
		{"an unknown op", []byte{0, 1, 82}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadOp(reader(tc.in)); !IsMalformed(err) {
				t.Errorf("ReadOp(%x) = %v, want a malformed-frame error", tc.in, err)
			}
		})
	}
	if _, err := ReadOp(reader([]byte{0, 1})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadOp(short) = %v, want ErrUnexpectedEOF", err)
	}
}

func TestReadMessageRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want func(error) bool
	}{
		{"a length over the limit", binary.AppendUvarint(nil, MaxMessageSize+1), IsMalformed},
		{"a huge length", binary.AppendUvarint(nil, 1<<62), IsMalformed},
		{"a varint that never ends", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, IsMalformed},
		{"a truncated body", []byte{5, 1, 2}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"a truncated length", []byte{0x80}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"nothing", nil, func(err error) bool { return err == io.EOF }},
		{"a body that is not protobuf", []byte{2, 0xff, 0xff}, IsMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ReadMessage(reader(tc.in), new(protocol.PipelineAck))
			if !tc.want(err) {
				t.Errorf("ReadMessage(%x) = %v", tc.in, err)
			}
		})
	}
}

func TestAckRoundTrip(t *testing.T) {
	for _, ack := range []*protocol.PipelineAck{
		{Seqno: 0, Replies: []uint32{0, 0, 0}},
		{Seqno: Heartbeat, Replies: []uint32{0}},
		{Seqno: 1 << 40, Replies: []uint32{0, uint32(cairn.Corrupt)}, Message: "bad"},
	} {
		var buf bytes.Buffer
		if err := WriteMessage(&buf, ack); err != nil {
			t.Fatal(err)
		}
		got, err := ReadAck(reader(buf.Bytes()))
		if err != nil || !proto.Equal(got, ack) {
			t.Errorf("ReadAck(WriteMessage(%v)) = %v, %v", ack, got, err)
		}
	}
	for _, bad := range []*protocol.PipelineAck{
		{Seqno: -2},
		{Replies: make([]uint32, MaxPipeline+1)},
	} {
		var buf bytes.Buffer
		WriteMessage(&buf, bad)
		if _, err := ReadAck(reader(buf.Bytes())); !IsMalformed(err) {
			t.Errorf("ReadAck(%v) = %v, want a malformed-frame error", bad, err)
		}
	}
	if got := FirstFailure(&protocol.PipelineAck{Replies: []uint32{0, 0, 3}}); got != 2 {
		t.Errorf("FirstFailure = %d, want 2", got)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, resp := range []*protocol.BlockOpResponse{
		{},
		{Status: &protocol.Status{Kind: uint32(cairn.Unavailable), Message: "x"}, FirstBadLink: "1.2.3.4:5"},
		{FirstChunkOffset: 1024, BlockLen: 5000},
	} {
		var buf bytes.Buffer
		WriteMessage(&buf, resp)
		got, err := ReadResponse(reader(buf.Bytes()))
		if err != nil || !proto.Equal(got, resp) {
			t.Errorf("ReadResponse(%v) = %v, %v", resp, got, err)
		}
	}
	for _, bad := range []*protocol.BlockOpResponse{{FirstChunkOffset: 3}, {FirstChunkOffset: -512}, {BlockLen: -1}} {
		var buf bytes.Buffer
		WriteMessage(&buf, bad)
		if _, err := ReadResponse(reader(buf.Bytes())); !IsMalformed(err) {
			t.Errorf("ReadResponse(%v) = %v, want a malformed-frame error", bad, err)
		}
	}
}

// encodePacket builds a packet with correct checksums.
func encodePacket(t testing.TB, h PacketHeader, data []byte) []byte {
	t.Helper()
	pb := NewPacketBuf(len(data))
	copy(pb.Data(), data)
	h.DataLen = len(data)
	ComputeSums(pb.Sums(len(data)), data)
	frame, err := pb.Frame(h)
	if err != nil {
		t.Fatalf("Frame(%+v) = %v", h, err)
	}
	return append([]byte(nil), frame...)
}

func TestPacketRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    PacketHeader
		n    int
	}{
		{"a full packet", PacketHeader{Offset: 0, Seqno: 0}, cairn.PacketSize},
		{"a partial chunk", PacketHeader{Offset: 1 << 20, Seqno: 16}, 1000},
		{"one byte", PacketHeader{Offset: 512, Seqno: 1}, 1},
		{"the last packet", PacketHeader{Offset: 12345, Seqno: 3, Last: true}, 0},
		{"a heartbeat", PacketHeader{Seqno: Heartbeat}, 0},
		{"a large packet", PacketHeader{Offset: 0, Seqno: 0, Sync: true}, 1 << 20},
	}
	var stream bytes.Buffer
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte(tc.n), 7, 42}, tc.n/3+1)[:tc.n]
			frame := encodePacket(t, tc.h, data)
			stream.Write(frame)
			pr := NewPacketReader(bytes.NewReader(frame))
			p, err := pr.Next()
			if err != nil {
				t.Fatalf("Next = %v", err)
			}
			want := tc.h
			want.DataLen = tc.n
			if p.PacketHeader != want {
				t.Errorf("header = %+v, want %+v", p.PacketHeader, want)
			}
			if !bytes.Equal(p.Data, data) || !bytes.Equal(p.Frame, frame) {
				t.Errorf("data or frame differ")
			}
			if bad := VerifySums(p.Sums, p.Data); bad != -1 {
				t.Errorf("VerifySums = %d, want -1", bad)
			}
			if _, err := pr.Next(); err != io.EOF {
				t.Errorf("Next at the end = %v, want io.EOF", err)
			}
		})
	}
	// The same packets back to back, through one reader.
	pr := NewPacketReader(bytes.NewReader(stream.Bytes()))
	for _, tc := range tests {
		p, err := pr.Next()
		if err != nil || p.DataLen != tc.n || p.Seqno != tc.h.Seqno {
			t.Fatalf("stream: Next = %+v, %v; want %d bytes", p, err, tc.n)
		}
	}
}

// rawPacket builds a packet frame by hand, so its fields can be wrong.
func rawPacket(plen uint32, hdr *protocol.PacketHeader, payload []byte) []byte {
	hb, _ := proto.Marshal(hdr)
	b := binary.BigEndian.AppendUint32(nil, plen)
	b = binary.BigEndian.AppendUint16(b, uint16(len(hb)))
	b = append(b, hb...)
	return append(b, payload...)
}

func TestPacketReaderRejects(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
	}{
		{"a header over the limit", binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(nil, 0), MaxPacketHeaderSize+1)},
		{"a payload over the limit", binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(nil, 1<<31), 2)},
		{"a header that is not protobuf", append(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(nil, 0), 2), 0xff, 0xff)},
		{"a negative data length", rawPacket(0, &protocol.PacketHeader{DataLen: -1}, nil)},
		{"a data length over the limit", rawPacket(0, &protocol.PacketHeader{DataLen: MaxPacketDataSize + 1}, nil)},
		{"a payload length that does not match", rawPacket(10, &protocol.PacketHeader{DataLen: 10}, make([]byte, 10))},
		{"a negative offset", rawPacket(0, &protocol.PacketHeader{OffsetInBlock: -1}, nil)},
		{"an offset past the limit", rawPacket(0, &protocol.PacketHeader{OffsetInBlock: MaxBlockOffset + 1}, nil)},
		{"a last packet with data", rawPacket(5, &protocol.PacketHeader{DataLen: 1, LastPacketInBlock: true}, make([]byte, 5))},
		{"a heartbeat with data", rawPacket(5, &protocol.PacketHeader{DataLen: 1, Seqno: -1}, make([]byte, 5))},
		{"a seqno below -1", rawPacket(0, &protocol.PacketHeader{Seqno: -2}, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPacketReader(bytes.NewReader(tc.frame)).Next()
			if !IsMalformed(err) {
				t.Errorf("Next(%x) = %v, want a malformed-frame error", tc.frame[:min(len(tc.frame), 32)], err)
			}
		})
	}
	full := encodePacket(t, PacketHeader{Seqno: 0}, make([]byte, 1000))
	for _, n := range []int{1, 6, 9, len(full) - 1} {
		_, err := NewPacketReader(bytes.NewReader(full[:n])).Next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Next(packet cut at %d) = %v, want ErrUnexpectedEOF", n, err)
		}
	}
}

func TestFrameRejectsBadHeaders(t *testing.T) {
	pb := NewPacketBuf(1024)
	for _, h := range []PacketHeader{
		{DataLen: 2048},
		{DataLen: 10, Last: true},
		{Seqno: -5},
		{Offset: -1},
	} {
		if _, err := pb.Frame(h); err == nil {
			t.Errorf("Frame(%+v) = nil error", h)
		}
	}
}

func TestChecksums(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 200) // 2000 bytes: 4 chunks
	sums := make([]byte, SumsLen(len(data)))
	if len(sums) != 16 {
		t.Fatalf("SumsLen(2000) = %d, want 16", len(sums))
	}
	ComputeSums(sums, data)
	if got := binary.BigEndian.Uint32(sums[12:]); got != ChunkCRC(data[1536:]) {
		t.Errorf("last checksum = %x, want the CRC of the partial chunk %x", got, ChunkCRC(data[1536:]))
	}
	// Known CRC32C value: "123456789" -> e3069283.
	if got := ChunkCRC([]byte("123456789")); got != 0xe3069283 {
		t.Errorf("ChunkCRC(123456789) = %x, want e3069283", got)
	}
	if bad := VerifySums(sums, data); bad != -1 {
		t.Errorf("VerifySums = %d, want -1", bad)
	}
	data[1100] ^= 1
	if bad := VerifySums(sums, data); bad != 2 {
		t.Errorf("VerifySums after damage = %d, want 2", bad)
	}
	if bad := VerifySums(sums[:4], data[:600]); bad != 1 {
		t.Errorf("VerifySums with missing sums = %d, want 1", bad)
	}
}

// Fuzz targets: every decoder must return an error on bad input, never
// panic or allocate without bound. The seeds run as part of go test.

func FuzzReadOp(f *testing.F) {
	var buf bytes.Buffer
	WriteOp(&buf, OpWriteBlock, &protocol.OpWriteBlock{Block: &protocol.Block{Id: 1}, Targets: []*protocol.DatanodeInfo{{Addr: "a:1"}}})
	f.Add(buf.Bytes())
	buf.Reset()
	WriteOp(&buf, OpReadBlock, &protocol.OpReadBlock{Block: &protocol.Block{Id: 1}, Length: 10})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 1, 80, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := reader(in)
		op, err := ReadOp(r)
		if err != nil {
			return
		}
		switch op {
		case OpWriteBlock:
			ReadMessage(r, new(protocol.OpWriteBlock))
		case OpReadBlock:
			ReadMessage(r, new(protocol.OpReadBlock))
		default:
			t.Fatalf("ReadOp returned unknown op %v without error", op)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	var buf bytes.Buffer
	WriteMessage(&buf, &protocol.BlockOpResponse{Status: &protocol.Status{Kind: 3, Message: "m"}, FirstBadLink: "x", FirstChunkOffset: 512, BlockLen: 1000})
	f.Add(buf.Bytes())
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := ReadResponse(reader(in))
		if err == nil && (resp.FirstChunkOffset < 0 || resp.FirstChunkOffset%cairn.ChunkSize != 0 || resp.BlockLen < 0) {
			t.Fatalf("ReadResponse accepted %v", resp)
		}
	})
}

func FuzzReadAck(f *testing.F) {
	var buf bytes.Buffer
	WriteMessage(&buf, &protocol.PipelineAck{Seqno: 5, Replies: []uint32{0, 0, 12}, Message: "x"})
	f.Add(buf.Bytes())
	f.Add([]byte{2, 8, 1})
	f.Add([]byte{0x80, 0x80, 0x04})
	f.Fuzz(func(t *testing.T, in []byte) {
		ack, err := ReadAck(reader(in))
		if err == nil && (ack.Seqno < -1 || len(ack.Replies) > MaxPipeline) {
			t.Fatalf("ReadAck accepted %v", ack)
		}
	})
}

func FuzzPacketReader(f *testing.F) {
	f.Add(encodePacket(f, PacketHeader{Offset: 512, Seqno: 1}, bytes.Repeat([]byte{1}, 700)))
	f.Add(encodePacket(f, PacketHeader{Offset: 5, Seqno: 9, Last: true}, nil))
	f.Add(encodePacket(f, PacketHeader{Seqno: Heartbeat}, nil))
	f.Add(rawPacket(1<<30, &protocol.PacketHeader{DataLen: 1 << 30}, nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		pr := NewPacketReader(bytes.NewReader(in))
		for {
			p, err := pr.Next()
			if err != nil {
				return
			}
			if p.DataLen != len(p.Data) || len(p.Sums) != SumsLen(p.DataLen) || len(p.Frame) > len(in) {
				t.Fatalf("inconsistent packet %+v", p.PacketHeader)
			}
			VerifySums(p.Sums, p.Data)
		}
	})
}

func TestPacketHeaderEncodingMatchesProto(t *testing.T) {
	for _, h := range []PacketHeader{
		{},
		{Offset: 1 << 40, Seqno: 12345, DataLen: cairn.PacketSize},
		{Offset: 512, Seqno: Heartbeat},
		{Offset: 99, Seqno: 3, Last: true, Sync: true},
	} {
		got := h.appendProto(nil)
		want, err := proto.Marshal(&protocol.PacketHeader{
			OffsetInBlock:     h.Offset,
			Seqno:             h.Seqno,
			LastPacketInBlock: h.Last,
			DataLen:           int32(h.DataLen),
			Sync:              h.Sync,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appendProto(%+v) = %x, want %x", h, got, want)
		}
	}
}

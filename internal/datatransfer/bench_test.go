package datatransfer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// startDataNode runs a DataNode whose NameNode is never reached: the
// data-transfer server works without it.
func startDataNode(tb testing.TB) cairn.DatanodeInfo {
	tb.Helper()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	nn := dead.Addr().String()
	dead.Close()
	dn, err := datanode.New(datanode.Config{Dirs: []string{tb.TempDir()}, NameNode: nn}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dn.Serve(context.Background(), lis) }()
	tb.Cleanup(func() {
		dn.Close()
		<-done
	})
	return cairn.DatanodeInfo{ID: dn.ID(), Addr: lis.Addr().String()}
}

func randomData(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func TestWriteReadAgainstDataNode(t *testing.T) {
	pipeline := []cairn.DatanodeInfo{startDataNode(t), startDataNode(t)}
	data := randomData(3*cairn.PacketSize + 777)
	b := cairn.Block{ID: 12, GenStamp: 1}
	ctx := context.Background()
	// Small packets and a small window exercise the flow control.
	w, err := datatransfer.Options{PacketSize: 1000, Window: 3}.NewBlockWriter(ctx, b, pipeline, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Acked() != int64(len(data)) {
		t.Errorf("Acked() = %d, want %d", w.Acked(), len(data))
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	for _, node := range pipeline {
		r, err := datatransfer.ReadBlock(ctx, node, b, 100, int64(len(data))-200, "t")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := io.Copy(&got, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(got.Bytes(), data[100:len(data)-100]) {
			t.Errorf("ReadBlock from %s: different bytes", node.Addr)
		}
	}
	if _, err := datatransfer.NewBlockWriter(ctx, b, nil, "t"); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("NewBlockWriter(no pipeline) = %v, want Invalid", err)
	}
	if _, err := datatransfer.ReadBlock(ctx, pipeline[0], b, -1, 5, "t"); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("ReadBlock(offset -1) = %v, want Invalid", err)
	}
}

func BenchmarkChecksumPacket(b *testing.B) {
	data := randomData(cairn.PacketSize)
	sums := make([]byte, datatransfer.SumsLen(len(data)))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		datatransfer.ComputeSums(sums, data)
	}
}

func BenchmarkVerifyPacket(b *testing.B) {
	data := randomData(cairn.PacketSize)
	sums := make([]byte, datatransfer.SumsLen(len(data)))
	datatransfer.ComputeSums(sums, data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if datatransfer.VerifySums(sums, data) != -1 {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkPacketEncode(b *testing.B) {
	pb := datatransfer.NewPacketBuf(cairn.PacketSize)
	copy(pb.Data(), randomData(cairn.PacketSize))
	b.SetBytes(cairn.PacketSize)
	var seq int64
	for b.Loop() {
		datatransfer.ComputeSums(pb.Sums(cairn.PacketSize), pb.Data())
		if _, err := pb.Frame(datatransfer.PacketHeader{Offset: seq * cairn.PacketSize, Seqno: seq, DataLen: cairn.PacketSize}); err != nil {
			b.Fatal(err)
		}
		seq++
	}
}

func BenchmarkPacketDecode(b *testing.B) {
	pb := datatransfer.NewPacketBuf(cairn.PacketSize)
	copy(pb.Data(), randomData(cairn.PacketSize))
	datatransfer.ComputeSums(pb.Sums(cairn.PacketSize), pb.Data())
	frame, _ := pb.Frame(datatransfer.PacketHeader{DataLen: cairn.PacketSize})
	r := bytes.NewReader(frame)
	pr := datatransfer.NewPacketReader(r)
	b.SetBytes(cairn.PacketSize)
	for b.Loop() {
		r.Reset(frame)
		p, err := pr.Next()
		if err != nil {
			b.Fatal(err)
		}
		if datatransfer.VerifySums(p.Sums, p.Data) != -1 {
			b.Fatal("mismatch")
		}
	}
}

const benchBlock = 64 << 20

func writeBench(b *testing.B, pipeline []cairn.DatanodeInfo, data []byte, id cairn.BlockID) {
	w, err := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: id, GenStamp: 1}, pipeline, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := w.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteBlock writes a 64 MiB block, fsync'd, down pipelines
// of one and three DataNodes on loopback.
func BenchmarkWriteBlock(b *testing.B) {
	data := randomData(benchBlock)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			var pipeline []cairn.DatanodeInfo
			for range n {
				pipeline = append(pipeline, startDataNode(b))
			}
			b.SetBytes(benchBlock)
			id := cairn.BlockID(1)
			for b.Loop() {
				writeBench(b, pipeline, data, id)
				id++
			}
		})
	}
}

// BenchmarkReadBlock reads a 64 MiB block (from the page cache) over
// loopback, verifying every checksum.
func BenchmarkReadBlock(b *testing.B) {
	node := startDataNode(b)
	data := randomData(benchBlock)
	block := cairn.Block{ID: 1, GenStamp: 1, Len: benchBlock}
	writeBench(b, []cairn.DatanodeInfo{node}, data, block.ID)
	b.SetBytes(benchBlock)
	for b.Loop() {
		r, err := datatransfer.ReadBlock(context.Background(), node, block, 0, benchBlock, "bench")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != benchBlock {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

// BenchmarkWriteReadBlock writes a 64 MiB block to one DataNode and
// reads it back.
func BenchmarkWriteReadBlock(b *testing.B) {
	node := startDataNode(b)
	data := randomData(benchBlock)
	b.SetBytes(2 * benchBlock)
	id := cairn.BlockID(1)
	for b.Loop() {
		writeBench(b, []cairn.DatanodeInfo{node}, data, id)
		r, err := datatransfer.ReadBlock(context.Background(), node, cairn.Block{ID: id, GenStamp: 1}, 0, benchBlock, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != benchBlock {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		r.Close()
		id++
	}
}

// BenchmarkLoopbackTCP is the yardstick for BenchmarkReadBlock: one
// plain TCP stream over loopback, 64 KiB writes and reads.
func BenchmarkLoopbackTCP(b *testing.B) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer lis.Close()
	buf := randomData(cairn.PacketSize)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for sent := 0; sent < benchBlock; sent += len(buf) {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.SetBytes(benchBlock)
	for b.Loop() {
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		rb := make([]byte, cairn.PacketSize)
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, rb)
		c.Close()
		if err != nil || n != benchBlock {
			b.Fatalf("read %d, %v", n, err)
		}
	}
}

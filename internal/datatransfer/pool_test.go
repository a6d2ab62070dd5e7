package datatransfer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// poolNode is a DataNode whose accepted connections are counted, and
// which can be restarted on the same address and directory.
type poolNode struct {
	t    *testing.T
	dir  string
	addr string
	info cairn.DatanodeInfo
	lis  *countingListener
	stop func()
}

func startPoolNode(t *testing.T, dir, addr string) *poolNode {
	t.Helper()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nn := dead.Addr().String()
	dead.Close()
	dn, err := datanode.New(datanode.Config{Dirs: []string{dir}, NameNode: nn}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: l}
	done := make(chan error, 1)
	go func() { done <- dn.Serve(context.Background(), cl) }()
	n := &poolNode{t: t, dir: dir, addr: l.Addr().String(), lis: cl}
	n.info = cairn.DatanodeInfo{ID: dn.ID(), Addr: n.addr}
	stopped := false
	n.stop = func() {
		if !stopped {
			stopped = true
			dn.Close()
			<-done
		}
	}
	t.Cleanup(n.stop)
	return n
}

func readAll(t *testing.T, o datatransfer.Options, node cairn.DatanodeInfo, b cairn.Block, off, n int64) []byte {
	t.Helper()
	r, err := o.ReadBlock(context.Background(), node, b, off, n, "t")
	if err != nil {
		t.Fatalf("ReadBlock(%d, %d) = %v", off, n, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading [%d, +%d): %v", off, n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	return got
}

func TestPoolReusesConnections(t *testing.T) {
	n := startPoolNode(t, t.TempDir(), "127.0.0.1:0")
	data := randomData(3*cairn.PacketSize + 100)
	b := cairn.Block{ID: 7, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, []cairn.DatanodeInfo{n.info}, b, data)
	before := n.lis.n.Load()

	pool := datatransfer.NewConnPool(0, 0)
	defer pool.Close()
	o := datatransfer.Options{Pool: pool}
	ranges := [][2]int64{{0, 1000}, {5, 10}, {0, int64(len(data))}, {cairn.PacketSize + 3, 2 * cairn.PacketSize}, {int64(len(data)) - 1, 1}, {0, 0}}
	for _, rg := range ranges {
		got := readAll(t, o, n.info, b, rg[0], rg[1])
		if !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Errorf("read [%d, +%d) through the pool: different bytes", rg[0], rg[1])
		}
	}
	if got := n.lis.n.Load() - before; got != 1 {
		t.Errorf("%d reads took %d connections, want 1", len(ranges), got)
	}

	// A read closed half way is not given back.
	r, err := o.ReadBlock(context.Background(), n.info, b, 0, int64(len(data)), "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	readAll(t, o, n.info, b, 0, 10)
	if got := n.lis.n.Load() - before; got != 2 {
		t.Errorf("after an abandoned read, %d connections, want 2", got)
	}

	// Without a pool, every read has its own connection.
	readAll(t, datatransfer.Options{}, n.info, b, 0, 10)
	readAll(t, datatransfer.Options{}, n.info, b, 0, 10)
	if got := n.lis.n.Load() - before; got != 4 {
		t.Errorf("after two reads without a pool, %d connections, want 4", got)
	}
}

func TestPoolRetriesStaleConnection(t *testing.T) {
	dir := t.TempDir()
	n := startPoolNode(t, dir, "127.0.0.1:0")
	data := randomData(5000)
	b := cairn.Block{ID: 8, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, []cairn.DatanodeInfo{n.info}, b, data)
	pool := datatransfer.NewConnPool(0, 0)
	defer pool.Close()
	o := datatransfer.Options{Pool: pool}
	readAll(t, o, n.info, b, 0, 100)

	// The DataNode restarts: the pooled connection is dead.
	n.stop()
	n2 := startPoolNode(t, dir, n.addr)
	if got := readAll(t, o, n2.info, b, 100, 200); !bytes.Equal(got, data[100:300]) {
		t.Error("read after a restart: different bytes")
	}
	// An error answer (a block the node lacks) is not retried and does
	// not poison the pool.
	if _, err := o.ReadBlock(context.Background(), n2.info, cairn.Block{ID: 99, GenStamp: 1}, 0, 1, "t"); cairn.KindOf(err) == cairn.Other || err == nil {
		t.Errorf("ReadBlock(missing block) = %v, want an error with a kind", err)
	}
	if got := readAll(t, o, n2.info, b, 0, 5000); !bytes.Equal(got, data) {
		t.Error("read after an error answer: different bytes")
	}
	pool.Close()
	readAll(t, o, n2.info, b, 0, 10) // a closed pool still lends nothing and keeps nothing
}

func writeBlock(t *testing.T, pipeline []cairn.DatanodeInfo, b cairn.Block, data []byte) {
	t.Helper()
	w, err := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: b.ID, GenStamp: b.GenStamp}, pipeline, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSmallRead reads a 1 KiB block over loopback, on a new
// connection each time and through a ConnPool.
func BenchmarkSmallRead(b *testing.B) {
	node := startDataNode(b)
	data := randomData(1 << 10)
	block := cairn.Block{ID: 1, GenStamp: 1, Len: int64(len(data))}
	w, err := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: 1, GenStamp: 1}, []cairn.DatanodeInfo{node}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for _, pooled := range []bool{false, true} {
		b.Run(fmt.Sprintf("pool=%v", pooled), func(b *testing.B) {
			var o datatransfer.Options
			if pooled {
				o.Pool = datatransfer.NewConnPool(0, 0)
				defer o.Pool.Close()
			}
			buf := make([]byte, len(data)+1)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := o.ReadBlock(context.Background(), node, block, 0, block.Len, "bench")
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.ReadFull(r, buf[:len(data)]); err != nil || n != len(data) {
					b.Fatalf("read %d bytes, %v", n, err)
				}
				r.Close()
			}
		})
	}
}

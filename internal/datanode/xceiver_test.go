package datanode

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// pipeListener hands the DataNode the server ends of in-memory
// connections (net.Pipe), which buffer nothing: a test reader controls
// exactly when the DataNode's writes make progress.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(t *testing.T) net.Conn {
	t.Helper()
	c, s := net.Pipe()
	select {
	case l.conns <- s:
	case <-time.After(30 * time.Second):
		t.Fatal("the DataNode does not accept")
	}
	return c
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// startPipeNode starts a DataNode with cfg (Dirs and NameNode filled in
// if empty) serving on a pipeListener.
func startPipeNode(t *testing.T, cfg Config) (*DataNode, *pipeListener) {
	t.Helper()
	if cfg.Dirs == nil {
		cfg.Dirs = []string{t.TempDir()}
	}
	if cfg.NameNode == "" {
		cfg.NameNode = deadAddr(t)
	}
	dn, err := New(cfg, newLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	lis := newPipeListener()
	done := make(chan error, 1)
	go func() { done <- dn.Serve(context.Background(), lis) }()
	t.Cleanup(func() {
		dn.Close()
		<-done
	})
	return dn, lis
}

// putReplica stores a finalized replica of b holding data straight
// into the DataNode's store.
func putReplica(t *testing.T, dn *DataNode, b cairn.Block, data []byte) {
	t.Helper()
	r, err := dn.store.create(b, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), cairn.PacketSize)
		sums := make([]byte, datatransfer.SumsLen(k))
		datatransfer.ComputeSums(sums, rest[:k])
		if err := r.write(sums, rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	if _, err := r.finalize(); err != nil {
		t.Fatal(err)
	}
}

// openConns returns the DataNode's open data-transfer connections.
func (d *DataNode) openConns() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// slowReader returns at most chunk bytes per Read, after a pause.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// readWhole runs a READ_BLOCK of all of b over conn, reading through r,
// and returns the bytes.
func readWhole(conn net.Conn, r io.Reader, b cairn.Block) ([]byte, error) {
	if err := datatransfer.WriteOp(conn, datatransfer.OpReadBlock, &protocol.OpReadBlock{Block: protocol.BlockToProto(b), Length: b.Len}); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 4096)
	resp, err := datatransfer.ReadResponse(br)
	if err != nil {
		return nil, err
	}
	if err := protocol.ErrorFromStatus("test", "", resp.Status); err != nil {
		return nil, err
	}
	pr := datatransfer.NewPacketReader(br)
	var got []byte
	for {
		pkt, err := pr.Next()
		if err != nil {
			return got, err
		}
		got = append(got, pkt.Data...)
		if pkt.Last {
			return got, datatransfer.WriteMessage(conn, &protocol.Status{})
		}
	}
}

func TestSlowReaderIsNotCutOff(t *testing.T) {
	// Each 64 KiB packet takes the reader longer than the idle timeout
	// to take, but it takes some bytes far more often: the transfer
	// goes on to the end.
	const idle = time.Second
	dn, lis := startPipeNode(t, Config{SocketWriteTimeout: idle})
	data := randomBytes(4*cairn.PacketSize+1000, 30)
	b := cairn.Block{ID: 30, GenStamp: 1, Len: int64(len(data))}
	putReplica(t, dn, b, data)
	conn := lis.dial(t)
	defer conn.Close()
	// 2 KiB every 40 ms: 1.3 s a packet, a pause 25 times shorter than
	// the timeout.
	got, err := readWhole(conn, slowReader{r: conn, chunk: 2048, pause: 40 * time.Millisecond}, b)
	if err != nil {
		t.Fatalf("slow read of %v = %d bytes, %v; want the whole block", b, len(got), err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("slow read returned %d bytes differing from the block's %d", len(got), len(data))
	}
}

func TestStoppedReaderIsDropped(t *testing.T) {
	// A reader that stops reading is noticed after the idle timeout
	// and its connection freed, over a real TCP connection.
	nn := startFakeNameNode(t, "c")
	dn, err := New(Config{Dirs: []string{t.TempDir()}, NameNode: nn.addr, SocketWriteTimeout: 300 * time.Millisecond}, newLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dn.Serve(context.Background(), lis) }()
	defer func() { dn.Close(); <-done }()
	// More than the socket buffers of both ends hold.
	data := randomBytes(8<<20, 31)
	b := cairn.Block{ID: 31, GenStamp: 1, Len: int64(len(data))}
	putReplica(t, dn, b, data)
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	if err := datatransfer.WriteOp(conn, datatransfer.OpReadBlock, &protocol.OpReadBlock{Block: protocol.BlockToProto(b), Length: b.Len}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return dn.active.Load() == 1 }, "the read to start")
	// The reader reads nothing more.
	waitFor(t, func() bool { return dn.openConns() == 0 && dn.active.Load() == 0 }, "the stopped reader's connection to be closed")
}

func TestWriterTimeoutSetsTheIdleWait(t *testing.T) {
	// A writer that says its timeout (timeout_ms) may stay silent for
	// up to half of it: the DataNode waits that long for its packets,
	// not its own shorter default.
	nodes := make([]*node, 2)
	for i := range nodes {
		nodes[i] = startNodeWith(t, Config{SocketReadTimeout: 200 * time.Millisecond, SocketWriteTimeout: 200 * time.Millisecond})
	}
	b := cairn.Block{ID: 32, GenStamp: 1}
	w, err := datatransfer.Options{Timeout: 4 * time.Second}.NewBlockWriter(context.Background(), b, pipelineOf(nodes...), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("before"))
	// Silent for longer than the DataNodes' own timeout, shorter than
	// half the writer's (its heartbeats start then).
	time.Sleep(time.Second)
	w.Write([]byte(" and after"))
	if err := w.Close(); err != nil {
		t.Fatalf("Close after a silence within the writer's timeout = %v", err)
	}
	for i, n := range nodes {
		if got, err := readBlock(context.Background(), n.info, cairn.Block{ID: 32, GenStamp: 1, Len: 16}, 0, 16); err != nil || string(got) != "before and after" {
			t.Errorf("node %d: ReadBlock = %q, %v", i, got, err)
		}
	}
}

package datanode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// testLog sends log lines to t.Log until the test ends.
type testLog struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testLog) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func newLogger(t testing.TB) *slog.Logger {
	w := &testLog{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// deadAddr returns an address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// node is a DataNode running in a test.
type node struct {
	dn   *DataNode
	dirs []string
	info cairn.DatanodeInfo
	done chan error
}

func (n *node) stop(t testing.TB) {
	t.Helper()
	n.dn.Close()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

// startNode starts a DataNode on dirs (nil: a new temporary one) whose
// NameNode is nn (empty: an address nobody listens on).
func startNode(t testing.TB, dirs []string, nn string) *node {
	t.Helper()
	return startNodeWith(t, Config{Dirs: dirs, NameNode: nn})
}

// startNodeWith starts a DataNode with cfg, whose Dirs (nil: a new
// temporary one), NameNode (empty: an address nobody listens on) and
// HeartbeatInterval (0: 50ms) are filled in.
func startNodeWith(t testing.TB, cfg Config) *node {
	t.Helper()
	if cfg.Dirs == nil {
		cfg.Dirs = []string{t.TempDir()}
	}
	if cfg.NameNode == "" {
		cfg.NameNode = deadAddr(t)
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 50 * time.Millisecond
	}
	dirs := cfg.Dirs
	dn, err := New(cfg, newLogger(t))
	if err != nil {
		t.Fatalf("New(%v) = %v", dirs, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dn: dn, dirs: dirs, done: make(chan error, 1)}
	n.info = cairn.DatanodeInfo{ID: dn.ID(), Addr: lis.Addr().String()}
	go func() { n.done <- dn.Serve(context.Background(), lis) }()
	t.Cleanup(func() { dn.Close() })
	return n
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeBlock(t testing.TB, b cairn.Block, pipeline []cairn.DatanodeInfo, data []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := datatransfer.NewBlockWriter(ctx, b, pipeline, "test-client")
	if err != nil {
		t.Fatalf("NewBlockWriter(%v) = %v", b, err)
	}
	// Uneven writes exercise packet boundaries.
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 1+len(rest)%70001)
		if _, err := w.Write(rest[:k]); err != nil {
			t.Fatalf("Write = %v", err)
		}
		rest = rest[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := w.Acked(); got != int64(len(data)) {
		t.Errorf("Acked() = %d, want %d", got, len(data))
	}
}

func readBlock(ctx context.Context, node cairn.DatanodeInfo, b cairn.Block, off, n int64) ([]byte, error) {
	r, err := datatransfer.ReadBlock(ctx, node, b, off, n, "test-client")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func pipelineOf(nodes ...*node) []cairn.DatanodeInfo {
	var p []cairn.DatanodeInfo
	for _, n := range nodes {
		p = append(p, n.info)
	}
	return p
}

func TestPipelineWriteAndRead(t *testing.T) {
	nodes := []*node{startNode(t, nil, ""), startNode(t, nil, ""), startNode(t, nil, "")}
	data := randomBytes(5*cairn.PacketSize+12345, 1)
	b := cairn.Block{ID: 1 << 20, GenStamp: 1001}
	writeBlock(t, b, pipelineOf(nodes...), data)
	b.Len = int64(len(data))
	ctx := context.Background()
	for i, n := range nodes {
		got, err := readBlock(ctx, n.info, b, 0, b.Len)
		if err != nil {
			t.Fatalf("node %d: ReadBlock(all) = %v", i, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("node %d: ReadBlock(all) returned different bytes (%d of them, want %d)", i, len(got), len(data))
		}
		if blocks := n.dn.Blocks(); len(blocks) != 1 || blocks[0] != b {
			t.Errorf("node %d: Blocks() = %v, want [%v]", i, blocks, b)
		}
		dataPath, metaPath, ok := n.dn.BlockFiles(b.ID)
		if !ok {
			t.Fatalf("node %d: BlockFiles(%d) not found", i, b.ID)
		}
		onDisk, _ := os.ReadFile(dataPath)
		meta, _ := os.ReadFile(metaPath)
		if !bytes.Equal(onDisk, data) {
			t.Errorf("node %d: data file differs from what was written", i)
		}
		if !bytes.Equal(meta, EncodeMeta(data)) {
			t.Errorf("node %d: meta file differs from EncodeMeta(data)", i)
		}
		if entries, _ := os.ReadDir(filepath.Join(n.dirs[0], "current", "rbw")); len(entries) != 0 {
			t.Errorf("node %d: rbw holds %d files after a finished write", i, len(entries))
		}
	}
	ranges := []struct {
		name     string
		off, len int64
	}{
		{"the first byte", 0, 1},
		{"a byte in the middle of a chunk", 700, 1},
		{"across a chunk boundary", 511, 2},
		{"an odd range across a packet boundary", cairn.PacketSize - 3, 1001},
		{"a long odd range", 12345, 3*cairn.PacketSize + 7},
		{"the last byte", b.Len - 1, 1},
		{"the partial last chunk", b.Len - b.Len%cairn.ChunkSize, b.Len % cairn.ChunkSize},
		{"nothing at the end", b.Len, 0},
		{"nothing in the middle", 1000, 0},
	}
	for _, tc := range ranges {
		t.Run(tc.name, func(t *testing.T) {
			for i, n := range nodes {
				got, err := readBlock(ctx, n.info, b, tc.off, tc.len)
				if err != nil {
					t.Fatalf("node %d: ReadBlock(%d, %d) = %v", i, tc.off, tc.len, err)
				}
				if want := data[tc.off : tc.off+tc.len]; !bytes.Equal(got, want) {
					t.Fatalf("node %d: ReadBlock(%d, %d) returned %d different bytes", i, tc.off, tc.len, len(got))
				}
			}
		})
	}
}

func TestEmptyBlock(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	b := cairn.Block{ID: 7, GenStamp: 1}
	writeBlock(t, b, pipelineOf(n1, n2), nil)
	for i, n := range []*node{n1, n2} {
		got, err := readBlock(context.Background(), n.info, b, 0, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("node %d: ReadBlock of an empty block = %d bytes, %v", i, len(got), err)
		}
	}
}

func TestBadReads(t *testing.T) {
	n := startNode(t, nil, "")
	data := randomBytes(3000, 2)
	b := cairn.Block{ID: 9, GenStamp: 3}
	writeBlock(t, b, pipelineOf(n), data)
	ctx := context.Background()
	tests := []struct {
		name  string
		block cairn.Block
		off   int64
		len   int64
		kind  cairn.Kind
	}{
		{"an unknown block is not found", cairn.Block{ID: 10, GenStamp: 3}, 0, 1, cairn.NotExist},
		{"another generation stamp is not found", cairn.Block{ID: 9, GenStamp: 2}, 0, 1, cairn.NotExist},
		{"a range past the end is invalid", b, 2000, 1001, cairn.Invalid},
		{"a negative offset is invalid", b, -1, 10, cairn.Invalid},
		{"a negative length is invalid", b, 0, -10, cairn.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBlock(ctx, n.info, tc.block, tc.off, tc.len)
			if cairn.KindOf(err) != tc.kind {
				t.Errorf("ReadBlock(%v, %d, %d) = %v, want kind %v", tc.block, tc.off, tc.len, err, tc.kind)
			}
		})
	}
	// Garbage on the port does not hurt the server.
	for _, junk := range [][]byte{{0, 1, 99}, {0, 9, 80}, {0, 1, 80, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte("GET / HTTP/1.0\r\n\r\n")} {
		c, err := net.Dial("tcp", n.info.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(junk)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c)
		c.Close()
	}
	if got, err := readBlock(ctx, n.info, b, 0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlock after garbage = %d bytes, %v; want the block", len(got), err)
	}
}

func TestCorruptReplica(t *testing.T) {
	n := startNode(t, nil, "")
	data := randomBytes(3*cairn.PacketSize+100, 3)
	b := cairn.Block{ID: 77, GenStamp: 5, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(n), data)
	dataPath, _, ok := n.dn.BlockFiles(b.ID)
	if !ok {
		t.Fatal("BlockFiles: not found")
	}
	const at = cairn.PacketSize + 1000
	f, err := os.OpenFile(dataPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[at] ^ 0x40}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	_, err = readBlock(ctx, n.info, b, 0, b.Len)
	if !errors.Is(err, cairn.Corrupt) {
		t.Fatalf("ReadBlock of a damaged replica = %v, want a Corrupt error", err)
	}
	if msg := err.Error(); !strings.Contains(msg, datatransfer.BlockName(b)) || !strings.Contains(msg, n.info.Addr) {
		t.Errorf("error %q does not name the block and the node", msg)
	}
	// The chunks around the damage still read.
	if got, err := readBlock(ctx, n.info, b, 0, at-at%cairn.ChunkSize); err != nil || !bytes.Equal(got, data[:at-at%cairn.ChunkSize]) {
		t.Errorf("ReadBlock before the damage = %d bytes, %v", len(got), err)
	}
	if got, err := readBlock(ctx, n.info, b, at+cairn.ChunkSize, 100); err != nil || !bytes.Equal(got, data[at+cairn.ChunkSize:at+cairn.ChunkSize+100]) {
		t.Errorf("ReadBlock after the damage = %d bytes, %v", len(got), err)
	}
}

func TestSecondWriteOfAReplicaIsRefused(t *testing.T) {
	n := startNode(t, nil, "")
	b := cairn.Block{ID: 5, GenStamp: 9}
	writeBlock(t, b, pipelineOf(n), []byte("hello"))
	_, err := datatransfer.NewBlockWriter(context.Background(), b, pipelineOf(n), "c")
	var pe *datatransfer.PipelineError
	if !errors.As(err, &pe) || pe.Index != 0 || !errors.Is(err, cairn.Exist) {
		t.Fatalf("second NewBlockWriter(%v) = %v, want a PipelineError at index 0 of kind Exist", b, err)
	}
	// A newer generation stamp replaces the replica.
	b2 := cairn.Block{ID: 5, GenStamp: 10}
	writeBlock(t, b2, pipelineOf(n), []byte("hello again"))
	if got, err := readBlock(context.Background(), n.info, b2, 0, 11); err != nil || string(got) != "hello again" {
		t.Errorf("ReadBlock(%v) = %q, %v", b2, got, err)
	}
	if _, err := readBlock(context.Background(), n.info, b, 0, 5); !errors.Is(err, cairn.NotExist) {
		t.Errorf("ReadBlock(old genstamp) = %v, want NotExist", err)
	}
	data, meta, _ := n.dn.BlockFiles(5)
	entries, _ := os.ReadDir(filepath.Dir(data))
	if len(entries) != 2 {
		t.Errorf("replica directory holds %d files, want 2 (%s, %s)", len(entries), data, meta)
	}
}

func TestDownstreamFailure(t *testing.T) {
	nodes := []*node{startNode(t, nil, ""), startNode(t, nil, ""), startNode(t, nil, "")}
	b := cairn.Block{ID: 4242, GenStamp: 1}
	w, err := datatransfer.NewBlockWriter(context.Background(), b, pipelineOf(nodes...), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(cairn.PacketSize, 4)
	for range 8 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("Write before the failure = %v", err)
		}
	}
	// Wait until the pipeline is under way, then kill the last node.
	deadline := time.Now().Add(30 * time.Second)
	for w.Acked() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	nodes[2].stop(t)
	var werr error
	for i := 0; i < 4096 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	cerr := w.Close()
	if werr == nil {
		werr = cerr
	}
	var pe *datatransfer.PipelineError
	if !errors.As(werr, &pe) {
		t.Fatalf("write through a dead node = %v, want a PipelineError", werr)
	}
	if pe.Index != 2 || pe.Node != nodes[2].info {
		t.Errorf("PipelineError names node %d (%v), want node 2 (%v): %v", pe.Index, pe.Node, nodes[2].info, pe)
	}
	if cerr == nil {
		t.Error("Close after a failed pipeline = nil, want an error")
	}
	// Every node discards its partial replica.
	for i, n := range nodes {
		rbw := filepath.Join(n.dirs[0], "current", "rbw")
		waitFor(t, func() bool {
			entries, _ := os.ReadDir(rbw)
			return len(entries) == 0
		}, "node %d: rbw empty", i)
		if _, _, ok := n.dn.BlockFiles(b.ID); ok {
			t.Errorf("node %d holds a finalized replica of a failed write", i)
		}
	}
}

func TestFirstNodeUnreachable(t *testing.T) {
	n := startNode(t, nil, "")
	dead := cairn.DatanodeInfo{ID: "dead", Addr: deadAddr(t)}
	tests := []struct {
		name     string
		pipeline []cairn.DatanodeInfo
		index    int
	}{
		{"a dead first node is named", []cairn.DatanodeInfo{dead, n.info}, 0},
		{"a dead second node is named", []cairn.DatanodeInfo{n.info, dead}, 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: cairn.BlockID(100 + i), GenStamp: 1}, tc.pipeline, "c")
			var pe *datatransfer.PipelineError
			if !errors.As(err, &pe) || pe.Index != tc.index || pe.Node != tc.pipeline[tc.index] {
				t.Fatalf("NewBlockWriter = %v, want a PipelineError naming node %d", err, tc.index)
			}
		})
	}
	waitFor(t, func() bool {
		entries, _ := os.ReadDir(filepath.Join(n.dirs[0], "current", "rbw"))
		return len(entries) == 0
	}, "rbw empty")
}

func TestAbort(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	b := cairn.Block{ID: 31337, GenStamp: 2}
	w, err := datatransfer.NewBlockWriter(context.Background(), b, pipelineOf(n1, n2), "c")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(3*cairn.PacketSize, 5))
	w.Abort()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Abort = nil, want an error")
	}
	for i, n := range []*node{n1, n2} {
		waitFor(t, func() bool {
			entries, _ := os.ReadDir(filepath.Join(n.dirs[0], "current", "rbw"))
			_, _, ok := n.dn.BlockFiles(b.ID)
			return len(entries) == 0 && !ok
		}, "node %d: no trace of the aborted block", i)
	}
}

func TestIdleWriterSendsHeartbeats(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	b := cairn.Block{ID: 8, GenStamp: 1}
	opts := datatransfer.Options{Timeout: 200 * time.Millisecond}
	w, err := opts.NewBlockWriter(context.Background(), b, pipelineOf(n1, n2), "c")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("before"))
	// A producer idle for several timeouts: only heartbeats keep the
	// acks coming.
	time.Sleep(time.Second)
	w.Write([]byte(" and after"))
	if err := w.Close(); err != nil {
		t.Fatalf("Close after an idle spell = %v", err)
	}
	if got, err := readBlock(context.Background(), n2.info, b, 0, 16); err != nil || string(got) != "before and after" {
		t.Errorf("ReadBlock = %q, %v", got, err)
	}
}

func TestCancelWriter(t *testing.T) {
	n := startNode(t, nil, "")
	ctx, cancel := context.WithCancel(context.Background())
	w, err := datatransfer.NewBlockWriter(ctx, cairn.Block{ID: 11, GenStamp: 1}, pipelineOf(n), "c")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(cairn.PacketSize+10, 6))
	cancel()
	var werr error
	for i := 0; i < 10000 && werr == nil; i++ {
		_, werr = w.Write(make([]byte, 4096))
	}
	if werr == nil {
		werr = w.Close()
	} else {
		w.Close()
	}
	if werr == nil {
		t.Fatal("writing after the context is cancelled succeeded")
	}
}

func TestRestartKeepsIdentityAndReplicas(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	n := startNode(t, dirs, "")
	id := n.dn.ID()
	want := map[cairn.BlockID][]byte{}
	for i := range 4 {
		b := cairn.Block{ID: cairn.BlockID(1000 + i*65536), GenStamp: 7}
		data := randomBytes(1000*i+1, uint64(i))
		writeBlock(t, b, pipelineOf(n), data)
		want[b.ID] = data
	}
	// Both volumes got replicas.
	for _, d := range dirs {
		found := 0
		filepath.WalkDir(filepath.Join(d, "current", "finalized"), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !strings.HasSuffix(p, ".meta") {
				found++
			}
			return nil
		})
		if found == 0 {
			t.Errorf("volume %s holds no replica", d)
		}
	}
	n.stop(t)
	// Leftovers of a crash mid-write.
	for _, d := range dirs {
		os.WriteFile(filepath.Join(d, "current", "rbw", "blk_999"), []byte("partial"), 0o644)
		os.WriteFile(filepath.Join(d, "current", "rbw", "blk_999_7.meta"), []byte("x"), 0o644)
	}
	n2 := startNode(t, dirs, "")
	if got := n2.dn.ID(); got != id {
		t.Errorf("ID after restart = %s, want %s", got, id)
	}
	blocks := n2.dn.Blocks()
	if len(blocks) != len(want) {
		t.Errorf("Blocks() after restart = %v, want %d blocks", blocks, len(want))
	}
	for _, b := range blocks {
		got, err := readBlock(context.Background(), n2.info, b, 0, b.Len)
		if err != nil || !bytes.Equal(got, want[b.ID]) {
			t.Errorf("ReadBlock(%v) after restart = %d bytes, %v", b, len(got), err)
		}
	}
	for _, d := range dirs {
		if entries, _ := os.ReadDir(filepath.Join(d, "current", "rbw")); len(entries) != 0 {
			t.Errorf("rbw of %s holds %d files after restart, want none", d, len(entries))
		}
	}
}

func TestVolumesMustAgree(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	log := newLogger(t)
	dnA, err := New(Config{Dirs: []string{a}, NameNode: "x:1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	dnB, err := New(Config{Dirs: []string{b}, NameNode: "x:1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if dnA.ID() == dnB.ID() {
		t.Errorf("two new nodes share ID %s", dnA.ID())
	}
	if _, err := New(Config{Dirs: []string{a, b}, NameNode: "x:1"}, log); err == nil {
		t.Error("New over volumes of two nodes = nil, want an error")
	}
	// A new volume joins an existing node.
	c := t.TempDir()
	dnAC, err := New(Config{Dirs: []string{a, c}, NameNode: "x:1"}, log)
	if err != nil || dnAC.ID() != dnA.ID() {
		t.Errorf("New(a, new volume) = %v, ID %v; want ID %s", err, dnAC, dnA.ID())
	}
	for _, cfg := range []Config{{NameNode: "x:1"}, {Dirs: []string{a}}, {Dirs: []string{a, a}, NameNode: "x:1"}} {
		if _, err := New(cfg, log); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestMetaFormat(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 70000} {
		data := randomBytes(n, uint64(n))
		meta := EncodeMeta(data)
		if int64(len(meta)) != metaLen(int64(n)) {
			t.Errorf("EncodeMeta(%d bytes) is %d bytes, want %d", n, len(meta), metaLen(int64(n)))
		}
		if bad, err := VerifyMeta(meta, data); err != nil || bad != -1 {
			t.Errorf("VerifyMeta(EncodeMeta(%d bytes)) = %d, %v; want -1, nil", n, bad, err)
		}
		if n > 600 {
			data[600] ^= 1
			if bad, err := VerifyMeta(meta, data); err != nil || bad != 512 {
				t.Errorf("VerifyMeta after flipping byte 600 = %d, %v; want 512", bad, err)
			}
		}
	}
	if _, err := parseMetaHeader([]byte{0, 1, 2, 0, 0, 2, 0}); err != nil {
		t.Errorf("parseMetaHeader(the header) = %v", err)
	}
	for _, bad := range [][]byte{nil, {0, 1, 2}, {0, 2, 2, 0, 0, 2, 0}, {0, 1, 1, 0, 0, 2, 0}, {0, 1, 2, 0, 0, 4, 0}} {
		if _, err := parseMetaHeader(bad); err == nil {
			t.Errorf("parseMetaHeader(%x) = nil error", bad)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	nodes := []*node{startNode(t, nil, ""), startNode(t, nil, ""), startNode(t, nil, "")}
	var wg sync.WaitGroup
	datas := make([][]byte, 6)
	for i := range datas {
		datas[i] = randomBytes(cairn.PacketSize*2+i*1000+1, uint64(100+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := pipelineOf(nodes[i%3], nodes[(i+1)%3], nodes[(i+2)%3])
			writeBlock(t, cairn.Block{ID: cairn.BlockID(500 + i), GenStamp: 1}, p, datas[i])
		}()
	}
	wg.Wait()
	for i, data := range datas {
		b := cairn.Block{ID: cairn.BlockID(500 + i), GenStamp: 1}
		for j, n := range nodes {
			got, err := readBlock(context.Background(), n.info, b, 0, int64(len(data)))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("node %d: ReadBlock(%v) = %d bytes, %v", j, b, len(got), err)
			}
		}
	}
}

func TestHealthz(t *testing.T) {
	n := startNode(t, nil, "")
	srv := httpGet(t, n.dn.HTTPHandler(), "/healthz")
	if srv != "ok\n" {
		t.Errorf("/healthz = %q", srv)
	}
	if st := httpGet(t, n.dn.HTTPHandler(), "/status"); !strings.Contains(st, string(n.dn.ID())) {
		t.Errorf("/status = %q, want the node ID in it", st)
	}
}

// waitFor polls cond until it holds, failing after 30 seconds.
func waitFor(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func httpGet(t testing.TB, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET %s = %d", path, rec.Code)
	}
	return rec.Body.String()
}

func TestMiddleNodeFailure(t *testing.T) {
	nodes := []*node{startNode(t, nil, ""), startNode(t, nil, ""), startNode(t, nil, "")}
	b := cairn.Block{ID: 4343, GenStamp: 1}
	w, err := datatransfer.NewBlockWriter(context.Background(), b, pipelineOf(nodes...), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(cairn.PacketSize, 4)
	w.Write(chunk)
	waitFor(t, func() bool { return w.Acked() > 0 }, "the first ack")
	nodes[1].stop(t)
	var werr error
	for i := 0; i < 4096 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		werr = w.Close()
	} else {
		w.Close()
	}
	var pe *datatransfer.PipelineError
	if !errors.As(werr, &pe) || pe.Index != 1 {
		t.Fatalf("write through a dead middle node = %v, want a PipelineError naming node 1", werr)
	}
	for i, n := range nodes {
		waitFor(t, func() bool {
			entries, _ := os.ReadDir(filepath.Join(n.dirs[0], "current", "rbw"))
			return len(entries) == 0
		}, "node %d: rbw empty", i)
	}
}

func TestCorruptPacketFromUpstream(t *testing.T) {
	n1, n2 := startNode(t, nil, ""), startNode(t, nil, "")
	conn, err := net.Dial("tcp", n1.info.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	err = datatransfer.WriteOp(conn, datatransfer.OpWriteBlock, &protocol.OpWriteBlock{
		Block:   &protocol.Block{Id: 99, GenStamp: 1},
		Targets: protocol.DatanodesToProto([]cairn.DatanodeInfo{n2.info}),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := datatransfer.ReadResponse(br)
	if err != nil || resp.Status != nil {
		t.Fatalf("response = %v, %v", resp, err)
	}
	pb := datatransfer.NewPacketBuf(cairn.PacketSize)
	data := pb.Data()[:3000]
	copy(data, randomBytes(3000, 8))
	datatransfer.ComputeSums(pb.Sums(3000), data)
	data[2000] ^= 0xff // damaged in flight
	frame, err := pb.Frame(datatransfer.PacketHeader{Seqno: 0, DataLen: 3000})
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(frame)
	ack, err := datatransfer.ReadAck(br)
	if err != nil {
		t.Fatalf("ReadAck = %v", err)
	}
	if len(ack.Replies) != 2 || cairn.Kind(ack.Replies[0]) != cairn.Corrupt {
		t.Errorf("ack = %v, want the first node to report Corrupt", ack)
	}
	for i, n := range []*node{n1, n2} {
		waitFor(t, func() bool {
			entries, _ := os.ReadDir(filepath.Join(n.dirs[0], "current", "rbw"))
			return len(entries) == 0
		}, "node %d: rbw empty", i)
	}
}

func TestCancelReader(t *testing.T) {
	n := startNode(t, nil, "")
	data := randomBytes(4*cairn.PacketSize, 12)
	b := cairn.Block{ID: 12, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(n), data)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := datatransfer.ReadBlock(ctx, n.info, b, 0, b.Len, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[:1000]) {
		t.Fatalf("first read = %v", err)
	}
	cancel()
	// What is already buffered may still come; then the read fails.
	_, err = io.Copy(io.Discard, r)
	if err == nil {
		t.Fatal("reading after cancel succeeded to the end")
	}
	if _, err := r.Read(buf); err == nil {
		t.Error("Read after a failure = nil error")
	}
}

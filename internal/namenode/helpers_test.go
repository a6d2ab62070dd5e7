package namenode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// testLogWriter sends log lines to t.Log until the test ends.
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		w := &testLogWriter{t: t}
		t.Cleanup(func() {
			w.mu.Lock()
			w.done = true
			w.mu.Unlock()
		})
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a Config for a NameNode in dir with short timeouts.
func testConfig(dir string) Config {
	return Config{
		Dir:              dir,
		DefaultBlockSize: 1 << 20,
		Superuser:        "hdfs",
		Groups:           testGroups,
	}
}

// testGroups is the group mapping of the tests' NameNodes: the users
// the tests act as, whether this host has them or not.
func testGroups(user string) []string {
	switch user {
	case "bob":
		return []string{"eng", "ops"}
	case "alice", "carol":
		return []string{"staff"}
	case "admin":
		return []string{"supergroup"}
	}
	return nil
}

// startServer starts a NameNode on cfg and closes it at the end of the
// test.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newServer starts a NameNode in a fresh directory.
func newServer(t testing.TB) *Server {
	return startServer(t, testConfig(t.TempDir()))
}

var bg = context.Background()

// fakeNode is a synthetic DataNode: it talks to the NameNode through
// the real DatanodeProtocol methods, but holds no data.
type fakeNode struct {
	id   cairn.NodeID
	addr string
}

// registerNodes registers n synthetic DataNodes on hosts 10.0.0.1, ...
// (never contacted), each with 100 GiB free.
func registerNodes(t testing.TB, s *Server, n int) []fakeNode {
	t.Helper()
	var out []fakeNode
	for i := range n {
		fn := fakeNode{id: cairn.NodeID(fmt.Sprintf("dn-%d", i+1)), addr: fmt.Sprintf("10.0.0.%d:9866", i+1)}
		if _, err := s.Register(bg, Registration{ID: fn.id, Addr: fn.addr, Storage: storage(100 << 30)}); err != nil {
			t.Fatalf("Register(%s): %v", fn.id, err)
		}
		out = append(out, fn)
	}
	return out
}

func storage(remaining int64) cairn.StorageReport {
	return cairn.StorageReport{CapacityBytes: remaining * 2, UsedBytes: remaining, RemainingBytes: remaining}
}

// build makes a tree: "d:/a" is a directory (with parents), "f:/a/b"
// an empty complete file (with parents).
func build(t testing.TB, s *Server, specs ...string) {
	t.Helper()
	for _, spec := range specs {
		kind, p, _ := strings.Cut(spec, ":")
		var err error
		switch kind {
		case "d":
			_, err = s.Mkdirs(bg, p, 0o755, true, "alice", "staff")
		case "f":
			_, err = s.Create(bg, p, CreateOptions{Touch: true, CreateParent: true, Owner: "alice", Group: "staff"})
		default:
			t.Fatalf("bad spec %q", spec)
		}
		if err != nil {
			t.Fatalf("build %q: %v", spec, err)
		}
	}
}

// exists reports whether p is in the namespace, and whether it is a
// directory.
func exists(t testing.TB, s *Server, p string) (ok, dir bool) {
	t.Helper()
	st, err := s.GetFileInfo(bg, p, false, "")
	if cairn.KindOf(err) == cairn.NotExist {
		return false, false
	}
	if err != nil {
		t.Fatalf("GetFileInfo(%q) = %v", p, err)
	}
	return true, st.IsDir
}

// wantKind fails unless err is of kind k.
func wantKind(t testing.TB, what string, err error, k cairn.Kind) {
	t.Helper()
	if k == cairn.Other {
		if err != nil {
			t.Fatalf("%s = %v, want no error", what, err)
		}
		return
	}
	if cairn.KindOf(err) != k {
		t.Fatalf("%s = %v (kind %q), want kind %q", what, err, cairn.KindOf(err), k)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeFile creates p as client and writes blocks of the given lengths
// through AddBlock/Complete, reporting every replica as received by its
// pipeline targets. It returns the file's blocks.
func writeFile(t testing.TB, s *Server, p, client string, lens ...int64) []cairn.LocatedBlock {
	t.Helper()
	st, err := s.Create(bg, p, CreateOptions{ClientName: client, Overwrite: true, CreateParent: true})
	if err != nil {
		t.Fatalf("Create(%q) = %v", p, err)
	}
	var prev *cairn.Block
	var out []cairn.LocatedBlock
	for _, n := range lens {
		lb, err := s.AddBlock(bg, p, st.ID, client, prev, nil, "")
		if err != nil {
			t.Fatalf("AddBlock(%q) = %v", p, err)
		}
		b := lb.Block
		b.Len = n
		for _, loc := range lb.Locations {
			if err := s.IncrementalBlockReport(bg, loc.ID, []cairn.Block{b}, nil, nil); err != nil {
				t.Fatalf("IncrementalBlockReport: %v", err)
			}
		}
		lb.Block = b
		out = append(out, lb)
		prev = &b
	}
	if _, err := s.Complete(bg, p, st.ID, client, prev); err != nil {
		t.Fatalf("Complete(%q) = %v", p, err)
	}
	return out
}

// checkReplicaIndex fails the test unless every DataNode's list of the
// blocks it holds says what the block map says, replica by replica,
// and every replica knows its block's place in its node's list.
func checkReplicaIndex(t testing.TB, s *Server) {
	t.Helper()
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	want := make(map[uint32]map[cairn.BlockID]struct{})
	for id, b := range s.ns.blocks {
		for _, r := range b.replicas {
			if want[r.node] == nil {
				want[r.node] = make(map[cairn.BlockID]struct{})
			}
			want[r.node][id] = struct{}{}
			d := s.reg.node(r.node)
			if p := int(r.pos()); p >= len(d.blocks) || d.blocks[p] != id {
				t.Errorf("block %d: its replica on %s says it is at %d in the node's list, which has %d blocks", id, d.id, p, len(d.blocks))
			}
		}
	}
	for _, d := range s.reg.all() {
		got := make(map[cairn.BlockID]struct{})
		for _, id := range d.blocks {
			got[id] = struct{}{}
		}
		if len(got) != len(d.blocks) || !maps.Equal(got, want[d.idx]) && len(got)+len(want[d.idx]) > 0 {
			t.Errorf("datanode %s: its list has %d blocks (%d distinct), the block map %d", d.id, len(d.blocks), len(got), len(want[d.idx]))
		}
		if n := d.numBlocks.Load(); n != int64(len(want[d.idx])) {
			t.Errorf("datanode %s: count of blocks %d, the block map has %d", d.id, n, len(want[d.idx]))
		}
	}
}

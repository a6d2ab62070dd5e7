package namenode

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// concatFixture writes a target and sources of different lengths and
// shapes: /t (a full block and a short one), /a/s1 (a full block and a
// short one), /b/s2 (one short block) and /s3 (no block). It returns
// the blocks the concatenation of the four must have, in order.
func concatFixture(t *testing.T, s *Server) []cairn.Block {
	t.Helper()
	var want []cairn.Block
	for _, f := range []struct {
		path string
		lens []int64
	}{
		{"/t", []int64{1 << 20, 100}},
		{"/a/s1", []int64{1 << 20, 5000}},
		{"/b/s2", []int64{300}},
	} {
		for _, lb := range writeFile(t, s, f.path, "w", f.lens...) {
			want = append(want, lb.Block)
		}
	}
	build(t, s, "f:/s3")
	return want
}

// fileBlocks returns the blocks of the file at p, as the block map has
// them, and checks that each names the file as its owner.
func fileBlocks(t *testing.T, s *Server, p string) []cairn.Block {
	t.Helper()
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookup(p)
	if err != nil {
		t.Fatalf("lookup(%q) = %v", p, err)
	}
	var out []cairn.Block
	for _, b := range n.blocks {
		if b.file != n {
			t.Errorf("block %d of %s: its owner is not the file (%v)", b.id, p, b.file)
		}
		if s.ns.blocks[b.id] != b {
			t.Errorf("block %d of %s is not in the block map", b.id, p)
		}
		out = append(out, b.block())
	}
	return out
}

func mtimeOf(t *testing.T, s *Server, p string) time.Time {
	t.Helper()
	st, err := s.GetFileInfo(bg, p, false, "")
	if err != nil {
		t.Fatalf("GetFileInfo(%q) = %v", p, err)
	}
	return st.ModTime
}

func TestConcat(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	want := concatFixture(t, s)
	before, err := s.GetFileInfo(bg, "/t", false, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetOwner(bg, "/t", "tom", "eng"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPermission(bg, "/t", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.SetXAttrs(bg, "/t", []xattr{{name: "user.kept", value: "t"}}, false, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetXAttrs(bg, "/a/s1", []xattr{{name: "user.gone", value: "s1"}}, false, false); err != nil {
		t.Fatal(err)
	}
	files := s.ns.files
	complete := s.ns.completeBlocks.Load()
	time.Sleep(2 * time.Millisecond) // a later mtime than the writes'

	if err := s.Concat(bg, "/t", []string{"/a/s1", "/b/s2", "/s3"}); err != nil {
		t.Fatalf("Concat = %v", err)
	}

	if got := fileBlocks(t, s, "/t"); !slices.Equal(got, want) {
		t.Errorf("blocks of /t after Concat = %v, want %v", got, want)
	}
	st, err := s.GetFileInfo(bg, "/t", true, "")
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for i, lb := range st.Blocks {
		if lb.Offset != size {
			t.Errorf("block %d (%d bytes) at offset %d, want %d", i, lb.Block.Len, lb.Offset, size)
		}
		if len(lb.Locations) != 3 {
			t.Errorf("block %d has %d locations, want the 3 it had", i, len(lb.Locations))
		}
		size += lb.Block.Len
	}
	if wantSize := int64(2<<20 + 100 + 5000 + 300); st.Size != wantSize || size != wantSize {
		t.Errorf("size of /t = %d (blocks sum to %d), want %d", st.Size, size, wantSize)
	}
	if st.ID != before.ID || st.Replication != before.Replication || st.BlockSize != before.BlockSize ||
		st.Owner != "tom" || st.Group != "eng" || st.Mode != 0o600 || st.UnderConstruction {
		t.Errorf("/t after Concat = %+v; want its ID %d, replication, block size, owner, group and mode kept, closed", st.FileInfo, before.ID)
	}
	for _, p := range []string{"/a/s1", "/b/s2", "/s3"} {
		if ok, _ := exists(t, s, p); ok {
			t.Errorf("source %s still exists after Concat", p)
		}
	}
	for _, p := range []string{"/a", "/b"} {
		if ok, dir := exists(t, s, p); !ok || !dir {
			t.Errorf("directory %s of a source is gone after Concat", p)
		}
	}
	if xa, err := s.GetXAttrs(bg, "/t", nil); err != nil || len(xa) != 1 || string(xa["user.kept"]) != "t" {
		t.Errorf("extended attributes of /t after Concat = %v, %v; want its own user.kept only", xa, err)
	}
	mt := mtimeOf(t, s, "/t")
	if !mt.After(before.ModTime) {
		t.Errorf("mtime of /t = %v, want after %v", mt, before.ModTime)
	}
	for _, p := range []string{"/", "/a", "/b"} {
		if got := mtimeOf(t, s, p); !got.Equal(mt) {
			t.Errorf("mtime of %s = %v, want the concat's %v", p, got, mt)
		}
	}
	if got := s.ns.files; got != files-3 {
		t.Errorf("file count = %d, want %d", got, files-3)
	}
	if got := s.ns.completeBlocks.Load(); got != complete {
		t.Errorf("complete blocks = %d, want %d (none added or lost)", got, complete)
	}
	checkReplicaIndex(t, s)
	rep, err := s.Fsck(bg, "/", cairn.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != cairn.FsckHealthy || rep.UnderReplicatedBlocks != 0 || rep.Files != 1 || rep.Blocks != int64(len(want)) {
		t.Errorf("Fsck after Concat = %+v, want healthy, 1 file, %d blocks", rep, len(want))
	}

	// The web UI's view of the file: each block at its offset.
	f, err := webSource{s}.File(bg, "/t")
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for i, b := range f.Blocks {
		if b.ID != uint64(want[i].ID) || b.Offset != off || b.Length != want[i].Len {
			t.Errorf("web block %d = %+v, want ID %d at %d, %d bytes", i, b, want[i].ID, off, want[i].Len)
		}
		off += b.Length
	}

	// GetBlockLocations gives exactly the blocks a range overlaps.
	for _, tc := range []struct {
		off, n int64
		want   []int // indexes in want
	}{
		{0, 1, []int{0}},
		{1<<20 - 1, 2, []int{0, 1}},
		{1 << 20, 100, []int{1}},
		{1<<20 + 99, 2, []int{1, 2}},
		{1<<20 + 100, 1 << 20, []int{2}},
		{2<<20 + 100, 5000, []int{3}},
		{2<<20 + 5099, 2, []int{3, 4}},
		{2<<20 + 5100 + 299, 0, []int{4}},
		{1 << 20, 0, []int{1, 2, 3, 4}},
	} {
		st, err := s.GetBlockLocations(bg, "/t", tc.off, tc.n, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, lb := range st.Blocks {
			got = append(got, slices.Index(want, lb.Block))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("GetBlockLocations(/t, %d, %d) gives blocks %v, want %v", tc.off, tc.n, got, tc.want)
		}
	}
}

// A refused concat changes nothing, whether the leader refuses it
// before proposing or applying the command finds the state changed.
func TestConcatRefusals(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	writeFile(t, s, "/t", "w", 10)
	writeFile(t, s, "/s", "w", 20)
	writeFile(t, s, "/s2", "w", 30)
	build(t, s, "d:/dir")
	if _, err := s.Create(bg, "/open", CreateOptions{ClientName: "w2"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		target string
		srcs   []string
		kind   cairn.Kind
		msg    string
	}{
		{"a missing target is refused", "/none", []string{"/s"}, cairn.NotExist, ""},
		{"a missing source is refused, and named", "/t", []string{"/s", "/none"}, cairn.NotExist, "source /none does not exist"},
		{"a source under a file is refused", "/t", []string{"/s/x"}, cairn.NotDir, ""},
		{"a directory as target is refused", "/dir", []string{"/s"}, cairn.IsDir, "target is a directory"},
		{"the root as target is refused", "/", []string{"/s"}, cairn.IsDir, ""},
		{"a directory as source is refused", "/t", []string{"/dir"}, cairn.IsDir, "source /dir is a directory"},
		{"a target being written is refused", "/open", []string{"/s"}, cairn.LeaseConflict, "target is open for writing"},
		{"a source being written is refused", "/t", []string{"/s", "/open"}, cairn.LeaseConflict, "source /open is open for writing"},
		{"a source given twice is refused", "/t", []string{"/s", "/s2", "/s"}, cairn.Invalid, "source /s is given twice"},
		{"the target among the sources is refused", "/t", []string{"/s", "/t"}, cairn.Invalid, "target /t is also a source"},
		{"no source is refused", "/t", nil, cairn.Invalid, "no source"},
		{"an invalid target path is refused", "t", []string{"/s"}, cairn.Invalid, ""},
		{"an invalid source path is refused", "/t", []string{"/s/"}, cairn.Invalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(s)
			err := s.Concat(bg, tc.target, tc.srcs)
			wantKind(t, fmt.Sprintf("Concat(%q, %q)", tc.target, tc.srcs), err, tc.kind)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Concat(%q, %q) = %q, want it to say %q", tc.target, tc.srcs, err, tc.msg)
			}
			// The state machine refuses it the same way when the
			// leader's check did not (a path changed since).
			c := command{op: opConcat, path: tc.target, paths: tc.srcs, mtime: 1}
			s.ns.mu.Lock()
			_, aerr := result(s.ns.apply(&c))
			s.ns.mu.Unlock()
			wantKind(t, fmt.Sprintf("applying concat(%q, %q)", tc.target, tc.srcs), aerr, tc.kind)
			if after := dump(s); after != before {
				t.Errorf("a refused concat changed the namespace:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

func TestConcatBoundsItsSources(t *testing.T) {
	s := newServer(t)
	srcs := make([]string, maxConcatSources+1)
	for i := range srcs {
		srcs[i] = fmt.Sprintf("/s%d", i)
	}
	err := s.Concat(bg, "/t", srcs)
	wantKind(t, "Concat of too many sources", err, cairn.Invalid)
	if !strings.Contains(err.Error(), "at most 10000") {
		t.Errorf("Concat of too many sources = %v, want it to name the limit", err)
	}
}

// A concat logged after a source vanished (the leader checked, then a
// delete was applied first) fails when applied, and fails the same way
// on replay.
func TestConcatFailedAtApplyReplaysAsFailure(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	writeFile(t, s, "/t", "w", 10)
	writeFile(t, s, "/s", "w", 20)
	if err := s.Delete(bg, "/s", false); err != nil {
		t.Fatal(err)
	}
	_, err := s.mutate(bg, &command{op: opConcat, path: "/t", paths: []string{"/s"}, mtime: s.now().UnixNano()})
	wantKind(t, "a logged concat of a deleted source", err, cairn.NotExist)
	want := dump(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dump(startServer(t, cfg)); got != want {
		t.Errorf("namespace after replay:\n%s\nwant:\n%s", got, want)
	}
}

// Blocks of length 0 (a writer that died before writing a byte, closed
// by lease recovery) are dropped, not moved: no empty block ends up
// between others.
func TestConcatDropsEmptyBlocks(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	tb := writeFile(t, s, "/t", "w", 10, 0)
	s1 := writeFile(t, s, "/s1", "w", 0)
	s2 := writeFile(t, s, "/s2", "w", 20, 0)
	if err := s.Concat(bg, "/t", []string{"/s1", "/s2"}); err != nil {
		t.Fatalf("Concat = %v", err)
	}
	want := []cairn.Block{tb[0].Block, s2[0].Block}
	if got := fileBlocks(t, s, "/t"); !slices.Equal(got, want) {
		t.Errorf("blocks of /t = %v, want %v", got, want)
	}
	for _, lb := range []cairn.LocatedBlock{tb[1], s1[0], s2[1]} {
		s.ns.mu.RLock()
		b := s.ns.blocks[lb.Block.ID]
		s.ns.mu.RUnlock()
		if b != nil {
			t.Errorf("empty block %d is still in the block map", lb.Block.ID)
		}
	}
	checkReplicaIndex(t, s)
}

func TestConcatSurvivesRestart(t *testing.T) {
	for _, snap := range []string{"replayed from the log", "restored from a snapshot"} {
		t.Run(snap, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			s := startServer(t, cfg)
			registerNodes(t, s, 3)
			want := concatFixture(t, s)
			if err := s.Concat(bg, "/t", []string{"/a/s1", "/b/s2", "/s3"}); err != nil {
				t.Fatalf("Concat = %v", err)
			}
			if snap != "replayed from the log" {
				if err := s.rn.raft.Snapshot().Error(); err != nil {
					t.Fatalf("Snapshot: %v", err)
				}
				// And a concat after the snapshot, replayed on it.
				writeFile(t, s, "/s4", "w", 77)
				want = append(want, fileBlocks(t, s, "/s4")...)
				if err := s.Concat(bg, "/t", []string{"/s4"}); err != nil {
					t.Fatalf("Concat = %v", err)
				}
			}
			wantDump := dump(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := startServer(t, cfg)
			if got := dump(s2); got != wantDump {
				t.Errorf("namespace after restart:\n%s\nwant:\n%s", got, wantDump)
			}
			if got := fileBlocks(t, s2, "/t"); !slices.Equal(got, want) {
				t.Errorf("blocks of /t after restart = %v, want %v", got, want)
			}
		})
	}
}

// A concat on the leader of a group is applied alike on the followers;
// retried on a new leader with the same call, it is answered from the
// retry cache.
func TestConcatInGroup(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	for _, s := range g.srv {
		registerNodes(t, s, 3)
	}
	want := concatFixture(t, g.srv[l])
	ctx := callCtx("client", 1)
	if err := g.srv[l].Concat(ctx, "/t", []string{"/a/s1", "/b/s2", "/s3"}); err != nil {
		t.Fatalf("Concat on the leader = %v", err)
	}
	wantDump := dump(g.srv[l])
	for i, s := range g.srv {
		if i == l {
			continue
		}
		// raft's AppliedIndex moves when entries are handed to the
		// state machine, before it has applied them: wait for the
		// namespace itself.
		var got string
		deadline := time.Now().Add(20 * time.Second)
		for got = dump(s); got != wantDump && time.Now().Before(deadline); got = dump(s) {
			time.Sleep(5 * time.Millisecond)
		}
		if got != wantDump {
			t.Errorf("member %d's namespace:\n%s\nthe leader's:\n%s", i, got, wantDump)
		}
		if got := fileBlocks(t, s, "/t"); !slices.Equal(got, want) {
			t.Errorf("member %d: blocks of /t = %v, want %v", i, got, want)
		}
	}
	g.kill(l)
	l2 := g.leader()
	if err := g.srv[l2].Concat(ctx, "/t", []string{"/a/s1", "/b/s2", "/s3"}); err != nil {
		t.Errorf("Concat retried on the new leader = %v, want the first answer", err)
	}
	err := g.srv[l2].Concat(callCtx("client", 2), "/t", []string{"/a/s1", "/b/s2", "/s3"})
	wantKind(t, "a new Concat of sources gone", err, cairn.NotExist)
}

func TestConcatRetryCache(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	writeFile(t, s, "/t", "w", 10)
	writeFile(t, s, "/s", "w", 20)
	ctx := callCtx("c", 9)
	if err := s.Concat(ctx, "/t", []string{"/s"}); err != nil {
		t.Fatalf("Concat = %v", err)
	}
	idx := s.rn.raft.LastIndex()
	if err := s.Concat(ctx, "/t", []string{"/s"}); err != nil {
		t.Errorf("retried Concat = %v, want the first answer (success)", err)
	}
	if got := s.rn.raft.LastIndex(); got != idx {
		t.Errorf("a retried Concat was logged (last index %d, was %d)", got, idx)
	}
	if got := fileBlocks(t, s, "/t"); len(got) != 2 {
		t.Errorf("/t has %d blocks after a retried Concat, want 2", len(got))
	}
	wantKind(t, "a new Concat of a source gone", s.Concat(callCtx("c", 10), "/t", []string{"/s"}), cairn.NotExist)
}

// Moved blocks take the target's replication: the replication monitor
// copies those of a source with less and trims those of one with more.
func TestConcatAdjustsReplication(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 4)
	tb := c.write("/t", 2, 1)
	low := c.write("/low", 1, 2)
	high := c.write("/high", 3, 2)
	// The monitor has judged every block as it stands, so that only
	// the concat can bring them to its attention again.
	waitFor(t, "the replication monitor to settle", func() bool {
		s.ns.mu.RLock()
		defer s.ns.mu.RUnlock()
		h := &s.ns.heal
		return !h.rescan && !h.idle && len(h.attention) == 0 && len(h.pending) == 0
	})
	if err := s.Concat(bg, "/t", []string{"/low", "/high"}); err != nil {
		t.Fatalf("Concat = %v", err)
	}
	all := slices.Concat(tb, low, high)
	waitFor(t, "every block of /t at 2 replicas", func() bool {
		for _, b := range all {
			if len(c.holders(b.ID)) != 2 {
				return false
			}
		}
		return true
	})
	rep, err := s.Fsck(bg, "/t", cairn.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != cairn.FsckHealthy || rep.UnderReplicatedBlocks != 0 || rep.Blocks != 5 {
		t.Errorf("Fsck(/t) = %+v, want healthy with 5 blocks", rep)
	}
	for _, b := range all {
		s.ns.mu.RLock()
		n := s.ns.blocks[b.ID].goodReplicas()
		s.ns.mu.RUnlock()
		if n != 2 {
			t.Errorf("block %d: %d good replicas in the block map, want 2", b.ID, n)
		}
	}
}

func TestConcatOpcode(t *testing.T) {
	// The numbers are part of the log format (after the extended
	// attributes' opcodes 17 and 18 and field 19).
	if opConcat != 19 || fPaths != 20 {
		t.Fatalf("opConcat = %d, fPaths = %d; want 19 and 20", opConcat, fPaths)
	}
	c := command{op: opConcat, path: "/t", paths: []string{"/a", "/b/c"}, mtime: 42, rpcClient: "x", rpcCall: 3}
	got, err := decodeCommand(c.encode(nil))
	if err != nil || !slices.Equal(got.paths, c.paths) || got.path != c.path || got.mtime != c.mtime {
		t.Errorf("decode(encode(%+v)) = %+v, %v", c, got, err)
	}
}

// A range of a few block sizes may span thousands of short blocks (a
// concat of small files): GetBlockLocations gives the first
// maxLocatedBlocks of them, and a reader that asks again from the end
// of the last one it got walks the whole file.
func TestGetBlockLocationsBoundsShortBlocks(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	lens := make([]int64, maxLocatedBlocks+200)
	var size int64
	for i := range lens {
		lens[i] = int64(100 + i%7)
		size += lens[i]
	}
	writeFile(t, s, "/many", "w", lens...)
	st, err := s.GetBlockLocations(bg, "/many", 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Blocks) != len(lens) {
		t.Errorf("GetBlockLocations to the end gives %d blocks, want all %d", len(st.Blocks), len(lens))
	}
	var got []cairn.LocatedBlock
	for off := int64(0); off < size; {
		st, err := s.GetBlockLocations(bg, "/many", off, 10<<20, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(st.Blocks); n == 0 || n > maxLocatedBlocks {
			t.Fatalf("GetBlockLocations(/many, %d, 10MiB) gives %d blocks, want 1 to %d", off, n, maxLocatedBlocks)
		}
		if first := st.Blocks[0]; first.Offset > off || first.Offset+first.Block.Len <= off {
			t.Fatalf("GetBlockLocations(/many, %d, 10MiB) starts with a block at %d (%d bytes)", off, first.Offset, first.Block.Len)
		}
		got = append(got, st.Blocks...)
		last := st.Blocks[len(st.Blocks)-1]
		off = last.Offset + last.Block.Len
	}
	if len(got) != len(lens) {
		t.Fatalf("walking /many gave %d blocks, want %d", len(got), len(lens))
	}
	var off int64
	for i, lb := range got {
		if lb.Offset != off || lb.Block.Len != lens[i] {
			t.Errorf("block %d at %d with %d bytes, want at %d with %d", i, lb.Offset, lb.Block.Len, off, lens[i])
		}
		off += lens[i]
	}
}

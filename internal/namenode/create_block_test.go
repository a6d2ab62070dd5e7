package namenode

import (
	"slices"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// lastIndex is the index of the newest entry of s's log.
func lastIndex(s *Server) uint64 { return s.rn.raft.LastIndex() }

// nextBlockID is the block ID s's namespace allocates next.
func nextBlockID(s *Server) uint64 {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	return s.ns.nextBlockID
}

// A Create with AllocateBlock makes the file and its first block in one
// log entry, placed as AddBlock places it; a retry gets the same block;
// the file stays invisible to readers until Complete; further blocks
// come from AddBlock as before.
func TestCreateWithBlock(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 4)
	call := callCtx("writer-1", 1)
	before := lastIndex(s)
	o := CreateOptions{ClientName: "w", AllocateBlock: true, ClientHost: "10.0.0.2"}
	st, err := s.Create(call, "/f", o)
	if err != nil {
		t.Fatalf("Create(/f, AllocateBlock) = %v", err)
	}
	if n := lastIndex(s) - before; n != 1 {
		t.Errorf("Create(/f, AllocateBlock) logged %d entries, want 1", n)
	}
	if len(st.Blocks) != 1 {
		t.Fatalf("Create(/f, AllocateBlock) gave %d blocks, want 1", len(st.Blocks))
	}
	first := st.Blocks[0]
	if first.Block.ID == 0 || first.Offset != 0 || first.Block.Len != 0 || len(first.Locations) != 3 {
		t.Fatalf("Create(/f, AllocateBlock) block = %+v, want a new empty block at 0 on 3 nodes", first)
	}
	if first.Locations[0].ID != nodes[1].id {
		t.Errorf("first block's pipeline = %v, want the client's host's node %s first", locIDs(first.Locations), nodes[1].id)
	}
	if !st.UnderConstruction || st.Size != 0 {
		t.Errorf("Create(/f) status = %+v, want under construction, empty", st.FileInfo)
	}

	// The retry of a lost answer: the first answer, nothing logged.
	before = lastIndex(s)
	again, err := s.Create(call, "/f", o)
	if err != nil || len(again.Blocks) != 1 || again.ID != st.ID || again.Blocks[0].Block != first.Block ||
		!slices.Equal(locIDs(again.Blocks[0].Locations), locIDs(first.Locations)) {
		t.Fatalf("retried Create = %+v, %v; want file %d with block %v on %v", again, err, st.ID, first.Block, locIDs(first.Locations))
	}
	if n := lastIndex(s) - before; n != 0 {
		t.Errorf("retried Create logged %d entries, want 0", n)
	}
	// The block is the file's, as after AddBlock: readers see no byte
	// of it until the writer completes.
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || len(fi.Blocks) != 1 || fi.Blocks[0].Block.ID != first.Block.ID || fi.Size != 0 || !fi.UnderConstruction {
		t.Fatalf("GetFileInfo(/f) = %+v, %v; want the block %d, size 0, under construction", fi, err, first.Block.ID)
	}
	// An AddBlock that names no previous block is the retry of a first
	// AddBlock and gets the same block (a client that did not use it).
	lb, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	if err != nil || lb.Block.ID != first.Block.ID {
		t.Fatalf("AddBlock(no previous) = %v, %v; want block %d", lb.Block, err, first.Block.ID)
	}

	// A second block, then Complete: two blocks at their offsets.
	b1 := first.Block
	b1.Len = 1 << 20
	report(t, s, first.Locations, b1)
	second, err := s.AddBlock(bg, "/f", st.ID, "w", &b1, nil, "")
	if err != nil || second.Block.ID == b1.ID || second.Offset != b1.Len {
		t.Fatalf("AddBlock(previous %v) = %+v, %v; want a new block at %d", b1, second, err, b1.Len)
	}
	b2 := second.Block
	b2.Len = 10
	report(t, s, second.Locations, b2)
	if _, err := s.Complete(bg, "/f", st.ID, "w", &b2); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	fi, err = s.GetFileInfo(bg, "/f", true, "")
	if err != nil || fi.UnderConstruction || fi.Size != b1.Len+b2.Len || len(fi.Blocks) != 2 ||
		fi.Blocks[0].Block != b1 || fi.Blocks[1].Block != b2 || fi.Blocks[1].Offset != b1.Len {
		t.Fatalf("GetFileInfo(/f) after Complete = %+v, %v; want blocks %v, %v", fi, err, b1, b2)
	}
}

// report tells s that every node of locs has finalized b.
func report(t *testing.T, s *Server, locs []cairn.DatanodeInfo, b cairn.Block) {
	t.Helper()
	for _, loc := range locs {
		if err := s.IncrementalBlockReport(bg, loc.ID, []cairn.Block{b}, nil, nil); err != nil {
			t.Fatalf("IncrementalBlockReport: %v", err)
		}
	}
}

// A Create with AllocateBlock that fails allocates nothing: refused
// before proposing (permission, a writer's lease, touch), or at apply
// (an existing file).
func TestCreateWithBlockFailsWhole(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	if _, err := s.Mkdirs(bg, "/alice", 0o755, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	build(t, s, "f:/exists")
	if _, err := s.Create(bg, "/open", CreateOptions{ClientName: "other", AllocateBlock: true}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want cairn.Kind
	}{
		{"bob may not write alice's directory", func() error {
			_, err := s.Create(as("bob"), "/alice/f", CreateOptions{ClientName: "b", AllocateBlock: true})
			return err
		}, cairn.Permission},
		{"the file exists", func() error {
			_, err := s.Create(bg, "/exists", CreateOptions{ClientName: "w", AllocateBlock: true})
			return err
		}, cairn.Exist},
		{"another client writes the file", func() error {
			_, err := s.Create(bg, "/open", CreateOptions{ClientName: "w", AllocateBlock: true, Overwrite: true})
			return err
		}, cairn.LeaseConflict},
		{"a touch has no block", func() error {
			_, err := s.Create(bg, "/t", CreateOptions{Touch: true, AllocateBlock: true})
			return err
		}, cairn.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := nextBlockID(s)
			wantKind(t, "Create", tc.call(), tc.want)
			if got := nextBlockID(s); got != id {
				t.Errorf("a failed Create allocated blocks %d to %d", id, got-1)
			}
		})
	}

	// Checked where applied, too: a logged createWithBlock of bob's.
	c := command{op: opCreateWithBlock, path: "/alice/g", mode: 0o644, mtime: 1, replication: 3, blockSize: 1 << 20,
		clientName: "b", caller: "bob", flags: flagCheckPerm, targets: []cairn.NodeID{"dn-1", "dn-2", "dn-3"}}
	id := nextBlockID(s)
	s.ns.mu.Lock()
	err, _ := s.ns.apply(&c).(error)
	s.ns.mu.Unlock()
	wantKind(t, "a logged createWithBlock of bob's in alice's directory", err, cairn.Permission)
	if got := nextBlockID(s); got != id {
		t.Errorf("a refused createWithBlock allocated blocks %d to %d", id, got-1)
	}
	if ok, _ := exists(t, s, "/alice/g"); ok {
		t.Error("a refused createWithBlock made the file")
	}
}

// With overwrite, the old file goes and the new one comes with its
// block, in one entry.
func TestCreateWithBlockOverwrites(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	old := writeFile(t, s, "/f", "w", 100)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "w", AllocateBlock: true, Overwrite: true})
	if err != nil || len(st.Blocks) != 1 || st.Blocks[0].Block.ID == old[0].Block.ID {
		t.Fatalf("Create(/f, overwrite, AllocateBlock) = %+v, %v; want a new file with a new block", st, err)
	}
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || len(fi.Blocks) != 1 || fi.Blocks[0].Block.ID != st.Blocks[0].Block.ID {
		t.Fatalf("GetFileInfo(/f) = %+v, %v; want only the new block", fi.Blocks, err)
	}
	deleted := 0
	for _, n := range nodes {
		if slices.Contains(heartbeatDeletes(t, s, n.id), old[0].Block.ID) {
			deleted++
		}
	}
	if deleted != 3 {
		t.Errorf("the overwritten file's block is deleted on %d nodes, want 3", deleted)
	}
}

// Without a live DataNode the file is made alone, and AddBlock tells
// why later. A retry of that call once nodes are there is still the
// same call: it gets the first answer, never a second file or a block.
func TestCreateWithBlockWithoutDataNodes(t *testing.T) {
	s := newServer(t)
	call := callCtx("writer-1", 1)
	// Replication 1 of 1 registered node, which goes stale.
	nodes := registerNodes(t, s, 1)
	s.reg.lookup(nodes[0].id).lastHeartbeat.Store(time.Now().Add(-s.cfg.StaleNodeTimeout - time.Second).UnixNano())
	st, err := s.Create(call, "/f", CreateOptions{ClientName: "w", Replication: 1, AllocateBlock: true})
	if err != nil || len(st.Blocks) != 0 {
		t.Fatalf("Create(/f, AllocateBlock) without a live node = %+v, %v; want the file without a block", st, err)
	}
	_, err = s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	wantKind(t, "AddBlock without a live node", err, cairn.NotReplicated)

	if _, err := s.Heartbeat(bg, nodes[0].id, storage(100<<30), nil); err != nil {
		t.Fatal(err)
	}
	id := nextBlockID(s)
	again, err := s.Create(call, "/f", CreateOptions{ClientName: "w", Replication: 1, AllocateBlock: true})
	if err != nil || again.ID != st.ID || len(again.Blocks) != 0 {
		t.Fatalf("retried Create = %+v, %v; want the first answer (file %d, no block)", again, err, st.ID)
	}
	if got := nextBlockID(s); got != id {
		t.Errorf("the retried Create allocated a block")
	}
}

// In a group, every member applies the create and its block alike,
// and a new leader answers the retry of a call its predecessor
// committed with the same block.
func TestGroupCreateWithBlock(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	for _, s := range g.srv {
		registerNodes(t, s, 3)
	}
	call := callCtx("writer-1", 1)
	st, err := g.srv[l].Create(call, "/f", CreateOptions{ClientName: "w", AllocateBlock: true})
	if err != nil || len(st.Blocks) != 1 {
		t.Fatalf("Create(/f, AllocateBlock) = %+v, %v; want a block", st, err)
	}
	first := st.Blocks[0]
	want := dump(g.srv[l])
	for i, s := range g.srv {
		waitFor(t, "member to apply the create", func() bool { return dump(s) == want })
		s.ns.mu.RLock()
		u := s.ns.uc[st.ID]
		ok := u != nil && len(u.f.blocks) == 1 && u.f.blocks[0].id == first.Block.ID && slices.Equal(u.expected, locIDs(first.Locations))
		s.ns.mu.RUnlock()
		if !ok {
			t.Errorf("member %d: /f lacks its block %d on %v", i, first.Block.ID, locIDs(first.Locations))
		}
	}

	g.kill(l)
	l2 := g.leader()
	again, err := g.srv[l2].Create(call, "/f", CreateOptions{ClientName: "w", AllocateBlock: true})
	if err != nil || len(again.Blocks) != 1 || again.Blocks[0].Block != first.Block ||
		!slices.Equal(locIDs(again.Blocks[0].Locations), locIDs(first.Locations)) {
		t.Fatalf("Create retried on the new leader = %+v, %v; want block %v on %v", again, err, first.Block, locIDs(first.Locations))
	}
}

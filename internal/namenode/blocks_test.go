package namenode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// age makes a node's last heartbeat d ago.
func age(s *Server, id cairn.NodeID, d time.Duration) {
	s.reg.lookup(id).lastHeartbeat.Store(time.Now().Add(-d).UnixNano())
}

func locIDs(locs []cairn.DatanodeInfo) []cairn.NodeID {
	var ids []cairn.NodeID
	for _, l := range locs {
		ids = append(ids, l.ID)
	}
	return ids
}

// heartbeatDeletes sends one heartbeat and returns the blocks of its
// DELETE_BLOCKS commands.
func heartbeatDeletes(t *testing.T, s *Server, id cairn.NodeID) []cairn.BlockID {
	t.Helper()
	cmds, err := s.Heartbeat(bg, id, storage(100<<30), nil)
	if err != nil {
		t.Fatalf("Heartbeat(%s) = %v", id, err)
	}
	var out []cairn.BlockID
	for _, c := range cmds {
		if c.Type == CommandDeleteBlocks {
			for _, b := range c.Blocks {
				out = append(out, b.ID)
			}
		}
	}
	return out
}

func TestPlacement(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 5)

	t.Run("targets are distinct", func(t *testing.T) {
		for i := range 20 {
			st, err := s.Create(bg, fmt.Sprintf("/d%d", i), CreateOptions{ClientName: "c"})
			if err != nil {
				t.Fatal(err)
			}
			lb, err := s.AddBlock(bg, st.Path, st.ID, "c", nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			ids := locIDs(lb.Locations)
			slices.Sort(ids)
			if len(ids) != 3 || len(slices.Compact(ids)) != 3 {
				t.Fatalf("AddBlock targets = %v, want 3 distinct nodes", lb.Locations)
			}
		}
	})
	t.Run("a node on the client's host comes first", func(t *testing.T) {
		for i := range 10 {
			st, _ := s.Create(bg, fmt.Sprintf("/h%d", i), CreateOptions{ClientName: "c"})
			lb, err := s.AddBlock(bg, st.Path, st.ID, "c", nil, nil, "10.0.0.4")
			if err != nil {
				t.Fatal(err)
			}
			if lb.Locations[0].ID != "dn-4" {
				t.Fatalf("AddBlock from 10.0.0.4 = %v, want dn-4 first", locIDs(lb.Locations))
			}
		}
	})
	t.Run("excluded nodes are not chosen", func(t *testing.T) {
		st, _ := s.Create(bg, "/x", CreateOptions{ClientName: "c"})
		lb, err := s.AddBlock(bg, st.Path, st.ID, "c", nil, []cairn.NodeID{"dn-1", "dn-2"}, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		ids := locIDs(lb.Locations)
		slices.Sort(ids)
		if !slices.Equal(ids, []cairn.NodeID{"dn-3", "dn-4", "dn-5"}) {
			t.Fatalf("AddBlock excluding dn-1, dn-2 = %v", ids)
		}
	})
}

func TestPlacementAvoidsStaleDeadAndFullNodes(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 4)
	age(s, "dn-1", time.Minute)    // stale
	age(s, "dn-2", time.Hour)      // dead
	s.reg.lookup("dn-3").mu.Lock() // full
	s.reg.lookup("dn-3").storage.RemainingBytes = -1
	s.reg.lookup("dn-3").mu.Unlock()

	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "c"})
	lb, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "10.0.0.1")
	if err != nil {
		t.Fatalf("AddBlock with one good node = %v, want a block on it", err)
	}
	if ids := locIDs(lb.Locations); !slices.Equal(ids, []cairn.NodeID{"dn-4"}) {
		t.Fatalf("AddBlock targets = %v, want only dn-4", ids)
	}
	// The block is written to dn-4 only: under-replicated.
	lb.Block.Len = 10
	if _, err := s.Complete(bg, "/f", st.ID, "c", &lb.Block); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Fsck(bg, "/", cairn.FsckOptions{})
	if err != nil || rep.UnderReplicatedBlocks != 1 || rep.Status != cairn.FsckHealthy {
		t.Errorf("Fsck = %+v, %v; want 1 under-replicated block, HEALTHY", rep, err)
	}

	age(s, "dn-4", time.Minute)
	st2, _ := s.Create(bg, "/g", CreateOptions{ClientName: "c"})
	_, err = s.AddBlock(bg, "/g", st2.ID, "c", nil, nil, "")
	wantKind(t, "AddBlock with no live node", err, cairn.NotReplicated)
	if !strings.Contains(err.Error(), "no live datanodes") {
		t.Errorf("AddBlock with no live node = %q, want \"no live datanodes\"", err)
	}
}

func TestWritePathAndLocations(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "c", Replication: 2})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b1.Locations) != 2 || b1.Offset != 0 {
		t.Fatalf("first block = %+v, want 2 targets at offset 0", b1)
	}
	// A retried AddBlock gets the same block.
	again, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil || again.Block.ID != b1.Block.ID {
		t.Fatalf("retried AddBlock = %+v, %v; want block %d again", again.Block, err, b1.Block.ID)
	}
	// While being written, the last block is located at its targets.
	got, err := s.GetBlockLocations(bg, "/f", 0, 0, "")
	if err != nil || len(got.Blocks) != 1 || len(got.Blocks[0].Locations) != 2 || !got.UnderConstruction {
		t.Fatalf("GetBlockLocations while writing = %+v, %v", got, err)
	}
	b1.Block.Len = 1 << 20
	b2, err := s.AddBlock(bg, "/f", st.ID, "c", &b1.Block, nil, "")
	if err != nil || b2.Offset != 1<<20 {
		t.Fatalf("second AddBlock = %+v, %v; want offset 1 MiB", b2, err)
	}
	// Wrong previous block.
	bad := b1.Block
	bad.ID++
	_, err = s.AddBlock(bg, "/f", st.ID, "c", &bad, nil, "")
	wantKind(t, "AddBlock(wrong previous)", err, cairn.Invalid)
	// Another client may not add blocks.
	_, err = s.AddBlock(bg, "/f", st.ID, "intruder", &b2.Block, nil, "")
	wantKind(t, "AddBlock(other client)", err, cairn.LeaseConflict)

	b2.Block.Len = 100
	fi, err := s.Complete(bg, "/f", st.ID, "c", &b2.Block)
	if err != nil || fi.Size != 1<<20+100 || fi.UnderConstruction {
		t.Fatalf("Complete = %+v, %v; want a closed file of 1 MiB + 100", fi, err)
	}
	// A retried Complete succeeds.
	if _, err := s.Complete(bg, "/f", st.ID, "c", &b2.Block); err != nil {
		t.Fatalf("retried Complete = %v", err)
	}
	// Right after Complete the pipeline targets are the locations.
	got, err = s.GetBlockLocations(bg, "/f", 0, 0, "")
	if err != nil || len(got.Blocks) != 2 {
		t.Fatalf("GetBlockLocations = %+v, %v", got, err)
	}
	for i, lb := range got.Blocks {
		if len(lb.Locations) != 2 || lb.Corrupt {
			t.Errorf("block %d locations = %v corrupt=%v, want 2 good", i, lb.Locations, lb.Corrupt)
		}
	}
	// A range: only the second block.
	got, _ = s.GetBlockLocations(bg, "/f", 1<<20+5, 10, "")
	if len(got.Blocks) != 1 || got.Blocks[0].Block.ID != b2.Block.ID || got.Blocks[0].Offset != 1<<20 {
		t.Errorf("GetBlockLocations(range in block 2) = %+v", got.Blocks)
	}
	// Nearest first: a replica on the client's host leads.
	for _, loc := range b2.Locations {
		host, _, _ := strings.Cut(loc.Addr, ":")
		got, _ = s.GetBlockLocations(bg, "/f", 1<<20, 1, host)
		if got.Blocks[0].Locations[0].ID != loc.ID {
			t.Errorf("GetBlockLocations from %s = %v, want %s first", host, locIDs(got.Blocks[0].Locations), loc.ID)
		}
	}
	// Stale replicas sort after live ones; dead ones are left out.
	locs := b2.Locations
	age(s, locs[0].ID, time.Minute)
	got, _ = s.GetBlockLocations(bg, "/f", 1<<20, 1, "")
	if ids := locIDs(got.Blocks[0].Locations); len(ids) != 2 || ids[1] != locs[0].ID {
		t.Errorf("locations with %s stale = %v, want it last", locs[0].ID, ids)
	}
	age(s, locs[0].ID, time.Hour)
	got, _ = s.GetBlockLocations(bg, "/f", 1<<20, 1, "")
	if ids := locIDs(got.Blocks[0].Locations); len(ids) != 1 || ids[0] != locs[1].ID {
		t.Errorf("locations with %s dead = %v, want only %s", locs[0].ID, ids, locs[1].ID)
	}
	// GetFileInfo with blocks gives them all.
	fi, err = s.GetFileInfo(bg, "/f", true, "")
	if err != nil || len(fi.Blocks) != 2 {
		t.Errorf("GetFileInfo(with blocks) = %d blocks, %v", len(fi.Blocks), err)
	}
	_, err = s.GetBlockLocations(bg, "/", 0, 0, "")
	wantKind(t, "GetBlockLocations(/)", err, cairn.IsDir)
}

func TestAbandonBlock(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "c"})
	b1, _ := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err := s.AbandonBlock(bg, "/f", st.ID, "c", b1.Block); err != nil {
		t.Fatalf("AbandonBlock = %v", err)
	}
	b2, err := s.AddBlock(bg, "/f", st.ID, "c", nil, []cairn.NodeID{b1.Locations[0].ID}, "")
	if err != nil || b2.Block.ID == b1.Block.ID {
		t.Fatalf("AddBlock after abandon = %+v, %v", b2, err)
	}
	// The abandoned block is deleted from its targets.
	deleted := 0
	for _, n := range nodes {
		if slices.Contains(heartbeatDeletes(t, s, n.id), b1.Block.ID) {
			deleted++
		}
	}
	if deleted != len(b1.Locations) {
		t.Errorf("abandoned block deleted on %d nodes, want %d", deleted, len(b1.Locations))
	}
}

func TestDeleteQueuesBlockDeletion(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	lbs := writeFile(t, s, "/dir/f", "c", 1<<20, 10)
	writeFile(t, s, "/dir/g", "c", 1)
	if err := s.Delete(bg, "/dir", true); err != nil {
		t.Fatal(err)
	}
	rep, _ := s.GetDatanodeReport(bg)
	if rep.PendingDeletionBlocks != 9 {
		t.Errorf("pending deletions = %d, want 9 (3 blocks x 3 replicas)", rep.PendingDeletionBlocks)
	}
	for _, n := range nodes {
		got := heartbeatDeletes(t, s, n.id)
		for _, lb := range lbs {
			if !slices.Contains(got, lb.Block.ID) {
				t.Errorf("heartbeat of %s deletes %v, want block %d among them", n.id, got, lb.Block.ID)
			}
		}
		if again := heartbeatDeletes(t, s, n.id); len(again) != 0 {
			t.Errorf("second heartbeat of %s deletes %v again", n.id, again)
		}
	}
	if len(s.ns.blocks) != 0 {
		t.Errorf("block map has %d blocks after deleting everything", len(s.ns.blocks))
	}
}

func TestBlockReports(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	lbs := writeFile(t, s, "/f", "c", 100)
	b := lbs[0].Block
	n1 := nodes[0].id

	// A full report with an unknown block and a stale generation stamp.
	stale := b
	stale.GenStamp--
	unknown := cairn.Block{ID: 424242, GenStamp: 1, Len: 5}
	if err := s.BlockReport(bg, n1, []cairn.Block{unknown}, nil); err != nil {
		t.Fatal(err)
	}
	if got := heartbeatDeletes(t, s, n1); !slices.Equal(got, []cairn.BlockID{unknown.ID}) {
		t.Errorf("deletes after reporting an unknown block = %v, want [%d]", got, unknown.ID)
	}
	// That report did not list b: n1 no longer holds it.
	fi, _ := s.GetBlockLocations(bg, "/f", 0, 0, "")
	if ids := locIDs(fi.Blocks[0].Locations); slices.Contains(ids, n1) {
		t.Errorf("locations %v still list %s after a report without the block", ids, n1)
	}
	if err := s.BlockReport(bg, n1, []cairn.Block{stale}, nil); err != nil {
		t.Fatal(err)
	}
	if got := heartbeatDeletes(t, s, n1); !slices.Equal(got, []cairn.BlockID{b.ID}) {
		t.Errorf("deletes after reporting a stale replica = %v, want [%d]", got, b.ID)
	}
	// A report with the right replica brings it back.
	if err := s.BlockReport(bg, n1, []cairn.Block{b}, nil); err != nil {
		t.Fatal(err)
	}
	fi, _ = s.GetBlockLocations(bg, "/f", 0, 0, "")
	if ids := locIDs(fi.Blocks[0].Locations); !slices.Contains(ids, n1) {
		t.Errorf("locations %v lack %s after it reported the block", ids, n1)
	}
	// An incremental report of a deletion removes it.
	if err := s.IncrementalBlockReport(bg, n1, nil, nil, []cairn.Block{b}); err != nil {
		t.Fatal(err)
	}
	fi, _ = s.GetBlockLocations(bg, "/f", 0, 0, "")
	if ids := locIDs(fi.Blocks[0].Locations); slices.Contains(ids, n1) {
		t.Errorf("locations %v still list %s after its deletion report", ids, n1)
	}
	// A replica of the wrong length is corrupt, and deleted since good
	// replicas remain.
	wrong := b
	wrong.Len = 99
	if err := s.IncrementalBlockReport(bg, n1, []cairn.Block{wrong}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := heartbeatDeletes(t, s, n1); !slices.Equal(got, []cairn.BlockID{b.ID}) {
		t.Errorf("deletes after a wrong-length replica = %v, want [%d]", got, b.ID)
	}
	// Reports from an unknown node are refused.
	err := s.BlockReport(bg, "ghost", nil, nil)
	wantKind(t, "BlockReport(unknown node)", err, cairn.Unknown)
}

func TestDeletionsAreBoundedPerHeartbeat(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 1)
	var blocks []cairn.Block
	for i := range 2500 {
		blocks = append(blocks, cairn.Block{ID: cairn.BlockID(i + 1), GenStamp: 1})
	}
	if err := s.BlockReport(bg, "dn-1", blocks, nil); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for range 4 {
		sizes = append(sizes, len(heartbeatDeletes(t, s, "dn-1")))
	}
	if want := []int{1000, 1000, 500, 0}; !slices.Equal(sizes, want) {
		t.Errorf("deletions per heartbeat = %v, want %v", sizes, want)
	}
}

func TestRegistration(t *testing.T) {
	s := newServer(t)
	id, err := s.Register(bg, Registration{ID: "n1", Addr: "10.1.1.1:1"})
	if err != nil || id != s.ClusterID() {
		t.Fatalf("Register(no cluster ID) = %q, %v; want %q", id, err, s.ClusterID())
	}
	if _, err := s.Register(bg, Registration{ID: "n1", ClusterID: s.ClusterID(), Addr: "10.1.1.2:2", HTTPAddr: "10.1.1.2:3"}); err != nil {
		t.Fatalf("Register again = %v", err)
	}
	rep, _ := s.GetDatanodeReport(bg)
	if len(rep.Datanodes) != 1 || rep.Datanodes[0].Addr != "10.1.1.2:2" || rep.Datanodes[0].State != "live" {
		t.Errorf("report after re-registration = %+v, want one live node at the new address", rep.Datanodes)
	}
	_, err = s.Register(bg, Registration{ID: "n2", ClusterID: "CID-other", Addr: "10.1.1.3:1"})
	wantKind(t, "Register(other cluster)", err, cairn.ClusterMismatch)
	if msg := err.Error(); !strings.Contains(msg, "CID-other") || !strings.Contains(msg, string(s.ClusterID())) {
		t.Errorf("mismatch message %q does not name both cluster IDs", msg)
	}
	_, err = s.Register(bg, Registration{ID: "n3", Addr: "no port"})
	wantKind(t, "Register(bad address)", err, cairn.Invalid)
	_, err = s.Register(bg, Registration{Addr: "10.1.1.3:1"})
	wantKind(t, "Register(no ID)", err, cairn.Invalid)

	cmds, err := s.Heartbeat(bg, "stranger", cairn.StorageReport{}, nil)
	if err != nil || len(cmds) != 1 || cmds[0].Type != CommandReregister {
		t.Errorf("Heartbeat(unknown) = %+v, %v; want REREGISTER", cmds, err)
	}
}

func TestDeadNodeReplicasAreForgotten(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.DefaultReplication = 2
	cfg.DeadNodeTimeout = 50 * time.Millisecond
	cfg.StaleNodeTimeout = 20 * time.Millisecond
	cfg.HeartbeatInterval = 10 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 2)
	lbs := writeFile(t, s, "/f", "c", 10)
	d := s.reg.lookup("dn-1")
	waitFor(t, "dn-1 declared dead", func() bool {
		s.Heartbeat(bg, "dn-2", storage(1<<30), nil)
		return d.removed.Load()
	})
	rep, _ := s.Fsck(bg, "/", cairn.FsckOptions{Files: true, Blocks: true})
	if rep.UnderReplicatedBlocks != 1 || rep.FileDetails[0].Blocks[0].LiveReplicas != 1 {
		t.Errorf("Fsck after dn-1 died = %+v, want 1 under-replicated block with 1 live replica", rep)
	}
	cmds, _ := s.Heartbeat(bg, "dn-1", storage(1<<30), nil)
	if len(cmds) != 1 || cmds[0].Type != CommandReregister {
		t.Errorf("heartbeat of a dead node = %+v, want REREGISTER", cmds)
	}
	err := s.IncrementalBlockReport(bg, "dn-1", []cairn.Block{lbs[0].Block}, nil, nil)
	wantKind(t, "report from a dead node", err, cairn.Unknown)
	// It comes back: registers and reports.
	registerNodes(t, s, 1)
	if err := s.BlockReport(bg, "dn-1", []cairn.Block{lbs[0].Block}, nil); err != nil {
		t.Fatal(err)
	}
	s.Heartbeat(bg, "dn-2", storage(1<<30), nil)
	rep, _ = s.Fsck(bg, "/", cairn.FsckOptions{})
	if rep.UnderReplicatedBlocks != 0 {
		t.Errorf("Fsck after dn-1 returned = %+v, want no under-replicated block", rep)
	}
}

func TestReportBadBlocksAndFsck(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	lbs := writeFile(t, s, "/f", "c", 10)
	b := lbs[0].Block
	locs := lbs[0].Locations

	// One bad replica: dropped from reads, queued for deletion.
	if err := s.ReportBadBlocks(bg, []BadBlock{{Block: b, Node: locs[0].ID, Reason: "checksum"}}); err != nil {
		t.Fatal(err)
	}
	fi, _ := s.GetBlockLocations(bg, "/f", 0, 0, "")
	if ids := locIDs(fi.Blocks[0].Locations); len(ids) != 2 || slices.Contains(ids, locs[0].ID) || fi.Blocks[0].Corrupt {
		t.Errorf("locations after one bad replica = %v corrupt=%v", ids, fi.Blocks[0].Corrupt)
	}
	if got := heartbeatDeletes(t, s, locs[0].ID); !slices.Contains(got, b.ID) {
		t.Errorf("bad replica not queued for deletion: %v", got)
	}
	// All remaining bad: kept, offered as a last resort, block corrupt.
	s.ReportBadBlocks(bg, []BadBlock{{Block: b, Node: locs[1].ID}, {Block: b, Node: locs[2].ID}})
	fi, _ = s.GetBlockLocations(bg, "/f", 0, 0, "")
	if !fi.Blocks[0].Corrupt || len(fi.Blocks[0].Locations) == 0 {
		t.Errorf("block with every replica bad = %+v, want Corrupt with its replicas", fi.Blocks[0])
	}
	rep, err := s.Fsck(bg, "/", cairn.FsckOptions{})
	if err != nil || rep.Status != cairn.FsckCorrupt || rep.CorruptBlocks != 1 || len(rep.FileDetails) != 1 {
		t.Errorf("Fsck = %+v, %v; want CORRUPT with 1 corrupt block and the file listed", rep, err)
	}
}

func TestFsck(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	writeFile(t, s, "/a/one", "c", 10, 20)
	build(t, s, "d:/a/empty")
	st, _ := s.Create(bg, "/a/open", CreateOptions{ClientName: "w"})
	s.AddBlock(bg, "/a/open", st.ID, "w", nil, nil, "")
	// A file whose only block has no replica: missing.
	st2, _ := s.Create(bg, "/b/lost", CreateOptions{ClientName: "w", CreateParent: true, Replication: 1})
	lb, _ := s.AddBlock(bg, "/b/lost", st2.ID, "w", nil, nil, "")
	lb.Block.Len = 5
	s.Complete(bg, "/b/lost", st2.ID, "w", &lb.Block)
	s.IncrementalBlockReport(bg, lb.Locations[0].ID, nil, nil, []cairn.Block{lb.Block})

	rep, err := s.Fsck(bg, "/a", cairn.FsckOptions{Files: true, Blocks: true, Locations: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != cairn.FsckHealthy || rep.Files != 2 || rep.Directories != 2 || rep.Blocks != 3 || rep.TotalSize != 30 || rep.OpenFiles != 1 || rep.LiveDatanodes != 3 {
		t.Errorf("Fsck(/a) = %+v", rep)
	}
	if len(rep.FileDetails) != 2 || len(rep.FileDetails[0].Blocks) != 2 || len(rep.FileDetails[0].Blocks[0].Locations) != 3 {
		t.Errorf("Fsck(/a) details = %+v", rep.FileDetails)
	}
	rep, _ = s.Fsck(bg, "/", cairn.FsckOptions{OpenFiles: true})
	if rep.Status != cairn.FsckCorrupt || rep.MissingBlocks != 1 {
		t.Errorf("Fsck(/) = %+v, want CORRUPT with 1 missing block", rep)
	}
	var paths []string
	for _, f := range rep.FileDetails {
		paths = append(paths, f.Path+":"+f.Status)
	}
	if !slices.Equal(paths, []string{"/a/open:HEALTHY", "/b/lost:MISSING"}) {
		t.Errorf("Fsck(/, open files) lists %v", paths)
	}
	_, err = s.Fsck(bg, "/nope", cairn.FsckOptions{})
	if !errors.Is(err, cairn.NotExist) {
		t.Errorf("Fsck(missing) = %v, want NotExist", err)
	}
}

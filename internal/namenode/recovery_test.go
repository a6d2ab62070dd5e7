package namenode

import (
	"slices"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

func TestPipelineRecoveryIsLogged(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 4)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "w", Replication: 3})
	lb, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	pipeline := []cairn.NodeID{lb.Locations[0].ID, lb.Locations[1].ID, lb.Locations[2].ID}
	failed := pipeline[1]

	// Another client may not touch the block.
	_, err = s.UpdateBlockForPipeline(bg, "/f", st.ID, "intruder", lb.Block)
	wantKind(t, "UpdateBlockForPipeline by another client", err, cairn.LeaseConflict)

	repl, err := s.GetAdditionalDatanode(bg, "/f", st.ID, "w", lb.Block, []cairn.NodeID{pipeline[0], pipeline[2]}, []cairn.NodeID{failed})
	if err != nil || slices.Contains(pipeline, repl.ID) {
		t.Fatalf("GetAdditionalDatanode = %v, %v; want the fourth node", repl, err)
	}
	gs, err := s.UpdateBlockForPipeline(bg, "/f", st.ID, "w", lb.Block)
	if err != nil || gs <= lb.Block.GenStamp {
		t.Fatalf("UpdateBlockForPipeline = %d, %v; want a newer generation stamp than %d", gs, err, lb.Block.GenStamp)
	}
	// A generation stamp that was never allocated is refused.
	err = s.UpdatePipeline(bg, "/f", st.ID, "w", cairn.Block{ID: lb.Block.ID, GenStamp: gs + 100}, pipeline)
	wantKind(t, "UpdatePipeline with an unallocated generation stamp", err, cairn.Invalid)

	newPipeline := []cairn.NodeID{pipeline[0], pipeline[2], repl.ID}
	nb := cairn.Block{ID: lb.Block.ID, GenStamp: gs}
	if err := s.UpdatePipeline(bg, "/f", st.ID, "w", nb, newPipeline); err != nil {
		t.Fatal(err)
	}
	fi, _ := s.GetBlockLocations(bg, "/f", 0, 0, "")
	b := fi.Blocks[0]
	var locs []cairn.NodeID
	for _, l := range b.Locations {
		locs = append(locs, l.ID)
	}
	slices.Sort(locs)
	want := slices.Clone(newPipeline)
	slices.Sort(want)
	if b.Block.GenStamp != gs || !slices.Equal(locs, want) {
		t.Fatalf("block after UpdatePipeline = %v at %v; want generation stamp %d at %v", b.Block, locs, gs, want)
	}
	// The dropped node reports its replica of the old generation: it
	// is deleted there.
	old := lb.Block
	old.Len = 100
	s.IncrementalBlockReport(bg, failed, []cairn.Block{old}, nil, nil)
	if !slices.Contains(heartbeatDeletes(t, s, failed), old.ID) {
		t.Error("the stale replica of the dropped node was not queued for deletion")
	}
	// The writer completes with the new generation stamp; all of it
	// survives a restart.
	nb.Len = 100
	if _, err := s.Complete(bg, "/f", st.ID, "w", &nb); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := startServer(t, cfg)
	for _, n := range nodes {
		s2.Register(bg, Registration{ID: n.id, Addr: n.addr, Storage: storage(100 << 30)})
	}
	fi, err = s2.GetFileInfo(bg, "/f", true, "")
	if err != nil || fi.Size != 100 || fi.Blocks[0].Block.GenStamp != gs {
		t.Fatalf("after restart: %+v, %v; want 100 bytes with generation stamp %d", fi, err, gs)
	}
}

func TestStaleRbwReportsAreDeleted(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	done := writeFile(t, s, "/done", "w", 10)
	st, _ := s.Create(bg, "/open", CreateOptions{ClientName: "w2"})
	lb, err := s.AddBlock(bg, "/open", st.ID, "w2", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	n := nodes[0].id
	stale := done[0].Block
	old := lb.Block
	old.GenStamp--
	cur := lb.Block
	cur.Len = 5
	if err := s.BlockReport(bg, n, nil, nil); err != nil {
		t.Fatal(err)
	}
	s.BlockReport(bg, n, nil, []cairn.Block{stale, old, cur, {ID: 999999, GenStamp: 1}})
	got := heartbeatDeletes(t, s, n)
	slices.Sort(got)
	want := []cairn.BlockID{stale.ID, old.ID, 999999}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deletions = %v, want %v (everything but the replica of the block being written)", got, want)
	}
}

func TestLeaseRecoverySendsRecoverBlock(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "gone"})
	lb, err := s.AddBlock(bg, "/f", st.ID, "gone", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// The nodes heartbeat; one of them gets the command.
	var cmd Command
	var primary cairn.NodeID
	waitFor(t, "a RECOVER_BLOCK command", func() bool {
		for _, l := range lb.Locations {
			cmds, _ := s.Heartbeat(bg, l.ID, storage(100<<30), nil)
			for _, c := range cmds {
				if c.Type == CommandRecoverBlock {
					cmd, primary = c, l.ID
					return true
				}
			}
		}
		return false
	})
	if len(cmd.Blocks) != 1 || cmd.Blocks[0].ID != lb.Block.ID || cmd.NewGenStamp <= lb.Block.GenStamp || len(cmd.Targets) != 3 {
		t.Fatalf("RECOVER_BLOCK = %+v, want block %v with a newer generation stamp and its 3 nodes", cmd, lb.Block)
	}
	// A stale generation stamp is refused; the right one closes the
	// file.
	nb := cairn.Block{ID: lb.Block.ID, GenStamp: cmd.NewGenStamp, Len: 4321}
	bad := nb
	bad.GenStamp = lb.Block.GenStamp
	err = s.CommitBlockSynchronization(bg, primary, bad, lb.Block.GenStamp, []cairn.NodeID{primary}, false)
	wantKind(t, "CommitBlockSynchronization with the old generation stamp", err, cairn.Invalid)
	ids := []cairn.NodeID{lb.Locations[0].ID, lb.Locations[1].ID}
	if err := s.CommitBlockSynchronization(bg, primary, nb, lb.Block.GenStamp, ids, false); err != nil {
		t.Fatal(err)
	}
	fi, _ := s.GetFileInfo(bg, "/f", true, "")
	if fi.UnderConstruction || fi.Size != 4321 || fi.Blocks[0].Block.GenStamp != cmd.NewGenStamp || len(fi.Blocks[0].Locations) != 2 {
		t.Errorf("file after block synchronization = %+v, want closed at 4321 bytes on the 2 nodes that synchronized", fi)
	}
	// A retry is harmless.
	if err := s.CommitBlockSynchronization(bg, primary, nb, lb.Block.GenStamp, ids, false); err != nil {
		t.Errorf("retried CommitBlockSynchronization = %v", err)
	}
}

// TestLeaseRecoveryWaitsForTheBlocksNodes checks that a file whose
// writer vanished is not closed without its last block while every
// node holding that block is down: the bytes on their disks were
// acknowledged. Recovery goes ahead once one of them is back.
func TestLeaseRecoveryWaitsForTheBlocksNodes(t *testing.T) {
	cfg := testConfig(t.TempDir())
	// The nodes die well before the lease expires.
	cfg.LeaseHardLimit = 300 * time.Millisecond
	cfg.HeartbeatInterval = 10 * time.Millisecond
	cfg.StaleNodeTimeout = 30 * time.Millisecond
	cfg.DeadNodeTimeout = 60 * time.Millisecond
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "gone"})
	lb, err := s.AddBlock(bg, "/f", st.ID, "gone", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// No node heartbeats: all three go dead, and the lease expires.
	waitFor(t, "every node dead", func() bool {
		rep, err := s.GetDatanodeReport(bg)
		if err != nil {
			return false
		}
		dead := 0
		for _, d := range rep.Datanodes {
			if d.State == "dead" {
				dead++
			}
		}
		return dead == 3
	})
	// Past the hard limit and many lease-monitor passes later, the
	// file is still open with its block.
	time.Sleep(cfg.LeaseHardLimit + 20*min(max(cfg.LeaseHardLimit/4, 10*time.Millisecond), time.Second))
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || !fi.UnderConstruction || len(fi.Blocks) != 1 {
		t.Fatalf("with every node of its last block down, /f = %+v, %v; want it still open with its block", fi, err)
	}
	// A node of the block comes back: it gets the RECOVER_BLOCK.
	back := nodes[0]
	if _, err := s.Register(bg, Registration{ID: back.id, Addr: back.addr, Storage: storage(100 << 30)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a RECOVER_BLOCK command to the node that came back", func() bool {
		cmds, _ := s.Heartbeat(bg, back.id, storage(100<<30), nil)
		for _, c := range cmds {
			if c.Type == CommandReregister {
				// Declared dead again under a loaded machine (the
				// dead timeout is 60ms): register, as a DataNode does.
				s.Register(bg, Registration{ID: back.id, Addr: back.addr, Storage: storage(100 << 30)})
			}
			if c.Type == CommandRecoverBlock && len(c.Blocks) == 1 && c.Blocks[0].ID == lb.Block.ID {
				return true
			}
		}
		return false
	})
}

package namenode

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// openFileBlocks returns the blocks of the file p being written, as
// fsck sees them.
func openFileBlocks(t *testing.T, s *Server, p string) []cairn.FsckBlock {
	t.Helper()
	rep, err := s.Fsck(bg, p, cairn.FsckOptions{OpenFiles: true, Blocks: true, Locations: true})
	if err != nil || len(rep.FileDetails) != 1 {
		t.Fatalf("Fsck(%q) = %+v, %v; want one file", p, rep, err)
	}
	return rep.FileDetails[0].Blocks
}

// TestReceivingReplicaIsNoLongerFinalized: a pipeline recovery at
// close reopens two of three finalized replicas at a new generation
// stamp, and their nodes say so (IncrementalBlockReport.receiving):
// the NameNode must stop counting them as finalized.
func TestReceivingReplicaIsNoLongerFinalized(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "w"})
	lb, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	blk := lb.Block
	blk.Len = 1000
	for _, l := range lb.Locations {
		rpcIBR(t, s, l.ID, []cairn.Block{blk}, nil, nil)
	}
	if got := openFileBlocks(t, s, "/f")[0].LiveReplicas; got != 3 {
		t.Fatalf("finalized replicas of the last block = %d, want 3", got)
	}
	gs, err := s.UpdateBlockForPipeline(bg, "/f", st.ID, "w", lb.Block)
	if err != nil {
		t.Fatal(err)
	}
	reopened := cairn.Block{ID: blk.ID, GenStamp: gs, Len: 1000}
	for _, l := range lb.Locations[:2] {
		rpcIBR(t, s, l.ID, nil, []cairn.Block{reopened}, nil)
	}
	fb := openFileBlocks(t, s, "/f")[0]
	if fb.LiveReplicas != 1 || len(fb.Locations) != 1 || fb.Locations[0].ID != lb.Locations[2].ID {
		t.Fatalf("after two nodes reported their replicas unfinalized, the block has %d finalized replicas on %v; want 1 on %s",
			fb.LiveReplicas, fb.Locations, lb.Locations[2].ID)
	}
}

// TestNewerStampOfACompleteBlockIsCorrupt: a replica of a complete
// block reported with a newer generation stamp than the block's does
// not match it: it is corrupt, and deleted (with its own generation
// stamp) once the block has its good replicas.
func TestNewerStampOfACompleteBlockIsCorrupt(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 4)
	b := writeFile(t, s, "/f", "w", 1000)[0]
	var other cairn.NodeID
	for _, n := range nodes {
		if !slices.ContainsFunc(b.Locations, func(d cairn.DatanodeInfo) bool { return d.ID == n.id }) {
			other = n.id
		}
	}
	newer := b.Block
	newer.GenStamp += 3
	rpcIBR(t, s, other, []cairn.Block{newer}, nil, nil)
	var del *pb.Block
	waitFor(t, "a DELETE_BLOCKS of the replica with the newer generation stamp", func() bool {
		for _, c := range commandsOf(rpcHeartbeat(t, s, other), pb.Command_DELETE_BLOCKS) {
			for _, pbk := range c.Blocks {
				if cairn.BlockID(pbk.Id) == b.Block.ID {
					del = pbk
					return true
				}
			}
		}
		return false
	})
	if cairn.GenStamp(del.GenStamp) != newer.GenStamp {
		t.Fatalf("deletion names generation stamp %d, want the replica's %d", del.GenStamp, newer.GenStamp)
	}
	fb := fsckBlocks(t, s, "/f")[0]
	if fb.LiveReplicas != 3 || slices.ContainsFunc(fb.Locations, func(d cairn.DatanodeInfo) bool { return d.ID == other }) {
		t.Fatalf("fsck of the block = %+v, want its 3 good replicas and not the newer one", fb)
	}
	checkReplicaIndex(t, s)
}

// TestUnfinalizedReplicasJoinLeaseRecovery: a replica a node holds
// unfinalized at the generation stamp of an unlogged pipeline recovery
// (here, a replacement node that got the block by TRANSFER_RBW before
// the writer died) is reported by full reports (rbw) and incremental
// ones (receiving) alike, and the block's recovery synchronizes it.
// Stale ones (an older generation stamp) are deleted.
func TestUnfinalizedReplicasJoinLeaseRecovery(t *testing.T) {
	for _, how := range []string{"incremental report", "full report"} {
		t.Run(how, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.LeaseHardLimit = 200 * time.Millisecond
			cfg.HeartbeatInterval = 50 * time.Millisecond
			s := startServer(t, cfg)
			fakes := registerNodes(t, s, 5)
			nodes := newAckingNodes(s, fakes)
			st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "w", Replication: 3})
			lb, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			var spare []cairn.NodeID
			for _, n := range fakes {
				if !slices.ContainsFunc(lb.Locations, func(d cairn.DatanodeInfo) bool { return d.ID == n.id }) {
					spare = append(spare, n.id)
				}
			}
			gs, err := s.UpdateBlockForPipeline(bg, "/f", st.ID, "w", lb.Block)
			if err != nil {
				t.Fatal(err)
			}
			// spare[0] holds the block at the new generation stamp,
			// spare[1] at an older one than the block's.
			current := cairn.Block{ID: lb.Block.ID, GenStamp: gs, Len: 4096}
			stale := cairn.Block{ID: lb.Block.ID, GenStamp: lb.Block.GenStamp - 1, Len: 4096}
			report := func(id cairn.NodeID, b cairn.Block) {
				if how == "full report" {
					rpcBlockReport(t, s, id, nil, []cairn.Block{b})
				} else {
					rpcIBR(t, s, id, nil, []cairn.Block{b}, nil)
				}
			}
			report(spare[0], current)
			report(spare[1], stale)
			found := false
			for _, c := range commandsOf(nodes[spare[1]].heartbeat(t), pb.Command_DELETE_BLOCKS) {
				for _, b := range c.Blocks {
					found = found || (cairn.BlockID(b.Id) == stale.ID && cairn.GenStamp(b.GenStamp) == stale.GenStamp)
				}
			}
			if !found {
				t.Errorf("the stale unfinalized replica of %s was not queued for deletion", spare[1])
			}
			// The writer is gone: the recovery synchronizes the three
			// nodes of the pipeline and the replacement.
			primary, cmd := awaitRecoverBlock(t, nodes, lb.Block.ID)
			got := targetIDs(cmd)
			if !slices.Contains(got, spare[0]) || slices.Contains(got, spare[1]) || len(got) != 4 {
				t.Fatalf("block recovery synchronizes %v; want the pipeline %v and %s, not %s",
					got, lb.Locations, spare[0], spare[1])
			}
			answerRecovery(t, s, primary, cmd, 4096)
		})
	}
}

// TestCommandsAreResentUntilAcked: a command whose heartbeat reply is
// lost is sent again, with the same id, until the DataNode acks it;
// then never again.
func TestCommandsAreResentUntilAcked(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.HeartbeatInterval = 20 * time.Millisecond
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 3)
	b := writeFile(t, s, "/f", "w", 1000)[0]
	if err := s.Delete(bg, "/f", false); err != nil {
		t.Fatal(err)
	}
	n := b.Locations[0].ID
	first := commandsOf(rpcHeartbeat(t, s, n), pb.Command_DELETE_BLOCKS)
	if len(first) != 1 || first[0].Id == 0 {
		t.Fatalf("DELETE_BLOCKS commands = %v, want one with a command id", first)
	}
	// The reply was lost: no ack. The command comes again.
	waitFor(t, "the unacked DELETE_BLOCKS sent again", func() bool {
		for _, c := range commandsOf(rpcHeartbeat(t, s, n), pb.Command_DELETE_BLOCKS) {
			if c.Id == first[0].Id {
				if len(c.Blocks) != 1 || cairn.BlockID(c.Blocks[0].Id) != b.Block.ID {
					t.Fatalf("resent DELETE_BLOCKS = %v, want block %d", c, b.Block.ID)
				}
				return true
			}
		}
		return false
	})
	// Acked: it does not come again.
	rpcHeartbeat(t, s, n, first[0].Id)
	for end := time.Now().Add(20 * cfg.HeartbeatInterval); time.Now().Before(end); time.Sleep(cfg.HeartbeatInterval) {
		if c := commandsOf(rpcHeartbeat(t, s, n), pb.Command_DELETE_BLOCKS); len(c) > 0 {
			t.Fatalf("after its ack, DELETE_BLOCKS %v sent again", c)
		}
	}
	// Ids differ between commands of a node; REREGISTER has none.
	b2 := writeFile(t, s, "/g", "w", 1000)[0]
	s.Delete(bg, "/g", false)
	second := commandsOf(rpcHeartbeat(t, s, b2.Locations[0].ID), pb.Command_DELETE_BLOCKS)
	if b2.Locations[0].ID == n && (len(second) != 1 || second[0].Id == first[0].Id) {
		t.Errorf("a second command to %s has id %v, want a new one (first %d)", n, second, first[0].Id)
	}
	if c := rpcHeartbeat(t, s, "stranger"); len(c) != 1 || c[0].Type != pb.Command_REREGISTER || c[0].Id != 0 {
		t.Errorf("heartbeat of an unknown node = %v, want REREGISTER with id 0", c)
	}
	_ = nodes
}

// TestInvalidReplicaReportedAgainIsDeletedAgain: a node took the
// deletion of a surplus replica (and acked it) but did not carry it
// out (it crashed); when it reports the replica again, the deletion is
// queued again rather than the report ignored for good.
func TestInvalidReplicaReportedAgainIsDeletedAgain(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.HeartbeatInterval = 20 * time.Millisecond
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 3)
	b := writeFile(t, s, "/f", "w", 1000)[0]
	if _, err := s.SetReplication(bg, "/f", 2, false); err != nil {
		t.Fatal(err)
	}
	var victim cairn.NodeID
	var id uint64
	waitFor(t, "the surplus replica's deletion", func() bool {
		for _, n := range nodes {
			for _, c := range commandsOf(rpcHeartbeat(t, s, n.id), pb.Command_DELETE_BLOCKS) {
				victim, id = n.id, c.Id
				return true
			}
		}
		return false
	})
	rpcHeartbeat(t, s, victim, id) // taken, then lost in a crash
	waitFor(t, "the deletion queued again after the node reports the replica again", func() bool {
		rpcBlockReport(t, s, victim, []cairn.Block{b.Block}, nil)
		for _, c := range commandsOf(rpcHeartbeat(t, s, victim), pb.Command_DELETE_BLOCKS) {
			for _, pbk := range c.Blocks {
				if cairn.BlockID(pbk.Id) == b.Block.ID {
					return true
				}
			}
		}
		return false
	})
	if fb := fsckBlocks(t, s, "/f")[0]; fb.LiveReplicas != 2 {
		t.Errorf("after the surplus replica was reported again, the block has %d live replicas, want 2", fb.LiveReplicas)
	}
	checkReplicaIndex(t, s)
}

// TestReplicaIndexUnderChurn changes replicas every way the block map
// knows (full reports that drop and add replicas, incremental ones,
// nodes dying and coming back, files deleted, replicas reported
// corrupt or with other generation stamps) in a seeded random order,
// and checks after each step that every node's list of blocks says
// what the block map says.
func TestReplicaIndexUnderChurn(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 5)
	r := rand.New(rand.NewPCG(10, 14))
	var files []string
	var blocks []cairn.Block
	for i := range 60 {
		p := fmt.Sprintf("/f%d", i)
		for _, lb := range writeFile(t, s, p, "w", 100, 200) {
			blocks = append(blocks, lb.Block)
		}
		files = append(files, p)
	}
	for step := range 400 {
		n := nodes[r.IntN(len(nodes))]
		b := blocks[r.IntN(len(blocks))]
		switch op := r.IntN(7); op {
		case 0: // a full report of a random subset
			var sub []cairn.Block
			for _, x := range blocks {
				if r.IntN(3) == 0 {
					sub = append(sub, x)
				}
			}
			s.BlockReport(bg, n.id, sub, nil)
		case 1:
			s.IncrementalBlockReport(bg, n.id, []cairn.Block{b}, nil, nil)
		case 2:
			s.IncrementalBlockReport(bg, n.id, nil, nil, []cairn.Block{b})
		case 3: // dies, comes back empty
			d := s.reg.lookup(n.id)
			s.ns.mu.Lock()
			d.removed.Store(true)
			s.ns.removeNodeReplicas(d.idx)
			s.ns.mu.Unlock()
			s.Register(bg, Registration{ID: n.id, Addr: n.addr, Storage: storage(100 << 30)})
		case 4:
			s.ReportBadBlocks(bg, []BadBlock{{Block: b, Node: n.id}})
		case 5:
			newer := b
			newer.GenStamp += 2
			s.IncrementalBlockReport(bg, n.id, []cairn.Block{newer}, nil, nil)
		case 6:
			if len(files) > 1 {
				i := r.IntN(len(files))
				s.Delete(bg, files[i], false)
				files = slices.Delete(files, i, i+1)
			}
		}
		checkReplicaIndex(t, s)
		if t.Failed() {
			t.Fatalf("after step %d", step)
		}
	}
}

// TestFsckOpenFilesNameTheirLeaseHolders: fsck lists each open file
// with its lease holder and the time since that holder renewed.
func TestFsckOpenFilesNameTheirLeaseHolders(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	s.Create(bg, "/a", CreateOptions{ClientName: "writer-a"})
	s.Create(bg, "/b", CreateOptions{ClientName: "writer-b"})
	build(t, s, "f:/closed")
	rep, err := s.Fsck(bg, "/", cairn.FsckOptions{OpenFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.FileDetails {
		if f.Open && f.LeaseAge >= 0 {
			got[f.Path] = f.LeaseHolder
		}
	}
	if want := map[string]string{"/a": "writer-a", "/b": "writer-b"}; !maps.Equal(got, want) {
		t.Fatalf("fsck --open-files holders = %v, want %v", got, want)
	}
}

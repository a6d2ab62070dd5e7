package namenode

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// The tests of this file drive lease recovery with synthetic DataNodes
// that talk to a real NameNode through the DatanodeProtocol adapter:
// they heartbeat when the test says, ack the commands they take (as
// DataNodes do), and play the primary of a RECOVER_BLOCK command by
// calling CommitBlockSynchronization.

// ackingNode is a synthetic DataNode that acks, in its next
// heartbeat, every command it took.
type ackingNode struct {
	s  *Server
	id cairn.NodeID

	mu   sync.Mutex
	acks []uint64
}

func newAckingNodes(s *Server, nodes []fakeNode) map[cairn.NodeID]*ackingNode {
	out := make(map[cairn.NodeID]*ackingNode)
	for _, n := range nodes {
		out[n.id] = &ackingNode{s: s, id: n.id}
	}
	return out
}

// heartbeat sends one heartbeat through the gRPC adapter, acking the
// commands of the last reply it took, and returns this reply's
// commands (taken, so acked next time).
func (n *ackingNode) heartbeat(t testing.TB) []*pb.Command {
	t.Helper()
	n.mu.Lock()
	acks := n.acks
	n.acks = nil
	n.mu.Unlock()
	cmds := rpcHeartbeat(t, n.s, n.id, acks...)
	n.mu.Lock()
	for _, c := range cmds {
		if c.Id != 0 {
			n.acks = append(n.acks, c.Id)
		}
	}
	n.mu.Unlock()
	return cmds
}

// rpcHeartbeat sends a heartbeat through the gRPC adapter with acks and
// returns the reply's commands.
func rpcHeartbeat(t testing.TB, s *Server, id cairn.NodeID, acks ...uint64) []*pb.Command {
	t.Helper()
	resp, err := (&datanodeRPC{s: s}).Heartbeat(bg, &pb.HeartbeatRequest{
		NodeId:        string(id),
		Storage:       &pb.StorageReport{CapacityBytes: 200 << 30, UsedBytes: 100 << 30, RemainingBytes: 100 << 30},
		AckedCommands: acks,
	})
	if err != nil {
		t.Fatalf("Heartbeat(%s) = %v", id, err)
	}
	return resp.Commands
}

// rpcIBR sends an incremental block report through the gRPC adapter.
func rpcIBR(t testing.TB, s *Server, id cairn.NodeID, received, receiving, deleted []cairn.Block) {
	t.Helper()
	_, err := (&datanodeRPC{s: s}).IncrementalBlockReport(bg, &pb.IncrementalBlockReportRequest{
		NodeId:    string(id),
		Received:  pb.BlocksToProto(received),
		Receiving: pb.BlocksToProto(receiving),
		Deleted:   pb.BlocksToProto(deleted),
	})
	if err != nil {
		t.Fatalf("IncrementalBlockReport(%s) = %v", id, err)
	}
}

// rpcBlockReport sends a full block report through the gRPC adapter.
func rpcBlockReport(t testing.TB, s *Server, id cairn.NodeID, finalized, rbw []cairn.Block) {
	t.Helper()
	_, err := (&datanodeRPC{s: s}).BlockReport(bg, &pb.BlockReportRequest{
		NodeId: string(id),
		Blocks: pb.BlocksToProto(finalized),
		Rbw:    pb.BlocksToProto(rbw),
	})
	if err != nil {
		t.Fatalf("BlockReport(%s) = %v", id, err)
	}
}

func commandsOf(cmds []*pb.Command, typ pb.Command_Type) []*pb.Command {
	var out []*pb.Command
	for _, c := range cmds {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func targetIDs(c *pb.Command) []cairn.NodeID {
	var out []cairn.NodeID
	for _, d := range c.Targets {
		out = append(out, cairn.NodeID(d.Id))
	}
	return out
}

// awaitRecoverBlock heartbeats the nodes in turn until one gets a
// RECOVER_BLOCK command for block id; it returns that node and the
// command.
func awaitRecoverBlock(t testing.TB, nodes map[cairn.NodeID]*ackingNode, id cairn.BlockID) (cairn.NodeID, *pb.Command) {
	t.Helper()
	ids := slices.Sorted(func(yield func(cairn.NodeID) bool) {
		for id := range nodes {
			if !yield(id) {
				return
			}
		}
	})
	var from cairn.NodeID
	var cmd *pb.Command
	waitFor(t, "a RECOVER_BLOCK command", func() bool {
		for _, nid := range ids {
			for _, c := range commandsOf(nodes[nid].heartbeat(t), pb.Command_RECOVER_BLOCK) {
				if len(c.Blocks) == 1 && cairn.BlockID(c.Blocks[0].Id) == id {
					from, cmd = nid, c
					return true
				}
			}
		}
		return false
	})
	return from, cmd
}

// answerRecovery plays the primary of cmd: every target synchronized
// the block at length n.
func answerRecovery(t testing.TB, s *Server, primary cairn.NodeID, cmd *pb.Command, n int64) {
	t.Helper()
	old := pb.BlockFromProto(cmd.Blocks[0])
	nb := cairn.Block{ID: old.ID, GenStamp: cairn.GenStamp(cmd.NewGenStamp), Len: n}
	if err := s.CommitBlockSynchronization(bg, primary, nb, old.GenStamp, targetIDs(cmd), false); err != nil {
		t.Fatalf("CommitBlockSynchronization(%v) = %v", nb, err)
	}
}

// TestLeaseRecoveryWaitsForALateHolder is the reproduction of a lease
// recovery that dropped the last block after one missed pickup: the
// only node of the last block is live but silent (a restart, or a
// heartbeat held up by a long full block report) for 1.5s after the
// hard limit, longer than the NameNode waits for a RECOVER_BLOCK
// command to be picked up. The file must stay open with its block, and
// be recovered once the node speaks again.
func TestLeaseRecoveryWaitsForALateHolder(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond // a pickup timeout of 1s
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 1)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "gone", Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.AddBlock(bg, "/f", st.ID, "gone", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// The writer is gone; its node stays silent for 1.5s past the hard
	// limit.
	time.Sleep(cfg.LeaseHardLimit + 1500*time.Millisecond)
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || !fi.UnderConstruction || len(fi.Blocks) != 1 {
		t.Fatalf("after the live node of its last block was silent for 1.5s, /f = open %v with %d blocks (%v); want still open with its block",
			fi.UnderConstruction, len(fi.Blocks), err)
	}
	// The node speaks again: it is asked to recover the block, and its
	// answer closes the file with the block's bytes.
	primary, cmd := awaitRecoverBlock(t, newAckingNodes(s, nodes), lb.Block.ID)
	answerRecovery(t, s, primary, cmd, 777)
	fi, err = s.GetFileInfo(bg, "/f", true, "")
	if err != nil || fi.UnderConstruction || fi.Size != 777 || len(fi.Blocks) != 1 {
		t.Fatalf("/f after block recovery = %+v, %v; want closed with one block of 777 bytes", fi, err)
	}
}

// TestLeaseRecoveryNeverPicksACorruptPrimary checks that a replica
// known to be corrupt (still marked in the block map, or already
// queued for deletion) is neither the primary of a block recovery nor
// among the nodes it synchronizes, even when its node is the one heard
// from last.
func TestLeaseRecoveryNeverPicksACorruptPrimary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
	}{
		{"corrupt replica kept marked (a spare node could take a copy)", 4},
		{"corrupt replica queued for deletion (no spare node)", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.LeaseHardLimit = 50 * time.Millisecond
			cfg.HeartbeatInterval = 50 * time.Millisecond
			s := startServer(t, cfg)
			nodes := newAckingNodes(s, registerNodes(t, s, tc.nodes))
			st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "gone", Replication: 3})
			lb, err := s.AddBlock(bg, "/f", st.ID, "gone", nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			blk := lb.Block
			blk.Len = 100
			for _, l := range lb.Locations {
				rpcIBR(t, s, l.ID, []cairn.Block{blk}, nil, nil)
			}
			bad := lb.Locations[2].ID
			if err := s.ReportBadBlocks(bg, []BadBlock{{Block: blk, Node: bad, Reason: "checksum"}}); err != nil {
				t.Fatal(err)
			}
			// The corrupt replica's node heartbeats all the time, the
			// others now and then: it is always the one heard from
			// last.
			var from cairn.NodeID
			var cmd *pb.Command
			deadline := time.Now().Add(20 * time.Second)
			for i := 0; cmd == nil; i++ {
				if time.Now().After(deadline) {
					t.Fatal("timed out waiting for a RECOVER_BLOCK command")
				}
				ask := []cairn.NodeID{bad}
				if i%10 == 0 {
					ask = nil
					for id := range nodes {
						if id != bad {
							ask = append(ask, id)
						}
					}
					ask = append(ask, bad)
				}
				for _, id := range ask {
					if c := commandsOf(nodes[id].heartbeat(t), pb.Command_RECOVER_BLOCK); len(c) > 0 && cmd == nil {
						from, cmd = id, c[0]
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			if from == bad {
				t.Fatalf("the node of the corrupt replica %s was made the primary of the block recovery", bad)
			}
			if slices.Contains(targetIDs(cmd), bad) {
				t.Fatalf("block recovery synchronizes %v, which includes the corrupt replica of %s", targetIDs(cmd), bad)
			}
			answerRecovery(t, s, from, cmd, 100)
			fi, err := s.GetFileInfo(bg, "/f", true, "")
			if err != nil || fi.UnderConstruction || fi.Size != 100 {
				t.Fatalf("/f after block recovery = %+v, %v; want closed at 100 bytes", fi, err)
			}
		})
	}
}

// TestFailedCreateLeavesTheWriterAlone is the reproduction of a failed
// Create destroying the last block of a writer past its soft limit: a
// Create without overwrite must fail with Exist and change nothing; a
// Create with overwrite starts a real block recovery and is told to
// retry; the recovered file keeps the bytes the nodes synchronized.
func TestFailedCreateLeavesTheWriterAlone(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseSoftLimit = 30 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	nodes := newAckingNodes(s, registerNodes(t, s, 3))
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "a"})
	lb, err := s.AddBlock(bg, "/f", st.ID, "a", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// a has written part of the block (its nodes hold it unfinalized),
	// then stops renewing: a long pause.
	waitFor(t, "a's lease past the soft limit", func() bool {
		_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b"})
		if k := cairn.KindOf(err); k != cairn.LeaseConflict {
			wantKind(t, "Create without overwrite of a file whose writer passed the soft limit", err, cairn.Exist)
			return true
		}
		return false
	})
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || !fi.UnderConstruction || len(fi.Blocks) != 1 {
		t.Fatalf("after a Create that failed, /f = open %v with %d blocks (%v); want it untouched: open with its block",
			fi.UnderConstruction, len(fi.Blocks), err)
	}
	// With overwrite: the lease is recovered first, and b told to retry.
	_, err = s.Create(bg, "/f", CreateOptions{ClientName: "b", Overwrite: true})
	wantKind(t, "Create with overwrite of a file whose writer passed the soft limit", err, cairn.LeaseConflict)
	if !strings.Contains(err.Error(), "recover") {
		t.Errorf("Create during lease recovery = %q, want a message that says the file is being recovered", err)
	}
	// The old writer may not touch the file any more.
	_, err = s.AddBlock(bg, "/f", st.ID, "a", nil, nil, "")
	wantKind(t, "AddBlock by the writer whose lease is being recovered", err, cairn.LeaseConflict)
	primary, cmd := awaitRecoverBlock(t, nodes, lb.Block.ID)
	answerRecovery(t, s, primary, cmd, 500)
	fi, err = s.GetFileInfo(bg, "/f", true, "")
	if err != nil || fi.UnderConstruction || fi.Size != 500 || len(fi.Blocks) != 1 {
		t.Fatalf("/f after lease recovery = %+v, %v; want closed with the 500 bytes the nodes hold", fi, err)
	}
	// b's retry goes through.
	if _, err := s.Create(bg, "/f", CreateOptions{ClientName: "b", Overwrite: true}); err != nil {
		t.Fatalf("retried Create(overwrite) = %v", err)
	}
}

// TestLostRecoverBlockReplyDoesNotUseUpAnAttempt: the primary's
// heartbeat replies are lost (it takes nothing, acks nothing) for
// longer than a primary has to report; the RECOVER_BLOCK command must
// be sent again, the same, and the file must stay open with its block
// until the primary gets it and answers.
func TestLostRecoverBlockReplyDoesNotUseUpAnAttempt(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 1)
	n := nodes[0].id
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "gone", Replication: 1})
	lb, err := s.AddBlock(bg, "/f", st.ID, "gone", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []*pb.Command
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(cfg.HeartbeatInterval) {
		got = append(got, commandsOf(rpcHeartbeat(t, s, n), pb.Command_RECOVER_BLOCK)...)
	}
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || !fi.UnderConstruction || len(fi.Blocks) != 1 {
		t.Fatalf("after 6s of lost heartbeat replies, /f = open %v with %d blocks (%v); want still open with its block",
			fi.UnderConstruction, len(fi.Blocks), err)
	}
	if len(got) < 2 {
		t.Fatalf("RECOVER_BLOCK sent %d times in 6s of lost replies, want it sent again", len(got))
	}
	for _, c := range got[1:] {
		if c.Id == 0 || c.Id != got[0].Id || c.NewGenStamp != got[0].NewGenStamp {
			t.Fatalf("RECOVER_BLOCK sent as id %d, generation stamp %d, then as id %d, %d; want the same command again",
				got[0].Id, got[0].NewGenStamp, c.Id, c.NewGenStamp)
		}
	}
	// The node gets a reply at last: it acks the command and answers.
	rpcHeartbeat(t, s, n, got[0].Id)
	answerRecovery(t, s, n, got[0], 321)
	fi, err = s.GetFileInfo(bg, "/f", true, "")
	if err != nil || fi.UnderConstruction || fi.Size != 321 || fi.Blocks[0].Block.ID != lb.Block.ID {
		t.Fatalf("/f after block recovery = %+v, %v; want closed with its block at 321 bytes", fi, err)
	}
}

// TestLeaseRecoveryRemovesAbandonedTemporaries: files a put left open
// under its temporary name ("<dir>/.<name>._COPYING_.<8 hex digits>")
// are closed by lease recovery and then removed; other files are only
// closed.
func TestLeaseRecoveryRemovesAbandonedTemporaries(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	fakes := registerNodes(t, s, 3)
	nodes := newAckingNodes(s, fakes)
	build(t, s, "d:/d")
	const (
		tmp      = "/d/.data.csv._COPYING_.0a1b2c3d"
		emptyTmp = "/d/.e._COPYING_.deadbeef"
		keep     = "/d/.data.csv._COPYING_.notatemp"
	)
	blocks := map[string]cairn.LocatedBlock{}
	for _, p := range []string{tmp, keep, emptyTmp} {
		st, err := s.Create(bg, p, CreateOptions{ClientName: "gone"})
		if err != nil {
			t.Fatal(err)
		}
		if p == emptyTmp {
			continue
		}
		lb, err := s.AddBlock(bg, p, st.ID, "gone", nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		blocks[p] = lb
	}
	// The nodes answer every block recovery with 100 bytes, and note
	// the deletions of the temporary's block.
	gone := blocks[tmp].Block.ID
	deleted := map[cairn.NodeID]bool{}
	heartbeat := func(id cairn.NodeID) []*pb.Command {
		cmds := nodes[id].heartbeat(t)
		for _, c := range commandsOf(cmds, pb.Command_DELETE_BLOCKS) {
			for _, b := range c.Blocks {
				if cairn.BlockID(b.Id) == gone {
					deleted[id] = true
				}
			}
		}
		return cmds
	}
	waitFor(t, "lease recovery of the three files", func() bool {
		for id := range nodes {
			for _, c := range commandsOf(heartbeat(id), pb.Command_RECOVER_BLOCK) {
				old := pb.BlockFromProto(c.Blocks[0])
				nb := cairn.Block{ID: old.ID, GenStamp: cairn.GenStamp(c.NewGenStamp), Len: 100}
				s.CommitBlockSynchronization(bg, id, nb, old.GenStamp, targetIDs(c), false)
			}
		}
		a, _ := exists(t, s, tmp)
		b, _ := exists(t, s, emptyTmp)
		fi, err := s.GetFileInfo(bg, keep, false, "")
		return !a && !b && err == nil && !fi.UnderConstruction
	})
	fi, _ := s.GetFileInfo(bg, keep, true, "")
	if fi.Size != 100 {
		t.Errorf("%s after lease recovery = %d bytes, want 100 (closed, not removed: not a put's temporary)", keep, fi.Size)
	}
	// The temporary's block goes from its nodes.
	waitFor(t, "the removed temporary's block deleted on its nodes", func() bool {
		for _, l := range blocks[tmp].Locations {
			heartbeat(l.ID)
		}
		return len(deleted) == len(blocks[tmp].Locations)
	})
}

package namenode

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

func TestFreshNamespaceIsNotInSafeMode(t *testing.T) {
	s := newServer(t)
	st, err := s.SafeMode(bg, "get")
	if err != nil || st.On {
		t.Fatalf("SafeMode(get) on a fresh namespace = %+v, %v; want off", st, err)
	}
}

// restartWithBlocks writes files, restarts the NameNode and returns the
// new one with the blocks each node held.
func restartWithBlocks(t *testing.T, cfg Config) (*Server, []cairn.Block) {
	t.Helper()
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	var blocks []cairn.Block
	for _, lb := range writeFile(t, s, "/a", "c", 1<<20, 1<<20, 5) {
		blocks = append(blocks, lb.Block)
	}
	for _, lb := range writeFile(t, s, "/b/c", "c", 7) {
		blocks = append(blocks, lb.Block)
	}
	// An open file: its last, uncommitted block is not waited for.
	st, _ := s.Create(bg, "/open", CreateOptions{ClientName: "w"})
	s.AddBlock(bg, "/open", st.ID, "w", nil, nil, "")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return startServer(t, cfg), blocks
}

func TestSafeModeAfterRestart(t *testing.T) {
	s, blocks := restartWithBlocks(t, testConfig(t.TempDir()))

	st, _ := s.SafeMode(bg, "get")
	if !st.On || st.Manual || st.Reason != "safe mode is ON: 0 of 4 blocks reported, threshold 0.999" {
		t.Fatalf("SafeMode after restart = %+v", st)
	}
	_, err := s.Mkdirs(bg, "/x", 0, false, "", "")
	wantKind(t, "Mkdirs in safe mode", err, cairn.SafeMode)
	if err.Error() != "name node is in safe mode" {
		t.Errorf("Mkdirs in safe mode = %q, want \"name node is in safe mode\"", err)
	}
	if _, err := s.GetFileInfo(bg, "/a", false, ""); err != nil {
		t.Errorf("GetFileInfo in safe mode = %v, want reads to work", err)
	}
	rep, _ := s.GetDatanodeReport(bg)
	if !rep.SafeMode {
		t.Errorf("datanode report says safe mode off")
	}

	registerNodes(t, s, 1)
	if err := s.BlockReport(bg, "dn-1", blocks[:3], nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SafeMode(bg, "get"); !st.On || !strings.Contains(st.Reason, "3 of 4 blocks reported") {
		t.Errorf("SafeMode with 3 of 4 reported = %+v", st)
	}
	if err := s.IncrementalBlockReport(bg, "dn-1", blocks[3:], nil, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SafeMode(bg, "get"); st.On {
		t.Errorf("SafeMode with every block reported = %+v, want off", st)
	}
	if _, err := s.Mkdirs(bg, "/x", 0, false, "", ""); err != nil {
		t.Errorf("Mkdirs after safe mode = %v", err)
	}
}

func TestSafeModeExtension(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SafeModeExtension = 100 * time.Millisecond
	s, blocks := restartWithBlocks(t, cfg)
	registerNodes(t, s, 1)
	s.BlockReport(bg, "dn-1", blocks, nil)
	if st, _ := s.SafeMode(bg, "get"); !st.On || !strings.Contains(st.Reason, "threshold reached") {
		t.Errorf("SafeMode right after the threshold = %+v, want on for the extension", st)
	}
	waitFor(t, "safe mode to end after the extension", func() bool {
		st, _ := s.SafeMode(bg, "get")
		return !st.On
	})
}

func TestManualSafeMode(t *testing.T) {
	s := newServer(t)
	st, err := s.SafeMode(bg, "enter")
	if err != nil || !st.On || !st.Manual {
		t.Fatalf("SafeMode(enter) = %+v, %v", st, err)
	}
	_, err = s.Create(bg, "/f", CreateOptions{Touch: true})
	wantKind(t, "Create in manual safe mode", err, cairn.SafeMode)
	// A manual safe mode does not end by itself.
	if st, _ := s.SafeMode(bg, "get"); !st.On || !st.Manual {
		t.Errorf("SafeMode(get) = %+v, want still on", st)
	}
	st, err = s.SafeMode(bg, "leave")
	if err != nil || st.On || st.Manual {
		t.Errorf("SafeMode(leave) = %+v, %v", st, err)
	}
	if _, err := s.Create(bg, "/f", CreateOptions{Touch: true}); err != nil {
		t.Errorf("Create after leaving = %v", err)
	}
	_, err = s.SafeMode(bg, "toggle")
	wantKind(t, "SafeMode(toggle)", err, cairn.Invalid)
}

func TestManualLeaveEndsStartupSafeMode(t *testing.T) {
	s, _ := restartWithBlocks(t, testConfig(t.TempDir()))
	if st, _ := s.SafeMode(bg, "leave"); st.On {
		t.Fatalf("SafeMode(leave) = %+v", st)
	}
	if _, err := s.Mkdirs(bg, "/x", 0, false, "", ""); err != nil {
		t.Errorf("Mkdirs = %v", err)
	}
}

// TestLeaseSoftLimitTakeover: past a writer's soft limit, another
// client's Create without overwrite fails with Exist and leaves the
// file with its writer; a Create with overwrite takes over at once a
// file that has no uncommitted last block (closing it loses nothing).
func TestLeaseSoftLimitTakeover(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseSoftLimit = 30 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "a"})
	lb, _ := s.AddBlock(bg, "/f", st.ID, "a", nil, nil, "")
	// Right away: a conflict.
	_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b", Overwrite: true})
	wantKind(t, "Create by b while a writes", err, cairn.LeaseConflict)
	if !strings.Contains(err.Error(), "file is being written by another client") {
		t.Errorf("lease conflict message = %q", err)
	}
	waitFor(t, "a's lease to pass the soft limit", func() bool {
		_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b"})
		return cairn.KindOf(err) == cairn.Exist
	})
	// The failed Create changed nothing: a still writes the file. It
	// abandons its block, so that the file has no uncommitted block.
	if err := s.AbandonBlock(bg, "/f", st.ID, "a", lb.Block); err != nil {
		t.Fatalf("AbandonBlock by a after b's failed Create = %v", err)
	}
	waitFor(t, "a's lease to pass the soft limit again", func() bool {
		_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b"})
		return cairn.KindOf(err) == cairn.Exist
	})
	fi, _ := s.GetFileInfo(bg, "/f", false, "")
	if !fi.UnderConstruction {
		t.Fatalf("after b's Create without overwrite, /f was closed")
	}
	if _, err := s.Create(bg, "/f", CreateOptions{ClientName: "b", Overwrite: true}); err != nil {
		t.Fatalf("Create(overwrite) by b of a file without an uncommitted block = %v", err)
	}
	_, err = s.AddBlock(bg, "/f", st.ID, "a", nil, nil, "")
	wantKind(t, "AddBlock by the old writer", err, cairn.LeaseConflict)
	// No client may pose as the NameNode's lease recovery.
	_, err = s.Create(bg, "/g", CreateOptions{ClientName: leaseRecoveryHolder})
	wantKind(t, "Create by the reserved client name", err, cairn.Invalid)
}

// TestLeaseHardLimitClosesFiles: past the hard limit the monitor
// recovers every lease of a writer: a file without blocks is closed at
// once; one whose last block its nodes may hold is closed once a
// primary has synchronized that block (at the length the nodes agree
// on), or has found that no node holds any of it (then the block is
// dropped and deleted).
func TestLeaseHardLimitClosesFiles(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	fakes := registerNodes(t, s, 3)
	nodes := newAckingNodes(s, fakes)

	// /kept: a committed block and a last block two replicas reported.
	st, _ := s.Create(bg, "/kept", CreateOptions{ClientName: "gone"})
	b1, _ := s.AddBlock(bg, "/kept", st.ID, "gone", nil, nil, "")
	b1.Block.Len = 1 << 20
	b2, _ := s.AddBlock(bg, "/kept", st.ID, "gone", &b1.Block, nil, "")
	for i, n := range []int64{40, 30} {
		r := b2.Block
		r.Len = n
		s.IncrementalBlockReport(bg, b2.Locations[i].ID, []cairn.Block{r}, nil, nil)
	}
	// /dropped: a last block none of its nodes holds.
	st2, _ := s.Create(bg, "/dropped", CreateOptions{ClientName: "gone"})
	b3, _ := s.AddBlock(bg, "/dropped", st2.ID, "gone", nil, nil, "")
	// /empty: no block at all.
	s.Create(bg, "/empty", CreateOptions{ClientName: "gone"})

	// The nodes play the primaries: the synchronized length of /kept's
	// block is 30 (the shortest replica), /dropped's is found nowhere.
	deleted := map[cairn.NodeID]bool{}
	heartbeat := func(id cairn.NodeID) []*pb.Command {
		cmds := nodes[id].heartbeat(t)
		for _, c := range commandsOf(cmds, pb.Command_DELETE_BLOCKS) {
			for _, b := range c.Blocks {
				if cairn.BlockID(b.Id) == b3.Block.ID {
					deleted[id] = true
				}
			}
		}
		return cmds
	}
	waitFor(t, "the lease monitor to close the three files", func() bool {
		for id := range nodes {
			for _, c := range commandsOf(heartbeat(id), pb.Command_RECOVER_BLOCK) {
				old := pb.BlockFromProto(c.Blocks[0])
				nb := cairn.Block{ID: old.ID, GenStamp: cairn.GenStamp(c.NewGenStamp), Len: 30}
				drop := old.ID == b3.Block.ID
				if drop {
					nb.Len = 0
				}
				if err := s.CommitBlockSynchronization(bg, id, nb, old.GenStamp, targetIDs(c), drop); err != nil {
					t.Errorf("CommitBlockSynchronization(%v) = %v", nb, err)
				}
			}
		}
		open := false
		for _, p := range []string{"/kept", "/dropped", "/empty"} {
			fi, _ := s.GetFileInfo(bg, p, false, "")
			open = open || fi.UnderConstruction
		}
		return !open
	})
	a, _ := s.GetFileInfo(bg, "/kept", true, "")
	if a.Size != 1<<20+30 || len(a.Blocks) != 2 {
		t.Errorf("/kept = size %d, %d blocks; want 1 MiB + 30 in 2 blocks", a.Size, len(a.Blocks))
	}
	b, _ := s.GetFileInfo(bg, "/dropped", true, "")
	if b.Size != 0 || len(b.Blocks) != 0 {
		t.Errorf("/dropped = size %d, %d blocks; want empty", b.Size, len(b.Blocks))
	}
	waitFor(t, "the dropped block queued for deletion on its 3 nodes", func() bool {
		for id := range nodes {
			heartbeat(id)
		}
		return len(deleted) == 3
	})
	// Nothing stays open.
	rep, _ := s.Fsck(bg, "/", cairn.FsckOptions{})
	if rep.OpenFiles != 0 {
		t.Errorf("open files after recovery = %d", rep.OpenFiles)
	}
	if err := s.RenewLease(bg, ""); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("RenewLease(\"\") = %v, want Invalid", err)
	}
}

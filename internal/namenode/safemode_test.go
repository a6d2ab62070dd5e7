package namenode

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
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
	if err := s.BlockReport(bg, "dn-1", blocks[:3]); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SafeMode(bg, "get"); !st.On || !strings.Contains(st.Reason, "3 of 4 blocks reported") {
		t.Errorf("SafeMode with 3 of 4 reported = %+v", st)
	}
	if err := s.IncrementalBlockReport(bg, "dn-1", blocks[3:], nil); err != nil {
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
	s.BlockReport(bg, "dn-1", blocks)
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

func TestLeaseSoftLimitTakeover(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseSoftLimit = 30 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	st, _ := s.Create(bg, "/f", CreateOptions{ClientName: "a"})
	lb, _ := s.AddBlock(bg, "/f", st.ID, "a", nil, nil, "")
	lb.Block.Len = 70
	for _, l := range lb.Locations {
		s.IncrementalBlockReport(bg, l.ID, []cairn.Block{lb.Block}, nil)
	}
	// Right away: a conflict. Once a's lease passes the soft limit, b
	// finds the file closed at the length its replicas have.
	_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b"})
	wantKind(t, "Create by b while a writes", err, cairn.LeaseConflict)
	if !strings.Contains(err.Error(), "file is being written by another client") {
		t.Errorf("lease conflict message = %q", err)
	}
	waitFor(t, "a's lease to expire", func() bool {
		_, err := s.Create(bg, "/f", CreateOptions{ClientName: "b"})
		return cairn.KindOf(err) == cairn.Exist
	})
	fi, _ := s.GetFileInfo(bg, "/f", false, "")
	if fi.UnderConstruction || fi.Size != 70 {
		t.Errorf("file after takeover = open %v size %d, want closed at 70", fi.UnderConstruction, fi.Size)
	}
	_, err = s.AddBlock(bg, "/f", st.ID, "a", &lb.Block, nil, "")
	wantKind(t, "AddBlock by the old writer", err, cairn.LeaseConflict)
	if _, err := s.Create(bg, "/f", CreateOptions{ClientName: "b", Overwrite: true}); err != nil {
		t.Errorf("Create(overwrite) by b = %v", err)
	}
}

func TestLeaseHardLimitClosesFiles(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LeaseHardLimit = 50 * time.Millisecond
	s := startServer(t, cfg)
	nodes := registerNodes(t, s, 3)

	// /kept: a committed block and a last block two replicas reported.
	st, _ := s.Create(bg, "/kept", CreateOptions{ClientName: "gone"})
	b1, _ := s.AddBlock(bg, "/kept", st.ID, "gone", nil, nil, "")
	b1.Block.Len = 1 << 20
	b2, _ := s.AddBlock(bg, "/kept", st.ID, "gone", &b1.Block, nil, "")
	for i, n := range []int64{40, 30} {
		r := b2.Block
		r.Len = n
		s.IncrementalBlockReport(bg, b2.Locations[i].ID, []cairn.Block{r}, nil)
	}
	// /dropped: a last block nobody reported.
	st2, _ := s.Create(bg, "/dropped", CreateOptions{ClientName: "gone"})
	b3, _ := s.AddBlock(bg, "/dropped", st2.ID, "gone", nil, nil, "")

	waitFor(t, "the lease monitor to close both files", func() bool {
		a, _ := s.GetFileInfo(bg, "/kept", false, "")
		b, _ := s.GetFileInfo(bg, "/dropped", false, "")
		return !a.UnderConstruction && !b.UnderConstruction
	})
	a, _ := s.GetFileInfo(bg, "/kept", true, "")
	if a.Size != 1<<20+30 || len(a.Blocks) != 2 {
		t.Errorf("/kept = size %d, %d blocks; want 1 MiB + 30 (the shortest replica) in 2 blocks", a.Size, len(a.Blocks))
	}
	b, _ := s.GetFileInfo(bg, "/dropped", true, "")
	if b.Size != 0 || len(b.Blocks) != 0 {
		t.Errorf("/dropped = size %d, %d blocks; want empty", b.Size, len(b.Blocks))
	}
	deleted := 0
	for _, n := range nodes {
		if slices.Contains(heartbeatDeletes(t, s, n.id), b3.Block.ID) {
			deleted++
		}
	}
	if deleted != 3 {
		t.Errorf("dropped block queued for deletion on %d nodes, want 3", deleted)
	}
	// Nothing stays open.
	rep, _ := s.Fsck(bg, "/", FsckOptions{})
	if rep.OpenFiles != 0 {
		t.Errorf("open files after recovery = %d", rep.OpenFiles)
	}
	if err := s.RenewLease(bg, ""); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("RenewLease(\"\") = %v, want Invalid", err)
	}
}

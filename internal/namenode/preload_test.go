package namenode

import (
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// A namespace written with Preload loads as the state machine's own
// snapshots do, and a second Preload of the same directory is refused.
func TestPreload(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.ClusterID = "CID-preload"
	mtime := time.Unix(1_700_000_000, 0)
	h := SnapshotHeader{NextInodeID: 5, NextBlockID: firstBlockID + 2, NextGenStamp: firstGenStamp + 1, Names: []string{"alice", "staff"}}
	blocks := []cairn.Block{
		{ID: firstBlockID, GenStamp: firstGenStamp, Len: 1 << 20},
		{ID: firstBlockID + 1, GenStamp: firstGenStamp, Len: 7},
	}
	fill := func(w *SnapshotWriter) error {
		if err := w.Dir(SnapshotDir{ID: rootInodeID, Mode: 0o755, ModTime: mtime, Children: 1}); err != nil {
			return err
		}
		if err := w.Dir(SnapshotDir{ID: 2, Name: "d", Mode: 0o750, Owner: "alice", Group: "staff", ModTime: mtime, Children: 2}); err != nil {
			return err
		}
		if err := w.File(SnapshotFile{ID: 3, Name: "a", Mode: 0o644, Owner: "alice", Group: "staff", ModTime: mtime, Replication: 2, BlockSize: 1 << 20, Blocks: blocks}); err != nil {
			return err
		}
		return w.File(SnapshotFile{ID: 4, Name: "b", Mode: 0o600, Owner: "alice", Group: "staff", ModTime: mtime, Replication: 1, BlockSize: 1 << 20})
	}
	size, err := Preload(cfg, testLogger(t), h, fill)
	if err != nil {
		t.Fatalf("Preload = %v", err)
	}
	if size <= int64(len(snapshotMagic)) {
		t.Errorf("Preload size = %d", size)
	}
	if _, err := Preload(cfg, testLogger(t), h, fill); err == nil {
		t.Errorf("second Preload of %s = nil error, want one", cfg.Dir)
	}

	s := startServer(t, cfg)
	if s.ClusterID() != cfg.ClusterID {
		t.Errorf("ClusterID = %q, want %q", s.ClusterID(), cfg.ClusterID)
	}
	st, err := s.GetFileInfo(bg, "/d/a", true, "")
	if err != nil {
		t.Fatalf("GetFileInfo(/d/a) = %v", err)
	}
	if st.ID != 3 || st.Size != 1<<20+7 || st.Replication != 2 || st.Owner != "alice" || st.Group != "staff" || !st.ModTime.Equal(mtime) || len(st.Blocks) != 2 {
		t.Errorf("GetFileInfo(/d/a) = %+v", st)
	}
	if st, err := s.GetFileInfo(bg, "/d", false, ""); err != nil || st.Mode != 0o750 || st.Children != 2 {
		t.Errorf("GetFileInfo(/d) = %+v, %v; want mode 0750 and 2 children", st, err)
	}
	// The counters continue from the header's.
	if _, err := s.SafeMode(bg, "leave"); err != nil {
		t.Fatal(err)
	}
	st, err = s.Create(bg, "/d/c", CreateOptions{Touch: true})
	if err != nil || st.ID != 5 {
		t.Errorf("Create(/d/c) = id %d, %v; want id 5", st.ID, err)
	}
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	if s.ns.files != 3 || s.ns.dirs != 2 || s.ns.completeBlocks.Load() != 2 || s.ns.nextBlockID != uint64(h.NextBlockID) {
		t.Errorf("files=%d dirs=%d complete=%d nextBlockID=%d; want 3, 2, 2, %d", s.ns.files, s.ns.dirs, s.ns.completeBlocks.Load(), s.ns.nextBlockID, h.NextBlockID)
	}
}

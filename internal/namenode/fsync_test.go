package namenode

import (
	"testing"

	"github.com/cairn-fs/cairn"
)

// TestFsync: the length a writer synced of its last block counts in the
// file's size and its located blocks, only grows, is refused to anyone
// but the writer and for any block but the last, and survives a restart
// (it is logged).
func TestFsync(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.DefaultBlockSize = 1 << 20
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "w"})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	first := b1.Block
	first.Len = 1 << 20
	b2, err := s.AddBlock(bg, "/f", st.ID, "w", &first, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	size := func(s *Server) int64 {
		t.Helper()
		fi, err := s.GetFileInfo(bg, "/f", false, "")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size
	}
	if got := size(s); got != 1<<20 {
		t.Fatalf("size before Fsync = %d, want the committed %d", got, 1<<20)
	}
	last := b2.Block
	last.Len = 777
	if err := s.Fsync(bg, "/f", st.ID, "w", last); err != nil {
		t.Fatalf("Fsync(777) = %v", err)
	}
	if got := size(s); got != 1<<20+777 {
		t.Errorf("size after Fsync(777) = %d, want %d", got, 1<<20+777)
	}
	lbs, err := s.GetBlockLocations(bg, "/f", 0, 0, "")
	if err != nil || len(lbs.Blocks) != 2 || lbs.Blocks[1].Block.Len != 777 || len(lbs.Blocks[1].Locations) == 0 {
		t.Errorf("GetBlockLocations after Fsync = %+v, %v; want the last block at 777 bytes, with its pipeline", lbs.Blocks, err)
	}
	shorter := last
	shorter.Len = 100
	if err := s.Fsync(bg, "/f", st.ID, "w", shorter); err != nil {
		t.Errorf("Fsync of a shorter length = %v, want no error", err)
	}
	if got := size(s); got != 1<<20+777 {
		t.Errorf("size after a shorter Fsync = %d, want it kept at %d", got, 1<<20+777)
	}

	wantKind(t, "Fsync by another client", s.Fsync(bg, "/f", st.ID, "intruder", last), cairn.LeaseConflict)
	wantKind(t, "Fsync of a committed block", s.Fsync(bg, "/f", st.ID, "w", first), cairn.Invalid)
	stale := last
	stale.GenStamp--
	wantKind(t, "Fsync with another generation stamp", s.Fsync(bg, "/f", st.ID, "w", stale), cairn.Invalid)
	huge := last
	huge.Len = 2 << 20
	wantKind(t, "Fsync past the block size", s.Fsync(bg, "/f", st.ID, "w", huge), cairn.Invalid)

	s.Close()
	s2 := startServer(t, cfg)
	if got := size(s2); got != 1<<20+777 {
		t.Errorf("size after a restart = %d, want the synced %d kept", got, 1<<20+777)
	}
	// Complete commits the final length.
	if _, err := s2.SafeMode(bg, "leave"); err != nil {
		t.Fatal(err)
	}
	last.Len = 5000
	if _, err := s2.Complete(bg, "/f", st.ID, "w", &last); err != nil {
		t.Fatal(err)
	}
	if got := size(s2); got != 1<<20+5000 {
		t.Errorf("size after Complete = %d, want %d", got, 1<<20+5000)
	}
}

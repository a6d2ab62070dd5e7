package namenode

import (
	"slices"
	"testing"

	"github.com/cairn-fs/cairn"
)

// TestAddBlockNeverReturnsAnExcludedPipeline: a writer whose pipeline
// failed and whose AbandonBlock did not get through asks AddBlock
// again with the failed node excluded. That is no retry of a lost
// answer: the NameNode abandons the block and gives a new one on
// other nodes. (It used to answer with the same block and pipeline.)
func TestAddBlockNeverReturnsAnExcludedPipeline(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 4)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// A retry of a lost answer, with nothing excluded, gets the same.
	again, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil || again.Block.ID != b1.Block.ID {
		t.Fatalf("AddBlock retried = %v, %v; want block %d again", again.Block, err, b1.Block.ID)
	}

	bad := b1.Locations[1].ID
	b2, err := s.AddBlock(bg, "/f", st.ID, "c", nil, []cairn.NodeID{bad}, "")
	if err != nil {
		t.Fatalf("AddBlock excluding %s = %v", bad, err)
	}
	if b2.Block.ID == b1.Block.ID {
		t.Fatalf("AddBlock excluding %s of block %d's pipeline gave that block again", bad, b1.Block.ID)
	}
	if ids := locIDs(b2.Locations); slices.Contains(ids, bad) || len(ids) != 3 {
		t.Errorf("AddBlock excluding %s = pipeline %v, want 3 other nodes", bad, ids)
	}
	fi, err := s.GetFileInfo(bg, "/f", true, "")
	if err != nil || len(fi.Blocks) != 1 || fi.Blocks[0].Block.ID != b2.Block.ID {
		t.Fatalf("GetFileInfo(/f) = %+v, %v; want only block %d", fi.Blocks, err, b2.Block.ID)
	}
	// The block given up is deleted from its targets.
	deleted := 0
	for _, n := range nodes {
		if slices.Contains(heartbeatDeletes(t, s, n.id), b1.Block.ID) {
			deleted++
		}
	}
	if deleted != len(b1.Locations) {
		t.Errorf("block %d given up is deleted on %d nodes, want %d", b1.Block.ID, deleted, len(b1.Locations))
	}
	// The new block is a normal one: the file completes with it.
	b2.Block.Len = 100
	if _, err := s.Complete(bg, "/f", st.ID, "c", &b2.Block); err != nil {
		t.Fatalf("Complete = %v", err)
	}
}

// TestAbandonBlockIsIdempotent: a retried AbandonBlock whose first
// answer was lost succeeds; abandoning a committed block still fails.
func TestAbandonBlockIsIdempotent(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for try := 1; try <= 2; try++ {
		if err := s.AbandonBlock(bg, "/f", st.ID, "c", b1.Block); err != nil {
			t.Fatalf("AbandonBlock, try %d = %v", try, err)
		}
	}
	b2, err := s.AddBlock(bg, "/f", st.ID, "c", nil, nil, "")
	if err != nil || b2.Block.ID == b1.Block.ID {
		t.Fatalf("AddBlock after abandon = %v, %v", b2.Block, err)
	}
	b2.Block.Len = 10
	if _, err := s.AddBlock(bg, "/f", st.ID, "c", &b2.Block, nil, ""); err != nil {
		t.Fatal(err)
	}
	err = s.AbandonBlock(bg, "/f", st.ID, "c", b2.Block)
	wantKind(t, "AbandonBlock of a committed block", err, cairn.Invalid)
}

package testcluster_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestReplicaFilesFindWhatTheDataNodesHold checks the disk helpers
// against the DataNodes' own view of their replicas: every finalized
// replica is found, with its checksum file, and nothing else.
func TestReplicaFilesFindWhatTheDataNodesHold(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 3})
	cl := c.Client(t)
	putFile(t, cl, "/disk/f", 2*healBlock+100)
	st, err := c.NameNode().GetBlockLocations(context.Background(), "/disk/f", 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Blocks) != 3 {
		t.Fatalf("/disk/f has %d blocks, want 3", len(st.Blocks))
	}
	var dirs []string
	for i := range c.NumDataNodes() {
		dirs = append(dirs, c.DataNodeDirs(i)...)
	}
	index := testcluster.FinalizedReplicas(dirs...)
	if len(index) != len(st.Blocks) {
		t.Errorf("FinalizedReplicas found %d blocks, want %d: %v", len(index), len(st.Blocks), index)
	}
	for _, lb := range st.Blocks {
		id := lb.Block.ID
		all := c.ReplicaFiles(id)
		if len(all) != 3 {
			t.Fatalf("ReplicaFiles(%d) = %v, want 3 files", id, all)
		}
		if got := index[id]; !slices.Equal(got, all) {
			t.Errorf("FinalizedReplicas()[%d] = %v, want %v", id, got, all)
		}
		for i := range c.NumDataNodes() {
			data, meta, ok := c.DataNode(i).BlockFiles(id)
			if !ok {
				t.Fatalf("datanode %d has no replica of block %d", i, id)
			}
			if got := c.ReplicaFile(t, i, id); got != data {
				t.Errorf("ReplicaFile(%d, %d) = %s, want %s", i, id, got, data)
			}
			if got := testcluster.MetaFile(t, data); got != meta {
				t.Errorf("MetaFile(%s) = %s, want %s", data, got, meta)
			}
		}
	}

	f := c.ReplicaFile(t, 0, st.Blocks[0].Block.ID)
	before, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	testcluster.FlipByte(t, f, 7)
	after, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if after[7] != ^before[7] || !bytes.Equal(after[:7], before[:7]) || !bytes.Equal(after[8:], before[8:]) {
		t.Errorf("FlipByte(%s, 7) did not invert exactly byte 7", f)
	}
}

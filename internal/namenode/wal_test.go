package namenode

import (
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// A follower whose log suffix raft clears (entries of a deposed leader
// that never committed) and that then restarts must read its log from
// the start. raft-wal v0.4.0 sealed the tail segment without its index
// on such a truncation, and the restarted member panicked with "sealed
// segment has no index block" (hashicorp/raft-wal#31, fixed in v0.4.1);
// seen here by 'cairn bench failover' after a few rounds.
func TestLogStoreSurvivesTailTruncation(t *testing.T) {
	dir := t.TempDir()
	open := func() (*raftwal.WAL, *metadb.BoltMetaDB) {
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
		if err != nil {
			t.Fatalf("open the log: %v", err)
		}
		return w, meta
	}
	w, meta := open()
	var logs []*raft.Log
	for i := uint64(1); i <= 100; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	if err := w.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// The uncommitted tail of a deposed leader, cleared.
	if err := w.DeleteRange(98, 100); err != nil {
		t.Fatalf("clear the log suffix: %v", err)
	}
	if err := w.StoreLogs([]*raft.Log{{Index: 98, Term: 2, Type: raft.LogCommand, Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	meta.Close()

	w, meta = open()
	defer meta.Close()
	defer w.Close()
	for _, i := range []uint64{1, 50, 97, 98} {
		var l raft.Log
		if err := w.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d after a restart: %v", i, err)
		}
	}
	if last, _ := w.LastIndex(); last != 98 {
		t.Errorf("last index after a restart = %d, want 98", last)
	}
}

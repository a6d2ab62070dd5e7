package namenode

import (
	"strconv"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// The per-DataNode costs of the block map: a decommissioning node's
// progress check and a node's full block report must cost in
// proportion to the blocks on that node, not to the whole block map.
// BenchmarkPerNode builds a block map of one million one-block files
// (every block on node n0; the first thousand also on n1) and measures
// both for n1.

const (
	perNodeBlocks = 1_000_000
	perNodeHeld   = 1_000
)

// perNodeServer is a NameNode's block map and registry without the
// Raft log: the namespace is built by applying commands directly.
func perNodeServer(b *testing.B) (*Server, *datanode, []cairn.Block) {
	b.Helper()
	cfg, err := (&Config{Dir: "unused"}).withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{cfg: cfg, log: testLogger(b), now: time.Now}
	s.reg = newRegistry(&s.cfg, s.now)
	s.ns = newNamespace(s.reg)
	for i := range 2 {
		id := cairn.NodeID("n" + strconv.Itoa(i))
		s.reg.register(id, cairn.DatanodeInfo{ID: id, Addr: "10.0.0." + strconv.Itoa(i+1) + ":9866"}, storage(1<<40))
	}
	apply := func(c command) any {
		v := s.ns.apply(&c)
		if err, ok := v.(error); ok {
			b.Fatalf("%v: %v", c.op, err)
		}
		return v
	}
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	for d := range perNodeBlocks / 1000 {
		apply(command{op: opMkdirs, path: "/d" + strconv.Itoa(d), mode: 0o755, mtime: 1})
	}
	var held []cairn.Block
	for i := range perNodeBlocks {
		st := apply(command{op: opCreate, path: "/d" + strconv.Itoa(i/1000) + "/f" + strconv.Itoa(i), mode: 0o644,
			mtime: 1, replication: 1, blockSize: 1 << 27, clientName: "c"}).(FileStatus)
		targets := []cairn.NodeID{"n0"}
		if i < perNodeHeld {
			targets = append(targets, "n1")
		}
		blk := apply(command{op: opAddBlock, fileID: st.ID, clientName: "c", targets: targets}).(addBlockResult).block
		blk.Len = 4096
		apply(command{op: opComplete, fileID: st.ID, clientName: "c", flags: flagHasBlock, block: blk, mtime: 2})
		if i < perNodeHeld {
			held = append(held, blk)
		}
	}
	n1 := s.reg.lookup("n1")
	if got := s.reg.blockCount(n1.idx); got != perNodeHeld {
		b.Fatalf("n1 holds %d blocks, want %d", got, perNodeHeld)
	}
	return s, n1, held
}

func BenchmarkPerNode(b *testing.B) {
	s, n1, held := perNodeServer(b)
	b.Run("decommission check of a node with 1000 of 1M blocks", func(b *testing.B) {
		for b.Loop() {
			n1.admin.Store(uint32(adminDecommissioning))
			s.ns.mu.Lock()
			s.ns.heal.lastDecomCheck = time.Time{}
			s.checkDecommission(s.now().UnixNano())
			s.ns.mu.Unlock()
			if adminState(n1.admin.Load()) != adminDecommissioned {
				b.Fatal("n1 was not found decommissioned: every block it holds has a replica on n0")
			}
		}
	})
	b.Run("full block report of a node with 1000 of 1M blocks", func(b *testing.B) {
		for b.Loop() {
			s.ns.mu.Lock()
			s.ns.blockReport(n1.idx, held, nil)
			s.ns.mu.Unlock()
		}
		if got := s.reg.blockCount(n1.idx); got != perNodeHeld {
			b.Fatalf("n1 holds %d blocks after its reports, want %d", got, perNodeHeld)
		}
	})
}

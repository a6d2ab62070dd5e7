package namenode

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// simNode is a synthetic DataNode that holds block IDs, not bytes.
type simNode struct {
	id   cairn.NodeID
	addr string

	mu          sync.Mutex
	blocks      map[cairn.BlockID]cairn.Block
	acks        []uint64 // ids of the commands taken, acked in the next heartbeat
	remaining   int64
	down        bool // sends no heartbeats
	stallCopies bool // accepts copy commands but never copies
}

// simCluster runs synthetic DataNodes against a NameNode through the
// real DatanodeProtocol methods: each heartbeats every few milliseconds,
// deletes what DELETE_BLOCKS names, performs COPY_BLOCKS (the copy
// arrives on each target, which reports it), and registers again with
// a full block report when told to.
type simCluster struct {
	t     *testing.T
	s     atomic.Pointer[Server]
	nodes []*simNode
	done  chan struct{}
	wg    sync.WaitGroup
}

// healConfig is a Config with heartbeats every 20ms, stale after
// 150ms and dead after 400ms.
func healConfig(dir string) Config {
	cfg := testConfig(dir)
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.StaleNodeTimeout = 150 * time.Millisecond
	cfg.DeadNodeTimeout = 400 * time.Millisecond
	cfg.ReplicationTimeout = 2 * time.Second
	return cfg
}

func startSim(t *testing.T, s *Server, n int) *simCluster {
	c := &simCluster{t: t, done: make(chan struct{})}
	c.s.Store(s)
	for i := range n {
		sn := &simNode{
			id:        cairn.NodeID(fmt.Sprintf("dn-%d", i+1)),
			addr:      fmt.Sprintf("10.0.0.%d:9866", i+1),
			blocks:    make(map[cairn.BlockID]cairn.Block),
			remaining: int64(100-i) << 30,
		}
		c.nodes = append(c.nodes, sn)
		c.register(sn)
	}
	c.wg.Add(1)
	go c.loop()
	t.Cleanup(c.stop)
	t.Cleanup(func() { checkReplicaIndex(t, c.s.Load()) })
	return c
}

func (c *simCluster) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	c.wg.Wait()
}

func (c *simCluster) node(id cairn.NodeID) *simNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (c *simCluster) register(n *simNode) {
	s := c.s.Load()
	n.mu.Lock()
	rem := n.remaining
	blocks := slices.Collect(maps.Values(n.blocks))
	n.mu.Unlock()
	if _, err := s.Register(bg, Registration{ID: n.id, Addr: n.addr, Storage: storage(rem)}); err != nil {
		c.t.Errorf("Register(%s): %v", n.id, err)
		return
	}
	if err := s.BlockReport(bg, n.id, blocks, nil); err != nil {
		c.t.Errorf("BlockReport(%s): %v", n.id, err)
	}
}

func (c *simCluster) loop() {
	defer c.wg.Done()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		for _, n := range c.nodes {
			c.heartbeat(n)
		}
	}
}

func (c *simCluster) heartbeat(n *simNode) {
	s := c.s.Load()
	n.mu.Lock()
	down, rem, acks := n.down, n.remaining, n.acks
	n.acks = nil
	n.mu.Unlock()
	if down {
		return
	}
	cmds, err := s.Heartbeat(bg, n.id, storage(rem), acks)
	if err != nil {
		return
	}
	n.mu.Lock()
	for _, cmd := range cmds {
		if cmd.ID != 0 {
			n.acks = append(n.acks, cmd.ID)
		}
	}
	n.mu.Unlock()
	for _, cmd := range cmds {
		switch cmd.Type {
		case CommandReregister:
			c.register(n)
		case CommandDeleteBlocks:
			n.mu.Lock()
			for _, b := range cmd.Blocks {
				delete(n.blocks, b.ID)
			}
			n.mu.Unlock()
			s.IncrementalBlockReport(bg, n.id, nil, nil, cmd.Blocks)
		case CommandCopyBlocks:
			n.mu.Lock()
			stall := n.stallCopies
			var have []cairn.Block
			for _, b := range cmd.Blocks {
				if got, ok := n.blocks[b.ID]; ok {
					have = append(have, got)
				}
			}
			n.mu.Unlock()
			if stall {
				continue
			}
			for _, tgt := range cmd.Targets {
				tn := c.node(tgt.ID)
				tn.mu.Lock()
				for _, b := range have {
					tn.blocks[b.ID] = b
				}
				tn.mu.Unlock()
				s.IncrementalBlockReport(bg, tn.id, have, nil, nil)
			}
		}
	}
}

func (c *simCluster) setDown(id cairn.NodeID, down bool) {
	n := c.node(id)
	n.mu.Lock()
	n.down = down
	n.mu.Unlock()
}

func (c *simCluster) setStall(id cairn.NodeID, stall bool) {
	n := c.node(id)
	n.mu.Lock()
	n.stallCopies = stall
	n.mu.Unlock()
}

// write creates p with the given replication and nblocks blocks of 1000
// bytes, stored on the simulated pipeline targets.
func (c *simCluster) write(p string, repl, nblocks int) []cairn.Block {
	c.t.Helper()
	s := c.s.Load()
	st, err := s.Create(bg, p, CreateOptions{ClientName: "w", Replication: repl, Overwrite: true, CreateParent: true})
	if err != nil {
		c.t.Fatalf("Create(%q) = %v", p, err)
	}
	var prev *cairn.Block
	var out []cairn.Block
	for range nblocks {
		lb, err := s.AddBlock(bg, p, st.ID, "w", prev, nil, "")
		if err != nil {
			c.t.Fatalf("AddBlock(%q) = %v", p, err)
		}
		b := lb.Block
		b.Len = 1000
		for _, loc := range lb.Locations {
			n := c.node(loc.ID)
			n.mu.Lock()
			n.blocks[b.ID] = b
			n.mu.Unlock()
			s.IncrementalBlockReport(bg, loc.ID, []cairn.Block{b}, nil, nil)
		}
		out = append(out, b)
		prev = &b
	}
	if _, err := s.Complete(bg, p, st.ID, "w", prev); err != nil {
		c.t.Fatalf("Complete(%q) = %v", p, err)
	}
	return out
}

// holders returns the simulated nodes that hold block id.
func (c *simCluster) holders(id cairn.BlockID) []cairn.NodeID {
	var out []cairn.NodeID
	for _, n := range c.nodes {
		n.mu.Lock()
		if _, ok := n.blocks[id]; ok {
			out = append(out, n.id)
		}
		n.mu.Unlock()
	}
	return out
}

// fsckBlocks returns the blocks below p as fsck sees them.
func fsckBlocks(t *testing.T, s *Server, p string) []cairn.FsckBlock {
	t.Helper()
	rep, err := s.Fsck(bg, p, cairn.FsckOptions{Files: true, Blocks: true, Locations: true})
	if err != nil {
		t.Fatalf("Fsck(%q) = %v", p, err)
	}
	var out []cairn.FsckBlock
	for _, f := range rep.FileDetails {
		out = append(out, f.Blocks...)
	}
	return out
}

// upHolders returns the simulated nodes that hold block id and are up.
func (c *simCluster) upHolders(id cairn.BlockID) []cairn.NodeID {
	return slices.DeleteFunc(c.holders(id), func(id cairn.NodeID) bool {
		n := c.node(id)
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.down
	})
}

// exactly says whether every block below p has want live replicas, no
// corrupt one, and is held by exactly want simulated nodes that are up.
func (c *simCluster) exactly(p string, want int) bool {
	for _, fb := range fsckBlocks(c.t, c.s.Load(), p) {
		if fb.LiveReplicas != want || fb.CorruptReplicas != 0 || len(c.upHolders(fb.Block.ID)) != want {
			return false
		}
	}
	return true
}

func stateOf(t *testing.T, s *Server, id cairn.NodeID) string {
	t.Helper()
	rep, err := s.GetDatanodeReport(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Datanodes {
		if d.ID == id {
			return d.State
		}
	}
	return ""
}

func TestReReplicationAfterNodeDeathAndSurplusOnReturn(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 4)
	blocks := c.write("/f", 3, 6)

	// Stop a node that holds replicas.
	victim := c.holders(blocks[0].ID)[0]
	c.setDown(victim, true)
	waitFor(t, "the stopped node to be dead", func() bool { return stateOf(t, s, victim) == "dead" })
	waitFor(t, "every block back at 3 live replicas", func() bool { return c.exactly("/f", 3) })
	for _, b := range blocks {
		if slices.Contains(c.holders(b.ID), victim) && len(c.holders(b.ID)) != 4 {
			t.Fatalf("block %d: holders %v", b.ID, c.holders(b.ID))
		}
	}
	waitFor(t, "no block pending replication in the report", func() bool {
		rep, _ := s.GetDatanodeReport(bg)
		return rep.PendingReplicationBlocks == 0
	})

	// It comes back with its old replicas: the surplus goes, never
	// below 3.
	c.setDown(victim, false)
	deadline := time.Now().Add(20 * time.Second)
	for !c.exactly("/f", 3) || stateOf(t, s, victim) != "live" {
		for _, fb := range fsckBlocks(t, s, "/f") {
			if fb.LiveReplicas < 3 {
				t.Fatalf("block %d has %d live replicas while trimming the surplus", fb.Block.ID, fb.LiveReplicas)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the surplus to be removed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSurplusGoesFromTheFullestNodes(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 5) // dn-5 has the least room, dn-1 the most
	c.write("/f", 5, 2)
	waitFor(t, "5 replicas", func() bool { return c.exactly("/f", 5) })
	if _, err := s.SetReplication(bg, "/f", 3, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 replicas after setrep 3", func() bool { return c.exactly("/f", 3) })
	for _, fb := range fsckBlocks(t, s, "/f") {
		if got := c.holders(fb.Block.ID); !slices.Equal(got, []cairn.NodeID{"dn-1", "dn-2", "dn-3"}) {
			t.Errorf("block %d kept on %v, want the nodes with most room dn-1..dn-3", fb.Block.ID, got)
		}
	}
	if _, err := s.SetReplication(bg, "/", 4, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 replicas after setrep 4", func() bool { return c.exactly("/f", 4) })
}

func TestCorruptReplicaReplacedBeforeItIsDeleted(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 4)
	// Copies stall, so the state between the report and the repair can
	// be looked at.
	for _, n := range c.nodes {
		c.setStall(n.id, true)
	}
	b := c.write("/f", 3, 1)[0]
	bad := c.holders(b.ID)[0]
	if err := s.ReportBadBlocks(bg, []BadBlock{{Block: b, Node: bad, Reason: "checksum"}}); err != nil {
		t.Fatal(err)
	}
	fi, _ := s.GetBlockLocations(bg, "/f", 0, 0, "")
	if ids := locIDs(fi.Blocks[0].Locations); len(ids) != 2 || slices.Contains(ids, bad) {
		t.Errorf("locations after a bad replica = %v, want the 2 good ones", ids)
	}
	waitFor(t, "a copy ordered", func() bool { return len(s.PendingReplications()) > 0 })
	// A full report of the corrupt replica does not make it good.
	if err := s.BlockReport(bg, bad, []cairn.Block{b}, nil); err != nil {
		t.Fatal(err)
	}
	fb := fsckBlocks(t, s, "/f")[0]
	if fb.LiveReplicas != 2 || fb.CorruptReplicas != 1 {
		t.Errorf("fsck after a report of the corrupt replica = %+v, want 2 live, 1 corrupt", fb)
	}
	if !slices.Contains(c.holders(b.ID), bad) {
		t.Errorf("the corrupt replica was deleted before the block had 3 good replicas")
	}
	// Copies go through: the block gets a third good replica, then the
	// corrupt one is deleted.
	for _, n := range c.nodes {
		c.setStall(n.id, false)
	}
	waitFor(t, "3 good replicas and the corrupt one deleted", func() bool {
		return c.exactly("/f", 3) && !slices.Contains(c.holders(b.ID), bad)
	})
}

func TestReplicationThrottleAndRetry(t *testing.T) {
	cfg := healConfig(t.TempDir())
	cfg.ReplicationStreams = 1
	cfg.ReplicationTimeout = 300 * time.Millisecond
	s := startServer(t, cfg)
	c := startSim(t, s, 4)
	blocks := c.write("/f", 2, 8)
	// Raise the target: every block needs copies, but no source may
	// have more than one in flight. The first sources never copy, so
	// their copies time out and are retried.
	stalled := c.holders(blocks[0].ID)[0]
	c.setStall(stalled, true)
	if _, err := s.SetReplication(bg, "/f", 3, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !c.exactly("/f", 3) {
		for id, n := range s.PendingReplications() {
			if n > cfg.ReplicationStreams {
				t.Fatalf("%s has %d copies in flight, want at most %d", id, n, cfg.ReplicationStreams)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for 3 replicas; fsck %+v", fsckBlocks(t, s, "/f"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestReplicationIdleInSafeMode(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 4)
	c.write("/f", 3, 3)
	if _, err := s.SafeMode(bg, "enter"); err != nil {
		t.Fatal(err)
	}
	victim := c.nodes[0].id
	c.setDown(victim, true)
	waitFor(t, "dead", func() bool { return stateOf(t, s, victim) == "dead" })
	// Many passes later, still nothing ordered.
	time.Sleep(10 * s.cfg.HeartbeatInterval)
	if p := s.PendingReplications(); len(p) != 0 {
		t.Fatalf("copies ordered in safe mode: %v", p)
	}
	if _, err := s.SafeMode(bg, "leave"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 replicas after leaving safe mode", func() bool { return c.exactly("/f", 3) })
}

func TestDecommissionSurvivesRestart(t *testing.T) {
	cfg := healConfig(t.TempDir())
	s := startServer(t, cfg)
	c := startSim(t, s, 5)
	c.write("/f", 3, 6)
	node := c.nodes[0]
	// Addressed by its data-transfer address.
	ds, err := s.Decommission(bg, node.addr)
	if err != nil || ds.State != "decommissioning" {
		t.Fatalf("Decommission(%s) = %+v, %v; want decommissioning", node.addr, ds, err)
	}
	_, err = s.Decommission(bg, "10.9.9.9:1")
	wantKind(t, "Decommission(unknown node)", err, cairn.NotExist)
	// New blocks avoid it.
	for i := range 5 {
		for _, b := range c.write(fmt.Sprintf("/new/%d", i), 3, 1) {
			if slices.Contains(c.holders(b.ID), node.id) {
				t.Fatalf("new block %d placed on the decommissioning node", b.ID)
			}
		}
	}
	waitFor(t, "decommissioned", func() bool { return stateOf(t, s, node.id) == "decommissioned" })
	for _, fb := range fsckBlocks(t, s, "/") {
		others := slices.DeleteFunc(c.holders(fb.Block.ID), func(id cairn.NodeID) bool { return id == node.id })
		if len(others) < 3 || fb.State != cairn.FsckHealthy {
			t.Errorf("block %d after decommission: %d replicas on other nodes, state %s", fb.Block.ID, len(others), fb.State)
		}
	}

	// The NameNode restarts: the node is still out of service.
	c.stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, cfg)
	c2 := &simCluster{t: t, nodes: c.nodes, done: make(chan struct{})}
	c2.s.Store(s)
	for _, n := range c2.nodes {
		c2.register(n)
	}
	c2.wg.Add(1)
	go c2.loop()
	t.Cleanup(c2.stop)
	if st := stateOf(t, s, node.id); st != "decommissioning" && st != "decommissioned" {
		t.Fatalf("state after a NameNode restart = %s, want decommissioning or decommissioned", st)
	}
	waitFor(t, "decommissioned after the restart", func() bool { return stateOf(t, s, node.id) == "decommissioned" })

	// Recommissioned: it is live again and its replicas count, so the
	// surplus goes.
	if ds, err := s.Recommission(bg, string(node.id)); err != nil || ds.State != "live" {
		t.Fatalf("Recommission = %+v, %v; want live", ds, err)
	}
	waitFor(t, "3 replicas of every block", func() bool { return c2.exactly("/", 3) })
}

func TestDeadNodeComesBackReconciled(t *testing.T) {
	s := startServer(t, healConfig(t.TempDir()))
	c := startSim(t, s, 4)
	blocks := c.write("/f", 3, 2)
	c.write("/g", 3, 1)
	victim := c.holders(blocks[0].ID)[0]
	c.setDown(victim, true)
	waitFor(t, "dead", func() bool { return stateOf(t, s, victim) == "dead" })
	waitFor(t, "healed", func() bool { return c.exactly("/f", 3) })
	// While it is away /g is deleted and /f's first block gets a replica
	// of the wrong length on it.
	if err := s.Delete(bg, "/g", false); err != nil {
		t.Fatal(err)
	}
	v := c.node(victim)
	v.mu.Lock()
	wrong := blocks[0]
	wrong.Len = 7
	v.blocks[wrong.ID] = wrong
	v.mu.Unlock()
	c.setDown(victim, false)
	// It re-registers; the deleted blocks and the wrong replica are
	// deleted on it, and everything settles at 3 replicas.
	waitFor(t, "reconciled", func() bool {
		if stateOf(t, s, victim) != "live" || !c.exactly("/f", 3) {
			return false
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		got, ok := v.blocks[wrong.ID]
		return len(v.blocks) <= 2 && (!ok || got.Len == 1000)
	})
}

func TestDecommissionInSnapshot(t *testing.T) {
	cfg := healConfig(t.TempDir())
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	for _, n := range []string{"dn-1", "dn-2"} {
		if _, err := s.Decommission(bg, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Recommission(bg, "10.0.0.2:9866"); err != nil {
		t.Fatal(err)
	}
	if err := s.rn.raft.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, cfg)
	s.ns.mu.RLock()
	decom := slices.Sorted(maps.Keys(s.ns.decom))
	s.ns.mu.RUnlock()
	if !slices.Equal(decom, []cairn.NodeID{"dn-1"}) {
		t.Fatalf("decommissioning nodes after a restart from a snapshot = %v, want [dn-1]", decom)
	}
	registerNodes(t, s, 3)
	if st := stateOf(t, s, "dn-1"); st != "decommissioning" && st != "decommissioned" {
		t.Errorf("dn-1 after the restart: %s", st)
	}
	if st := stateOf(t, s, "dn-2"); st != "live" {
		t.Errorf("dn-2 after the restart: %s, want live", st)
	}
}

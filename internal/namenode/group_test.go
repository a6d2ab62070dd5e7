package namenode

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/faultproxy"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// testGroup is a NameNode group in this process: every member on its
// own loopback listener, Raft carried by its gRPC server.
type testGroup struct {
	t     *testing.T
	addrs []string
	dirs  []string
	cfgs  []Config
	srv   []*Server // nil: stopped
	stop  []context.CancelFunc
	// links[i][j], with pairLinks, is the fault proxy member i dials
	// member j through.
	links [][]*faultproxy.Proxy
}

// groupRaftTimeout is the Raft heartbeat and election timeout of test
// groups: the production default. Shorter ones (200ms, a 100ms leader
// lease) made leaders step down on their own when -race and the other
// packages' tests starved this two-core machine, and tests that had
// just found the leader then failed on "not the leader".
const groupRaftTimeout = time.Second

// groupOptions adjust startGroup.
type groupOptions struct {
	adjust func(*Config)
	// pairLinks puts a fault proxy between every ordered pair of
	// members, for partitions.
	pairLinks bool
}

func startGroup(t *testing.T, n int, adjust func(*Config)) *testGroup {
	t.Helper()
	return startGroupWith(t, n, groupOptions{adjust: adjust})
}

func startGroupWith(t *testing.T, n int, o groupOptions) *testGroup {
	t.Helper()
	adjust := o.adjust
	g := &testGroup{t: t}
	var lis []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis = append(lis, l)
		g.addrs = append(g.addrs, l.Addr().String())
		g.dirs = append(g.dirs, t.TempDir())
	}
	g.srv = make([]*Server, n)
	g.stop = make([]context.CancelFunc, n)
	if o.pairLinks {
		g.links = make([][]*faultproxy.Proxy, n)
		for i := range n {
			g.links[i] = make([]*faultproxy.Proxy, n)
			for j := range n {
				if i == j {
					continue
				}
				p, err := faultproxy.New(g.addrs[j])
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				g.links[i][j] = p
			}
		}
	}
	for i := range n {
		cfg := testConfig(g.dirs[i])
		if o.pairLinks {
			cfg.PeerDialAddrs = make(map[string]string)
			for j, p := range g.links[i] {
				if p != nil {
					cfg.PeerDialAddrs[g.addrs[j]] = p.Addr()
				}
			}
		}
		cfg.Peers = g.addrs
		cfg.RPCAddr = g.addrs[i]
		cfg.HeartbeatTimeout = groupRaftTimeout
		cfg.ElectionTimeout = groupRaftTimeout
		if adjust != nil {
			adjust(&cfg)
		}
		g.cfgs = append(g.cfgs, cfg)
	}
	for i := range n {
		g.startOn(i, lis[i])
	}
	t.Cleanup(func() {
		for i := range g.srv {
			g.kill(i)
		}
	})
	return g
}

func (g *testGroup) startOn(i int, lis net.Listener) {
	g.t.Helper()
	s, err := New(g.cfgs[i], testLogger(g.t).With("member", i))
	if err != nil {
		lis.Close()
		g.t.Fatalf("member %d: New: %v", i, err)
	}
	ctx, cancel := context.WithCancel(bg)
	go s.Serve(ctx, lis)
	g.srv[i], g.stop[i] = s, cancel
}

// restart starts stopped member i again on its directory and address.
func (g *testGroup) restart(i int) {
	g.t.Helper()
	var lis net.Listener
	var err error
	for range 100 {
		if lis, err = net.Listen("tcp", g.addrs[i]); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatalf("member %d: listen again: %v", i, err)
	}
	g.startOn(i, lis)
}

// isolate cuts member i off from every other member, both ways
// (blackholes: what is sent is lost, as in a real partition).
func (g *testGroup) isolate(i int) {
	for j := range g.links {
		if j != i {
			g.links[i][j].Blackhole()
			g.links[j][i].Blackhole()
		}
	}
}

// heal ends every partition.
func (g *testGroup) heal() {
	for i := range g.links {
		for _, p := range g.links[i] {
			if p != nil {
				p.Restore()
			}
		}
	}
}

// kill stops member i (as far as its peers see, a crash).
func (g *testGroup) kill(i int) {
	if g.srv[i] == nil {
		return
	}
	g.stop[i]()
	g.srv[i].Close()
	g.srv[i] = nil
}

// leader waits until exactly one running member serves as leader, and
// returns its index.
func (g *testGroup) leader() int {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		lead := -1
		n := 0
		for i, s := range g.srv {
			if s != nil && s.servingTerm() != 0 {
				lead = i
				n++
			}
		}
		if n == 1 {
			return lead
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatal("no single leader within 20s")
	return -1
}

func TestGroupFailover(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	if _, err := g.srv[l].Mkdirs(bg, "/a", 0o755, true, "", ""); err != nil {
		t.Fatalf("Mkdirs on the leader = %v", err)
	}
	// A follower refuses reads and writes, naming the leader.
	f := (l + 1) % 3
	_, err := g.srv[f].GetFileInfo(bg, "/a", false, "")
	wantKind(t, "GetFileInfo on a follower", err, cairn.NotLeader)
	hint := protocol.LeaderHint(protocol.FromStatus("stat", "/a", protocol.ToStatus(err)))
	if hint != g.addrs[l] {
		t.Errorf("leader hint of a follower = %q, want the leader's RPC address %q", hint, g.addrs[l])
	}
	_, err = g.srv[f].Mkdirs(bg, "/b", 0o755, true, "", "")
	wantKind(t, "Mkdirs on a follower", err, cairn.NotLeader)
	// Reports of corrupt replicas too, so that the reporter goes on to
	// the leader.
	wantKind(t, "ReportBadBlocks on a follower", g.srv[f].ReportBadBlocks(bg, nil), cairn.NotLeader)
	// And safe mode, which is the leader's.
	_, err = g.srv[f].SafeMode(bg, "get")
	wantKind(t, "SafeMode on a follower", err, cairn.NotLeader)

	// The leader dies: another member leads, with /a.
	g.kill(l)
	l2 := g.leader()
	if l2 == l {
		t.Fatalf("the killed member %d still leads", l)
	}
	if _, err := g.srv[l2].GetFileInfo(bg, "/a", false, ""); err != nil {
		t.Fatalf("GetFileInfo(/a) on the new leader = %v", err)
	}
	if _, err := g.srv[l2].Mkdirs(bg, "/c", 0o755, true, "", ""); err != nil {
		t.Fatalf("Mkdirs on the new leader = %v", err)
	}
	// The old leader comes back as a follower and catches up.
	g.restart(l)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := g.srv[l]
		s.ns.mu.RLock()
		_, err := s.ns.lookup("/c")
		s.ns.mu.RUnlock()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted member never applied /c: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := g.srv[l]; s.servingTerm() != 0 {
		t.Errorf("the restarted member leads; want it a follower of member %d", l2)
	}
}

// A leader cut off from the majority steps down and acknowledges
// nothing more; the majority elects another, whose writes the old
// leader never claims not to see: it refuses reads and writes until it
// rejoins as a follower, and then has them.
func TestGroupPartitionedLeaderStepsDown(t *testing.T) {
	g := startGroupWith(t, 3, groupOptions{pairLinks: true})
	old := g.leader()
	if _, err := g.srv[old].Mkdirs(bg, "/before", 0o755, true, "", ""); err != nil {
		t.Fatalf("Mkdirs on the leader = %v", err)
	}
	g.isolate(old)

	// A write sent to the isolated leader is never acknowledged.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	_, err := g.srv[old].Mkdirs(ctx, "/lost", 0o755, true, "", "")
	cancel()
	if err == nil {
		t.Fatal("the isolated leader acknowledged a write")
	}
	t.Logf("write on the isolated leader: %v", err)

	// The majority elects a new leader and writes.
	var nl int
	deadline := time.Now().Add(20 * time.Second)
	for {
		nl = -1
		for i, s := range g.srv {
			if i != old && s.servingTerm() != 0 {
				nl = i
			}
		}
		if nl >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the majority elected no leader within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := g.srv[nl].Mkdirs(bg, "/after", 0o755, true, "", ""); err != nil {
		t.Fatalf("Mkdirs on the new leader = %v", err)
	}
	// The old leader has stepped down (or cannot show it leads): it
	// answers no read with a state that lacks /after.
	rctx, rcancel := context.WithTimeout(bg, 5*time.Second)
	_, err = g.srv[old].GetFileInfo(rctx, "/after", false, "")
	rcancel()
	if err == nil || cairn.KindOf(err) == cairn.NotExist {
		t.Fatalf("GetFileInfo(/after) on the isolated old leader = %v; want a refusal, never a stale answer", err)
	}
	if g.srv[old].servingTerm() != 0 {
		t.Errorf("the isolated old leader still serves")
	}

	// Healed, the old leader follows and has /after, not /lost.
	g.heal()
	deadline = time.Now().Add(20 * time.Second)
	for {
		s := g.srv[old]
		s.ns.mu.RLock()
		_, err := s.ns.lookup("/after")
		s.ns.mu.RUnlock()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old leader never caught up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := g.leader()
	if _, err := g.srv[l].GetFileInfo(bg, "/lost", false, ""); cairn.KindOf(err) != cairn.NotExist {
		t.Errorf("GetFileInfo(/lost) on the leader = %v: a write the isolated leader never acknowledged must not appear... unless committed; want NotExist", err)
	}
}

// A member that cannot read an entry of the log (one a newer binary
// wrote) stops being a member instead of skipping it and diverging
// from those that can.
func TestGroupMemberHaltsOnAnUnreadableEntry(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	if _, err := g.srv[l].Mkdirs(bg, "/a", 0o755, true, "", ""); err != nil {
		t.Fatal(err)
	}
	// An entry of a command version this binary does not know.
	f := g.srv[l].rn.raft.Apply([]byte{commandVersion + 1, byte(opMkdirs), 0}, 5*time.Second)
	if err := f.Error(); err == nil {
		if _, isErr := f.Response().(error); !isErr {
			t.Fatalf("an unreadable entry was applied: %v", f.Response())
		}
	}
	// The leader applied it, and stops; so does every member that
	// applies it (those that never learn it committed cannot elect a
	// leader without the others, and apply nothing more).
	idx := f.Index()
	deadline := time.Now().Add(10 * time.Second)
	for g.srv[l].rn.raft.State() != raft.Shutdown {
		if time.Now().After(deadline) {
			t.Fatalf("the leader, which applied an entry it cannot read, is still %v", g.srv[l].rn.raft.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	for i, s := range g.srv {
		if st := s.rn.raft.State(); st != raft.Shutdown && s.rn.raft.AppliedIndex() >= idx {
			t.Errorf("member %d applied past the unreadable entry %d and is still %v", i, idx, st)
		}
	}
}

// A follower that falls behind the leader's log (cut off while the
// leader writes, snapshots and drops the log behind the snapshot) is
// sent a snapshot when it is back; installing it keeps the replicas it
// knew of the blocks still there, so that it can lead at once.
func TestGroupFollowerKeepsReplicasThroughASnapshot(t *testing.T) {
	g := startGroupWith(t, 3, groupOptions{pairLinks: true, adjust: func(c *Config) {
		c.SnapshotThreshold = 64
		c.snapshotInterval = 20 * time.Millisecond
		c.walSegmentSize = 16 << 10
	}})
	l := g.leader()
	f := (l + 1) % 3
	for _, s := range g.srv {
		registerNodes(t, s, 3)
	}
	lbs := writeFile(t, g.srv[l], "/data", "w", 1<<20, 100)
	// The DataNodes report to every member.
	for i, s := range g.srv {
		if i == l {
			continue
		}
		for _, lb := range lbs {
			for _, loc := range lb.Locations {
				if err := s.IncrementalBlockReport(bg, loc.ID, []cairn.Block{lb.Block}, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	replicas := func(s *Server) int {
		s.ns.mu.RLock()
		defer s.ns.mu.RUnlock()
		n := 0
		for _, lb := range lbs {
			if b := s.ns.blocks[lb.Block.ID]; b != nil {
				n += b.goodReplicas()
			}
		}
		return n
	}
	waitFor(t, "the follower to know the file's six replicas", func() bool { return replicas(g.srv[f]) == 6 })

	g.isolate(f)
	behind := g.srv[f].rn.raft.LastIndex()
	for i := range 600 {
		if _, err := g.srv[l].Mkdirs(bg, fmt.Sprintf("/d/%04d", i), 0o755, true, "", ""); err != nil {
			t.Fatalf("Mkdirs on the leader = %v", err)
		}
	}
	waitFor(t, "the leader to drop the log the follower lacks", func() bool {
		first, err := g.srv[l].rn.wal.FirstIndex()
		return err == nil && first > behind+1
	})
	g.heal()
	waitFor(t, "the follower to catch up", func() bool {
		return g.srv[f].rn.raft.AppliedIndex() >= g.srv[l].rn.raft.AppliedIndex()
	})
	if snap := g.srv[f].rn.raft.Stats()["last_snapshot_index"]; snap == "0" || snap == "" {
		t.Fatalf("the follower caught up without a snapshot (last_snapshot_index %q): the test proves nothing", snap)
	}
	if n := replicas(g.srv[f]); n != 6 {
		t.Errorf("the follower knows %d replicas of the file after installing a snapshot, want the 6 it knew", n)
	}
	checkReplicaIndex(t, g.srv[f])
	if got, want := g.srv[f].ns.reportedBlocks.Load(), g.srv[f].ns.completeBlocks.Load(); got != want || want != 2 {
		t.Errorf("the follower counts %d of %d complete blocks reported, want 2 of 2", got, want)
	}
}

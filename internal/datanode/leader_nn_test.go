package datanode

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// startRealNameNode starts a NameNode of cluster on dir, a group of
// one that leads itself, and returns it and its address. It is closed
// by the test's cleanup, or by the caller.
func startRealNameNode(t *testing.T, dir string, cluster cairn.ClusterID) (*namenode.Server, string) {
	t.Helper()
	nn, err := namenode.New(namenode.Config{
		Dir:                dir,
		ClusterID:          cluster,
		DefaultReplication: 1,
		DefaultBlockSize:   1 << 20,
		HeartbeatInterval:  50 * time.Millisecond,
	}, newLogger(t))
	if err != nil {
		t.Fatalf("namenode.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nn.Serve(context.Background(), lis)
	t.Cleanup(func() { nn.Close() })
	return nn, lis.Addr().String()
}

// Two real NameNodes of one cluster, each a group of one that leads
// itself, so that both claim leadership: the one restarted more often
// has the newer term. The DataNode runs the commands of that one only:
// the other's deletion of the replica of a file it does not know is
// refused, and the newer one's deletion of a replica no file has is
// run.
func TestCommandsOfTheNewerTermWithRealNameNodes(t *testing.T) {
	const cluster = "ha-test"
	_, low := startRealNameNode(t, t.TempDir(), cluster)
	// Each restart of a group of one is an election: a newer term.
	highDir := t.TempDir()
	for range 3 {
		nn, _ := startRealNameNode(t, highDir, cluster)
		nn.Close()
	}
	_, high := startRealNameNode(t, highDir, cluster)

	var steps blockSteps
	n := startNodeWith(t, Config{NameNode: low + "," + high, StepHook: steps.hook})
	waitFor(t, func() bool { return n.dn.sessions[0].registered() && n.dn.sessions[1].registered() }, "registration with both NameNodes")
	// Until the DataNode has heard of the newer term, the older
	// NameNode's claim is as good as any: wait for it.
	waitFor(t, func() bool { addr, _ := n.dn.NameNodeLeader(); return addr == high }, "the NameNode of the newer term taken as the leader")

	// A file written through the newer NameNode: the other does not
	// know its block and asks for its deletion.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, high)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatalf("Create(/f) = %v", err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(/f) = %v", err)
	}
	blocks := n.dn.Blocks()
	if len(blocks) != 1 {
		t.Fatalf("the DataNode holds %v, want the one block of /f", blocks)
	}
	kept := blocks[0]
	waitFor(t, func() bool { return steps.saw(StepCommandRefused, kept.ID) }, "the deletion of %v refused", kept)

	// A replica no file has: the newer NameNode's deletion is run.
	stray := cairn.Block{ID: 1 << 40, GenStamp: 1, Len: 5}
	writeBlock(t, stray, pipelineOf(n), []byte("stray"))
	waitFor(t, func() bool { _, _, ok := n.dn.BlockFiles(stray.ID); return !ok }, "the deletion of %v run", stray)

	if _, _, ok := n.dn.BlockFiles(kept.ID); !ok || steps.saw(StepCommandRun, kept.ID) {
		t.Errorf("the replica of /f was deleted by the NameNode of the older term")
	}
}

// nnGroup is a NameNode group in this process, every member on its own
// loopback listener, as package namenode's own tests make one.
type nnGroup struct {
	t     *testing.T
	addrs []string
	cfgs  []namenode.Config
	srv   []*namenode.Server // nil: stopped
}

func startNNGroup(t *testing.T, n int) *nnGroup {
	t.Helper()
	g := &nnGroup{t: t, srv: make([]*namenode.Server, n)}
	var lis []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis = append(lis, l)
		g.addrs = append(g.addrs, l.Addr().String())
	}
	for i := range n {
		g.cfgs = append(g.cfgs, namenode.Config{
			Dir:                t.TempDir(),
			DefaultReplication: 1,
			DefaultBlockSize:   1 << 20,
			HeartbeatInterval:  50 * time.Millisecond,
			Peers:              g.addrs,
			RPCAddr:            g.addrs[i],
			HeartbeatTimeout:   time.Second, // not shorter: a starved machine would lose leaders
			ElectionTimeout:    time.Second,
		})
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

func (g *nnGroup) startOn(i int, lis net.Listener) {
	g.t.Helper()
	s, err := namenode.New(g.cfgs[i], newLogger(g.t).With("member", i))
	if err != nil {
		lis.Close()
		g.t.Fatalf("member %d: namenode.New: %v", i, err)
	}
	go s.Serve(context.Background(), lis)
	g.srv[i] = s
}

// kill stops member i, as a crash would as far as its peers see.
func (g *nnGroup) kill(i int) {
	if g.srv[i] != nil {
		g.srv[i].Close()
		g.srv[i] = nil
	}
}

// restart starts stopped member i again on its directory and address.
func (g *nnGroup) restart(i int) {
	g.t.Helper()
	var lis net.Listener
	waitFor(g.t, func() bool {
		var err error
		lis, err = net.Listen("tcp", g.addrs[i])
		return err == nil
	}, "the address of member %d free again", i)
	g.startOn(i, lis)
}

// leader waits until exactly one running member leads, and returns it
// and its term.
func (g *nnGroup) leader() (lead int, term uint64) {
	g.t.Helper()
	waitFor(g.t, func() bool {
		n := 0
		for i, s := range g.srv {
			if s == nil {
				continue
			}
			if t, ok := s.RaftTerm(); ok {
				lead, term, n = i, t, n+1
			}
		}
		return n == 1
	}, "a single leader of the group")
	return lead, term
}

// A DataNode of a real group of three NameNodes: it runs the leader's
// commands; when the leader is killed it takes the member elected in a
// newer term as the leader and runs its commands; the old leader, back
// as a follower, does not take the lead back.
func TestNameNodeGroupFailover(t *testing.T) {
	g := startNNGroup(t, 3)
	l, term := g.leader()
	var steps blockSteps
	n := startNodeWith(t, Config{NameNode: strings.Join(g.addrs, ","), StepHook: steps.hook})
	waitFor(t, func() bool { addr, _ := n.dn.NameNodeLeader(); return addr == g.addrs[l] }, "member %d, the leader, taken as the leader", l)

	// A replica no file has is deleted by the leader's command.
	stray := func(id cairn.BlockID) {
		t.Helper()
		b := cairn.Block{ID: id, GenStamp: 1, Len: 5}
		writeBlock(t, b, pipelineOf(n), []byte("stray"))
		waitFor(t, func() bool { _, _, ok := n.dn.BlockFiles(b.ID); return !ok && steps.saw(StepCommandRun, b.ID) }, "the leader's deletion of %v run", b)
	}
	stray(1 << 40)

	g.kill(l)
	l2, term2 := g.leader()
	if l2 == l || term2 <= term {
		t.Fatalf("after member %d (term %d) was killed, member %d leads term %d", l, term, l2, term2)
	}
	waitFor(t, func() bool { addr, t := n.dn.NameNodeLeader(); return addr == g.addrs[l2] && t >= term2 }, "member %d, the new leader, taken as the leader", l2)
	stray(1<<40 + 1)

	// The old leader comes back, a follower of a newer term.
	g.restart(l)
	waitFor(t, func() bool { t, leads := g.srv[l].RaftTerm(); return t >= term2 && !leads }, "member %d back as a follower", l)
	stray(1<<40 + 2)
	if addr, _ := n.dn.NameNodeLeader(); addr != g.addrs[l2] {
		t.Errorf("with the old leader back, the DataNode takes %s for the leader, want member %d at %s", addr, l2, g.addrs[l2])
	}
}

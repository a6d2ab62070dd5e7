package datanode

import (
	"context"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// serveFake serves f on addr (empty: a new port) until the stop it
// returns is called or the test ends, and returns the address.
func serveFake(t *testing.T, f *fakeNameNode, addr string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	waitFor(t, func() bool {
		lis, err = net.Listen("tcp", addr)
		return err == nil
	}, "listening on %s", addr)
	srv := grpc.NewServer()
	protocol.RegisterDatanodeProtocolServer(srv, f)
	protocol.RegisterClientProtocolServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv.Stop
}

// GetBlockLocations answers that no file exists: enough to tell which
// NameNode a DataNode's web download asked.
func (f *fakeNameNode) GetBlockLocations(ctx context.Context, req *protocol.GetBlockLocationsRequest) (*protocol.GetBlockLocationsResponse, error) {
	return &protocol.GetBlockLocationsResponse{}, nil
}

// blockSet is the finalized replicas of blocks, by ID.
func blockSet(blocks []cairn.Block) map[cairn.BlockID]cairn.Block {
	m := make(map[cairn.BlockID]cairn.Block, len(blocks))
	for _, b := range blocks {
		m[b.ID] = b
	}
	return m
}

func sameView(a, b map[cairn.BlockID]cairn.Block) bool {
	if len(a) != len(b) {
		return false
	}
	for id, x := range a {
		if b[id] != x {
			return false
		}
	}
	return true
}

// A DataNode with two NameNodes keeps a session with each: both hear
// of every replica, each gets the acknowledgements of its own
// commands (only the leader's are run), and one that is down holds
// back only its own reports.
func TestTwoNameNodes(t *testing.T) {
	nn1 := startFakeNameNode(t, "c")
	nn2 := &fakeNameNode{cluster: "c", commands: make(map[string][]*protocol.Command)}
	var stop2 func()
	nn2.addr, stop2 = serveFake(t, nn2, "")
	nn1.withIDs()
	nn2.withIDs()
	nn1.lead(1, true)
	nn2.lead(1, false)
	nn2.mu.Lock()
	nn2.nextID = 100 // ids of its own, to tell the acks apart
	nn2.mu.Unlock()
	both := []*fakeNameNode{nn1, nn2}

	dir := t.TempDir()
	pre := startNode(t, []string{dir}, "")
	old := cairn.Block{ID: 1, GenStamp: 1, Len: 3}
	writeBlock(t, old, pipelineOf(pre), []byte("old"))
	pre.stop(t)

	n := startNodeWith(t, Config{Dirs: []string{dir}, NameNode: nn1.addr + "," + nn2.addr})
	for i, nn := range both {
		waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 && len(nn.heartbeats) > 0 }), "registration with and heartbeats to NameNode %d", i+1)
		nn.mu.Lock()
		reg, report := nn.registers[0], protocol.BlocksFromProto(nn.reports[0].Blocks)
		nn.mu.Unlock()
		if reg.NodeId != string(n.dn.ID()) || reg.Addr != n.info.Addr {
			t.Errorf("NameNode %d: Register(%v), want node %s at %s", i+1, reg, n.dn.ID(), n.info.Addr)
		}
		if !slices.Equal(report, []cairn.Block{old}) {
			t.Errorf("NameNode %d: full report %v, want [%v]", i+1, report, old)
		}
	}

	// Received, receiving and deleted replicas: both hear of each.
	b := cairn.Block{ID: 2, GenStamp: 1, Len: 5}
	writeBlock(t, b, pipelineOf(n), []byte("fresh"))
	w, err := datatransfer.NewBlockWriter(context.Background(), cairn.Block{ID: 3, GenStamp: 1}, pipelineOf(n), "test-client")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(cairn.PacketSize, 3))
	for i, nn := range both {
		waitFor(t, nn.check(func() bool { return hasBlock(nn.received, b) && heardOf(nn.receiving, 3, 1) }), "NameNode %d told of %v received and block 3 receiving", i+1, b)
	}
	w.Abort()
	for i, nn := range both {
		waitFor(t, nn.check(func() bool { return heardOf(nn.deleted, 3, 1) }), "NameNode %d told of block 3 deleted", i+1)
	}

	// Each NameNode's commands are acknowledged to it alone, and the
	// leader's run; what they change is told to both.
	nn1.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{old})})
	nn2.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{b})})
	waitFor(t, nn1.check(func() bool { return nn1.acked[1] > 0 }), "NameNode 1's command acknowledged")
	waitFor(t, nn2.check(func() bool { return nn2.acked[101] > 0 }), "NameNode 2's command acknowledged")
	for i, nn := range both {
		waitFor(t, nn.check(func() bool { return hasBlock(nn.deleted, old) }), "NameNode %d told of the leader's deletion", i+1)
		nn.mu.Lock()
		for id := range nn.acked {
			if id != uint64(1+100*i) {
				t.Errorf("NameNode %d was acknowledged command %d, not its own", i+1, id)
			}
		}
		nn.mu.Unlock()
	}
	if _, _, ok := n.dn.BlockFiles(b.ID); !ok {
		t.Errorf("replica %v deleted by the command of NameNode 2, which does not lead", b)
	}

	// NameNode 2 goes down: NameNode 1 still hears of new replicas at
	// once, and NameNode 2 of those it missed once it is back.
	stop2()
	c := cairn.Block{ID: 4, GenStamp: 1, Len: 4}
	writeBlock(t, c, pipelineOf(n), []byte("late"))
	waitFor(t, nn1.check(func() bool { return hasBlock(nn1.received, c) }), "NameNode 1 told of %v while NameNode 2 is down", c)
	nn2.mu.Lock()
	missed := hasBlock(nn2.received, c)
	nn2.mu.Unlock()
	if missed {
		t.Fatalf("NameNode 2 told of %v while down", c)
	}
	serveFake(t, nn2, nn2.addr)
	waitFor(t, nn2.check(func() bool { return hasBlock(nn2.received, c) }), "NameNode 2 told of %v once back", c)
	held := blockSet(n.dn.Blocks())
	for i, nn := range both {
		if v := nn.view(); !sameView(v, held) {
			t.Errorf("NameNode %d believes the node holds %v; it holds %v", i+1, v, held)
		}
	}
}

// The web download asks the first NameNode that answers.
func TestDownloadAsksANameNodeThatAnswers(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	n := startNodeWith(t, Config{NameNode: deadAddr(t), NameNodes: []string{nn.addr}})
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	_, err := n.dn.openDownload(context.Background(), "/none", false)
	if cairn.KindOf(err) != cairn.NotExist {
		t.Errorf("download of a file the second NameNode does not have = %v, want NotExist", err)
	}

	alone := startNode(t, nil, "")
	_, err = alone.dn.openDownload(context.Background(), "/none", false)
	if cairn.KindOf(err) != cairn.Unavailable {
		t.Errorf("download with no NameNode up = %v, want Unavailable", err)
	}
}

func TestNameNodeAddresses(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want []string
	}{
		{Config{NameNode: "a:1"}, []string{"a:1"}},
		{Config{NameNode: "a:1, b:2,,a:1"}, []string{"a:1", "b:2"}},
		{Config{NameNode: "a:1", NameNodes: []string{"c:3", "a:1"}}, []string{"a:1", "c:3"}},
		{Config{NameNodes: []string{"c:3"}}, []string{"c:3"}},
		{Config{NameNode: " , "}, nil},
	} {
		if got := tc.cfg.nameNodes(); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: nameNodes() = %q, want %q", tc.cfg, got, tc.want)
		}
	}
	if _, err := New(Config{Dirs: []string{t.TempDir()}, NameNode: " "}, nil); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("New with no NameNode address = %v, want Invalid", err)
	}
}

package datanode

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// fakeNameNode is a hand-written stand-in for the NameNode's
// DatanodeProtocol: it records what DataNodes tell it and hands out
// the commands a test queues.
//
// Commands are handed out once, or, once withIDs is called, as the
// NameNode delivers them: each with an id, sent again in every reply
// until a heartbeat acknowledges it.
type fakeNameNode struct {
	protocol.UnimplementedDatanodeProtocolServer
	protocol.UnimplementedClientProtocolServer
	cluster cairn.ClusterID
	addr    string

	mu         sync.Mutex
	registers  []*protocol.RegisterRequest
	reports    []*protocol.BlockReportRequest
	received   []cairn.Block
	receiving  []cairn.Block
	deleted    []cairn.Block
	log        []fakeEntry // block reports, full and incremental, in the order they came
	heartbeats []*protocol.HeartbeatRequest
	bad        []*protocol.BadBlock
	commits    []*protocol.CommitBlockSynchronizationRequest
	commands   map[string][]*protocol.Command // by node ID

	ids      bool           // commands get ids and are sent until acknowledged
	nextID   uint64         // the last id given
	acked    map[uint64]int // times each id came back in a heartbeat that succeeded
	ackLate  bool           // build a reply before taking the acks of its request (commands are sent once more)
	dropAcks int            // fail this many more heartbeats that carry acks, without looking at them
	resent   map[uint64]int // times each id was sent again
	onHB     func(*protocol.HeartbeatRequest)

	// The NameNode group: the Raft term and leadership its heartbeat
	// replies claim (0, false: a NameNode that says none), and whether
	// it refuses the calls only a leader takes (ReportBadBlocks,
	// CommitBlockSynchronization) with NotLeader, counted in refused.
	term      uint64
	leader    bool
	notLeader bool
	refused   int
}

// lead makes the fake's heartbeat replies claim term, led by it or not.
func (f *fakeNameNode) lead(term uint64, leader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.term, f.leader = term, leader
}

// refuse makes the fake refuse, or take again, the calls only a leader
// takes.
func (f *fakeNameNode) refuse(notLeader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notLeader = notLeader
}

// notLeaderErr is the refusal of a NameNode that does not lead, as the
// DataNode receives it; f.mu is held.
func (f *fakeNameNode) notLeaderErr(op string) error {
	f.refused++
	return protocol.ToStatus(cairn.Errorf(op, "", cairn.NotLeader, "not the leader"))
}

// fakeEntry is a block report as the fake received it: a full one
// (full set) or an incremental one.
type fakeEntry struct {
	full                         bool
	blocks                       []cairn.Block // a full report's finalized replicas
	received, receiving, deleted []cairn.Block
}

// withIDs makes the fake deliver commands with ids, at least once.
func (f *fakeNameNode) withIDs() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = true
	f.acked = make(map[uint64]int)
	f.resent = make(map[uint64]int)
}

// view applies the block reports in the order they came: what the
// NameNode believes the node holds finalized.
func (f *fakeNameNode) view() map[cairn.BlockID]cairn.Block {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := make(map[cairn.BlockID]cairn.Block)
	for _, e := range f.log {
		if e.full {
			clear(v)
			for _, b := range e.blocks {
				v[b.ID] = b
			}
			continue
		}
		for _, b := range e.received {
			v[b.ID] = b
		}
		for _, b := range e.receiving {
			delete(v, b.ID)
		}
		for _, b := range e.deleted {
			if cur, ok := v[b.ID]; ok && (b.GenStamp == 0 || b.GenStamp >= cur.GenStamp) {
				delete(v, b.ID)
			}
		}
	}
	return v
}

func startFakeNameNode(t *testing.T, cluster cairn.ClusterID) *fakeNameNode {
	t.Helper()
	f := &fakeNameNode{cluster: cluster, commands: make(map[string][]*protocol.Command)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = lis.Addr().String()
	srv := grpc.NewServer()
	protocol.RegisterDatanodeProtocolServer(srv, f)
	protocol.RegisterClientProtocolServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f
}

func (f *fakeNameNode) Register(ctx context.Context, req *protocol.RegisterRequest) (*protocol.RegisterResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers = append(f.registers, req)
	if req.ClusterId != "" && req.ClusterId != string(f.cluster) {
		return nil, protocol.ToStatus(cairn.Errorf("namenode.Register", req.NodeId, cairn.ClusterMismatch, "datanode of cluster %s", req.ClusterId))
	}
	return &protocol.RegisterResponse{ClusterId: string(f.cluster)}, nil
}

func (f *fakeNameNode) Heartbeat(ctx context.Context, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onHB != nil {
		f.onHB(req)
	}
	if !f.ids {
		f.heartbeats = append(f.heartbeats, req)
		cmds := f.commands[req.NodeId]
		delete(f.commands, req.NodeId)
		return &protocol.HeartbeatResponse{Commands: cmds, Term: f.term, Leader: f.leader}, nil
	}
	if len(req.AckedCommands) > 0 && f.dropAcks > 0 {
		f.dropAcks--
		return nil, status.Error(codes.Unavailable, "heartbeat lost")
	}
	f.heartbeats = append(f.heartbeats, req)
	takeAcks := func() {
		for _, id := range req.AckedCommands {
			f.acked[id]++
			f.commands[req.NodeId] = slices.DeleteFunc(f.commands[req.NodeId], func(c *protocol.Command) bool { return c.Id == id })
		}
	}
	if !f.ackLate {
		takeAcks()
	}
	var out []*protocol.Command
	for _, c := range f.commands[req.NodeId] {
		if c.Type == protocol.Command_REREGISTER {
			out = append(out, c) // id 0, never acknowledged
			continue
		}
		if c.Id == 0 {
			c.Id = f.nextID + 1
			f.nextID++
		} else {
			f.resent[c.Id]++
		}
		out = append(out, proto.Clone(c).(*protocol.Command))
	}
	f.commands[req.NodeId] = slices.DeleteFunc(f.commands[req.NodeId], func(c *protocol.Command) bool { return c.Type == protocol.Command_REREGISTER })
	if f.ackLate {
		takeAcks()
	}
	return &protocol.HeartbeatResponse{Commands: out, Term: f.term, Leader: f.leader}, nil
}

func (f *fakeNameNode) CommitBlockSynchronization(ctx context.Context, req *protocol.CommitBlockSynchronizationRequest) (*protocol.CommitBlockSynchronizationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notLeader {
		return nil, f.notLeaderErr("namenode.CommitBlockSynchronization")
	}
	f.commits = append(f.commits, req)
	return &protocol.CommitBlockSynchronizationResponse{}, nil
}

func (f *fakeNameNode) BlockReport(ctx context.Context, req *protocol.BlockReportRequest) (*protocol.BlockReportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, req)
	f.log = append(f.log, fakeEntry{full: true, blocks: protocol.BlocksFromProto(req.Blocks)})
	return &protocol.BlockReportResponse{}, nil
}

func (f *fakeNameNode) IncrementalBlockReport(ctx context.Context, req *protocol.IncrementalBlockReportRequest) (*protocol.IncrementalBlockReportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := fakeEntry{
		received:  protocol.BlocksFromProto(req.Received),
		receiving: protocol.BlocksFromProto(req.Receiving),
		deleted:   protocol.BlocksFromProto(req.Deleted),
	}
	f.received = append(f.received, e.received...)
	f.receiving = append(f.receiving, e.receiving...)
	f.deleted = append(f.deleted, e.deleted...)
	f.log = append(f.log, e)
	return &protocol.IncrementalBlockReportResponse{}, nil
}

func (f *fakeNameNode) ReportBadBlocks(ctx context.Context, req *protocol.ReportBadBlocksRequest) (*protocol.ReportBadBlocksResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notLeader {
		return nil, f.notLeaderErr("namenode.ReportBadBlocks")
	}
	f.bad = append(f.bad, req.Blocks...)
	return &protocol.ReportBadBlocksResponse{}, nil
}

func (f *fakeNameNode) queue(node cairn.NodeID, c *protocol.Command) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands[string(node)] = append(f.commands[string(node)], c)
}

// check runs cond under the fake's lock.
func (f *fakeNameNode) check(cond func() bool) func() bool {
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return cond()
	}
}

func hasBlock(bs []cairn.Block, b cairn.Block) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

func TestRegistrationAndReports(t *testing.T) {
	nn := startFakeNameNode(t, "cluster-1")
	dir := t.TempDir()
	// A replica from before: the full report must carry it.
	n := startNode(t, []string{dir}, "")
	old := cairn.Block{ID: 1, GenStamp: 1, Len: 3}
	writeBlock(t, old, pipelineOf(n), []byte("old"))
	n.stop(t)

	n = startNode(t, []string{dir}, nn.addr)
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "a block report")
	nn.mu.Lock()
	reg := nn.registers[0]
	report := protocol.BlocksFromProto(nn.reports[0].Blocks)
	nn.mu.Unlock()
	if reg.NodeId != string(n.dn.ID()) || reg.ClusterId != "" || reg.Addr != n.info.Addr {
		t.Errorf("Register(%v), want node %s, no cluster, addr %s", reg, n.dn.ID(), n.info.Addr)
	}
	if reg.Storage == nil || reg.Storage.CapacityBytes <= 0 || reg.Storage.RemainingBytes <= 0 {
		t.Errorf("Register storage = %v, want capacity and remaining", reg.Storage)
	}
	if len(report) != 1 || report[0] != old {
		t.Errorf("block report = %v, want [%v]", report, old)
	}
	if got := n.dn.ClusterID(); got != "cluster-1" {
		t.Errorf("ClusterID() = %q after registering, want cluster-1", got)
	}
	version, _ := os.ReadFile(filepath.Join(dir, "VERSION"))
	if !strings.Contains(string(version), "clusterID=cluster-1") {
		t.Errorf("VERSION = %q, want the cluster ID in it", version)
	}

	// A new replica is reported incrementally.
	b := cairn.Block{ID: 2, GenStamp: 4, Len: 5}
	writeBlock(t, b, pipelineOf(n), []byte("fresh"))
	waitFor(t, nn.check(func() bool { return hasBlock(nn.received, b) }), "an incremental report of %v", b)

	// Heartbeats carry the storage report.
	waitFor(t, nn.check(func() bool {
		if len(nn.heartbeats) == 0 {
			return false
		}
		st := nn.heartbeats[len(nn.heartbeats)-1].Storage
		return st.UsedBytes == 3+5+2*metaHeaderLen+2*4 && st.CapacityBytes > 0
	}), "a heartbeat reporting the bytes used")

	// DELETE_BLOCKS removes the replica and reports it.
	nn.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{old})})
	waitFor(t, nn.check(func() bool { return hasBlock(nn.deleted, old) }), "an incremental report deleting %v", old)
	if _, _, ok := n.dn.BlockFiles(old.ID); ok {
		t.Errorf("replica %v still there after DELETE_BLOCKS", old)
	}

	// REREGISTER makes the node register and report again.
	nn.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_REREGISTER})
	waitFor(t, nn.check(func() bool { return len(nn.registers) >= 2 && len(nn.reports) >= 2 }), "a second registration and report")
	nn.mu.Lock()
	if got := nn.registers[1].ClusterId; got != "cluster-1" {
		t.Errorf("second Register carries cluster %q, want cluster-1", got)
	}
	report = protocol.BlocksFromProto(nn.reports[len(nn.reports)-1].Blocks)
	nn.mu.Unlock()
	if len(report) != 1 || report[0] != b {
		t.Errorf("second block report = %v, want [%v]", report, b)
	}
}

func TestClusterMismatchStopsServe(t *testing.T) {
	nn1 := startFakeNameNode(t, "cluster-1")
	dir := t.TempDir()
	n := startNode(t, []string{dir}, nn1.addr)
	waitFor(t, func() bool { return n.dn.ClusterID() == "cluster-1" }, "registration")
	n.stop(t)

	nn2 := startFakeNameNode(t, "cluster-2")
	dn, err := New(Config{Dirs: []string{dir}, NameNode: nn2.addr}, newLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dn.Serve(context.Background(), lis) }()
	select {
	case err := <-done:
		if cairn.KindOf(err) != cairn.ClusterMismatch {
			t.Errorf("Serve = %v, want a ClusterMismatch error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return for a NameNode of another cluster")
	}
}

func TestServeWaitsForTheNameNode(t *testing.T) {
	// The NameNode comes up after the DataNode.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	n := startNode(t, nil, addr)
	f := &fakeNameNode{cluster: "late", commands: make(map[string][]*protocol.Command)}
	var lis2 net.Listener
	waitFor(t, func() bool {
		lis2, err = net.Listen("tcp", addr)
		return err == nil
	}, "the port back")
	srv := grpc.NewServer()
	protocol.RegisterDatanodeProtocolServer(srv, f)
	go srv.Serve(lis2)
	defer srv.Stop()
	waitFor(t, f.check(func() bool { return len(f.reports) > 0 }), "registration once the NameNode is up")
	if got := n.dn.ClusterID(); got != "late" {
		t.Errorf("ClusterID() = %q, want late", got)
	}
}

func TestCopyBlocks(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	src, dst1, dst2 := startNode(t, nil, nn.addr), startNode(t, nil, nn.addr), startNode(t, nil, nn.addr)
	data := randomBytes(2*cairn.PacketSize+99, 9)
	b := cairn.Block{ID: 600, GenStamp: 2, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(src), data)
	waitFor(t, nn.check(func() bool { return len(nn.reports) >= 3 }), "registrations")
	nn.queue(src.dn.ID(), &protocol.Command{
		Type:    protocol.Command_COPY_BLOCKS,
		Blocks:  protocol.BlocksToProto([]cairn.Block{b}),
		Targets: protocol.DatanodesToProto(pipelineOf(dst1, dst2)),
	})
	for i, n := range []*node{dst1, dst2} {
		waitFor(t, func() bool { _, _, ok := n.dn.BlockFiles(b.ID); return ok }, "the copy on target %d", i)
		got, err := readBlock(context.Background(), n.info, b, 0, b.Len)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("target %d: ReadBlock of the copy = %d bytes, %v", i, len(got), err)
		}
	}

	// A corrupt replica is not copied, and is reported.
	dataPath, _, _ := src.dn.BlockFiles(b.ID)
	f, err := os.OpenFile(dataPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{^data[10]}, 10)
	f.Close()
	dst3 := startNode(t, nil, nn.addr)
	nn.queue(src.dn.ID(), &protocol.Command{
		Type:    protocol.Command_COPY_BLOCKS,
		Blocks:  protocol.BlocksToProto([]cairn.Block{b}),
		Targets: protocol.DatanodesToProto(pipelineOf(dst3)),
	})
	waitFor(t, nn.check(func() bool { return len(nn.bad) > 0 }), "a bad block report")
	nn.mu.Lock()
	bad := nn.bad[0]
	nn.mu.Unlock()
	if protocol.BlockFromProto(bad.Block) != b || bad.NodeId != string(src.dn.ID()) {
		t.Errorf("bad block report = %v, want %v on %s", bad, b, src.dn.ID())
	}
	waitFor(t, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dst3.dirs[0], "current", "rbw"))
		return len(entries) == 0
	}, "no partial copy on the target")
	if _, _, ok := dst3.dn.BlockFiles(b.ID); ok {
		t.Error("a corrupt replica was copied")
	}
}

func TestFailedVolume(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	good, bad := t.TempDir(), t.TempDir()
	n := startNode(t, []string{good, bad}, nn.addr)
	var blocks []cairn.Block
	for i := range 4 {
		b := cairn.Block{ID: cairn.BlockID(70 + i), GenStamp: 1, Len: 10}
		writeBlock(t, b, pipelineOf(n), []byte("0123456789"))
		blocks = append(blocks, b)
	}
	// The disk of one volume goes bad: its rbw directory is no longer
	// usable.
	rbw := filepath.Join(bad, "current", "rbw")
	if err := os.RemoveAll(rbw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rbw, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// New writes land on the good volume, whichever turn it is.
	for i := range 2 {
		b := cairn.Block{ID: cairn.BlockID(80 + i), GenStamp: 1, Len: 3}
		writeBlock(t, b, pipelineOf(n), []byte("abc"))
		blocks = append(blocks, b)
	}
	waitFor(t, nn.check(func() bool {
		if len(nn.heartbeats) == 0 {
			return false
		}
		st := nn.heartbeats[len(nn.heartbeats)-1].Storage
		return len(st.FailedVolumes) == 1 && strings.HasSuffix(st.FailedVolumes[0], filepath.Base(bad))
	}), "a heartbeat naming the failed volume")
	held := n.dn.Blocks()
	if len(held) != 4 {
		t.Errorf("Blocks() after a volume failed = %v, want the 4 on the good volume", held)
	}
	for _, b := range held {
		data, _, _ := n.dn.BlockFiles(b.ID)
		if !strings.HasPrefix(data, good) {
			t.Errorf("replica %v at %s, not on the good volume", b, data)
		}
		if _, err := readBlock(context.Background(), n.info, b, 0, b.Len); err != nil {
			t.Errorf("ReadBlock(%v) = %v", b, err)
		}
	}
	// The lost replicas are reported deleted.
	waitFor(t, nn.check(func() bool { return len(nn.deleted) == 2 }), "2 replicas reported deleted")
}

package namenode

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// serve runs s on 127.0.0.1:0 and returns gRPC clients of both
// services, and a channel with what Serve returned.
func serve(t *testing.T, s *Server, ctx context.Context) (pb.ClientProtocolClient, pb.DatanodeProtocolClient, chan error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewClientProtocolClient(conn), pb.NewDatanodeProtocolClient(conn), done
}

func TestRPC(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(bg)
	c, dn, done := serve(t, s, ctx)

	defs, err := c.GetServerDefaults(bg, &pb.GetServerDefaultsRequest{})
	if err != nil || defs.ClusterId != string(s.ClusterID()) || defs.BlockSize != 1<<20 || defs.Replication != 3 || defs.LeaseSoftLimitMs != 60000 {
		t.Fatalf("GetServerDefaults = %v, %v", defs, err)
	}

	// Three DataNodes, one on the client's host (127.0.0.1).
	for _, r := range []*pb.RegisterRequest{
		{NodeId: "far-1", Addr: "10.9.0.1:9866"},
		{NodeId: "local", Addr: "127.0.0.1:9866", ClusterId: defs.ClusterId},
		{NodeId: "far-2", Addr: "10.9.0.2:9866"},
	} {
		r.Storage = &pb.StorageReport{CapacityBytes: 1 << 40, RemainingBytes: 1 << 40}
		resp, err := dn.Register(bg, r)
		if err != nil || resp.ClusterId != defs.ClusterId {
			t.Fatalf("Register(%s) = %v, %v", r.NodeId, resp, err)
		}
	}
	_, err = dn.Register(bg, &pb.RegisterRequest{NodeId: "alien", Addr: "10.9.0.3:1", ClusterId: "CID-elsewhere"})
	if err = pb.FromStatus("register", "", err); !errors.Is(err, cairn.ClusterMismatch) {
		t.Errorf("Register(other cluster) = %v, want ClusterMismatch", err)
	}

	cr, err := c.Create(bg, &pb.CreateRequest{Path: "/dir/f", ClientName: "cl", CreateParent: true, Owner: "u", Group: "g", Mode: 0o640})
	if err != nil || cr.File.FileId == 0 || !cr.File.UnderConstruction || cr.File.Mode != 0o640 {
		t.Fatalf("Create = %v, %v", cr, err)
	}
	ab, err := c.AddBlock(bg, &pb.AddBlockRequest{Path: "/dir/f", FileId: cr.File.FileId, ClientName: "cl"})
	if err != nil {
		t.Fatal(err)
	}
	if first := ab.Block.Locations[0].Id; first != "local" {
		t.Errorf("AddBlock locations start with %s, want the node on the caller's host", first)
	}
	last := ab.Block.Block
	last.Len = 42
	if _, err := c.RenewLease(bg, &pb.RenewLeaseRequest{ClientName: "cl"}); err != nil {
		t.Fatal(err)
	}
	comp, err := c.Complete(bg, &pb.CompleteRequest{Path: "/dir/f", FileId: cr.File.FileId, ClientName: "cl", Last: last})
	if err != nil || comp.File.Size != 42 || comp.File.UnderConstruction {
		t.Fatalf("Complete = %v, %v", comp, err)
	}
	loc, err := c.GetBlockLocations(bg, &pb.GetBlockLocationsRequest{Path: "/dir/f"})
	if err != nil || len(loc.File.Blocks) != 1 || loc.File.Blocks[0].Locations[0].Id != "local" {
		t.Fatalf("GetBlockLocations = %v, %v", loc, err)
	}
	loc, err = c.GetBlockLocations(bg, &pb.GetBlockLocationsRequest{Path: "/dir/f", ClientHost: "10.9.0.2"})
	if err != nil || loc.File.Blocks[0].Locations[0].Id != "far-2" {
		t.Fatalf("GetBlockLocations(client_host 10.9.0.2) = %v, %v", loc, err)
	}
	list, err := c.ListDir(bg, &pb.ListDirRequest{Path: "/dir"})
	if err != nil || len(list.Entries) != 1 || list.Entries[0].Path != "/dir/f" || list.Entries[0].FileId != cr.File.FileId {
		t.Fatalf("ListDir = %v, %v", list, err)
	}

	// Errors keep their kind across the wire, without stutter.
	_, err = c.GetFileInfo(bg, &pb.GetFileInfoRequest{Path: "/nope"})
	err = pb.FromStatus("stat", "/nope", err)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "stat /nope: file does not exist" {
		t.Errorf("GetFileInfo(missing) = %q, want NotExist \"stat /nope: file does not exist\"", err)
	}
	_, err = c.Mkdirs(bg, &pb.MkdirsRequest{Path: "/a/../b"})
	err = pb.FromStatus("mkdir", "/a/../b", err)
	if !errors.Is(err, fs.ErrInvalid) || !strings.HasPrefix(err.(*cairn.Error).Err.Error(), "invalid path") {
		t.Errorf("Mkdirs(bad path) = %v, want Invalid starting with \"invalid path\"", err)
	}

	if _, err := c.Delete(bg, &pb.DeleteRequest{Path: "/dir", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	hb, err := dn.Heartbeat(bg, &pb.HeartbeatRequest{NodeId: "local", Storage: &pb.StorageReport{RemainingBytes: 1 << 40}})
	if err != nil || len(hb.Commands) != 1 || hb.Commands[0].Type != pb.Command_DELETE_BLOCKS || hb.Commands[0].Blocks[0].Id != last.Id {
		t.Errorf("Heartbeat after delete = %v, %v; want DELETE_BLOCKS of block %d", hb, err, last.Id)
	}
	hb, err = dn.Heartbeat(bg, &pb.HeartbeatRequest{NodeId: "nobody"})
	if err != nil || len(hb.Commands) != 1 || hb.Commands[0].Type != pb.Command_REREGISTER {
		t.Errorf("Heartbeat(unknown) = %v, %v; want REREGISTER", hb, err)
	}
	sm, err := c.SafeMode(bg, &pb.SafeModeRequest{Action: "get"})
	if err != nil || sm.On {
		t.Errorf("SafeMode = %v, %v", sm, err)
	}
	rep, err := c.GetDatanodeReport(bg, &pb.GetDatanodeReportRequest{})
	if err != nil || len(rep.Datanodes) != 3 || rep.ClusterId != defs.ClusterId {
		t.Errorf("GetDatanodeReport = %v, %v", rep, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestServeEndsAtClose(t *testing.T) {
	s := newServer(t)
	_, _, done := serve(t, s, bg)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Close = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

func TestHealthz(t *testing.T) {
	s := newServer(t)
	hs := httptest.NewServer(s.HTTPHandler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
}

// TestTCPRaftTransport runs the NameNode with a TCP Raft transport, as
// an HA member would, and restarts it.
func TestTCPRaftTransport(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.RaftAddr = "127.0.0.1:0"
	s := startServer(t, cfg)
	if _, err := s.Create(bg, "/f", CreateOptions{Touch: true}); err != nil {
		t.Fatalf("Create over a TCP raft transport = %v", err)
	}
	s.Close()
	s2 := startServer(t, cfg)
	if ok, _ := exists(t, s2, "/f"); !ok {
		t.Errorf("/f missing after restart")
	}
}

func TestMutationsNeedTheLeader(t *testing.T) {
	s := newServer(t)
	// A member whose raft has stopped leads nothing.
	if err := s.rn.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Mkdirs(bg, "/a", 0, true, "", "")
	wantKind(t, "Mkdirs on a non-leader", err, cairn.NotLeader)
	// Reads too: a member that does not lead may lag the leader, so it
	// serves no read (reads are linearizable).
	_, err = s.GetFileInfo(bg, "/", false, "")
	wantKind(t, "GetFileInfo on a non-leader", err, cairn.NotLeader)
}

func TestRaftErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want cairn.Kind
	}{
		{raft.ErrNotLeader, cairn.NotLeader},
		{raft.ErrLeadershipLost, cairn.NotLeader},
		{raft.ErrRaftShutdown, cairn.Unavailable},
		{raft.ErrEnqueueTimeout, cairn.Unavailable},
		{errors.New("disk on fire"), cairn.Internal},
	} {
		if got := cairn.KindOf(raftError(tt.err)); got != tt.want {
			t.Errorf("raftError(%v) kind = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// AdminProtocol serves the admin calls; ClientProtocol's deprecated
// copies of them still answer, the same.
func TestAdminRPC(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ctx, lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin, old := pb.NewAdminProtocolClient(conn), pb.NewClientProtocolClient(conn)
	nodes := registerNodes(t, s, 3)

	if sm, err := admin.SafeMode(bg, &pb.SafeModeRequest{Action: "enter"}); err != nil || !sm.On || !sm.Manual {
		t.Errorf("AdminProtocol.SafeMode(enter) = %v, %v; want on, manual", sm, err)
	}
	if sm, err := old.SafeMode(bg, &pb.SafeModeRequest{Action: "get"}); err != nil || !sm.On || !sm.Manual {
		t.Errorf("ClientProtocol.SafeMode(get) = %v, %v; want on, manual", sm, err)
	}
	if sm, err := admin.SafeMode(bg, &pb.SafeModeRequest{Action: "leave"}); err != nil || sm.On {
		t.Errorf("AdminProtocol.SafeMode(leave) = %v, %v; want off", sm, err)
	}
	_, err = admin.SafeMode(bg, &pb.SafeModeRequest{Action: "toggle"})
	wantKind(t, "AdminProtocol.SafeMode(toggle)", pb.FromStatus("safemode", "", err), cairn.Invalid)

	ds, err := admin.Decommission(bg, &pb.DecommissionRequest{Node: string(nodes[0].id)})
	if err != nil || ds.Datanode.GetState() != "decommissioning" {
		t.Errorf("AdminProtocol.Decommission = %v, %v; want decommissioning", ds, err)
	}
	for _, call := range []struct {
		name string
		rep  func() (*pb.GetDatanodeReportResponse, error)
	}{
		{"AdminProtocol", func() (*pb.GetDatanodeReportResponse, error) {
			return admin.GetDatanodeReport(bg, &pb.GetDatanodeReportRequest{})
		}},
		{"ClientProtocol", func() (*pb.GetDatanodeReportResponse, error) {
			return old.GetDatanodeReport(bg, &pb.GetDatanodeReportRequest{})
		}},
	} {
		rep, err := call.rep()
		if err != nil || len(rep.Datanodes) != 3 || rep.ClusterId != string(s.ClusterID()) {
			t.Fatalf("%s.GetDatanodeReport = %v, %v", call.name, rep, err)
		}
		decom := 0
		for _, d := range rep.Datanodes {
			if d.State == "decommissioning" {
				decom++
			}
		}
		if decom != 1 {
			t.Errorf("%s.GetDatanodeReport: %d nodes decommissioning, want 1", call.name, decom)
		}
	}
	if rs, err := old.Recommission(bg, &pb.RecommissionRequest{Node: string(nodes[0].id)}); err != nil || rs.Datanode.GetState() != "live" {
		t.Errorf("ClientProtocol.Recommission = %v, %v; want live", rs, err)
	}

	build(t, s, "f:/a/b")
	for name, fsck := range map[string]func(*pb.FsckRequest) (*pb.FsckResponse, error){
		"AdminProtocol":  func(r *pb.FsckRequest) (*pb.FsckResponse, error) { return admin.Fsck(bg, r) },
		"ClientProtocol": func(r *pb.FsckRequest) (*pb.FsckResponse, error) { return old.Fsck(bg, r) },
	} {
		rep, err := fsck(&pb.FsckRequest{Path: "/", ListFiles: true})
		if err != nil || rep.Files != 1 || rep.Directories != 2 || len(rep.FileDetails) != 1 || rep.FileDetails[0].Path != "/a/b" {
			t.Errorf("%s.Fsck(/) = %v, %v; want one file /a/b in 2 directories", name, rep, err)
		}
		_, err = fsck(&pb.FsckRequest{Path: "/nope"})
		wantKind(t, name+".Fsck(/nope)", pb.FromStatus("fsck", "/nope", err), cairn.NotExist)
	}
}

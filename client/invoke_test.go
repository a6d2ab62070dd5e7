package client

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// recordingNameNode answers GetServerDefaults and GetFileInfo, and
// records the identity metadata of each call: what a NameNode would
// read from the wire.
type recordingNameNode struct {
	protocol.UnimplementedClientProtocolServer
	mu    sync.Mutex
	calls [][2][]string // user, groups of each GetFileInfo
}

func (s *recordingNameNode) GetServerDefaults(ctx context.Context, _ *protocol.GetServerDefaultsRequest) (*protocol.GetServerDefaultsResponse, error) {
	return &protocol.GetServerDefaultsResponse{BlockSize: 1 << 20}, nil
}

func (s *recordingNameNode) GetFileInfo(ctx context.Context, req *protocol.GetFileInfoRequest) (*protocol.GetFileInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.calls = append(s.calls, [2][]string{md.Get(protocol.MetadataUser), md.Get(protocol.MetadataGroups)})
	s.mu.Unlock()
	if req.Path == "/missing" {
		return nil, protocol.ToStatus(cairn.E("namenode.GetFileInfo", cairn.NotExist))
	}
	return &protocol.GetFileInfoResponse{File: &protocol.FileInfo{Path: req.Path}}, nil
}

// TestInvokerSendsIdentity: every call carries the caller's identity in
// gRPC metadata: the AsUser one, or the Client's own.
func TestInvokerSendsIdentity(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nn := &recordingNameNode{}
	gs := grpc.NewServer()
	protocol.RegisterClientProtocolServer(gs, nn)
	go gs.Serve(lis)
	defer gs.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, lis.Addr().String(), WithUser("svc", "svcgroup"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Stat(ctx, "/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(AsUser(ctx, "alice", "staff", "wheel"), "/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(AsUser(ctx, "bob"), "/x"); err != nil {
		t.Fatal(err)
	}
	// Errors still come back converted, with op and path.
	_, err = c.Stat(ctx, "/missing")
	if cairn.KindOf(err) != cairn.NotExist || err.Error() != "stat /missing: file does not exist" {
		t.Errorf("Stat(/missing) = %v, want a NotExist error under stat /missing", err)
	}
	want := [][2][]string{
		{{"svc"}, {"svcgroup"}},
		{{"alice"}, {"staff,wheel"}},
		{{"bob"}, nil},
		{{"svc"}, {"svcgroup"}},
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if !slices.EqualFunc(nn.calls, want, func(a, b [2][]string) bool {
		return slices.Equal(a[0], b[0]) && slices.Equal(a[1], b[1])
	}) {
		t.Errorf("identities received = %q, want %q", nn.calls, want)
	}
}

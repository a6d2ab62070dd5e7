package client

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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

// groupNameNode is a member of a pretend NameNode group: a real gRPC
// server that answers GetServerDefaults and GetFileInfo as refuse
// says, and records the call metadata of every attempt.
type groupNameNode struct {
	protocol.UnimplementedClientProtocolServer
	name string
	log  *attemptLog
	// refuse, if set, returns the error that refuses an attempt, or
	// nil to answer it.
	refuse func(method, callID string) error
}

// attempt is what a member saw of one attempt of a call.
type attempt struct {
	member, method, clientID, callID string
}

// attemptLog is the attempts seen by the members of a group.
type attemptLog struct {
	mu       sync.Mutex
	attempts []attempt
}

func (l *attemptLog) add(a attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

func (l *attemptLog) all() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attempts)
}

func (s *groupNameNode) seen(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	one := func(k string) string {
		if v := md.Get(k); len(v) == 1 {
			return v[0]
		}
		return fmt.Sprintf("%q", md.Get(k))
	}
	a := attempt{s.name, method, one(protocol.MetadataClientID), one(protocol.MetadataCallID)}
	s.log.add(a)
	if s.refuse != nil {
		return s.refuse(method, a.callID)
	}
	return nil
}

func (s *groupNameNode) GetServerDefaults(ctx context.Context, _ *protocol.GetServerDefaultsRequest) (*protocol.GetServerDefaultsResponse, error) {
	if err := s.seen(ctx, "GetServerDefaults"); err != nil {
		return nil, err
	}
	return &protocol.GetServerDefaultsResponse{BlockSize: 1 << 20}, nil
}

func (s *groupNameNode) GetFileInfo(ctx context.Context, req *protocol.GetFileInfoRequest) (*protocol.GetFileInfoResponse, error) {
	if err := s.seen(ctx, "GetFileInfo"); err != nil {
		return nil, err
	}
	return &protocol.GetFileInfoResponse{File: &protocol.FileInfo{Path: req.Path}}, nil
}

func (s *groupNameNode) Mkdirs(ctx context.Context, req *protocol.MkdirsRequest) (*protocol.MkdirsResponse, error) {
	if err := s.seen(ctx, "Mkdirs"); err != nil {
		return nil, err
	}
	return &protocol.MkdirsResponse{Dir: &protocol.FileInfo{Path: req.Path}}, nil
}

// serve starts s on a loopback port and returns its address.
func (s *groupNameNode) serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	protocol.RegisterClientProtocolServer(gs, s)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// notLeader is the refusal of a member that does not lead, naming
// leader if not empty.
func notLeader(leader string) error {
	return protocol.ToStatus(protocol.WithLeaderHint(cairn.E("namenode.GetFileInfo", cairn.NotLeader), leader))
}

// deadAddr returns a loopback address where connections are refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// TestInvokerCallIDs: every attempt of one call that changes something
// carries the same client id and call id, wherever it is sent; another
// call has another call id, and the client id is the Client's for its
// life. A read carries none: it needs no retry cache.
func TestInvokerCallIDs(t *testing.T) {
	// Each member fails the first attempt of every call it sees as if
	// it could not be reached; the call is then tried on the other.
	log := &attemptLog{}
	var mu sync.Mutex
	failed := map[string]bool{}
	refuse := func(method, callID string) error {
		mu.Lock()
		defer mu.Unlock()
		if failed[callID] {
			return nil
		}
		failed[callID] = true
		return status.Error(codes.Unavailable, "pretend the connection was lost")
	}
	a := (&groupNameNode{name: "a", log: log, refuse: refuse}).serve(t)
	b := (&groupNameNode{name: "b", log: log, refuse: refuse}).serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, a+","+b)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if err := c.Mkdir(ctx, "/x", 0); err != nil {
			t.Fatalf("Mkdir(/x) = %v", err)
		}
	}
	if _, err := c.Stat(ctx, "/x"); err != nil {
		t.Fatalf("Stat(/x) = %v", err)
	}

	all := log.all()
	t.Logf("attempts: %v", all)
	// The Stat: refused once (the fake refuses the first attempt it
	// sees of each call id, and a read has none), then answered.
	if len(all) < 2 {
		t.Fatalf("%d attempts", len(all))
	}
	for _, at := range all[len(all)-2:] {
		if at.method != "GetFileInfo" || at.clientID != "[]" || at.callID != "[]" {
			t.Errorf("a Stat's attempt carried %+v, want no client id nor call id", at)
		}
	}
	got := all[:len(all)-2]
	want := []struct{ member, method string }{
		{"a", "GetServerDefaults"}, {"b", "GetServerDefaults"},
		{"b", "Mkdirs"}, {"a", "Mkdirs"},
		{"a", "Mkdirs"}, {"b", "Mkdirs"},
		{"b", "Mkdirs"}, {"a", "Mkdirs"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d attempts, want %d: each call refused once, then answered by the other member", len(got), len(want))
	}
	clientID := got[0].clientID
	if len(clientID) != 32 || strings.Trim(clientID, "0123456789abcdef") != "" {
		t.Errorf("client id %q, want 16 random bytes in hex", clientID)
	}
	callIDs := map[string]bool{}
	for i, at := range got {
		if at.member != want[i].member || at.method != want[i].method {
			t.Errorf("attempt %d: %s to %s, want %s to %s", i, at.method, at.member, want[i].method, want[i].member)
		}
		if at.clientID != clientID {
			t.Errorf("attempt %d: client id %q, want the Client's %q", i, at.clientID, clientID)
		}
		if _, err := strconv.ParseUint(at.callID, 10, 64); err != nil {
			t.Errorf("attempt %d: call id %q is not a decimal number", i, at.callID)
		}
		if i%2 == 1 {
			if at.callID != got[i-1].callID {
				t.Errorf("attempt %d: call id %q, want %q, the id of the attempt it retries", i, at.callID, got[i-1].callID)
			}
			continue
		}
		if callIDs[at.callID] {
			t.Errorf("attempt %d: call id %q of an earlier call", i, at.callID)
		}
		callIDs[at.callID] = true
	}

	// Another Client has another client id.
	c2, err := Dial(ctx, a+","+b)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if id := c2.nn.clientID; id == clientID {
		t.Errorf("two Clients have the same client id %q", id)
	}
}

// TestInvokerFollowsTheLeader: a member that does not lead sends a call
// to the leader it names, even one not in the list; one that names no
// leader sends it to the next member. The member that answered is used
// by the next calls.
func TestInvokerFollowsTheLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stat := func(c *Client) {
		t.Helper()
		if _, err := c.Stat(ctx, "/x"); err != nil {
			t.Fatalf("Stat(/x) = %v", err)
		}
	}
	members := func(log *attemptLog, method string) string {
		var b strings.Builder
		for _, a := range log.all() {
			if a.method == method {
				b.WriteString(a.member)
			}
		}
		return b.String()
	}

	t.Run("to the leader named, not in the list", func(t *testing.T) {
		log := &attemptLog{}
		leader := (&groupNameNode{name: "L", log: log}).serve(t)
		follower := (&groupNameNode{name: "f", log: log, refuse: func(method, _ string) error {
			if method == "GetFileInfo" {
				return notLeader(leader)
			}
			return nil
		}}).serve(t)
		c, err := Dial(ctx, follower)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stat(c)
		stat(c)
		// With one address gRPC's own retries of a read (serviceConfig)
		// ask the follower again before the invoker sees its refusal.
		if got := members(log, "GetFileInfo"); !strings.HasPrefix(got, "f") || strings.TrimLeft(got, "f") != "LL" {
			t.Errorf("GetFileInfo attempts went to %q, want f (a few times), then LL", got)
		}
		if n := c.nn.size(); n != 2 {
			t.Errorf("the Client knows %d members, want 2", n)
		}
	})

	t.Run("to the next member when none is named", func(t *testing.T) {
		log := &attemptLog{}
		refuse := func(method, _ string) error {
			if method == "GetFileInfo" {
				return notLeader("")
			}
			return nil
		}
		f1 := (&groupNameNode{name: "1", log: log, refuse: refuse}).serve(t)
		f2 := (&groupNameNode{name: "2", log: log, refuse: refuse}).serve(t)
		leader := (&groupNameNode{name: "L", log: log}).serve(t)
		c, err := Dial(ctx, f1+","+f2+","+leader)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stat(c)
		stat(c)
		if got := members(log, "GetFileInfo"); got != "12LL" {
			t.Errorf("GetFileInfo attempts went to %q, want 12LL", got)
		}
	})

	t.Run("with one address and a refusal naming no leader, not at all", func(t *testing.T) {
		log := &attemptLog{}
		alone := (&groupNameNode{name: "1", log: log, refuse: func(method, _ string) error {
			if method == "GetFileInfo" {
				return notLeader("")
			}
			return nil
		}}).serve(t)
		c, err := Dial(ctx, alone)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Stat(ctx, "/x")
		if cairn.KindOf(err) != cairn.NotLeader {
			t.Errorf("Stat(/x) = %v, want a NotLeader error", err)
		}
	})
}

// TestInvokerGivesUp: a call that finds no leader gives up when its
// context ends, or after the failover timeout when the context has no
// deadline, with an error naming the members tried and the last
// failure.
func TestInvokerGivesUp(t *testing.T) {
	unreachable := func(method, _ string) error {
		if method == "GetFileInfo" {
			return status.Error(codes.Unavailable, "pretend the connection was lost")
		}
		return nil
	}
	refusing := func(method, _ string) error {
		if method == "GetFileInfo" {
			return notLeader("")
		}
		return nil
	}
	for _, tc := range []struct {
		name   string
		refuse func(method, callID string) error
		ctx    func() (context.Context, context.CancelFunc)
		opts   []Option
		kind   cairn.Kind
	}{
		{"at the context's deadline", unreachable, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, nil, cairn.Unavailable},
		{"at the failover timeout", unreachable, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, []Option{WithFailoverTimeout(time.Second)}, cairn.Unavailable},
		{"with NotLeader when the last member refused so", refusing, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, nil, cairn.NotLeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &attemptLog{}
			live := (&groupNameNode{name: "live", log: log, refuse: tc.refuse}).serve(t)
			dead := deadAddr(t)
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			// The dead member last, so that the last failure is the
			// live member's refusal only when no other member is
			// tried after it.
			list := live + "," + dead
			if tc.kind == cairn.NotLeader {
				second := (&groupNameNode{name: "second", log: log, refuse: tc.refuse}).serve(t)
				list = live + "," + second
				dead = second
			}
			c, err := Dial(dctx, list, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err = c.Stat(ctx, "/x")
			elapsed := time.Since(start)
			t.Logf("after %v: %v", elapsed, err)
			if cairn.KindOf(err) != tc.kind {
				t.Errorf("Stat(/x) = %v, want kind %v", err, tc.kind)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Stat(/x) gave up after %v, want about 1s", elapsed)
			}
			msg := fmt.Sprint(err)
			if !strings.Contains(msg, live) || !strings.Contains(msg, dead) || strings.Contains(msg, "\n") {
				t.Errorf("Stat(/x) = %q, want one line naming %s and %s", msg, live, dead)
			}
			if tc.kind == cairn.NotLeader {
				return
			}
			if n := len(log.all()); n < 4 {
				t.Errorf("%d attempts reached the live member, want several rounds", n)
			}
		})
	}
}

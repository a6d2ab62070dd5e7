package namenode

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// auditTime is the time at the start of an audit line of the hdfs
// format.
var auditTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO FSNamesystem\.audit: `)

// auditLines reads the audit log at path, each line without its time.
func auditLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !auditTime.MatchString(line) {
			t.Errorf("audit line %q does not start with a time", line)
		}
		lines = append(lines, auditTime.ReplaceAllString(line, ""))
	}
	return lines
}

func TestAuditLogHasALinePerNamespaceOperation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg := testConfig(t.TempDir())
	cfg.AuditLog = path
	s := startServer(t, cfg)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	c, _, _ := serve(t, s, ctx)
	as := func(user string) context.Context {
		return metadata.AppendToOutgoingContext(bg, pb.MetadataUser, user)
	}
	alice, hdfs := as("alice"), as("hdfs")

	calls := []struct {
		name string
		call func() error
	}{
		{"mkdirs", func() error {
			_, err := c.Mkdirs(hdfs, &pb.MkdirsRequest{Path: "/a", Mode: 0o755})
			return err
		}},
		{"setOwner", func() error {
			_, err := c.SetOwner(hdfs, &pb.SetOwnerRequest{Path: "/a", Owner: "alice", Group: "staff"})
			return err
		}},
		{"a refused mkdirs", func() error {
			_, err := c.Mkdirs(alice, &pb.MkdirsRequest{Path: "/b", Mode: 0o755})
			return wantCode(err, codes.PermissionDenied)
		}},
		{"create", func() error {
			_, err := c.Create(alice, &pb.CreateRequest{Path: "/a/f", Mode: 0o640, ClientName: "cl", Touch: true})
			return err
		}},
		{"getfileinfo", func() error {
			_, err := c.GetFileInfo(alice, &pb.GetFileInfoRequest{Path: "/a/f"})
			return err
		}},
		{"renew the lease (not audited)", func() error {
			_, err := c.RenewLease(alice, &pb.RenewLeaseRequest{ClientName: "cl"})
			return err
		}},
		{"listStatus", func() error {
			_, err := c.ListDir(alice, &pb.ListDirRequest{Path: "/a"})
			return err
		}},
		{"rename", func() error {
			_, err := c.Rename(alice, &pb.RenameRequest{Src: "/a/f", Dst: "/a/g"})
			return err
		}},
		{"setPermission", func() error {
			_, err := c.SetPermission(alice, &pb.SetPermissionRequest{Path: "/a/g", Mode: 0o600})
			return err
		}},
		{"setOwner", func() error {
			_, err := c.SetOwner(hdfs, &pb.SetOwnerRequest{Path: "/a/g", Owner: "bob", Group: "eng"})
			return err
		}},
		{"a refused open: /a/g is bob's now, rw-------", func() error {
			_, err := c.GetBlockLocations(alice, &pb.GetBlockLocationsRequest{Path: "/a/g"})
			return wantCode(err, codes.PermissionDenied)
		}},
		{"a missing file (not audited, as in HDFS)", func() error {
			_, err := c.GetFileInfo(alice, &pb.GetFileInfoRequest{Path: "/nothing"})
			return wantCode(err, codes.NotFound)
		}},
		{"a refused delete: alice may not write /", func() error {
			_, err := c.Delete(alice, &pb.DeleteRequest{Path: "/a", Recursive: true})
			return wantCode(err, codes.PermissionDenied)
		}},
		{"delete", func() error {
			_, err := c.Delete(hdfs, &pb.DeleteRequest{Path: "/a", Recursive: true})
			return err
		}},
	}
	for _, call := range calls {
		if err := call.call(); err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=mkdirs\tsrc=/a\tdst=null\tperm=hdfs:supergroup:rwxr-xr-x\tproto=rpc",
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=setOwner\tsrc=/a\tdst=null\tperm=alice:staff:rwxr-xr-x\tproto=rpc",
		"allowed=false\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=mkdirs\tsrc=/b\tdst=null\tperm=null\tproto=rpc",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=create\tsrc=/a/f\tdst=null\tperm=alice:staff:rw-r-----\tproto=rpc",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=getfileinfo\tsrc=/a/f\tdst=null\tperm=null\tproto=rpc",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=listStatus\tsrc=/a\tdst=null\tperm=null\tproto=rpc",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=rename\tsrc=/a/f\tdst=/a/g\tperm=alice:staff:rw-r-----\tproto=rpc",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=setPermission\tsrc=/a/g\tdst=null\tperm=alice:staff:rw-------\tproto=rpc",
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=setOwner\tsrc=/a/g\tdst=null\tperm=bob:eng:rw-------\tproto=rpc",
		"allowed=false\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=open\tsrc=/a/g\tdst=null\tperm=null\tproto=rpc",
		"allowed=false\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=delete\tsrc=/a\tdst=null\tperm=null\tproto=rpc",
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=delete\tsrc=/a\tdst=null\tperm=null\tproto=rpc",
	}
	got := auditLines(t, path)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuditLogInJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.json")
	cfg := testConfig(t.TempDir())
	cfg.AuditLog, cfg.AuditLogFormat = path, "json"
	s := startServer(t, cfg)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	c, _, _ := serve(t, s, ctx)
	if _, err := c.Mkdirs(metadata.AppendToOutgoingContext(bg, pb.MetadataUser, "admin"), &pb.MkdirsRequest{Path: "/d", Mode: 0o750}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Time, Ugi, Auth, IP, Cmd, Src, Perm, Proto string
		Allowed                                    bool
		Dst                                        *string
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("audit log %q: %v", b, err)
	}
	if !e.Allowed || e.Ugi != "admin" || e.Auth != "SIMPLE" || e.IP != "127.0.0.1" || e.Cmd != "mkdirs" || e.Src != "/d" || e.Dst != nil ||
		e.Perm != "admin:supergroup:rwxr-x---" || e.Proto != "rpc" || len(e.Time) != len("2026-12-07T20:22:27.123Z") {
		t.Errorf("audit log = %s", b)
	}
}

// wantCode returns nil if err has the gRPC code want, else an error
// that says what it was.
func wantCode(err error, want codes.Code) error {
	if status.Code(err) == want {
		return nil
	}
	return fmt.Errorf("got %v, want code %v", err, want)
}

func TestConfigRefusesAnUnknownAuditLogFormat(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.AuditLog, cfg.AuditLogFormat = filepath.Join(t.TempDir(), "audit.log"), "xml"
	if s, err := New(cfg, testLogger(t)); err == nil {
		s.Close()
		t.Fatal("New(AuditLogFormat xml) succeeded")
	}
}

// TestAuditLogHasRefusals drives the audit interceptors with handlers
// that refuse, as the permission checks and authentication do.
func TestAuditLogHasRefusals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg := testConfig(t.TempDir())
	cfg.AuditLog = path
	s := startServer(t, cfg)
	md := metadata.Pairs(pb.MetadataUser, "carol")
	ctx := peer.NewContext(metadata.NewIncomingContext(bg, md), &peer.Peer{Addr: tcpAddr("10.1.2.3:5000")})
	refuse := func(err error) grpc.UnaryHandler {
		return func(context.Context, any) (any, error) { return nil, err }
	}
	denied := pb.ToStatus(cairn.Errorf("namenode.Rename", "/x", cairn.Permission, "permission denied: user carol may not write /"))
	missing := pb.ToStatus(cairn.Errorf("namenode.Delete", "/y", cairn.NotExist, "no such file"))
	unauth := pb.ToStatus(cairn.Errorf("namenode", "", cairn.Unauthenticated, "token expired"))
	// The chain as Serve builds it, around each handler.
	chain := func(method string, req any, h grpc.UnaryHandler) error {
		info := &grpc.UnaryServerInfo{FullMethod: method}
		_, err := s.audit.unauthenticated(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return s.identityInterceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
				return s.audit.interceptor(ctx, req, info, h)
			})
		})
		return err
	}
	chain(pb.ClientProtocol_Rename_FullMethodName, &pb.RenameRequest{Src: "/x", Dst: "/z"}, refuse(denied))
	chain(pb.ClientProtocol_Delete_FullMethodName, &pb.DeleteRequest{Path: "/y"}, refuse(missing))
	chain(pb.ClientProtocol_Mkdirs_FullMethodName, &pb.MkdirsRequest{Path: "/m"}, refuse(unauth))
	chain(pb.DatanodeProtocol_Heartbeat_FullMethodName, &pb.HeartbeatRequest{}, refuse(denied))
	chain(pb.ClientProtocol_Concat_FullMethodName, &pb.ConcatRequest{Target: "/t", Srcs: []string{"/s1", "/s2"}}, refuse(denied))
	chain(pb.AdminProtocol_SafeMode_FullMethodName, &pb.SafeModeRequest{Action: "leave"}, refuse(denied))
	s.Close()
	want := []string{
		"allowed=false\tugi=carol (auth:SIMPLE)\tip=/10.1.2.3\tcmd=rename\tsrc=/x\tdst=/z\tperm=null\tproto=rpc",
		"allowed=false\tugi=carol (auth:SIMPLE)\tip=/10.1.2.3\tcmd=mkdirs\tsrc=/m\tdst=null\tperm=null\tproto=rpc",
		"allowed=false\tugi=carol (auth:SIMPLE)\tip=/10.1.2.3\tcmd=concat\tsrc=[/s1, /s2]\tdst=/t\tperm=null\tproto=rpc",
		"allowed=false\tugi=carol (auth:SIMPLE)\tip=/10.1.2.3\tcmd=safemode_leave\tsrc=null\tdst=null\tperm=null\tproto=rpc",
	}
	got := auditLines(t, path)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// BenchmarkAuditInterceptor is what the audit log adds to a call: the
// interceptor's event and queueing (the writer goroutine formats and
// writes at the same time, on another core when there is one).
func BenchmarkAuditInterceptor(b *testing.B) {
	for _, format := range []string{"hdfs", "json", "off"} {
		b.Run(format, func(b *testing.B) {
			cfg := testConfig(b.TempDir())
			if format != "off" {
				cfg.AuditLog, cfg.AuditLogFormat = filepath.Join(b.TempDir(), "audit.log"), format
			}
			s := startServer(b, cfg)
			md := metadata.Pairs(pb.MetadataUser, "alice")
			ctx := peer.NewContext(metadata.NewIncomingContext(bg, md), &peer.Peer{Addr: tcpAddr("10.1.2.3:5000")})
			info := &grpc.UnaryServerInfo{FullMethod: pb.ClientProtocol_GetFileInfo_FullMethodName}
			req := &pb.GetFileInfoRequest{Path: "/user/alice/data/part-00000"}
			resp := &pb.GetFileInfoResponse{}
			h := func(context.Context, any) (any, error) { return resp, nil }
			chain := s.interceptors()[1:] // without the metrics'
			call := func() {
				var next grpc.UnaryHandler = h
				for i := len(chain) - 1; i >= 0; i-- {
					ic, n := chain[i], next
					next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, n) }
				}
				next(ctx, req)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				call()
			}
			b.StopTimer()
			if s.audit != nil {
				s.Close()
				if d := s.audit.log.Dropped(); d > 0 {
					b.Logf("%d of %d dropped", d, b.N)
				}
			}
		})
	}
}

// BenchmarkAuditedRPCs compares two NameNodes served over gRPC, one
// with an audit log and one without, in alternating bursts of the same
// calls from 16 concurrent callers, so that both see the same load from
// whatever else the machine runs. It reports each one's creates and
// stats per second and the audited one's share of the other's.
func BenchmarkAuditedRPCs(b *testing.B) {
	const callers, burst, rounds = 16, 400, 10
	type side struct {
		s     *Server
		c     pb.ClientProtocolClient
		stats time.Duration
		makes time.Duration
	}
	var sides [2]*side
	for i := range sides {
		cfg := testConfig(b.TempDir())
		if i == 1 && os.Getenv("AUDIT_AA") == "" {
			dir := os.Getenv("AUDIT_DIR")
			if dir == "" {
				dir = b.TempDir()
			}
			cfg.AuditLog = filepath.Join(dir, "audit.log")
		}
		s := startServer(b, cfg)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go s.Serve(bg, lis)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		sides[i] = &side{s: s, c: pb.NewClientProtocolClient(conn)}
	}
	ctx := metadata.AppendToOutgoingContext(bg, pb.MetadataUser, "alice")
	run := func(sd *side, round int, stat bool) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for g := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range burst {
					p := fmt.Sprintf("/r%d-g%d-f%d", round, g, j)
					var err error
					if stat {
						_, err = sd.c.GetFileInfo(ctx, &pb.GetFileInfoRequest{Path: p})
					} else {
						_, err = sd.c.Create(ctx, &pb.CreateRequest{Path: p, Mode: 0o644, ClientName: "cl", Touch: true})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	for b.Loop() {
		for _, sd := range sides {
			sd.stats, sd.makes = 0, 0
		}
		for r := range rounds {
			order := sides
			if r%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, sd := range order {
				sd.makes += run(sd, r, false)
			}
			for _, sd := range order {
				sd.stats += run(sd, r, true)
			}
		}
		for _, sd := range sides {
			sd.s.Close()
		}
	}
	n := float64(callers * burst * rounds)
	off, on := sides[0], sides[1]
	b.ReportMetric(n/off.makes.Seconds(), "creates/s-off")
	b.ReportMetric(n/on.makes.Seconds(), "creates/s-on")
	b.ReportMetric(off.makes.Seconds()/on.makes.Seconds(), "creates-ratio")
	b.ReportMetric(n/off.stats.Seconds(), "stats/s-off")
	b.ReportMetric(n/on.stats.Seconds(), "stats/s-on")
	b.ReportMetric(off.stats.Seconds()/on.stats.Seconds(), "stats-ratio")
	if on.s.audit != nil {
		b.ReportMetric(float64(on.s.audit.log.Dropped()), "dropped")
	}
}

func TestAuditLogSaysHowCallersAreEstablished(t *testing.T) {
	for _, tc := range []struct {
		security bool
		want     string
	}{{false, "SIMPLE"}, {true, "TOKEN"}} {
		a := newAuditor(&Server{cfg: Config{Security: tc.security}}, nil)
		if a.auth != tc.want {
			t.Errorf("newAuditor(Security %v).auth = %q, want %q", tc.security, a.auth, tc.want)
		}
	}
}

// Tokens made and revoked are audited by their IDs, as HDFS's
// getDelegationToken and cancelDelegationToken; the token itself is
// never written.
func TestAuditLogOfTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg := secureConfig(t.TempDir())
	cfg.AuditLog = path
	s := startServer(t, cfg)
	waitKey(t, s)
	root, err := s.CreateToken(bg, "hdfs", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := dialConns(t, serveOn(t, s))
	made, err := c.admin.CreateToken(withToken(root.Token), &pb.CreateTokenRequest{User: "alice", TtlMs: time.Hour.Milliseconds()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.admin.RevokeToken(withToken(root.Token), &pb.RevokeTokenRequest{Token: made.Token}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(auditLines(t, path), "\n")
	for _, want := range []string{
		"cmd=getDelegationToken\tsrc=alice\tdst=" + made.Id,
		"cmd=cancelDelegationToken\tsrc=" + made.Id,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("the audit log has no %q:\n%s", want, lines)
		}
	}
	if strings.Contains(lines, made.Token) || strings.Contains(lines, root.Token) {
		t.Errorf("the audit log holds a token:\n%s", lines)
	}
}

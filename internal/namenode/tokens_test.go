package namenode

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/token"
	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// secureConfig is testConfig in secure mode.
func secureConfig(dir string) Config {
	cfg := testConfig(dir)
	cfg.Security = true
	return cfg
}

// waitKey waits until s has a token signing key.
func waitKey(t testing.TB, s *Server) tokenKey {
	t.Helper()
	var k tokenKey
	waitFor(t, "a token signing key", func() bool {
		s.ns.mu.RLock()
		defer s.ns.mu.RUnlock()
		var ok bool
		k, ok = s.ns.tokens.current()
		return ok
	})
	return k
}

// withToken returns a context whose calls carry tok, and then the
// metadata kv.
func withToken(tok string, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(bg, append([]string{pb.MetadataAuthorization, "Bearer " + tok}, kv...)...)
}

// conns are gRPC stubs of the NameNode on one connection.
type conns struct {
	c     pb.ClientProtocolClient
	admin pb.AdminProtocolClient
	dn    pb.DatanodeProtocolClient
}

func dialConns(t testing.TB, addr string, opts ...grpc.DialOption) conns {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return conns{pb.NewClientProtocolClient(cc), pb.NewAdminProtocolClient(cc), pb.NewDatanodeProtocolClient(cc)}
}

// serveOn serves s on a new loopback listener until the test ends, and
// returns its address.
func serveOn(t testing.TB, s *Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(cancel)
	go s.Serve(ctx, lis)
	return lis.Addr().String()
}

// wantUnauthenticated checks that err refuses a call for its
// credentials, saying why (why, if not empty).
func wantUnauthenticated(t testing.TB, what string, err error, why string) {
	t.Helper()
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "unauthenticated") {
		t.Errorf("%s: %v, want Unauthenticated saying so", what, err)
		return
	}
	if !strings.Contains(status.Convert(err).Message(), why) {
		t.Errorf("%s: %v, want it to say %q", what, err, why)
	}
	if k := cairn.KindOf(pb.FromStatus("op", "", err)); k != cairn.Unauthenticated {
		t.Errorf("%s: kind %v on the client side, want Unauthenticated", what, k)
	}
}

func TestTokenAuthentication(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, secureConfig(dir))
	k := waitKey(t, s)
	registerNodes(t, s, 1)
	nn := dialConns(t, serveOn(t, s))
	mkdir := func(ctx context.Context, p string) (*pb.MkdirsResponse, error) {
		return nn.c.Mkdirs(ctx, &pb.MkdirsRequest{Path: p, Mode: 0o777, Parents: true})
	}

	// The superuser's token is in root.token, private, and works.
	path := filepath.Join(dir, RootTokenFile)
	var root string
	waitFor(t, "root.token", func() bool {
		b, err := os.ReadFile(path)
		root = strings.TrimSpace(string(b))
		return err == nil
	})
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("root.token: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if md, err := mkdir(withToken(root), "/shared"); err != nil || md.Dir.Owner != "hdfs" {
		t.Fatalf("Mkdirs with root.token = %v, %v; want owned by hdfs", md, err)
	}

	// A user's token: its user owns what it creates, whatever the
	// request says.
	alice, err := s.CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := nn.c.Create(withToken(alice.Token), &pb.CreateRequest{Path: "/shared/a", ClientName: "cl", Owner: "mallory", Group: "staff", Mode: 0o644, Replication: 1})
	if err != nil || cr.File.Owner != "alice" || cr.File.Group != "staff" {
		t.Fatalf("Create with alice's token = %v, %v; want owned by alice:staff", cr, err)
	}
	// Naming oneself is no impersonation.
	if _, err := mkdir(withToken(alice.Token, pb.MetadataUser, "alice"), "/shared/a2"); err != nil {
		t.Errorf("Mkdirs with alice's token, as alice = %v", err)
	}

	// Refused tokens.
	payload := strings.LastIndexByte(alice.Token, '.') - 3
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	expired, _, err := s.issueToken("alice", time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := s.CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(bg, revoked.ID); err != nil {
		t.Fatalf("RevokeToken = %v", err)
	}
	unknown := token.Sign(token.Key{ID: k.id + 100, Secret: k.secret}, token.Claims{User: "hdfs", Issued: time.Now(), Expires: time.Now().Add(time.Hour)})
	for _, tc := range []struct {
		name, tok, why string
	}{
		{"no token", "", "no token"},
		{"a malformed token", "garbage", "malformed"},
		{"a token with a payload byte changed", flip(alice.Token, payload), "signature"},
		{"a token with a signature byte changed", flip(alice.Token, len(alice.Token)-5), "signature"},
		{"a token of an unknown key", unknown, "unknown key"},
		{"an expired token", expired, "expired"},
		{"a revoked token", revoked.Token, "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := bg
			if tc.tok != "" {
				ctx = withToken(tc.tok)
			}
			_, err := mkdir(ctx, "/refused")
			wantUnauthenticated(t, "Mkdirs with "+tc.name, err, tc.why)
			_, err = nn.admin.GetDatanodeReport(ctx, &pb.GetDatanodeReportRequest{})
			wantUnauthenticated(t, "GetDatanodeReport with "+tc.name, err, tc.why)
		})
	}
	if ok, _ := exists(t, s, "/refused"); ok {
		t.Errorf("a refused call created /refused")
	}

	// Impersonation: a superuser's token may act for another user,
	// another user's may not.
	if md, err := mkdir(withToken(root, pb.MetadataUser, "bob"), "/shared/bob"); err != nil || md.Dir.Owner != "bob" {
		t.Errorf("Mkdirs with root.token as bob = %v, %v; want owned by bob", md, err)
	}
	_, err = mkdir(withToken(alice.Token, pb.MetadataUser, "bob"), "/shared/notbob")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "user=alice may not act as bob") {
		t.Errorf("Mkdirs with alice's token as bob = %v, want PermissionDenied", err)
	}

	// DataNodes' calls need a node certificate.
	_, err = nn.dn.Register(withToken(root), &pb.RegisterRequest{NodeId: "dn", Addr: "127.0.0.1:9866", ClusterId: string(s.ClusterID())})
	wantUnauthenticated(t, "Register without a certificate", err, "certificate")
}

func TestTokenAdminRPC(t *testing.T) {
	s := startServer(t, secureConfig(t.TempDir()))
	waitKey(t, s)
	nn := dialConns(t, serveOn(t, s))
	admin, err := s.CreateToken(bg, "admin", time.Hour) // a member of supergroup
	if err != nil {
		t.Fatal(err)
	}
	alice, err := s.CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// A superuser makes tokens for anyone; the lifetime is capped.
	bob, err := nn.admin.CreateToken(withToken(admin.Token), &pb.CreateTokenRequest{User: "bob", TtlMs: (30 * 24 * time.Hour).Milliseconds()})
	if err != nil || bob.User != "bob" || len(bob.Id) != 32 {
		t.Fatalf("CreateToken(bob) by admin = %v, %v", bob, err)
	}
	if exp := time.UnixMilli(bob.ExpiresUnixMs); exp.After(time.Now().Add(defaultTokenMaxLifetime)) {
		t.Errorf("CreateToken(bob, 30 days) expires %v, after the maximum lifetime", exp)
	}
	if _, err := nn.c.GetFileInfo(withToken(bob.Token), &pb.GetFileInfoRequest{Path: "/"}); err != nil {
		t.Errorf("GetFileInfo with bob's new token = %v", err)
	}

	// Another user only for itself, expiring with the token it
	// presents.
	_, err = nn.admin.CreateToken(withToken(alice.Token), &pb.CreateTokenRequest{User: "bob"})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("CreateToken(bob) by alice = %v, want PermissionDenied", err)
	}
	own, err := nn.admin.CreateToken(withToken(alice.Token), &pb.CreateTokenRequest{TtlMs: (48 * time.Hour).Milliseconds()})
	if err != nil || own.User != "alice" {
		t.Fatalf("CreateToken() by alice = %v, %v", own, err)
	}
	if exp := time.UnixMilli(own.ExpiresUnixMs); exp.After(alice.Expires) {
		t.Errorf("alice's new token expires %v, after the token that made it (%v)", exp, alice.Expires)
	}

	// Revocation: alice may revoke her own tokens, not bob's.
	_, err = nn.admin.RevokeToken(withToken(alice.Token), &pb.RevokeTokenRequest{Token: bob.Id})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("RevokeToken(bob's ID) by alice = %v, want PermissionDenied", err)
	}
	_, err = nn.admin.RevokeToken(withToken(alice.Token), &pb.RevokeTokenRequest{Token: bob.Token})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("RevokeToken(bob's token) by alice = %v, want PermissionDenied", err)
	}
	if _, err := nn.admin.RevokeToken(withToken(alice.Token), &pb.RevokeTokenRequest{Token: own.Token}); err != nil {
		t.Errorf("RevokeToken(her own token) by alice = %v", err)
	}
	if _, err := nn.admin.RevokeToken(withToken(alice.Token), &pb.RevokeTokenRequest{Token: alice.ID}); err != nil {
		t.Errorf("RevokeToken(the ID of the token she calls with) by alice = %v", err)
	}
	for name, tok := range map[string]string{"alice's": alice.Token, "alice's second": own.Token} {
		_, err := nn.c.GetFileInfo(withToken(tok), &pb.GetFileInfoRequest{Path: "/"})
		wantUnauthenticated(t, "GetFileInfo with "+name+" revoked token", err, "revoked")
	}
	// A superuser revokes by ID.
	if _, err := nn.admin.RevokeToken(withToken(admin.Token), &pb.RevokeTokenRequest{Token: bob.Id}); err != nil {
		t.Errorf("RevokeToken(bob's ID) by admin = %v", err)
	}
	_, err = nn.c.GetFileInfo(withToken(bob.Token), &pb.GetFileInfoRequest{Path: "/"})
	wantUnauthenticated(t, "GetFileInfo with bob's revoked token", err, "revoked")
	_, err = nn.admin.RevokeToken(withToken(admin.Token), &pb.RevokeTokenRequest{Token: "nonsense"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("RevokeToken(nonsense) = %v, want InvalidArgument", err)
	}
}

func TestTokensInSimpleMode(t *testing.T) {
	// Simple mode: no key, no token, calls as before.
	dir := t.TempDir()
	s := startServer(t, testConfig(dir))
	if _, err := s.CreateToken(bg, "alice", 0); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("CreateToken in simple mode = %v, want Invalid", err)
	}
	if _, err := os.Stat(filepath.Join(dir, RootTokenFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root.token in simple mode: %v", err)
	}
}

func TestTokenKeyRotation(t *testing.T) {
	cfg := secureConfig(t.TempDir())
	cfg.TokenKeyRotation = 500 * time.Millisecond
	cfg.TokenMaxLifetime = 2 * time.Second
	s := startServer(t, cfg)
	nn := dialConns(t, serveOn(t, s))
	first := waitKey(t, s)
	old, err := s.CreateToken(bg, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := token.Parse(old.Token)
	if tok.KeyID != first.id {
		t.Fatalf("a token signed with key %d, want the current %d", tok.KeyID, first.id)
	}
	waitFor(t, "a new signing key", func() bool { return waitKey(t, s).id != first.id })
	// The old key still verifies its tokens, new ones use the new key.
	if _, err := nn.c.GetFileInfo(withToken(old.Token), &pb.GetFileInfoRequest{Path: "/"}); err != nil {
		t.Errorf("GetFileInfo with a token of the previous key = %v", err)
	}
	next, err := s.CreateToken(bg, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tn, _ := token.Parse(next.Token); tn.KeyID == first.id {
		t.Errorf("a token made after rotation is signed with the old key %d", first.id)
	}
	// The old key goes once every token it signed has expired
	// (rotation + max lifetime after it was made), and its tokens
	// with it; revocations go when their tokens expire.
	if err := s.RevokeToken(bg, next.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first key and the revocation dropped", func() bool {
		s.ns.mu.RLock()
		defer s.ns.mu.RUnlock()
		_, ok := s.ns.tokens.key(first.id)
		return !ok && len(s.ns.tokens.revoked) == 0
	})
	_, err = nn.c.GetFileInfo(withToken(old.Token), &pb.GetFileInfoRequest{Path: "/"})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetFileInfo with a token of a dropped key = %v, want Unauthenticated", err)
	}
}

func TestTokensSurviveRestart(t *testing.T) {
	for _, snap := range []bool{false, true} {
		name := "from the log"
		if snap {
			name = "from a snapshot"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(secureConfig(dir), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			waitKey(t, s)
			good, err := s.CreateToken(bg, "alice", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			bad, err := s.CreateToken(bg, "alice", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeToken(bg, bad.Token); err != nil {
				t.Fatal(err)
			}
			if snap {
				if err := s.rn.raft.Snapshot().Error(); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			s = startServer(t, secureConfig(dir))
			if _, err := s.verifyToken(good.Token); err != nil {
				t.Errorf("a token after restart: %v", err)
			}
			if _, err := s.verifyToken(bad.Token); !errors.Is(err, token.ErrRevoked) {
				t.Errorf("a revoked token after restart: %v, want ErrRevoked", err)
			}
		})
	}
}

func TestTokenSnapshotFormat(t *testing.T) {
	r := newReplicated()
	r.tokens = tokenState{
		keys: []tokenKey{
			{id: 3, secret: []byte(strings.Repeat("a", token.SecretLen)), created: 10, expires: 20},
			{id: 4, secret: []byte(strings.Repeat("b", token.SecretLen)), created: 15, expires: 25},
		},
		nextKeyID: 5,
		revoked:   map[token.ID]int64{{1}: 30, {2}: 40},
	}
	got, err := decodeSnapshot(r.encodeSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.tokens.keys) != 2 || got.tokens.nextKeyID != 5 || len(got.tokens.revoked) != 2 ||
		got.tokens.revoked[token.ID{2}] != 40 || string(got.tokens.keys[1].secret) != string(r.tokens.keys[1].secret) ||
		got.tokens.keys[0].created != 10 || got.tokens.keys[1].expires != 25 {
		t.Errorf("tokens after a snapshot round trip = %+v, want %+v", got.tokens, r.tokens)
	}
	// A version 3 snapshot (no token section) is still read.
	empty := newReplicated().encodeSnapshot()
	v3 := slices.Clone(empty[:len(empty)-4-3]) // less the CRC and the empty token section
	if v3[len(snapshotMagic)] != snapshotVersion {
		t.Fatalf("version byte %d, want %d", v3[len(snapshotMagic)], snapshotVersion)
	}
	v3[len(snapshotMagic)] = 3
	v3 = binary.LittleEndian.AppendUint32(v3, checksum.CRC32C(v3))
	if got, err := decodeSnapshot(v3); err != nil || len(got.tokens.keys) != 0 {
		t.Errorf("decodeSnapshot(version 3) = %v, %v", got, err)
	}

	// A key ID that does not grow is refused.
	r.tokens.keys[1].id = 3
	if _, err := decodeSnapshot(r.encodeSnapshot()); err == nil {
		t.Errorf("a snapshot with key IDs out of order decoded")
	}
}

func TestTokenCommandsRoundTrip(t *testing.T) {
	for _, c := range []command{
		{op: opTokenKey, keyID: 7, secret: strings.Repeat("s", token.SecretLen), mtime: 1, expires: 2},
		{op: opTokenPurge, mtime: 3},
		{op: opRevokeToken, tokenID: token.ID{9, 8, 7}, expires: 4},
	} {
		got, err := decodeCommand(c.encode(nil))
		if err != nil || got.op != c.op || got.keyID != c.keyID || got.secret != c.secret || got.mtime != c.mtime ||
			got.expires != c.expires || got.tokenID != c.tokenID {
			t.Errorf("decodeCommand(encode(%v)) = %+v, %v", c.op, got, err)
		}
	}
}

// secureTLS returns the transport of the NameNodes of a secure test
// cluster (nodes present a certificate; clients may present none),
// and a client's (none).
func secureTLS(t testing.TB) (node, client transport.Config) {
	cert, pool := transporttest.SelfSigned(t)
	node = transport.Config{TLS: &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS13,
	}}
	client = transport.Config{TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}
	return node, client
}

func TestNodeCallsNeedACertificate(t *testing.T) {
	node, cl := secureTLS(t)
	cfg := secureConfig(t.TempDir())
	cfg.Transport = node
	s := startServer(t, cfg)
	waitKey(t, s)
	addr := serveOn(t, s)
	root, err := s.CreateToken(bg, "hdfs", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	reg := &pb.RegisterRequest{NodeId: "dn", Addr: "127.0.0.1:9866", ClusterId: string(s.ClusterID()),
		Storage: &pb.StorageReport{CapacityBytes: 1 << 40, RemainingBytes: 1 << 40}}

	anon := dialConns(t, addr, cl.GRPCDialOptions()...)
	_, err = anon.dn.Register(withToken(root.Token), reg)
	wantUnauthenticated(t, "Register without a certificate, with a token", err, "certificate")
	_, err = anon.c.ReportBadBlocks(bg, &pb.ReportBadBlocksRequest{})
	wantUnauthenticated(t, "ReportBadBlocks without a certificate nor a token", err, "no token")
	if _, err := anon.c.GetFileInfo(withToken(root.Token), &pb.GetFileInfoRequest{Path: "/"}); err != nil {
		t.Errorf("GetFileInfo over TLS with a token = %v", err)
	}

	dn := dialConns(t, addr, node.GRPCDialOptions()...)
	if _, err := dn.dn.Register(bg, reg); err != nil {
		t.Errorf("Register with a node certificate = %v", err)
	}
	if _, err := dn.c.ReportBadBlocks(bg, &pb.ReportBadBlocksRequest{}); err != nil {
		t.Errorf("ReportBadBlocks with a node certificate = %v", err)
	}
	// A certificate is no token for what clients do.
	_, err = dn.c.Mkdirs(bg, &pb.MkdirsRequest{Path: "/x", Mode: 0o755})
	wantUnauthenticated(t, "Mkdirs with a node certificate and no token", err, "no token")
}

func TestTokensInGroup(t *testing.T) {
	node, cl := secureTLS(t)
	g := startGroup(t, 3, func(c *Config) {
		c.Security = true
		c.Transport = node
	})
	l := g.leader()
	waitKey(t, g.srv[l])
	good, err := g.srv[l].CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := g.srv[l].CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.srv[l].RevokeToken(bg, bad.ID); err != nil {
		t.Fatal(err)
	}
	// Every member's root.token works on the leader: they share keys.
	for i := range g.srv {
		path := filepath.Join(g.dirs[i], RootTokenFile)
		waitFor(t, "root.token of member", func() bool { _, err := os.Stat(path); return err == nil })
	}
	// A member that does not lead leaves a token of a key it does not
	// know to the leader: it may lag behind the key.
	f := (l + 1) % 3
	k := waitKey(t, g.srv[f])
	unknown := token.Sign(token.Key{ID: k.id + 100, Secret: k.secret}, token.Claims{User: "alice", Issued: time.Now(), Expires: time.Now().Add(time.Hour)})
	fc := dialConns(t, g.addrs[f], cl.GRPCDialOptions()...)
	_, err = fc.c.GetFileInfo(withToken(unknown), &pb.GetFileInfoRequest{Path: "/"})
	if k := cairn.KindOf(pb.FromStatus("stat", "/", err)); k != cairn.NotLeader {
		t.Errorf("GetFileInfo on a follower with a token of an unknown key = %v, want NotLeader", err)
	}

	if _, err := g.srv[l].Mkdirs(bg, "/alice", 0o755, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	g.kill(l)
	nl := g.leader()
	c := dialConns(t, g.addrs[nl], cl.GRPCDialOptions()...)
	if _, err := c.c.Mkdirs(withToken(good.Token), &pb.MkdirsRequest{Path: "/alice/a", Mode: 0o755}); err != nil {
		t.Errorf("Mkdirs on the new leader with a token of the old = %v", err)
	}
	_, err = c.c.Mkdirs(withToken(bad.Token), &pb.MkdirsRequest{Path: "/alice/b", Mode: 0o755})
	wantUnauthenticated(t, "Mkdirs on the new leader with a token revoked on the old", err, "revoked")
	for i := range g.srv {
		b, err := os.ReadFile(filepath.Join(g.dirs[i], RootTokenFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.c.GetFileInfo(withToken(strings.TrimSpace(string(b))), &pb.GetFileInfoRequest{Path: "/"}); err != nil {
			t.Errorf("GetFileInfo with member %d's root.token = %v", i, err)
		}
	}
}

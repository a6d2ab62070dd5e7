package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// secureNameNode starts a NameNode in secure mode (no DataNodes) and
// returns its address and its superuser's token.
func secureNameNode(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	nn, err := namenode.New(namenode.Config{Dir: dir, Security: true, Superuser: "hdfs"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nn.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nn.Serve(context.Background(), lis)
	var root []byte
	deadline := time.Now().Add(10 * time.Second)
	for root, err = os.ReadFile(filepath.Join(dir, namenode.RootTokenFile)); err != nil; root, err = os.ReadFile(filepath.Join(dir, namenode.RootTokenFile)) {
		if time.Now().After(deadline) {
			t.Fatalf("no root.token: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lis.Addr().String(), strings.TrimSpace(string(root))
}

func TestWithToken(t *testing.T) {
	addr, root := secureNameNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// No token: refused, with the kind Unauthenticated.
	_, err := client.Dial(ctx, addr, client.WithDialTimeout(2*time.Second))
	if cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), "unauthenticated") {
		t.Fatalf("Dial without a token = %v, want Unauthenticated", err)
	}

	su, err := client.Dial(ctx, addr, client.WithToken(root+"\n"))
	if err != nil {
		t.Fatalf("Dial with root.token = %v", err)
	}
	defer su.Close()
	if err := su.Mkdir(ctx, "/home", 0); err != nil {
		t.Fatal(err)
	}
	if err := su.Chmod(ctx, "/home", 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	alice, err := su.CreateToken(ctx, "alice", time.Hour)
	if err != nil || alice.User != "alice" || len(alice.ID) != 32 || time.Until(alice.Expires) > time.Hour {
		t.Fatalf("CreateToken(alice) = %+v, %v", alice, err)
	}

	// The token's user acts, whoever runs the client.
	ac, err := client.Dial(ctx, addr, client.WithToken(alice.Token))
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if err := ac.Mkdir(ctx, "/home/alice", 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := ac.Stat(ctx, "/home/alice"); err != nil || fi.Owner != "alice" {
		t.Errorf("Stat(/home/alice) = %+v, %v; want owned by alice", fi, err)
	}
	// A superuser's client acts for others; alice's may not.
	if err := su.Mkdir(client.AsUser(ctx, "bob"), "/home/bob", 0o755); err != nil {
		t.Errorf("Mkdir as bob with the superuser's token = %v", err)
	}
	if err := ac.Mkdir(client.AsUser(ctx, "bob"), "/home/bob2", 0o755); cairn.KindOf(err) != cairn.Permission {
		t.Errorf("Mkdir as bob with alice's token = %v, want Permission", err)
	}

	// Revoked: refused at once.
	if err := su.RevokeToken(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Stat(ctx, "/"); cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("Stat with a revoked token = %v, want Unauthenticated (revoked)", err)
	}
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/transport"
)

// startSecureCluster starts a secured NameNode (--security, TLS) and
// dataNodes DataNodes as processes, with certificates from 'cairn admin
// certs init'. The harness's commands act as the superuser: CAIRN_TOKEN
// holds the token the NameNode wrote, CAIRN_TLS_CA the CA. It returns
// the cluster and the CA file.
func startSecureCluster(t *testing.T, dataNodes int) (*cluster, string) {
	t.Helper()
	_, ca, tlsArgs := initCerts(t)
	c := &cluster{t: t, dir: t.TempDir(), nnAddr: freeAddr(t), nnHTTP: freeAddr(t)}
	nnDir := filepath.Join(c.dir, "nn")
	c.nn = startProc(t, "namenode", append([]string{"namenode", "--security",
		"--dir", nnDir, "--rpc-addr", c.nnAddr, "--http-addr", c.nnHTTP,
		"--replication", "3", "--block-size", "1MiB"}, tlsArgs...)...)
	var root string
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(nnDir, "root.token"))
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			root = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secured NameNode wrote no root.token in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(filepath.Join(nnDir, "root.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("root.token: %v, %v; want mode 0600", fi.Mode(), err)
	}
	t.Setenv("CAIRN_TLS_CA", ca)
	t.Setenv("CAIRN_TOKEN", root)
	for i := 0; i < dataNodes; i++ {
		addr := freeAddr(t)
		c.dns = append(c.dns, startProc(t, fmt.Sprintf("datanode%d", i), append([]string{"datanode",
			"--dir", filepath.Join(c.dir, fmt.Sprintf("dn%d", i)), "--namenode", c.nnAddr,
			"--addr", addr, "--http-addr", freeAddr(t), "--heartbeat-interval", "200ms"}, tlsArgs...)...))
		c.dnAddr = append(c.dnAddr, addr)
	}
	c.waitLive(dataNodes)
	return c, ca
}

// initCerts runs 'cairn admin certs init' for 127.0.0.1 and localhost
// and returns the directory, the CA file, and the --tls-* flags of a
// node on 127.0.0.1.
func initCerts(t *testing.T) (dir, ca string, tlsArgs []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command(binary, "admin", "certs", "init", "--dir", dir, "--hosts", "127.0.0.1,localhost").CombinedOutput(); err != nil {
		t.Fatalf("cairn admin certs init: %v: %s", err, out)
	}
	ca = filepath.Join(dir, "ca.crt")
	return dir, ca, []string{
		"--tls-cert", filepath.Join(dir, "127.0.0.1.crt"),
		"--tls-key", filepath.Join(dir, "127.0.0.1.key"),
		"--tls-ca", ca,
	}
}

// as runs a client command with CAIRN_TOKEN set to tok.
func (c *cluster) as(t *testing.T, tok string, args ...string) (string, string, int) {
	t.Helper()
	old := os.Getenv("CAIRN_TOKEN")
	t.Setenv("CAIRN_TOKEN", tok)
	defer os.Setenv("CAIRN_TOKEN", old)
	return c.cairn(nil, args...)
}

// refused checks a command that must fail in one line containing want.
func refused(t *testing.T, what, want, stdout, stderr string, code int) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	switch {
	case code == 0:
		t.Errorf("%s succeeded (%q), want %q", what, stdout, want)
	case strings.Contains(line, "\n") || !strings.Contains(line, want):
		t.Errorf("%s: stderr %q, want one line with %q", what, stderr, want)
	}
}

// TestSecureClusterOfProcesses: a cluster secured as docs/SECURITY.md
// says, its nodes separate processes. Tokens: none, tampered, expired
// and revoked ones are refused as unauthenticated; a user's token sees
// what its modes allow. Block tokens: a DataNode gives no block to a
// reader without one. TLS: plain TCP to the data port fails.
func TestSecureClusterOfProcesses(t *testing.T) {
	c, ca := startSecureCluster(t, 3)
	root := os.Getenv("CAIRN_TOKEN")

	local, data := randomFile(t, t.TempDir(), 2<<20+777, 7)
	c.must("fs", "put", local, "/f")
	if got := c.must("fs", "cat", "/f"); got != string(data) {
		t.Fatalf("cat as the superuser: %d bytes differ from the %d put", len(got), len(data))
	}
	c.must("fs", "mkdir", "/private")
	c.must("fs", "put", local, "/private/secret")
	c.must("fs", "chmod", "600", "/private/secret")
	c.must("fs", "mkdir", "/tmp")
	c.must("fs", "chmod", "1777", "/tmp")

	// Tokens that prove nothing.
	o, e, code := c.as(t, "", "fs", "ls", "/")
	refused(t, "ls without a token", "unauthenticated", o, e, code)
	tampered := []byte(root)
	i := strings.LastIndexByte(root, '.') + 3
	tampered[i] ^= 0x01
	if tampered[i] == '.' || tampered[i] == 0 {
		tampered[i] = 'A'
	}
	o, e, code = c.as(t, string(tampered), "fs", "ls", "/")
	refused(t, "ls with a tampered token", "unauthenticated", o, e, code)

	alice := lastLine(c.must("admin", "token", "create", "--user", "alice", "--ttl", "1h"))
	short := lastLine(c.must("admin", "token", "create", "--user", "alice", "--ttl", "1s"))
	bob := lastLine(c.must("admin", "token", "create", "--user", "bob", "--ttl", "1h"))
	if o, e, code := c.as(t, bob, "fs", "ls", "/"); code != 0 {
		t.Fatalf("ls as bob: %s", e)
	} else if !strings.Contains(o, "/private") {
		t.Errorf("ls / as bob = %q", o)
	}
	c.must("admin", "token", "revoke", bob)
	o, e, code = c.as(t, bob, "fs", "ls", "/")
	refused(t, "ls with a revoked token", "unauthenticated", o, e, code)
	time.Sleep(2500 * time.Millisecond)
	o, e, code = c.as(t, short, "fs", "ls", "/")
	refused(t, "ls with an expired token", "unauthenticated", o, e, code)

	// A user's token: its modes, not the superuser's.
	o, e, code = c.as(t, alice, "fs", "cat", "/private/secret")
	refused(t, "cat of root's 0600 file as alice", "permission denied", o, e, code)
	o, e, code = c.as(t, alice, "fs", "rm", "/f")
	refused(t, "rm of root's file in / as alice", "permission denied", o, e, code)
	if _, e, code := c.as(t, alice, "fs", "put", local, "/tmp/alice"); code != 0 {
		t.Fatalf("put into /tmp as alice: %s", e)
	}
	var st struct {
		Owner string `json:"owner"`
	}
	c.mustJSON(&st, "fs", "stat", "--json", "/tmp/alice")
	if st.Owner != "alice" {
		t.Errorf("alice's file is owned by %q", st.Owner)
	}
	// Only a superuser makes tokens for others.
	o, e, code = c.as(t, alice, "admin", "token", "create", "--user", "root")
	refused(t, "a token for root made by alice", "permission denied", o, e, code)

	// The data port: no block without a block token, whatever the
	// caller knows of the block.
	var fi struct {
		Blocks []struct {
			ID        uint64   `json:"id"`
			GenStamp  uint64   `json:"genStamp"`
			Size      int64    `json:"size"`
			Locations []string `json:"locations"`
		} `json:"blocks"`
	}
	c.mustJSON(&fi, "fs", "stat", "--json", "/private/secret")
	if len(fi.Blocks) == 0 || len(fi.Blocks[0].Locations) == 0 {
		t.Fatalf("stat of the secret gave no located block: %+v", fi)
	}
	b := fi.Blocks[0]
	clientTLS, err := certs.Client(ca)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := cairn.DatanodeInfo{ID: "dn", Addr: b.Locations[0]}
	blk := cairn.Block{ID: cairn.BlockID(b.ID), GenStamp: cairn.GenStamp(b.GenStamp), Len: b.Size}
	rc, err := datatransfer.Options{Transport: transport.Config{TLS: clientTLS}}.ReadBlock(ctx, node, blk, 0, b.Size, "e2e")
	if err == nil {
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		t.Fatalf("a DataNode served %d bytes of a block to a reader without a block token", n)
	}
	if cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), "block token") {
		t.Errorf("read without a block token = %v, want unauthenticated: missing block token", err)
	}
	// Plain TCP to the TLS data port.
	if rc, err := (datatransfer.Options{}).ReadBlock(ctx, node, blk, 0, b.Size, "e2e"); err == nil {
		rc.Close()
		t.Error("a plaintext read of the TLS data port succeeded")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

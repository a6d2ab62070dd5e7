package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, namenode.RootTokenFile))
		if err == nil {
			return lis.Addr().String(), strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no root.token: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runEnv runs a cairn command in-process with the environment vars.
func runEnv(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: func(io.Writer) bool { return false },
	}
	code = e.run(ctx, args)
	return out.String(), errb.String(), code
}

func writeToken(t *testing.T, path, tok string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAdminToken(t *testing.T) {
	addr, root := secureNameNode(t)
	su := map[string]string{"CAIRN_NAMENODE": addr, envToken: root}

	// Without a token: refused, saying so.
	_, errOut, code := runEnv(t, map[string]string{"CAIRN_NAMENODE": addr}, "fs", "mkdir", "/x")
	if code != 1 || !strings.Contains(errOut, "unauthenticated") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("fs mkdir without a token: code %d, stderr %q; want one line saying unauthenticated", code, errOut)
	}

	if _, errOut, code := runEnv(t, su, "fs", "mkdir", "/home"); code != 0 {
		t.Fatalf("fs mkdir with $CAIRN_TOKEN: code %d, %s", code, errOut)
	}
	if _, errOut, code := runEnv(t, su, "fs", "chmod", "777", "/home"); code != 0 {
		t.Fatalf("fs chmod: code %d, %s", code, errOut)
	}
	out, errOut, code := runEnv(t, su, "admin", "token", "create", "--user", "alice", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("admin token create: code %d, %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	tok := lines[len(lines)-1]
	if len(lines) != 2 || !strings.HasPrefix(tok, "cairn1.") || !strings.Contains(lines[0], "alice") {
		t.Fatalf("admin token create printed %q; want a line about the token, then the token", out)
	}
	id := strings.Fields(lines[0])[1]

	// --token-file: private, or refused.
	dir := t.TempDir()
	file := writeToken(t, filepath.Join(dir, "alice.token"), tok, 0o600)
	noEnv := map[string]string{"CAIRN_NAMENODE": addr}
	if _, errOut, code := runEnv(t, noEnv, "fs", "mkdir", "--token-file", file, "/home/alice"); code != 0 {
		t.Fatalf("fs mkdir --token-file: code %d, %s", code, errOut)
	}
	out, _, _ = runEnv(t, noEnv, "fs", "ls", "--token-file", file, "/home")
	if !strings.Contains(out, "alice") {
		t.Errorf("fs ls /home = %q, want /home/alice owned by alice", out)
	}
	open := writeToken(t, filepath.Join(dir, "open.token"), tok, 0o644)
	_, errOut, code = runEnv(t, noEnv, "fs", "ls", "--token-file", open, "/")
	if code == 0 || !strings.Contains(errOut, "chmod 600") || strings.Contains(errOut, tok) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("fs ls with a token file others may read: code %d, stderr %q; want one line refusing it", code, errOut)
	}

	// The user's config directory.
	cfgHome := t.TempDir()
	writeToken(t, filepath.Join(cfgHome, "cairn", "token"), tok, 0o600)
	withHome := map[string]string{"CAIRN_NAMENODE": addr, "XDG_CONFIG_HOME": cfgHome}
	if _, errOut, code := runEnv(t, withHome, "fs", "mkdir", "/home/alice/viaconfig"); code != 0 {
		t.Errorf("fs mkdir with the config directory's token: code %d, %s", code, errOut)
	}

	// --json.
	out, errOut, code = runEnv(t, su, "admin", "token", "create", "--user", "bob", "--json")
	if code != 0 || !strings.Contains(out, `"user": "bob"`) && !strings.Contains(out, `"user":"bob"`) {
		t.Errorf("admin token create --json: code %d, %q %s", code, out, errOut)
	}

	// Revoked: refused at once.
	out, errOut, code = runEnv(t, su, "admin", "token", "revoke", id)
	if code != 0 || !strings.Contains(out, id) {
		t.Fatalf("admin token revoke %s: code %d, %q %s", id, code, out, errOut)
	}
	_, errOut, code = runEnv(t, noEnv, "fs", "ls", "--token-file", file, "/")
	if code != 1 || !strings.Contains(errOut, "unauthenticated") || !strings.Contains(errOut, "revoked") {
		t.Errorf("fs ls with a revoked token: code %d, stderr %q", code, errOut)
	}
	_, errOut, code = runEnv(t, su, "admin", "token", "revoke", "nonsense")
	if code == 0 {
		t.Errorf("admin token revoke nonsense succeeded: %s", errOut)
	}
}

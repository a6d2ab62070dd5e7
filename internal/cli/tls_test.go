package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/localcluster"
)

func TestCertsInitWritesAndKeeps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, errOut, code := runCLI(t, "", "admin", "certs", "init", "--dir", dir, "--hosts", "127.0.0.1, nn1.example.com")
	if code != 0 {
		t.Fatalf("certs init: exit %d, %q", code, errOut)
	}
	for _, name := range []string{"ca.crt", "ca.key", "127.0.0.1.crt", "127.0.0.1.key", "nn1.example.com.crt", "nn1.example.com.key"} {
		if !strings.Contains(out, "wrote "+filepath.Join(dir, name)+"\n") {
			t.Errorf("certs init output %q does not say it wrote %s", out, name)
		}
	}
	out, errOut, code = runCLI(t, "", "admin", "certs", "init", "--dir", dir, "--hosts", "127.0.0.1,dn2", "--json")
	if code != 0 {
		t.Fatalf("certs init again: exit %d, %q", code, errOut)
	}
	var got certsInitJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad JSON %q: %v", out, err)
	}
	kept := map[string]bool{}
	for _, f := range got.Files {
		kept[filepath.Base(f.Path)] = f.Kept
	}
	for name, want := range map[string]bool{"ca.crt": true, "ca.key": true, "127.0.0.1.crt": true, "dn2.crt": false, "dn2.key": false} {
		if k, ok := kept[name]; !ok || k != want {
			t.Errorf("%s: kept %v (listed %v), want %v", name, k, ok, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"admin", "certs", "init", "--hosts", "a"}, "--dir is required"},
		{[]string{"admin", "certs", "init", "--dir", dir}, "--hosts is required"},
		{[]string{"admin", "certs", "init", "--dir", dir, "--hosts", "a/b"}, "not a host name"},
	} {
		_, errOut, code := runCLI(t, "", tc.args...)
		if code == 0 {
			t.Errorf("cairn %s succeeded", strings.Join(tc.args, " "))
		}
		checkOneLine(t, tc.args, errOut, tc.want)
	}
}

func TestServerTLSFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runCLI(t, "", "admin", "certs", "init", "--dir", dir, "--hosts", "127.0.0.1,other"); code != 0 {
		t.Fatal(errOut)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	// The flags are keys of the config file too.
	cfgFile := filepath.Join(dir, "nn.yaml")
	os.WriteFile(cfgFile, []byte("tls-cert: "+p("127.0.0.1.crt")+"\ntls-ca: "+p("ca.crt")+"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"namenode", "--dir", t.TempDir(), "--tls-cert", p("127.0.0.1.crt"), "--tls-ca", p("ca.crt")}, "--tls-cert needs --tls-key"},
		{[]string{"datanode", "--dir", t.TempDir(), "--tls-key", p("127.0.0.1.key"), "--tls-ca", p("ca.crt")}, "--tls-key needs --tls-cert"},
		{[]string{"datanode", "--dir", t.TempDir(), "--tls-ca", p("ca.crt")}, "needs --tls-cert and --tls-key"},
		{[]string{"namenode", "--dir", t.TempDir(), "--tls-cert", p("127.0.0.1.crt"), "--tls-key", p("other.key"), "--tls-ca", p("ca.crt")}, "other.key: key does not go with certificate"},
		{[]string{"namenode", "--dir", t.TempDir(), "--tls-cert", p("127.0.0.1.crt"), "--tls-key", p("127.0.0.1.key"), "--tls-ca", p("missing.crt")}, "missing.crt: no such file"},
		{[]string{"fs", "ls", "/", "--tls-ca", p("127.0.0.1.crt")}, "is not a CA"},
		{[]string{"namenode", "--dir", t.TempDir(), "--config", cfgFile}, "--tls-cert needs --tls-key"},
		{[]string{"s3", "--access-key", "a", "--secret-key", "s", "--tls-cert", p("127.0.0.1.crt"), "--tls-key", p("127.0.0.1.key")}, "--tls-cert needs --tls-ca"},
	} {
		_, errOut, code := runCLI(t, "", tc.args...)
		if code == 0 {
			t.Errorf("cairn %s succeeded", strings.Join(tc.args, " "))
		}
		checkOneLine(t, tc.args, errOut, tc.want)
	}
}

// TestFSCommandsOverTLS: certificates from 'cairn admin certs init'
// secure a cluster, and 'cairn fs' reaches it with --tls-ca or
// CAIRN_TLS_CA, and fails in one line without.
func TestFSCommandsOverTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if _, errOut, code := runCLI(t, "", "admin", "certs", "init", "--dir", dir, "--hosts", "127.0.0.1"); code != 0 {
		t.Fatal(errOut)
	}
	lc, err := localcluster.New(localcluster.Config{
		Dir:               t.TempDir(),
		DataNodes:         3,
		BlockSize:         64 << 10,
		HeartbeatInterval: 100 * time.Millisecond,
		TLSDir:            dir,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	lc.Serve()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := lc.WaitLive(ctx, 3); err != nil {
		t.Fatal(err)
	}
	nn, ca := lc.NameNodeAddr(), filepath.Join(dir, "ca.crt")
	data := randomBytes(200<<10, 7)
	local := writeLocal(t, t.TempDir(), "f", data)

	if _, errOut, code := runWithEnv(t, nil, "fs", "put", "--namenode", nn, "--tls-ca", ca, local, "/f"); code != 0 {
		t.Fatalf("put with --tls-ca: exit %d, %q", code, errOut)
	}
	out, errOut, code := runWithEnv(t, map[string]string{"CAIRN_NAMENODE": nn, "CAIRN_TLS_CA": ca}, "fs", "cat", "/f")
	if code != 0 || out != string(data) {
		t.Fatalf("cat with CAIRN_TLS_CA: exit %d, %d bytes (want %d), %q", code, len(out), len(data), errOut)
	}
	args := []string{"fs", "ls", "--namenode", nn, "--dial-timeout", "2s", "/"}
	_, errOut, code = runWithEnv(t, nil, args...)
	if code == 0 {
		t.Fatal("ls without the CA succeeded against a TLS cluster")
	}
	checkOneLine(t, args, errOut, "a TLS cluster? give --tls-ca")

	other := filepath.Join(t.TempDir(), "other")
	if _, errOut, code := runCLI(t, "", "admin", "certs", "init", "--dir", other, "--hosts", "127.0.0.1"); code != 0 {
		t.Fatal(errOut)
	}
	args = []string{"fs", "ls", "--namenode", nn, "--dial-timeout", "2s", "--tls-ca", filepath.Join(other, "ca.crt"), "/"}
	_, errOut, code = runWithEnv(t, nil, args...)
	if code == 0 {
		t.Fatal("ls with another CA succeeded")
	}
	checkOneLine(t, args, errOut, "its certificate is not signed by the CA of --tls-ca")
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
}

// A secured NameNode without TLS would send tokens in plaintext: it is
// refused at once, in one line naming the flags it needs.
func TestSecurityNeedsTLS(t *testing.T) {
	_, stderr, code := runCLI(t, "", "namenode", "--dir", t.TempDir(), "--security", "--rpc-addr", "127.0.0.1:0", "--http-addr", "")
	if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--security needs --tls-cert") {
		t.Errorf("namenode --security without TLS: exit %d, stderr %q", code, stderr)
	}
}

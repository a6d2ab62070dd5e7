package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSClusterOfProcesses: certificates made by 'cairn admin certs
// init' secure a NameNode and three DataNodes run as processes; a file
// goes in and out with --tls-ca, a client without it is refused, and
// the NameNode's web address answers curl over HTTPS.
func TestTLSClusterOfProcesses(t *testing.T) {
	certDir, ca, tlsArgs := initCerts(t)
	// The harness's own commands (waiting for the DataNodes) reach the
	// cluster through the environment.
	t.Setenv("CAIRN_TLS_CA", ca)
	c := startCluster(t, clusterOptions{nnArgs: tlsArgs, dnArgs: tlsArgs})
	t.Setenv("CAIRN_TLS_CA", "")

	local, data := randomFile(t, t.TempDir(), 3<<20+4321, 1)
	c.must("fs", "put", "--tls-ca", ca, local, "/f")
	if got := c.must("fs", "cat", "--tls-ca", ca, "/f"); got != string(data) {
		t.Fatalf("cat over TLS: %d bytes differ from the %d put", len(got), len(data))
	}
	c.fails("unreachable", "fs", "ls", "--dial-timeout", "2s", "/")

	curl := exec.Command("curl", "--silent", "--show-error", "--fail", "--cacert", ca, "https://"+c.nnHTTP+"/healthz")
	var stderr bytes.Buffer
	curl.Stderr = &stderr
	body, err := curl.Output()
	if err != nil {
		t.Fatalf("curl --cacert https://%s/healthz: %v: %s", c.nnHTTP, err, stderr.String())
	}
	if strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("https /healthz = %q, want ok", body)
	}
	// Without the CA, curl does not trust the NameNode.
	if err := exec.Command("curl", "--silent", "--fail", "https://"+c.nnHTTP+"/healthz").Run(); err == nil {
		t.Error("curl without --cacert trusted the NameNode")
	}
	if _, err := os.Stat(filepath.Join(certDir, "127.0.0.1.key")); err != nil {
		t.Fatal(err)
	}
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestNameNodeWritesTheAuditLogItIsGiven(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.json")
	nn := startServer(t, "namenode", "--dir", filepath.Join(dir, "nn"), "--rpc-addr", "127.0.0.1:0", "--http-addr", "",
		"--audit-log", log, "--audit-log-format", "json", "--audit-log-max-size", "1MiB", "--audit-log-max-backups", "2")
	addr := nn.waitFor(t, nn.stderr, regexp.MustCompile(`msg=listening rpc=(\S+)`))[1]
	tc := &testCLI{t: t, nn: addr}
	tc.must("fs", "mkdir", "/audited")
	if code := nn.stop(t); code != 0 {
		t.Fatalf("namenode exited with %d after Ctrl-C", code)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Cmd, Src string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		found = found || e.Cmd == "mkdirs" && e.Src == "/audited"
	}
	if !found {
		t.Errorf("audit log has no mkdirs of /audited:\n%s", b)
	}
}

func TestNameNodeRefusesAnUnknownAuditLogFormat(t *testing.T) {
	tc := &testCLI{t: t}
	_, errOut, code := tc.cairn(nil, "namenode", "--dir", t.TempDir(), "--audit-log", filepath.Join(t.TempDir(), "a"), "--audit-log-format", "xml")
	if code != exitUsage || !strings.Contains(errOut, "--audit-log-format") {
		t.Errorf("namenode --audit-log-format xml: exit %d, stderr %q; want a usage error naming the flag", code, errOut)
	}
}

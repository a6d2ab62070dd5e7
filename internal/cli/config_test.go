package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runWithEnv runs the CLI with the given environment variables.
func runWithEnv(t *testing.T, environ map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{
		stdin:      strings.NewReader(""),
		stdout:     &out,
		stderr:     &errb,
		getenv:     func(k string) string { return environ[k] },
		isTerminal: func(io.Writer) bool { return false },
	}
	code = e.run(ctx, args)
	return out.String(), errb.String(), code
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrintConfigShowsFlagsOverEnvironmentOverFileOverDefaults(t *testing.T) {
	cfg := writeConfig(t, `
dir: /var/lib/cairn/nn
replication: 2
block-size: 64MiB
heartbeat-interval: 1s
stale_node_timeout: 45s
`)
	out, errOut, code := runWithEnv(t, map[string]string{
		"CAIRN_HEARTBEAT_INTERVAL": "250ms",
		"CAIRN_BLOCK_SIZE":         "8MiB",
	}, "namenode", "--config", cfg, "--print-config", "--block-size", "4MiB")
	if code != 0 {
		t.Fatalf("namenode --print-config: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"block-size: 4MiB\n",          // flag beats env and file
		"heartbeat-interval: 250ms\n", // env beats file
		"replication: 2\n",            // file beats default
		"stale-node-timeout: 45s\n",   // file, underscores accepted
		"dir: /var/lib/cairn/nn\n",    // file
		"dead-node-timeout: 10m30s\n", // default
		"log-format: text\n",          // default
		"rpc-addr: 127.0.0.1:8020\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "print-config") || strings.Contains(out, "config:") {
		t.Errorf("print-config shows its own flags:\n%s", out)
	}
	// What it prints is a config file giving the same configuration.
	again, errOut, code := runWithEnv(t, nil, "namenode", "--config", writeConfig(t, out), "--print-config")
	if code != 0 || again != out {
		t.Errorf("printed config read back: exit %d, stderr %q, output differs:\n%s\nwant:\n%s", code, errOut, again, out)
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	cfg := writeConfig(t, "dir: [/d1, /d2]\nnamenode: 10.1.2.3:8020\n")
	out, errOut, code := runWithEnv(t, map[string]string{"CAIRN_CONFIG": cfg}, "datanode", "--print-config")
	if code != 0 || !strings.Contains(out, "dir: /d1,/d2\n") || !strings.Contains(out, "namenode: 10.1.2.3:8020\n") {
		t.Errorf("datanode with CAIRN_CONFIG: exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	// CAIRN_NAMENODE, the fs and admin commands' default NameNode, is
	// the datanode's too.
	out, _, _ = runWithEnv(t, map[string]string{"CAIRN_NAMENODE": "10.9.9.9:8020"}, "datanode", "--print-config")
	if !strings.Contains(out, "namenode: 10.9.9.9:8020\n") {
		t.Errorf("datanode with CAIRN_NAMENODE: output:\n%s", out)
	}
}

func TestBadConfigurationIsAUsageErrorNamingTheKey(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		file    string
		want    string
	}{
		{"an unknown key", nil, "replication: 2\nreplicaton: 3\n", `unknown key "replicaton"`},
		{"a bad duration in the file", nil, "heartbeat-interval: often\n", `key "heartbeat-interval": invalid value "often"`},
		{"a bad size in the file", nil, "block-size: 12XB\n", `key "block-size"`},
		{"a bad environment value", map[string]string{"CAIRN_REPLICATION": "many"}, "", `CAIRN_REPLICATION: invalid value "many"`},
		{"a bad log format", map[string]string{"CAIRN_LOG_FORMAT": "xml"}, "", `CAIRN_LOG_FORMAT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"namenode", "--print-config"}
			if tt.file != "" {
				args = append(args, "--config", writeConfig(t, tt.file))
			}
			_, errOut, code := runWithEnv(t, tt.environ, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			checkOneLine(t, args, errOut, tt.want)
		})
	}
	_, errOut, code := runWithEnv(t, nil, "dev", "--config", "/nonexistent/cairn.yaml")
	if code != exitUsage || !strings.Contains(errOut, "/nonexistent/cairn.yaml") {
		t.Errorf("missing config file: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runWithEnv(t, nil, "namenode", "--log-format", "xml", "--print-config")
	if code != exitUsage || !strings.Contains(errOut, "log format") {
		t.Errorf("--log-format xml: exit %d, stderr %q", code, errOut)
	}
}

func TestJSONLogsNameTheNode(t *testing.T) {
	dir := t.TempDir()
	nn := startServer(t, "namenode", "--dir", filepath.Join(dir, "nn"), "--rpc-addr", "127.0.0.1:0",
		"--http-addr", "", "--log-format", "json")
	addr := nn.waitFor(t, nn.stderr, regexp.MustCompile(`"msg":"listening","rpc":"([^"]+)"`))[1]
	if code := nn.stop(t); code != 0 {
		t.Fatalf("namenode exited with %d", code)
	}
	lines := strings.Split(strings.TrimSpace(nn.stderr.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("only %d log lines:\n%s", len(lines), nn.stderr.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["namenode"] != addr {
			t.Errorf("log line does not name the node: %q", line)
		}
		if rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("log line lacks time, level or msg: %q", line)
		}
	}
}

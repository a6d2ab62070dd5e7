package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine writing and
// the test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a long-running command (namenode, datanode, dev) run
// in-process.
type server struct {
	cancel context.CancelFunc
	done   chan int
	stdout *syncBuffer
	stderr *syncBuffer
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	e := &env{
		stdin:      strings.NewReader(""),
		stdout:     s.stdout,
		stderr:     s.stderr,
		getenv:     func(string) string { return "" },
		isTerminal: func(io.Writer) bool { return false },
	}
	go func() { s.done <- e.run(ctx, args) }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("cairn %s stderr:\n%s", strings.Join(args, " "), s.stderr.String())
		}
	})
	return s
}

// stop interrupts the server, as Ctrl-C would, and returns its exit
// code.
func (s *server) stop(t *testing.T) int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for a later stop
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30s of its context ending")
		return -1
	}
}

// waitFor polls the server's output for re, failing if it exits first.
func (s *server) waitFor(t *testing.T, out *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("server exited with %d before printing %v; stderr:\n%s", code, re, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("server did not print %v within 30s; stdout:\n%s\nstderr:\n%s", re, s.stdout.String(), s.stderr.String())
	return nil
}

func TestDevClusterServesAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	dev := startServer(t, "dev", "--dir", dir, "--datanodes", "2", "--rpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--datanode-port", "0", "--heartbeat-interval", "100ms", "--s3-addr", "127.0.0.1:0")
	m := dev.waitFor(t, dev.stdout, regexp.MustCompile(`namenode\s+rpc\s+(\S+)`))
	dev.waitFor(t, dev.stdout, regexp.MustCompile(`Ctrl-C`))
	tc := &testCLI{t: t, nn: m[1]}
	if !strings.Contains(dev.stdout.String(), "CAIRN_NAMENODE="+m[1]) {
		t.Errorf("dev banner does not say how to reach %s:\n%s", m[1], dev.stdout.String())
	}
	awsLine := regexp.MustCompile(`(?m)^  s3 +http 127\.0\.0\.1:(\d+) +buckets in /s3, keys in \S+s3-credentials\n(?s:.*)` +
		`^S3 with the aws command line:  AWS_ACCESS_KEY_ID=CAIRNDEV[A-Z0-9]{12} AWS_SECRET_ACCESS_KEY=\S{40} AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url http://127\.0\.0\.1:(\d+) s3 ls$`)
	if m := awsLine.FindStringSubmatch(dev.stdout.String()); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("dev banner does not show the S3 gateway and a line for aws:\n%s", dev.stdout.String())
	}
	var r reportJSON
	tc.mustJSON(&r, "admin", "report", "--json")
	if r.LiveDatanodes != 2 {
		t.Errorf("dev cluster has %d live datanodes, want 2", r.LiveDatanodes)
	}
	// Two DataNodes: the default replication is 2, not 3.
	tc.must("fs", "put", "-", "/hello")
	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/hello")
	if st.Replication != 2 {
		t.Errorf("a file in a 2-node dev cluster has replication %d, want 2", st.Replication)
	}
	if code := dev.stop(t); code != 0 {
		t.Fatalf("dev exited with %d after Ctrl-C; stderr:\n%s", code, dev.stderr.String())
	}
	for _, sub := range []string{"namenode", "datanode-0", "datanode-1"} {
		if matches, _ := filepath.Glob(filepath.Join(dir, sub, "*")); len(matches) == 0 {
			t.Errorf("dev left nothing in %s", sub)
		}
	}

	// A restart on the same --dir is not tested in-process: the
	// NameNode's Raft log (raft-wal) keeps its metadata file locked
	// after Close, so only a new process can open it again.
}

// TestDevGroupServesAndStopsCleanly: 'cairn dev --namenodes 3' runs a
// group of three NameNodes that elect a leader, prints every member's
// addresses and the comma-separated list to use, and every member
// learns the DataNodes.
func TestDevGroupServesAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	dev := startServer(t, "dev", "--dir", dir, "--namenodes", "3", "--datanodes", "2", "--rpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--datanode-port", "0", "--heartbeat-interval", "100ms", "--s3-addr", "")
	list := dev.waitFor(t, dev.stdout, regexp.MustCompile(`CAIRN_NAMENODE=(\S+);`))[1]
	dev.waitFor(t, dev.stdout, regexp.MustCompile(`Ctrl-C`))
	banner := dev.stdout.String()
	addrs := strings.Split(list, ",")
	if strings.Contains(banner, "s3") {
		t.Errorf("dev --s3-addr \"\" mentions S3:\n%s", banner)
	}
	if len(addrs) != 3 {
		t.Fatalf("dev --namenodes 3 says CAIRN_NAMENODE=%s, want three addresses:\n%s", list, banner)
	}
	for i, a := range addrs {
		row := regexp.MustCompile(fmt.Sprintf(`namenode-%d\s+rpc\s+%s\s+web http://\S+`, i, regexp.QuoteMeta(a)))
		if !row.MatchString(banner) {
			t.Errorf("dev banner has no row for namenode-%d at %s with a web address:\n%s", i, a, banner)
		}
	}
	if n := strings.Count(banner, "(leader)"); n != 1 {
		t.Errorf("dev banner marks %d leaders, want 1:\n%s", n, banner)
	}

	// Every member answers a report from its own registry.
	for _, a := range addrs {
		tc := &testCLI{t: t, nn: a}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, _, code := tc.cairn(nil, "admin", "report", "--json")
			var r reportJSON
			if code == 0 && json.Unmarshal([]byte(out), &r) == nil && r.LiveDatanodes == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %s does not know the 2 datanodes within 30s; report: %s", a, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The leader takes a file (whichever member leads by then: until
	// the client follows the leader itself, the others refuse).
	var leader *testCLI
	deadline := time.Now().Add(30 * time.Second)
	for leader == nil {
		for _, a := range addrs {
			tc := &testCLI{t: t, nn: a}
			if _, _, code := tc.cairn(nil, "fs", "put", "-", "/hello"); code == 0 {
				leader = tc
				break
			}
		}
		if leader == nil && time.Now().After(deadline) {
			t.Fatal("no member of the dev group took a file within 30s")
		}
	}
	var st statJSON
	leader.mustJSON(&st, "fs", "stat", "--json", "/hello")
	if st.Replication != 2 {
		t.Errorf("a file in a 2-node dev group has replication %d, want 2", st.Replication)
	}

	if code := dev.stop(t); code != 0 {
		t.Fatalf("dev exited with %d after Ctrl-C; stderr:\n%s", code, dev.stderr.String())
	}
	for _, sub := range []string{"namenode-0", "namenode-1", "namenode-2", "datanode-0", "datanode-1"} {
		if matches, _ := filepath.Glob(filepath.Join(dir, sub, "*")); len(matches) == 0 {
			t.Errorf("dev left nothing in %s", sub)
		}
	}
}

func TestNameNodeAndDataNodeCommands(t *testing.T) {
	dir := t.TempDir()
	listening := regexp.MustCompile(`msg=listening rpc=(\S+)`)
	nn := startServer(t, "namenode", "--dir", filepath.Join(dir, "nn"), "--rpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--heartbeat-interval", "100ms", "--replication", "1", "--block-size", "1MiB")
	nnAddr := nn.waitFor(t, nn.stderr, listening)[1]
	dn := startServer(t, "datanode", "--dir", filepath.Join(dir, "dn-a")+","+filepath.Join(dir, "dn-b"),
		"--namenode", nnAddr, "--addr", "127.0.0.1:0", "--http-addr", "", "--heartbeat-interval", "100ms")

	tc := &testCLI{t: t, nn: nnAddr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, code := tc.cairn(nil, "admin", "report", "--json")
		var r reportJSON
		if code == 0 && json.Unmarshal([]byte(out), &r) == nil && r.LiveDatanodes == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the datanode did not register within 30s; report: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tc.must("fs", "put", "-", "/f")
	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/f")
	if st.Replication != 1 || st.BlockSize != 1<<20 {
		t.Errorf("stat = %+v, want the --replication 1 and --block-size 1MiB of the namenode", st)
	}
	if code := dn.stop(t); code != 0 {
		t.Errorf("datanode exited with %d after Ctrl-C", code)
	}
	if code := nn.stop(t); code != 0 {
		t.Errorf("namenode exited with %d after Ctrl-C", code)
	}

	// The DataNode, formatted for the first cluster, is refused by a
	// NameNode of another cluster, and says so in one line.
	other := startServer(t, "namenode", "--dir", filepath.Join(dir, "other"), "--rpc-addr", "127.0.0.1:0", "--http-addr", "")
	otherAddr := other.waitFor(t, other.stderr, listening)[1]
	args := []string{"datanode", "--dir", filepath.Join(dir, "dn-a") + "," + filepath.Join(dir, "dn-b"),
		"--namenode", otherAddr, "--addr", "127.0.0.1:0", "--http-addr", "", "--heartbeat-interval", "100ms", "--log-level", "error"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb,
		getenv: func(string) string { return "" }, isTerminal: func(io.Writer) bool { return false }}
	if code := e.run(ctx, args); code != exitFailure {
		t.Fatalf("datanode of another cluster: exit %d, want %d; stderr %q", code, exitFailure, errb.String())
	}
	// The error level of the datanode's own log may come first; the
	// last line is ours.
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "cairn: datanode ") || !strings.Contains(last, "cluster") {
		t.Errorf("datanode of another cluster: last stderr line %q, want a one-line cluster mismatch", last)
	}
}

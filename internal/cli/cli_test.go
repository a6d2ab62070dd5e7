package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// runCLI runs the command in-process with captured output.
func runCLI(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{
		stdin:      strings.NewReader(stdin),
		stdout:     &out,
		stderr:     &errb,
		getenv:     func(string) string { return "" },
		isTerminal: func(io.Writer) bool { return false },
	}
	code = e.run(ctx, args)
	return out.String(), errb.String(), code
}

// checkOneLine checks that stderr is exactly one line starting with
// "cairn: " and containing want.
func checkOneLine(t testing.TB, args []string, stderr, want string) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	if line == "" || strings.Contains(line, "\n") || !strings.HasPrefix(line, "cairn: ") || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("cairn %s: stderr is not one line starting with \"cairn: \": %q", strings.Join(args, " "), stderr)
	}
	if !strings.Contains(line, want) {
		t.Errorf("cairn %s: stderr %q does not contain %q", strings.Join(args, " "), line, want)
	}
}

func TestStripOpPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"open /a: namenode.GetBlockLocations /a: file does not exist", "file does not exist"},
		{"create /d/.f._COPYING_.1a2b3c4d: replication 5 exceeds the 3 datanodes registered", "replication 5 exceeds the 3 datanodes registered"},
		{`stat /dir/: invalid path "/dir/": empty name`, `invalid path "/dir/": empty name`},
		{"read /f: blk_1073741825: all 3 replicas failed", "blk_1073741825: all 3 replicas failed"},
		{"block blk_1: checksum error", "block blk_1: checksum error"},
		{"rpc error: code = Unavailable desc = x", "rpc error: code = Unavailable desc = x"},
		{"file does not exist", "file does not exist"},
		{"rename /a: /a: ", "/a: "},
		{"rename /a: ", "rename /a: "},
		{"", ""},
	}
	for _, tt := range tests {
		if got := stripOpPath(tt.in); got != tt.want {
			t.Errorf("stripOpPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFailKeepsKindAndReplacesOpAndPath(t *testing.T) {
	inner := &cairn.Error{Op: "create", Path: "/d/.f._COPYING_.00", Kind: cairn.Exist,
		Err: errors.New("namenode.Create /d/.f._COPYING_.00: file already exists")}
	err := fail("put", "/d/f", inner)
	if got, want := err.Error(), "put /d/f: file already exists"; got != want {
		t.Errorf("fail(...).Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("fail(...) lost the kind: errors.Is(%v, fs.ErrExist) = false", err)
	}
	if got := fail("put", "/x", nil); got != nil {
		t.Errorf("fail(nil) = %v, want nil", got)
	}
	// Local errors keep only their cause: the path is already in front.
	_, statErr := os.Stat("/no/such/file/here")
	if got, want := fail("put", "/no/such/file/here", statErr).Error(), "put /no/such/file/here: no such file or directory"; got != want {
		t.Errorf("fail(os.Stat error) = %q, want %q", got, want)
	}
	if got := reason(fmt.Errorf("copy: %w", context.Canceled)); got != "interrupted" {
		t.Errorf("reason(canceled) = %q, want interrupted", got)
	}
}

func TestErrorLineIsOneLine(t *testing.T) {
	err := errors.New("first\nsecond\r\n third")
	if got, want := errorLine(err), "cairn: first second third"; got != want {
		t.Errorf("errorLine(%q) = %q, want %q", err, got, want)
	}
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, "unknown command"},
		{[]string{"fs", "bogus"}, "unknown command"},
		{[]string{"fs", "put", "only-one"}, "LOCAL... DEST"},
		{[]string{"fs", "put", "--block-size", "12XB", "a", "/b"}, "block-size"},
		{[]string{"fs", "put", "--replication", "three", "a", "/b"}, "replication"},
		{[]string{"fs", "ls", "--no-such-flag"}, "no-such-flag"},
		{[]string{"fs", "setrep", "x", "/a"}, "invalid replication"},
		{[]string{"fs", "chmod", "rwx", "/a"}, "invalid mode"},
		{[]string{"fs", "chown", ":", "/a"}, "invalid owner"},
		{[]string{"fs", "stat", "/a", "/b"}, "one PATH"},
		{[]string{"fs", "concat", "/a"}, "TARGET SRC..."},
		{[]string{"admin", "safemode", "sideways"}, "unknown action"},
		{[]string{"admin", "fsck", "/a", "/b"}, "at most one PATH"},
		{[]string{"namenode"}, "--dir is required"},
		{[]string{"namenode", "--dir", "x", "--log-level", "loud"}, "log level"},
		{[]string{"datanode", "--dir", " , "}, "--dir is required"},
		{[]string{"datanode", "--dir", "x", "--small-block-size", "1GiB"}, "--small-block-size must be at most 64MiB"},
		{[]string{"datanode", "--dir", "x", "--small-block-size", "-1"}, "invalid size"},
		{[]string{"dev", "--datanodes", "0"}, "--datanodes"},
		{[]string{"dev", "--namenodes", "0"}, "--namenodes"},
		{[]string{"dev", "--namenodes", "10"}, "--namenodes"},
		{[]string{"dev", "--namenodes", "3", "--rpc-addr", "127.0.0.1:65534"}, "no room for 3 NameNodes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", tt.args...)
			if code != exitUsage {
				t.Errorf("cairn %s: exit %d, want %d (stdout %q)", strings.Join(tt.args, " "), code, exitUsage, stdout)
			}
			checkOneLine(t, tt.args, stderr, tt.want)
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{}, {"--help"}, {"fs"}, {"fs", "ls", "--help"}, {"admin", "--help"}} {
		stdout, stderr, code := runCLI(t, "", args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage:") {
			t.Errorf("cairn %s: exit %d, stderr %q, stdout %q; want usage on stdout", strings.Join(args, " "), code, stderr, stdout)
		}
	}
	stdout, _, code := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "cairn version ") {
		t.Errorf("cairn version = %q, exit %d", stdout, code)
	}
}

func TestInvalidPathsFailBeforeDialing(t *testing.T) {
	// Port 1 is never served: if a command dialed, it would say so
	// instead of "invalid path".
	bad := []string{"rel/path", "/a/../b", "//x", "/" + strings.Repeat("n", 256), "/dir/"}
	local := t.TempDir() + "/f"
	if err := os.WriteFile(local, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range bad {
		for _, args := range [][]string{
			{"fs", "--namenode", "127.0.0.1:1", "mkdir", p},
			{"fs", "--namenode", "127.0.0.1:1", "put", local, p},
			{"fs", "--namenode", "127.0.0.1:1", "ls", p},
			{"fs", "--namenode", "127.0.0.1:1", "stat", p},
			{"fs", "--namenode", "127.0.0.1:1", "get", p, local + ".out"},
		} {
			_, stderr, code := runCLI(t, "", args...)
			if code != exitFailure {
				t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
			}
			checkOneLine(t, args, stderr, "invalid path")
		}
	}
}

func TestUnreachableNameNode(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, args := range [][]string{
		{"fs", "--namenode", addr, "--dial-timeout", "500ms", "ls", "/"},
		{"admin", "--namenode", addr, "--dial-timeout", "500ms", "report"},
	} {
		_, stderr, code := runCLI(t, "", args...)
		if code != exitFailure {
			t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
		}
		checkOneLine(t, args, stderr, "namenode "+addr+" unreachable")
	}
	_, stderr, _ := runCLI(t, "", "fs", "--namenode", addr, "--dial-timeout", "500ms", "ls", "/")
	if want := "cairn: ls /: namenode " + addr + " unreachable: connection refused"; !strings.HasPrefix(stderr, want) {
		t.Errorf("ls / against a closed port: stderr %q, want prefix %q", stderr, want)
	}
}

// TestNameNodeList: --namenode and CAIRN_NAMENODE take the addresses
// of a NameNode group separated by commas: a dead member is skipped, an
// unreachable group is named whole, an empty entry is refused.
func TestNameNodeList(t *testing.T) {
	var dead []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, l.Addr().String())
		l.Close()
	}
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	tc.nn = dead[0] + ", " + tc.c.NameNodeAddr()
	tc.must("fs", "mkdir", "/group")
	tc.must("fs", "--namenode", dead[1]+","+tc.c.NameNodeAddr(), "ls", "/")

	list := dead[0] + "," + dead[1]
	args := []string{"fs", "--namenode", list, "--dial-timeout", "500ms", "ls", "/"}
	_, stderr, code := runCLI(t, "", args...)
	if code != exitFailure {
		t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
	}
	checkOneLine(t, args, stderr, "namenode "+list+" unreachable: connection refused")

	args = []string{"fs", "--namenode", dead[0] + ",," + dead[1], "ls", "/"}
	_, stderr, _ = runCLI(t, "", args...)
	checkOneLine(t, args, stderr, "empty entry")
}

func TestNameNodeAddressFromEnvironment(t *testing.T) {
	r := &remote{e: &env{getenv: func(k string) string {
		if k == "CAIRN_NAMENODE" {
			return " 10.0.0.1:8020 "
		}
		return ""
	}}}
	if got := r.addr(); got != "10.0.0.1:8020" {
		t.Errorf("addr() with CAIRN_NAMENODE = %q, want 10.0.0.1:8020", got)
	}
	r.namenode = "h:1"
	if got := r.addr(); got != "h:1" {
		t.Errorf("addr() with --namenode = %q, want h:1", got)
	}
	r = &remote{e: &env{getenv: func(string) string { return "" }}}
	if got := r.addr(); got != defaultNameNode {
		t.Errorf("addr() by default = %q, want %s", got, defaultNameNode)
	}
}

func TestPortInUseIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	args := []string{"namenode", "--dir", t.TempDir(), "--rpc-addr", l.Addr().String(), "--http-addr", ""}
	_, stderr, code := runCLI(t, "", args...)
	if code != exitFailure {
		t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
	}
	checkOneLine(t, args, stderr, "address already in use")
}

// panicWriter panics on every write.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom\ngoroutine 1 [running]") }

func TestPanicIsOneLine(t *testing.T) {
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: panicWriter{}, stderr: &errb,
		getenv: func(string) string { return "" }, isTerminal: func(io.Writer) bool { return false }}
	code := e.run(context.Background(), []string{"version"})
	if code != exitFailure {
		t.Errorf("exit %d after a panic, want %d", code, exitFailure)
	}
	checkOneLine(t, []string{"version"}, errb.String(), "internal error: boom")
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

// testCLI runs commands in-process against a test cluster.
type testCLI struct {
	t  testing.TB
	c  *testcluster.Cluster
	nn string
	// env is the environment beside CAIRN_NAMENODE.
	env map[string]string
}

func startCLI(t *testing.T, opts testcluster.Options) *testCLI {
	t.Helper()
	c := testcluster.Start(t, opts)
	return &testCLI{t: t, c: c, nn: c.NameNodeAddr()}
}

// run runs a command with CAIRN_NAMENODE pointing at the cluster.
func (tc *testCLI) run(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	tc.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	e := &env{
		stdin:  stdin,
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string {
			if k == "CAIRN_NAMENODE" {
				return tc.nn
			}
			return tc.env[k]
		},
		isTerminal: func(io.Writer) bool { return false },
	}
	code = e.run(ctx, args)
	return out.String(), errb.String(), code
}

func (tc *testCLI) cairn(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return tc.run(ctx, stdin, args...)
}

// must runs a command that must succeed and returns its stdout.
func (tc *testCLI) must(args ...string) string {
	tc.t.Helper()
	out, errOut, code := tc.cairn(nil, args...)
	if code != 0 || errOut != "" {
		tc.t.Fatalf("cairn %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs a command that must fail with one line containing want,
// and returns that line.
func (tc *testCLI) fails(want string, args ...string) string {
	tc.t.Helper()
	out, errOut, code := tc.cairn(nil, args...)
	if code == 0 {
		tc.t.Fatalf("cairn %s: succeeded (stdout %q), want a failure with %q", strings.Join(args, " "), out, want)
	}
	checkOneLine(tc.t, args, errOut, want)
	return strings.TrimSuffix(errOut, "\n")
}

func (tc *testCLI) mustJSON(v any, args ...string) {
	tc.t.Helper()
	out := tc.must(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		tc.t.Fatalf("cairn %s: bad JSON %q: %v", strings.Join(args, " "), out, err)
	}
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func writeLocal(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPutGetMultiBlockRoundTrip(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	data := randomBytes(3<<20+12345, 1)
	local := writeLocal(t, tmp, "big", data)

	tc.must("fs", "mkdir", "-p", "/data")
	tc.must("fs", "put", "--block-size", "1MiB", "--replication", "3", local, "/data/big")

	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/data/big")
	if st.Path != "/data/big" || st.Type != "file" || st.Size != int64(len(data)) || st.Replication != 3 || st.BlockSize != 1<<20 {
		t.Errorf("stat = %+v, want file of %d bytes, replication 3, block size 1MiB", st, len(data))
	}
	if st.Blocks == nil || len(*st.Blocks) != 4 {
		t.Fatalf("stat shows %v blocks, want 4", st.Blocks)
	}
	var addrs []string
	for i := 0; i < tc.c.NumDataNodes(); i++ {
		addrs = append(addrs, tc.c.DataNodeAddr(i))
	}
	var total int64
	for i, b := range *st.Blocks {
		total += b.Size
		if len(b.Locations) != 3 {
			t.Errorf("block %d has locations %v, want 3", i, b.Locations)
		}
		for _, l := range b.Locations {
			if !slices.Contains(addrs, l) {
				t.Errorf("block %d location %q is not a DataNode address %v", i, l, addrs)
			}
		}
	}
	if total != int64(len(data)) {
		t.Errorf("blocks add up to %d bytes, want %d", total, len(data))
	}

	got := filepath.Join(tmp, "got")
	tc.must("fs", "get", "/data/big", got)
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("get returned %d bytes (%v) that differ from the %d put", len(b), err, len(data))
	}
	// get into an existing directory uses the source's name.
	dir := filepath.Join(tmp, "into")
	os.Mkdir(dir, 0o755)
	tc.must("fs", "get", "/data/big", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "big")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("get into a directory: %d bytes, %v", len(b), err)
	}
	if out := tc.must("fs", "cat", "/data/big"); out != string(data) {
		t.Fatalf("cat returned %d bytes that differ from the %d put", len(out), len(data))
	}
	if out := tc.must("fs", "get", "/data/big", "-"); out != string(data) {
		t.Fatalf("get - returned %d bytes that differ", len(out))
	}
	// No temporary file is left on either side.
	if out := tc.must("fs", "ls", "/data"); strings.Contains(out, "COPYING") {
		t.Errorf("ls /data shows a temporary: %q", out)
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("get left %s behind", e.Name())
		}
	}

	// Standard input, of unknown length.
	stdin := randomBytes(1<<20+3, 2)
	if _, errOut, code := tc.cairn(bytes.NewReader(stdin), "fs", "put", "-", "/data/stdin"); code != 0 {
		t.Fatalf("put - failed: %s", errOut)
	}
	if out := tc.must("fs", "cat", "/data/stdin"); out != string(stdin) {
		t.Errorf("cat /data/stdin returned %d bytes that differ from the %d put", len(out), len(stdin))
	}
	// Several sources into a directory, and cat of several files.
	a := writeLocal(t, tmp, "a", []byte("aaa"))
	b := writeLocal(t, tmp, "b", []byte("bb"))
	tc.must("fs", "put", a, b, "/data")
	if out := tc.must("fs", "cat", "/data/a", "/data/b"); out != "aaabb" {
		t.Errorf("cat /data/a /data/b = %q, want aaabb", out)
	}
	tc.fails("not a directory", "fs", "put", a, b, "/data/a")
	tc.fails("is a directory", "fs", "put", "-", "/data")

	var f fsckJSON
	tc.mustJSON(&f, "admin", "fsck", "/", "--json")
	if f.Status != "HEALTHY" || f.Files != 4 || f.Blocks != 4+2+1+1 || f.MissingBlocks != 0 || f.CorruptBlocks != 0 {
		t.Errorf("fsck = %+v, want HEALTHY with 4 files and 8 blocks", f)
	}
}

func TestPutRefusesOverwriteWithoutForce(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	first := writeLocal(t, tmp, "first", randomBytes(5000, 3))
	second := writeLocal(t, tmp, "second", []byte("second version"))
	tc.must("fs", "mkdir", "/d")
	tc.must("fs", "put", first, "/d/f")

	line := tc.fails("file already exists", "fs", "put", second, "/d/f")
	if line != "cairn: put /d/f: file already exists" {
		t.Errorf("put onto an existing file: stderr %q, want %q", line, "cairn: put /d/f: file already exists")
	}
	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Size != 5000 {
		t.Errorf("refused put changed /d/f: size %d, want 5000", st.Size)
	}
	// Into a directory, the target is the file inside it.
	tc.must("fs", "put", second, "/d")
	tc.fails("file already exists", "fs", "put", second, "/d")
	tc.must("fs", "put", "-f", second, "/d/f")
	if got := tc.must("fs", "cat", "/d/f"); got != "second version" {
		t.Errorf("after put -f, cat /d/f = %q", got)
	}
	if out := tc.must("fs", "ls", "/d"); out != "/d/f\n/d/second\n" {
		t.Errorf("ls /d = %q, want /d/f and /d/second only", out)
	}
}

func TestPutDirect(t *testing.T) {
	// put -d writes under the target's own name; onto an existing file
	// it fails without -f and leaves the file as it was.
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	data := randomBytes(3<<20+7, 4)
	big := writeLocal(t, tmp, "big", data)
	small := writeLocal(t, tmp, "small", []byte("small"))
	tc.must("fs", "mkdir", "/d")
	tc.must("fs", "put", "-d", "--block-size", "1MiB", big, "/d/f")
	if got := tc.must("fs", "cat", "/d/f"); got != string(data) {
		t.Fatalf("cat after put -d: %d bytes, want %d", len(got), len(data))
	}
	tc.fails("file already exists", "fs", "put", "-d", small, "/d/f")
	if got := tc.must("fs", "cat", "/d/f"); got != string(data) {
		t.Fatalf("a refused put -d changed /d/f: %d bytes, want %d", len(got), len(data))
	}
	tc.must("fs", "put", "-d", "-f", small, "/d/f")
	if got := tc.must("fs", "cat", "/d/f"); got != "small" {
		t.Errorf("after put -d -f, cat /d/f = %q", got)
	}
	if out := tc.must("fs", "ls", "/d"); out != "/d/f\n" {
		t.Errorf("ls /d = %q, want /d/f only", out)
	}
}

func TestPutFailuresLeaveNothing(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	local := writeLocal(t, tmp, "f", []byte("data"))
	tc.must("fs", "mkdir", "/dir")

	tc.fails("no such file or directory", "fs", "put", filepath.Join(tmp, "missing"), "/m")
	tc.fails("is a directory (use -r", "fs", "put", tmp, "/m")
	tc.fails("replication", "fs", "put", "--replication", "0", local, "/r0")
	line := tc.fails("replication", "fs", "put", "--replication", "5", local, "/r5")
	if !strings.Contains(line, "5") || !strings.Contains(line, "3") {
		t.Errorf("replication 5 error %q does not name both 5 and 3", line)
	}
	tc.fails("does not exist", "fs", "put", local, "/no/such/dir/f")
	for _, p := range []string{"rel/path", "/a/../b", "//x", "/dir/"} {
		tc.fails("invalid path", "fs", "put", local, p)
		tc.fails("invalid path", "fs", "mkdir", p)
	}
	if out := tc.must("fs", "ls", "/"); out != "/dir\n" {
		t.Errorf("ls / after failed puts = %q, want only /dir", out)
	}
}

// hookReader serves data and calls fn once it has served after bytes:
// something happening in the middle of a put (Ctrl-C, a change of the
// namespace, a failure).
type hookReader struct {
	r     io.Reader
	n     int
	after int
	fn    func()
	once  sync.Once
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += n
	if h.n >= h.after {
		h.once.Do(h.fn)
	}
	return n, err
}

func TestInterruptedPutRemovesItsTemporary(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tc.must("fs", "mkdir", "/d")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &hookReader{r: bytes.NewReader(randomBytes(4<<20, 4)), after: 1 << 20, fn: cancel}
	_, errOut, code := tc.run(ctx, in, "fs", "put", "-", "/d/f")
	if code == 0 {
		t.Fatal("interrupted put succeeded")
	}
	checkOneLine(t, []string{"fs", "put", "-", "/d/f"}, errOut, "put /d/f: interrupted")
	if out := tc.must("fs", "ls", "/d"); out != "" {
		t.Errorf("ls /d after an interrupted put = %q, want nothing", out)
	}
}

func TestNamespaceCommands(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	data := randomBytes(2<<20+17, 5)
	local := writeLocal(t, tmp, "f", data)

	tc.must("fs", "mkdir", "-p", "/a/b/c")
	tc.must("fs", "mkdir", "-p", "/a/b/c") // -p accepts an existing directory
	tc.fails("exists", "fs", "mkdir", "/a")
	tc.fails("does not exist", "fs", "mkdir", "/x/y")
	tc.must("fs", "put", local, "/a/b/f")
	tc.must("fs", "touch", "/a/empty")

	if out := tc.must("fs", "ls", "/a"); out != "/a/b\n/a/empty\n" {
		t.Errorf("ls /a = %q", out)
	}
	if out := tc.must("fs", "ls"); out != "/a\n" {
		t.Errorf("ls = %q, want /a", out)
	}
	if out := tc.must("fs", "ls", "-R", "/"); out != "/a\n/a/b\n/a/b/c\n/a/b/f\n/a/empty\n" {
		t.Errorf("ls -R / = %q", out)
	}
	if out := tc.must("fs", "ls", "/a/b/f"); out != "/a/b/f\n" {
		t.Errorf("ls of a file = %q", out)
	}
	long := tc.must("fs", "ls", "-l", "-h", "/a/b")
	lines := strings.Split(strings.TrimSuffix(long, "\n"), "\n")
	if len(lines) != 3 || lines[0] != "Found 2 items" {
		t.Fatalf("ls -l -h /a/b = %q, want a header and 2 lines", long)
	}
	if f := strings.Fields(lines[1]); len(f) != 8 || f[0] != "drwxr-xr-x" || f[1] != "-" || f[7] != "/a/b/c" {
		t.Errorf("ls -l line of a directory = %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) != 8 || f[0] != "-rw-r--r--" || f[1] != "3" || f[4] != "2M" || f[7] != "/a/b/f" {
		t.Errorf("ls -l -h line of a file = %q", lines[2])
	}
	if out := tc.must("fs", "ls", "-l", "/a/b/f"); !strings.Contains(out, fmt.Sprint(len(data))) {
		t.Errorf("ls -l of a file = %q, want its size %d", out, len(data))
	}

	// mv into a directory, rename, refusals.
	tc.must("fs", "mkdir", "/d")
	tc.must("fs", "mv", "/a/b/f", "/d")
	tc.fails("does not exist", "fs", "stat", "/a/b/f")
	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Size != int64(len(data)) {
		t.Errorf("after mv, /d/f has size %d", st.Size)
	}
	tc.must("fs", "mv", "/a", "/z")
	tc.must("fs", "stat", "/z/b/c")
	tc.fails("", "fs", "mv", "/z", "/z/b/c")
	tc.must("fs", "touch", "/d/g")
	tc.fails("exists", "fs", "mv", "/d/g", "/d/f")
	tc.must("fs", "touch", "/d/h")
	tc.must("fs", "mv", "/d/g", "/d/h", "/z")
	if out := tc.must("fs", "ls", "/z"); out != "/z/b\n/z/empty\n/z/g\n/z/h\n" {
		t.Errorf("ls /z after mv of two files = %q", out)
	}
	tc.fails("not a directory", "fs", "mv", "/z/g", "/z/h", "/d/f")

	// chmod, chown, setrep, stat.
	tc.must("fs", "chmod", "600", "/d/f")
	tc.must("fs", "chown", "alice:staff", "/d/f")
	tc.must("fs", "chown", ":wheel", "/d")
	if out := tc.must("fs", "setrep", "-w", "2", "/d/f"); !strings.Contains(out, "Replication 2 set: /d/f") || !strings.Contains(out, "done") {
		t.Errorf("setrep -w 2 = %q", out)
	}
	tc.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Owner != "alice" || st.Group != "staff" || st.Replication != 2 || st.Mode != "0600" {
		t.Errorf("stat after chmod/chown/setrep = %+v", st)
	}
	var dir statJSON
	tc.mustJSON(&dir, "fs", "stat", "--json", "/d")
	if dir.Type != "directory" || dir.Group != "wheel" || dir.Blocks != nil {
		t.Errorf("stat /d = %+v, want a directory of group wheel without blocks", dir)
	}
	if out := tc.must("fs", "stat", "/d/f"); !strings.Contains(out, "Replication: 2") || !strings.Contains(out, "blk_") {
		t.Errorf("stat text = %q", out)
	}
	tc.must("fs", "chmod", "-R", "700", "/z")
	tc.mustJSON(&st, "fs", "stat", "--json", "/z/b/c")
	if st.Mode != "0700" {
		t.Errorf("chmod -R left /z/b/c at %s", st.Mode)
	}

	// du.
	if out := tc.must("fs", "du", "-s", "/d"); !strings.HasPrefix(out, fmt.Sprint(len(data))) || !strings.Contains(out, fmt.Sprint(2*len(data))) {
		t.Errorf("du -s /d = %q, want %d and %d", out, len(data), 2*len(data))
	}
	if out := tc.must("fs", "du", "/d"); !strings.Contains(out, "/d/f") {
		t.Errorf("du /d = %q, want a line for /d/f", out)
	}
	if out := tc.must("fs", "du", "-s", "-h", "/d"); !strings.HasPrefix(out, "2M") {
		t.Errorf("du -s -h /d = %q", out)
	}

	// tail.
	if out := tc.must("fs", "tail", "/d/f"); out != string(data[len(data)-1024:]) {
		t.Errorf("tail /d/f returned %d bytes, not the last 1024", len(out))
	}
	tc.must("fs", "touch", "/d/tiny")
	if out := tc.must("fs", "tail", "/d/tiny"); out != "" {
		t.Errorf("tail of an empty file = %q", out)
	}

	// rm.
	tc.fails("not empty", "fs", "rm", "/z")
	tc.fails("not empty", "fs", "rm", "/")
	tc.must("fs", "rm", "-r", "/z")
	tc.fails("does not exist", "fs", "stat", "/z")
	tc.fails("does not exist", "fs", "rm", "/z")
	tc.fails("does not exist", "fs", "rm", "-r", "/z")
	tc.must("fs", "rm", "-f", "/z", "/d/tiny")
	tc.must("fs", "rm", "-rf", "/nothing")
	tc.fails("does not exist", "fs", "cat", "/nope")
	tc.fails("does not exist", "fs", "get", "/nope", filepath.Join(tmp, "nope"))
	if _, err := os.Stat(filepath.Join(tmp, "nope")); err == nil {
		t.Error("a failed get created its local file")
	}
}

func TestPutGetTrees(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	os.MkdirAll(filepath.Join(tree, "sub", "deeper"), 0o755)
	os.MkdirAll(filepath.Join(tree, "emptydir"), 0o755)
	writeLocal(t, tree, "one", []byte("1"))
	writeLocal(t, filepath.Join(tree, "sub"), "two", []byte("22"))
	writeLocal(t, filepath.Join(tree, "sub", "deeper"), "three", randomBytes(1<<20+1, 6))

	tc.must("fs", "put", "-r", tree, "/t") // /t does not exist: it becomes the copy
	if out := tc.must("fs", "ls", "-R", "/t"); out != "/t/emptydir\n/t/one\n/t/sub\n/t/sub/deeper\n/t/sub/deeper/three\n/t/sub/two\n" {
		t.Errorf("ls -R /t = %q", out)
	}
	tc.must("fs", "mkdir", "/into")
	tc.must("fs", "put", "-r", tree, "/into") // an existing directory: the copy goes inside
	tc.must("fs", "stat", "/into/tree/sub/two")

	back := filepath.Join(tmp, "back")
	tc.fails("is a directory (use -r", "fs", "get", "/t", back)
	tc.must("fs", "get", "-r", "/t", back)
	for rel, want := range map[string]string{"one": "1", "sub/two": "22"} {
		if b, err := os.ReadFile(filepath.Join(back, rel)); err != nil || string(b) != want {
			t.Errorf("get -r: %s = %q, %v, want %q", rel, b, err, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(back, "sub", "deeper", "three")); err != nil || len(b) != 1<<20+1 {
		t.Errorf("get -r: sub/deeper/three has %d bytes, %v", len(b), err)
	}
	if fi, err := os.Stat(filepath.Join(back, "emptydir")); err != nil || !fi.IsDir() {
		t.Errorf("get -r did not create the empty directory: %v", err)
	}
}

func TestAdminCommands(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	var r reportJSON
	tc.mustJSON(&r, "admin", "report", "--json")
	if r.LiveDatanodes != 3 || len(r.Datanodes) != 3 || r.CapacityBytes <= 0 || r.ClusterID == "" {
		t.Errorf("report = %+v, want 3 live datanodes with capacity", r)
	}
	for _, d := range r.Datanodes {
		if d.State != "live" || d.ID == "" || d.LastHeartbeat == "" {
			t.Errorf("report datanode %+v", d)
		}
		if _, err := time.Parse(time.RFC3339, d.LastHeartbeat); err != nil {
			t.Errorf("lastHeartbeat %q is not RFC 3339: %v", d.LastHeartbeat, err)
		}
	}
	if out := tc.must("admin", "report"); !strings.Contains(out, "Live datanodes (3):") {
		t.Errorf("report text = %q", out)
	}

	tmp := t.TempDir()
	tc.must("fs", "put", writeLocal(t, tmp, "f", randomBytes(1<<20+5, 7)), "/f")
	var f fsckJSON
	tc.mustJSON(&f, "admin", "fsck", "--json", "--files", "--blocks", "--locations")
	if f.Status != "HEALTHY" || f.Files != 1 || f.Blocks != 2 || len(f.FileDetails) != 1 || len(f.FileDetails[0].Blocks) != 2 {
		t.Errorf("fsck --json with details = %+v", f)
	}
	out := tc.must("admin", "fsck", "/", "--files", "--blocks", "--locations")
	if !strings.HasSuffix(out, "The filesystem under path '/' is HEALTHY\n") || !strings.Contains(out, "/f 1048581 bytes") {
		t.Errorf("fsck text = %q", out)
	}

	if out := tc.must("admin", "safemode", "get"); out != "Safe mode is OFF\n" {
		t.Errorf("safemode get = %q", out)
	}
	if out := tc.must("admin", "safemode", "enter"); out != "Safe mode is ON\n" {
		t.Errorf("safemode enter = %q", out)
	}
	tc.fails("safe mode", "fs", "mkdir", "/x")
	if out := tc.must("admin", "safemode", "leave"); out != "Safe mode is OFF\n" {
		t.Errorf("safemode leave = %q", out)
	}
	if out := tc.must("admin", "safemode", "wait"); out != "Safe mode is OFF\n" {
		t.Errorf("safemode wait = %q", out)
	}
	tc.must("fs", "mkdir", "/x")
}

func TestFsckOfLostBlocksExitsOne(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	tc.must("fs", "put", writeLocal(t, t.TempDir(), "f", []byte("lonely")), "/f")
	tc.c.StopDataNode(t, 0)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, code := tc.cairn(nil, "admin", "fsck", "/", "--json")
		var f fsckJSON
		json.Unmarshal([]byte(out), &f)
		if f.Status == "CORRUPT" {
			if code != exitFailure || f.MissingBlocks != 1 {
				t.Errorf("fsck of a lost block: exit %d, %+v; want exit 1 and 1 missing block", code, f)
			}
			checkOneLine(t, []string{"admin", "fsck"}, errOut, "is CORRUPT")
			break
		}
		if code != 0 {
			t.Fatalf("fsck: exit %d with status %q: %s", code, f.Status, errOut)
		}
		if time.Now().After(deadline) {
			t.Fatalf("fsck still says %q a minute after the only DataNode stopped", f.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFailedGetLeavesNoLocalFile(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	tmp := t.TempDir()
	tc.must("fs", "put", writeLocal(t, tmp, "f", randomBytes(100_000, 8)), "/f")
	tc.c.StopDataNode(t, 0)
	out := t.TempDir()
	target := filepath.Join(out, "got")
	tc.fails("blk_", "fs", "get", "/f", target)
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("a failed get left %v behind", names)
	}
	tc.fails("blk_", "fs", "cat", "/f")
}

func TestTailFollowStopsCleanlyOnInterrupt(t *testing.T) {
	tc := startCLI(t, testcluster.Options{})
	tmp := t.TempDir()
	tc.must("fs", "put", writeLocal(t, tmp, "f", []byte("line one\n")), "/f")
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := tc.run(ctx, nil, "fs", "tail", "-f", "--interval", "20ms", "/f")
		done <- result{out, errOut, code}
	}()
	// Let it poll several times (it must not end by itself), then
	// interrupt it.
	select {
	case r := <-done:
		t.Fatalf("tail -f ended by itself: exit %d, stderr %q", r.code, r.errOut)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	r := <-done
	if r.code != 0 || r.errOut != "" || r.out != "line one\n" {
		t.Errorf("tail -f interrupted: exit %d, stdout %q, stderr %q; want 0, the file, nothing", r.code, r.out, r.errOut)
	}
}

// TestUmaskFromTheEnvironment: CAIRN_UMASK shapes the modes of what a
// command creates, as HDFS's fs.permissions.umask-mode; a bad one is a
// one-line error that creates nothing.
func TestUmaskFromTheEnvironment(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	local := writeLocal(t, t.TempDir(), "f", []byte("x"))
	tc.must("fs", "put", local, "/default")
	tc.env = map[string]string{"CAIRN_UMASK": "077"}
	tc.must("fs", "put", local, "/private")
	tc.must("fs", "mkdir", "/pdir")
	for p, want := range map[string]string{"/default": "0644", "/private": "0600", "/pdir": "0700"} {
		var st struct {
			Mode string `json:"mode"`
		}
		tc.mustJSON(&st, "fs", "stat", "--json", p)
		if st.Mode != want {
			t.Errorf("%s: mode %s, want %s", p, st.Mode, want)
		}
	}
	for _, bad := range []string{"abc", "1777", "0o99"} {
		tc.env = map[string]string{"CAIRN_UMASK": bad}
		tc.fails("invalid CAIRN_UMASK", "fs", "put", local, "/bad")
	}
	tc.env = nil
	tc.fails("does not exist", "fs", "stat", "/bad")
}

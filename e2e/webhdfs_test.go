package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The WebHDFS tests drive a NameNode and three DataNodes, each its own
// process, with the clients people use: curl as Hadoop's WebHDFS
// document shows it, fsspec and pandas (Debian's python3-fsspec,
// python3-requests, python3-pandas under /usr/bin/python3) and npm's
// webhdfs package (e2e/testdata/webhdfs-node, installed by `npm ci`).
// A client that is missing skips its test, unless CI is set: then it
// fails it.

// needTool returns the path of a tool a test drives, skipping the test
// when it is missing outside CI.
func needTool(t *testing.T, tool, why string) string {
	t.Helper()
	p := tool
	if !filepath.IsAbs(tool) {
		var err error
		if p, err = exec.LookPath(tool); err != nil {
			p = ""
		}
	} else if _, err := os.Stat(tool); err != nil {
		p = ""
	}
	if p == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (%s); CI is set, so this is a failure", tool, why)
		}
		t.Skipf("%s is missing (%s)", tool, why)
	}
	return p
}

// runTool runs a command with a timeout and returns its stdout; a non-zero
// exit fails the test with its stderr.
func runTool(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// header returns the value of the last header name in curl -i output.
func header(out, name string) string {
	v := ""
	for _, line := range strings.Split(out, "\n") {
		k, val, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok && strings.EqualFold(k, name) {
			v = strings.TrimSpace(val)
		}
	}
	return v
}

// statusLines returns the status lines of curl -i output, in order.
func statusLines(out string) []string {
	return regexp.MustCompile(`(?m)^HTTP/[0-9.]+ [0-9]{3}[^\r\n]*`).FindAllString(out, -1)
}

// body returns what follows the last header block of curl -i output.
func body(out string) string {
	i := strings.LastIndex(out, "\r\n\r\n")
	if i < 0 {
		return ""
	}
	return out[i+4:]
}

// TestWebHDFSCurl runs the curl commands of Hadoop's WebHDFS document.
func TestWebHDFSCurl(t *testing.T) {
	curl := needTool(t, "curl", "apt-get install curl")
	c := startCluster(t, clusterOptions{})
	// The clients act as users of their own (user.name), who write
	// below the root: the superuser shares it, as /tmp is.
	c.must("fs", "chmod", "1777", "/")
	nn := "http://" + c.nnHTTP + "/webhdfs/v1"
	dir := t.TempDir()
	local := filepath.Join(dir, "local.bin")
	data := make([]byte, 3<<20+1234) // four 1 MiB blocks, the last short
	rand.Read(data)
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// Create and write to a file: step 1 at the NameNode, step 2 with
	// the body at the DataNode the Location names.
	out := runTool(t, nil, curl, "-i", "-X", "PUT", nn+"/web/data.bin?op=CREATE&overwrite=false&replication=2&permission=640&user.name=alice")
	if s := statusLines(out); len(s) != 1 || !strings.Contains(s[0], " 307 ") {
		t.Fatalf("CREATE step 1: %s", out)
	}
	loc := header(out, "Location")
	if !strings.Contains(loc, "/webhdfs/v1/web/data.bin?") || !strings.Contains(loc, "op=CREATE") {
		t.Fatalf("CREATE step 1: Location %q", loc)
	}
	if out, _, _ := c.cairn(nil, "fs", "ls", "/web"); strings.Contains(out, "data.bin") {
		t.Fatalf("CREATE step 1 created the file: %s", out)
	}
	out = runTool(t, nil, curl, "-i", "-X", "PUT", "-T", local, loc)
	if s := statusLines(out); !strings.Contains(s[len(s)-1], " 201 ") || !strings.HasSuffix(header(out, "Location"), "/web/data.bin") {
		t.Fatalf("CREATE step 2: %s", out)
	}
	c.checkFile("/web/data.bin", data)
	var st struct {
		Owner       string `json:"owner"`
		Replication int    `json:"replication"`
		Mode        string `json:"mode"`
	}
	c.mustJSON(&st, "fs", "stat", "--json", "/web/data.bin")
	if st.Owner != "alice" || st.Replication != 2 {
		t.Fatalf("fs stat /web/data.bin = %+v, want alice's, replication 2", st)
	}

	// Create again without overwrite: FileAlreadyExistsException, 403.
	out = runTool(t, nil, curl, "-i", "-X", "PUT", nn+"/web/data.bin?op=CREATE")
	if s := statusLines(out); !strings.Contains(s[0], " 403 ") || !strings.Contains(body(out), `"exception":"FileAlreadyExistsException"`) ||
		!strings.Contains(body(out), `"javaClassName":"org.apache.hadoop.fs.FileAlreadyExistsException"`) {
		t.Fatalf("CREATE of an existing file: %s", out)
	}

	// curl -L -T sends the body again to the DataNode: one command.
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("written in one command\n"), 0o644)
	out = runTool(t, nil, curl, "-i", "-L", "-X", "PUT", "-T", small, nn+"/web/small.txt?op=CREATE&user.name=alice")
	if s := statusLines(out); len(s) < 2 || !strings.Contains(s[len(s)-1], " 201 ") {
		t.Fatalf("CREATE with -L -T: %s", out)
	}

	// So does a large one (curl sends "Expect: 100-continue", which
	// the NameNode answers with its redirect before any byte is sent).
	out = runTool(t, nil, curl, "-sS", "-L", "-X", "PUT", "-T", local, "-w", "%{http_code}", nn+"/web/copy.bin?op=CREATE&user.name=alice")
	if out != "201" {
		t.Fatalf("CREATE of 3 MiB with -L -T: %q", out)
	}
	c.checkFile("/web/copy.bin", data)
	c.must("fs", "rm", "/web/copy.bin")

	// Open and read a file, following the redirect.
	out = runTool(t, nil, curl, "-i", "-L", nn+"/web/small.txt?op=OPEN")
	if s := statusLines(out); len(s) != 2 || !strings.Contains(s[0], " 307 ") || !strings.Contains(s[1], " 200 ") || body(out) != "written in one command\n" {
		t.Fatalf("OPEN: %q", out)
	}
	// data.bin is alice's, mode 0640: dr.who (no user.name) may not
	// read it, alice may.
	if out := runTool(t, nil, curl, "-sS", "-L", nn+"/web/data.bin?op=OPEN"); !strings.Contains(out, "AccessControlException") || !strings.Contains(out, "user=dr.who") {
		t.Errorf("OPEN of alice's 0640 file as dr.who = %.300q, want an AccessControlException", out)
	}
	got := runTool(t, nil, curl, "-sS", "-L", nn+"/web/data.bin?op=OPEN&user.name=alice")
	if got != string(data) {
		t.Fatalf("OPEN of data.bin: %d bytes, want the %d written", len(got), len(data))
	}
	got = runTool(t, nil, curl, "-sS", "-L", nn+"/web/data.bin?op=OPEN&offset=1048000&length=3000&buffersize=4096&user.name=alice")
	if got != string(data[1048000:1051000]) {
		t.Fatalf("OPEN offset=1048000 length=3000: %d bytes, not the range", len(got))
	}

	// Make a directory, status, list, rename, checksum, delete.
	out = runTool(t, nil, curl, "-i", "-X", "PUT", nn+"/web/sub?op=MKDIRS&permission=711&user.name=alice")
	if !strings.Contains(out, " 200 ") || body(out) != "{\"boolean\":true}\n" {
		t.Fatalf("MKDIRS: %q", out)
	}
	out = runTool(t, nil, curl, "-i", nn+"/web/data.bin?op=GETFILESTATUS")
	var fst struct{ FileStatus map[string]any }
	if err := json.Unmarshal([]byte(body(out)), &fst); err != nil || fst.FileStatus["length"] != float64(len(data)) ||
		fst.FileStatus["type"] != "FILE" || fst.FileStatus["permission"] != "640" || fst.FileStatus["owner"] != "alice" {
		t.Fatalf("GETFILESTATUS: %s (%v)", out, err)
	}
	out = runTool(t, nil, curl, "-i", nn+"/web?op=LISTSTATUS")
	var ls struct {
		FileStatuses struct{ FileStatus []map[string]any }
	}
	if err := json.Unmarshal([]byte(body(out)), &ls); err != nil || len(ls.FileStatuses.FileStatus) != 3 {
		t.Fatalf("LISTSTATUS: %s (%v)", out, err)
	}
	for i, name := range []string{"data.bin", "small.txt", "sub"} {
		if ls.FileStatuses.FileStatus[i]["pathSuffix"] != name {
			t.Fatalf("LISTSTATUS: entry %d is %v, want %s", i, ls.FileStatuses.FileStatus[i], name)
		}
	}
	out = runTool(t, nil, curl, "-i", "-X", "PUT", nn+"/web/small.txt?op=RENAME&destination=/web/sub/renamed.txt&user.name=alice")
	if body(out) != "{\"boolean\":true}\n" {
		t.Fatalf("RENAME: %q", out)
	}
	if got := c.must("fs", "cat", "/web/sub/renamed.txt"); got != "written in one command\n" {
		t.Fatalf("fs cat after RENAME = %q", got)
	}
	out = runTool(t, nil, curl, "-i", "-L", nn+"/web/data.bin?op=GETFILECHECKSUM&user.name=alice")
	var sum struct{ FileChecksum map[string]any }
	if err := json.Unmarshal([]byte(body(out)), &sum); err != nil || sum.FileChecksum["algorithm"] != "MD5-of-2048MD5-of-512CRC32C" || sum.FileChecksum["length"] != float64(28) {
		t.Fatalf("GETFILECHECKSUM: %s (%v)", out, err)
	}
	out = runTool(t, nil, curl, "-i", "-X", "DELETE", nn+"/web?op=DELETE&user.name=alice")
	if !strings.Contains(out, " 403 ") || !strings.Contains(body(out), "PathIsNotEmptyDirectoryException") {
		t.Fatalf("DELETE of a non-empty directory: %q", out)
	}
	out = runTool(t, nil, curl, "-i", "-X", "DELETE", nn+"/web?op=DELETE&recursive=true&user.name=alice")
	if body(out) != "{\"boolean\":true}\n" {
		t.Fatalf("DELETE recursive: %q", out)
	}
	out = runTool(t, nil, curl, "-i", nn+"/web?op=GETFILESTATUS")
	if !strings.Contains(out, " 404 ") || !strings.Contains(body(out), `"exception":"FileNotFoundException"`) {
		t.Fatalf("GETFILESTATUS after DELETE: %q", out)
	}
	out = runTool(t, nil, curl, "-i", nn+"/?op=NOSUCHOP")
	if !strings.Contains(out, " 400 ") || !strings.Contains(body(out), `Invalid value for webhdfs parameter \"op\"`) {
		t.Fatalf("an unknown op: %q", out)
	}
	if out := c.must("fs", "ls", "-R", "/"); strings.Contains(out, "_COPYING_") {
		t.Fatalf("a temporary is left: %s", out)
	}
}

// TestWebHDFSFsspecPandas writes a CSV with pandas through fsspec's
// WebHDFS filesystem, lists it, reads it back and renames and deletes
// through fsspec (e2e/testdata/webhdfs_fsspec.py).
func TestWebHDFSFsspecPandas(t *testing.T) {
	python := needTool(t, "/usr/bin/python3", "Debian's python3")
	if err := exec.Command(python, "-c", "import fsspec, requests, pandas").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-fsspec, python3-requests or python3-pandas is missing: %v; CI is set, so this is a failure", err)
		}
		t.Skipf("python3-fsspec, python3-requests or python3-pandas is missing: %v", err)
	}
	c := startCluster(t, clusterOptions{})
	// The clients act as users of their own (user.name), who write
	// below the root: the superuser shares it, as /tmp is.
	c.must("fs", "chmod", "1777", "/")
	host, port, _ := strings.Cut(c.nnHTTP, ":")
	out := runTool(t, nil, python, "testdata/webhdfs_fsspec.py", host, port, "pandas")
	var res struct {
		Size     int64
		Fsspec   string
		Pandas   string
		Checksum map[string]any
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("webhdfs_fsspec.py: %q: %v", out, err)
	}
	t.Logf("fsspec %s, pandas %s", res.Fsspec, res.Pandas)
	csv := c.must("fs", "cat", "/pandas/data.csv")
	if int64(len(csv)) != res.Size || !strings.HasPrefix(csv, "id,name,value\n0,row-0,0.0\n") {
		t.Fatalf("fs cat /pandas/data.csv: %d bytes starting %q, want %d", len(csv), csv[:min(len(csv), 40)], res.Size)
	}
	if res.Checksum["algorithm"] != "MD5-of-0MD5-of-512CRC32C" {
		t.Fatalf("fsspec's ukey = %v", res.Checksum)
	}
	var st struct {
		Owner string `json:"owner"`
	}
	c.mustJSON(&st, "fs", "stat", "--json", "/pandas/data.csv")
	if st.Owner != "pandas" {
		t.Fatalf("fs stat /pandas/data.csv: owner %q, want pandas", st.Owner)
	}
	if out := c.must("fs", "ls", "-R", "/"); strings.Contains(out, "_COPYING_") {
		t.Fatalf("a temporary is left: %s", out)
	}
}

// TestWebHDFSNode writes, reads, appends, lists, renames and deletes
// with npm's webhdfs package (e2e/testdata/webhdfs-node/webhdfs.js).
func TestWebHDFSNode(t *testing.T) {
	node := needTool(t, "node", "Node.js")
	if _, err := os.Stat("testdata/webhdfs-node/node_modules/webhdfs/package.json"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm's webhdfs is not installed (npm ci in e2e/testdata/webhdfs-node): %v; CI is set, so this is a failure", err)
		}
		t.Skipf("npm's webhdfs is not installed (run npm ci in e2e/testdata/webhdfs-node): %v", err)
	}
	c := startCluster(t, clusterOptions{})
	// The clients act as users of their own (user.name), who write
	// below the root: the superuser shares it, as /tmp is.
	c.must("fs", "chmod", "1777", "/")
	host, port, _ := strings.Cut(c.nnHTTP, ":")
	out := runTool(t, nil, node, "testdata/webhdfs-node/webhdfs.js", host, port, "nodeuser")
	t.Logf("webhdfs.js: %s", strings.TrimSpace(out))
	if got := c.must("fs", "cat", "/node/hello.txt"); got != "hello from node, appended" {
		t.Fatalf("fs cat /node/hello.txt = %q", got)
	}
	if out := c.must("fs", "ls", "/node"); strings.TrimSpace(out) != "/node/hello.txt" {
		t.Fatalf("fs ls /node = %q, want hello.txt alone", out)
	}
}

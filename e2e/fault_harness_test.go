package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The fault suite runs the cluster with short timeouts so that failures
// are noticed and repaired in seconds.
var (
	faultNameNodeArgs = []string{
		"--stale-node-timeout", "1s",
		"--dead-node-timeout", "3s",
	}
	faultDataNodeArgs = []string{
		"--heartbeat-interval", "200ms",
	}
	// fileStoreArgs keep every replica in files of its own, for the
	// tests that find, damage and count replicas on disk by their file
	// names (replicaFiles, diskIndex); the container store has its own
	// fault tests (container_test.go).
	fileStoreArgs = []string{"--small-block-size", "0"}
	// scanInterval is given to DataNodes as --scan-interval when the
	// binary has that flag.
	scanInterval = "2s"
)

// helpCache holds the --help output of cairn subcommands, to find out
// which features the binary under test has.
var helpCache sync.Map

func help(args ...string) string {
	key := strings.Join(args, " ")
	if v, ok := helpCache.Load(key); ok {
		return v.(string)
	}
	out, _ := exec.Command(binary, append(args, "--help")...).CombinedOutput()
	helpCache.Store(key, string(out))
	return string(out)
}

// hasFlag reports whether the cairn subcommand cmd (such as
// "datanode") accepts --flag.
func hasFlag(cmd, flag string) bool {
	return strings.Contains(help(strings.Fields(cmd)...), "--"+flag+" ")
}

// acceptsFlag reports whether the cairn subcommand cmd accepts --flag
// with value, even as a hidden flag (test seams are hidden from
// --help).
func acceptsFlag(cmd, flag, value string) bool {
	args := append(strings.Fields(cmd), "--"+flag, value, "--help")
	out, err := exec.Command(binary, args...).CombinedOutput()
	return err == nil && !strings.Contains(string(out), "unknown flag")
}

// hasCommand reports whether `cairn parent` lists the subcommand sub.
func hasCommand(parent, sub string) bool {
	out := help(strings.Fields(parent)...)
	i := strings.Index(out, "Available Commands:")
	if i < 0 {
		return false
	}
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		if f[0] == sub {
			return true
		}
	}
	return false
}

// requireFlag skips the test if the binary lacks a flag a feature of
// issue 4 adds.
func requireFlag(t *testing.T, cmd, flag, feature string) {
	t.Helper()
	if !hasFlag(cmd, flag) {
		t.Skipf("waiting for %s: `cairn %s` has no --%s flag", feature, cmd, flag)
	}
}

// startFaultCluster starts a cluster with the fault suite's short
// timeouts. extraNN is added to the NameNode's arguments.
func startFaultCluster(t *testing.T, dataNodes, replication int, extraNN ...string) *cluster {
	t.Helper()
	dn := append([]string(nil), faultDataNodeArgs...)
	if hasFlag("datanode", "small-block-size") {
		dn = append(dn, fileStoreArgs...)
	}
	if hasFlag("datanode", "scan-interval") {
		dn = append(dn, "--scan-interval", scanInterval)
	}
	return startCluster(t, clusterOptions{
		dataNodes:   dataNodes,
		replication: replication,
		blockSize:   "1MiB",
		nnArgs:      append(append([]string(nil), faultNameNodeArgs...), extraNN...),
		dnArgs:      dn,
	})
}

// addDataNode starts one more DataNode like the others, with extra
// arguments appended (a later flag wins, so extra may override
// --namenode), and returns its index.
func (c *cluster) addDataNode(t *testing.T, extra ...string) int {
	t.Helper()
	i := len(c.dns)
	addr := freeAddr(t)
	args := []string{"datanode",
		"--dir", filepath.Join(c.dir, fmt.Sprintf("dn%d", i)),
		"--namenode", c.nnAddr,
		"--addr", addr,
		"--http-addr", freeAddr(t),
	}
	args = append(args, faultDataNodeArgs...)
	if hasFlag("datanode", "small-block-size") {
		args = append(args, fileStoreArgs...)
	}
	if hasFlag("datanode", "scan-interval") {
		args = append(args, "--scan-interval", scanInterval)
	}
	args = append(args, extra...)
	c.dns = append(c.dns, startProc(t, fmt.Sprintf("datanode%d", i), args...))
	c.dnAddr = append(c.dnAddr, addr)
	return i
}

func (c *cluster) dnDir(i int) string {
	return filepath.Join(c.dir, fmt.Sprintf("dn%d", i))
}

// running reports whether DataNode i's process is alive (it may be
// paused).
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// fsckReport is the full `cairn admin fsck --json` output.
type fsckReport struct {
	Path                  string     `json:"path"`
	Status                string     `json:"status"`
	Files                 int64      `json:"files"`
	Blocks                int64      `json:"blocks"`
	UnderReplicatedBlocks int64      `json:"underReplicatedBlocks"`
	CorruptBlocks         int64      `json:"corruptBlocks"`
	MissingBlocks         int64      `json:"missingBlocks"`
	OpenFiles             int64      `json:"openFiles"`
	LiveDatanodes         int        `json:"liveDatanodes"`
	FileDetails           []fsckFile `json:"fileDetails"`
}

type fsckFile struct {
	Path        string      `json:"path"`
	Size        int64       `json:"size"`
	Replication int         `json:"replication"`
	Open        bool        `json:"open"`
	Status      string      `json:"status"`
	Blocks      []fsckBlock `json:"blocks"`
}

type fsckBlock struct {
	ID              uint64   `json:"id"`
	GenStamp        uint64   `json:"genStamp"`
	Size            int64    `json:"size"`
	State           string   `json:"state"`
	LiveReplicas    int      `json:"liveReplicas"`
	CorruptReplicas int      `json:"corruptReplicas"`
	Locations       []string `json:"locations"`
}

// fsck runs `cairn admin fsck --json` with the listing flags and
// returns the report and the exit code (0 HEALTHY, 1 CORRUPT).
func (c *cluster) fsck(args ...string) (fsckReport, int, string) {
	c.t.Helper()
	args = append([]string{"admin", "fsck", "--json", "--files", "--blocks", "--locations"}, args...)
	out, errOut, code := c.cairn(nil, args...)
	var r fsckReport
	if code > 1 {
		return r, code, errOut
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, 2, fmt.Sprintf("bad fsck JSON %q: %v (stderr %s)", out, err, errOut)
	}
	return r, code, out
}

// healthy reports whether fsck says HEALTHY with nothing under- or
// over-replicated, corrupt, missing or open: every block of every file
// has exactly its file's replication of live replicas, located on
// DataNodes that are not in exclude (fsck may still list a replica on
// an excluded node, such as a decommissioned one, but it must not count
// it).
func (c *cluster) healthy(exclude ...string) (bool, string) {
	r, code, info := c.fsck("--open-files")
	if code != 0 {
		return false, fmt.Sprintf("fsck exit %d: %s", code, info)
	}
	if r.Status != "HEALTHY" || r.UnderReplicatedBlocks != 0 || r.CorruptBlocks != 0 || r.MissingBlocks != 0 || r.OpenFiles != 0 {
		return false, info
	}
	for _, f := range r.FileDetails {
		for _, b := range f.Blocks {
			elsewhere := 0
			for _, loc := range b.Locations {
				if !contains(exclude, loc) {
					elsewhere++
				}
			}
			if b.LiveReplicas != f.Replication || b.CorruptReplicas != 0 || elsewhere != f.Replication {
				return false, fmt.Sprintf("%s block %d: %d live, %d corrupt replicas at %v (%d not on %v), want %d: %s",
					f.Path, b.ID, b.LiveReplicas, b.CorruptReplicas, b.Locations, elsewhere, exclude, f.Replication, info)
			}
		}
	}
	return true, info
}

// waitHealthy waits until healthy(exclude...) holds.
func (c *cluster) waitHealthy(exclude ...string) {
	c.t.Helper()
	c.waitFor("fsck HEALTHY with every block at its replication", func() (bool, string) {
		return c.healthy(exclude...)
	})
}

// blocksOf returns the blocks of a file as fsck lists them.
func (c *cluster) blocksOf(path string) []fsckBlock {
	c.t.Helper()
	r, code, info := c.fsck("--open-files", path)
	if code > 1 {
		c.t.Fatalf("fsck %s: %s", path, info)
	}
	for _, f := range r.FileDetails {
		if f.Path == path {
			return f.Blocks
		}
	}
	c.t.Fatalf("fsck %s does not list the file: %s", path, info)
	return nil
}

// nodeStates returns the state of each DataNode by address, from
// `cairn admin report --json`.
func (c *cluster) nodeStates() (map[string]string, error) {
	out, errOut, code := c.cairn(nil, "admin", "report", "--json")
	if code != 0 {
		return nil, fmt.Errorf("report: exit %d: %s", code, errOut)
	}
	var r reportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, d := range r.Datanodes {
		m[d.Addr] = d.State
	}
	return m, nil
}

// waitState waits until the DataNode at addr is in state.
func (c *cluster) waitState(addr, state string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("datanode %s %s", addr, state), func() (bool, string) {
		m, err := c.nodeStates()
		if err != nil {
			return false, err.Error()
		}
		return m[addr] == state, fmt.Sprint(m)
	})
}

// replicaFiles returns the finalized data files of block id on the
// disks of the given DataNodes (all of them if none is given).
func (c *cluster) replicaFiles(id uint64, nodes ...int) []string {
	if len(nodes) == 0 {
		for i := range c.dns {
			nodes = append(nodes, i)
		}
	}
	dirs := make([]string, len(nodes))
	for j, i := range nodes {
		dirs[j] = c.dnDir(i)
	}
	return testcluster.ReplicaFiles(cairn.BlockID(id), dirs...)
}

// goodReplicasOnDisk checks that block b (of a file whose content is
// data, at offset off) has exactly want finalized replicas on the disks
// of the given DataNodes, each with the right bytes and a meta file of
// the right length.
func (c *cluster) goodReplicasOnDisk(b fsckBlock, off int64, data []byte, want int, nodes ...int) (bool, string) {
	files := c.replicaFiles(b.ID, nodes...)
	if len(files) != want {
		return false, fmt.Sprintf("block %d has %d replicas on disk %v, want %d", b.ID, len(files), files, want)
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			return false, err.Error()
		}
		if !bytes.Equal(got, data[off:off+b.Size]) {
			return false, fmt.Sprintf("replica %s of block %d: %d bytes that differ from the block's %d", f, b.ID, len(got), b.Size)
		}
		metas, _ := filepath.Glob(f + "_*.meta")
		if len(metas) != 1 {
			return false, fmt.Sprintf("replica %s has meta files %v, want one", f, metas)
		}
		if want := fmt.Sprintf("%s_%d.meta", f, b.GenStamp); metas[0] != want {
			return false, fmt.Sprintf("replica %s has meta file %s, want generation stamp %d", f, metas[0], b.GenStamp)
		}
		st, err := os.Stat(metas[0])
		if err != nil {
			return false, err.Error()
		}
		if wantLen := 7 + 4*((b.Size+511)/512); st.Size() != wantLen {
			return false, fmt.Sprintf("meta %s has %d bytes, want %d", metas[0], st.Size(), wantLen)
		}
	}
	return true, ""
}

// putBytes writes data to path with `cairn fs put -` and fails the
// test if the put fails.
func (c *cluster) putBytes(path string, data []byte, args ...string) {
	c.t.Helper()
	args = append(append([]string{"fs", "put"}, args...), "-", path)
	if _, errOut, code := c.cairn(data, args...); code != 0 {
		c.t.Fatalf("cairn %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
}

// checkFile reads path with `cairn fs get` and fails the test unless it
// is byte-identical to data.
func (c *cluster) checkFile(path string, data []byte) {
	c.t.Helper()
	if err := c.readBack(path, data); err != nil {
		c.t.Errorf("%v", err)
	}
}

// readBack reads path with `cairn fs get` and compares it with data.
// It is safe to call from any goroutine.
func (c *cluster) readBack(path string, data []byte) error {
	local := filepath.Join(c.dir, fmt.Sprintf("get-%d", rand.Int63()))
	defer os.Remove(local)
	_, errOut, code := c.cairnTimeout(2*time.Minute, nil, "fs", "get", path, local)
	if code != 0 {
		return fmt.Errorf("get %s: exit %d: %s", path, code, strings.TrimSpace(errOut))
	}
	got, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("get %s returned %d bytes (sha256 %x) that differ from the %d acknowledged (sha256 %x)",
			path, len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
	}
	return nil
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// bgPut is a `cairn fs put - PATH` running in the background, fed
// through a pipe so the test decides when the bytes arrive.
type bgPut struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func (c *cluster) startPut(t *testing.T, args ...string) *bgPut {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"fs", "put"}, args...)...)
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE="+c.nnAddr)
	p := &bgPut{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Stdout = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait closes stdin and waits up to two minutes for the put to end.
func (p *bgPut) wait(t *testing.T) error {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.done:
		return p.err
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("put did not end within 2 minutes: %s", p.stderr.String())
	}
}

// tempOf waits for the temporary file of a put of dir/name to appear
// and returns its path.
func (c *cluster) tempOf(dir, name string) string {
	c.t.Helper()
	var tmp string
	c.waitFor("the put's temporary file", func() (bool, string) {
		out, errOut, code := c.cairn(nil, "fs", "ls", dir)
		if code != 0 {
			return false, errOut
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			p := f[len(f)-1]
			if strings.Contains(p, "/."+name+"._COPYING_.") {
				tmp = p
				return true, ""
			}
		}
		return false, out
	})
	return tmp
}

// waitBlocks waits until the file at path (maybe being written) has at
// least n blocks and returns them.
func (c *cluster) waitBlocks(path string, n int) []statBlock {
	c.t.Helper()
	var blocks []statBlock
	c.waitFor(fmt.Sprintf("%s to have %d blocks", path, n), func() (bool, string) {
		out, errOut, code := c.cairn(nil, "fs", "stat", "--json", path)
		if code != 0 {
			return false, errOut
		}
		var st struct {
			Blocks []statBlock `json:"blocks"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return false, err.Error()
		}
		blocks = st.Blocks
		return len(blocks) >= n, out
	})
	return blocks
}

type statBlock struct {
	ID        uint64   `json:"id"`
	GenStamp  uint64   `json:"genStamp"`
	Size      int64    `json:"size"`
	Locations []string `json:"locations"`
}

// indexOf returns the index of the DataNode with address addr.
func (c *cluster) indexOf(addr string) int {
	c.t.Helper()
	for i, a := range c.dnAddr {
		if a == addr {
			return i
		}
	}
	c.t.Fatalf("no datanode has address %s (%v)", addr, c.dnAddr)
	return -1
}

// cairnTimeout is c.cairn with a shorter deadline, for loops that must
// notice a hung command.
func (c *cluster) cairnTimeout(d time.Duration, stdin []byte, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE="+c.nnAddr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			return out.String(), fmt.Sprintf("timed out after %v: %s", d, errb.String()), -1
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		}
		return out.String(), err.Error(), -1
	}
	return out.String(), errb.String(), 0
}

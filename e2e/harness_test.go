// Package e2e runs cairn as a user does: it builds the cairn binary
// once, starts NameNodes and DataNodes as separate processes on
// loopback, drives them with `cairn fs` and `cairn admin`, and kills
// them with SIGKILL or pauses them with SIGSTOP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the path of the cairn binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cairn-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "cairn")
	args := []string{"build", "-o", binary}
	// The binary is built without the race detector unless asked:
	// in-process tests already run under -race, and an instrumented
	// data path would make these tests slow without finding more.
	if os.Getenv("CAIRN_E2E_RACE") != "" {
		args = append(args, "-race")
	}
	args = append(args, "../cmd/cairn")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building cairn: %v\n", err)
		return 1
	}
	return m.Run()
}

// freeAddr returns a loopback address with a port free at the time of
// the call and never handed out before in this test process: addresses
// are all chosen before the processes that bind them start, and the
// kernel may offer a just-released port again.
//
// Ports come from below the kernel's ephemeral range, which neither
// outgoing connections nor listeners on port 0 (of this or any other
// process on the machine) ever take, so that the port is still free
// when its process binds it; a port taken meanwhile by another test
// binary choosing the same way is the only clash left, and a rare one.
func freeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	lo, hi := quietPorts()
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if handedOut.addrs[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		handedOut.addrs[addr] = true
		return addr
	}
	t.Fatalf("no free loopback port in [%d, %d) after 200 tries", lo, hi)
	return ""
}

// quietPorts is the range freeAddr chooses from: the 12,000 ports below
// the ephemeral range (net.ipv4.ip_local_port_range; 32768 if unknown).
func quietPorts() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				hi = n
			}
		}
	}
	return max(1024, hi-12000), hi
}

// handedOut are the addresses freeAddr returned.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: make(map[string]bool)}

// proc is one running cairn server process.
type proc struct {
	name string
	args []string
	env  []string // the process's environment; nil: this process's
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

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

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, nil, args...)
}

// startProcEnv starts a server process with the environment env (nil:
// this process's).
func startProcEnv(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, args: args, env: env, out: &syncBuffer{}}
	p.start(t)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", p.name, p.out.String())
		}
	})
	return p
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Env = p.env
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(p.cmd, p.done)
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) signal(sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(sig)
	}
}

// restart starts the process again with the same arguments.
func (p *proc) restart(t testing.TB) {
	t.Helper()
	p.kill()
	p.start(t)
}

// cluster is a NameNode and DataNodes running as processes.
type cluster struct {
	t      testing.TB
	dir    string
	nnAddr string
	nnHTTP string // the NameNode's --http-addr
	nn     *proc
	dns    []*proc
	dnAddr []string
}

type clusterOptions struct {
	dataNodes   int
	replication int
	blockSize   string
	nnArgs      []string
	dnArgs      []string
}

func startCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	if o.dataNodes == 0 {
		o.dataNodes = 3
	}
	if o.replication == 0 {
		o.replication = 3
	}
	if o.blockSize == "" {
		o.blockSize = "1MiB"
	}
	c := &cluster{t: t, dir: t.TempDir(), nnAddr: freeAddr(t), nnHTTP: freeAddr(t)}
	args := append([]string{"namenode",
		"--dir", filepath.Join(c.dir, "nn"),
		"--rpc-addr", c.nnAddr,
		"--http-addr", c.nnHTTP,
		"--replication", fmt.Sprint(o.replication),
		"--block-size", o.blockSize,
	}, o.nnArgs...)
	c.nn = startProc(t, "namenode", args...)
	for i := 0; i < o.dataNodes; i++ {
		addr := freeAddr(t)
		args := append([]string{"datanode",
			"--dir", filepath.Join(c.dir, fmt.Sprintf("dn%d", i)),
			"--namenode", c.nnAddr,
			"--addr", addr,
			"--http-addr", freeAddr(t),
			"--heartbeat-interval", "200ms",
		}, o.dnArgs...)
		c.dns = append(c.dns, startProc(t, fmt.Sprintf("datanode%d", i), args...))
		c.dnAddr = append(c.dnAddr, addr)
	}
	c.waitLive(o.dataNodes)
	return c
}

// cairn runs a client command against the cluster and returns its
// stdout, stderr and exit code.
func (c *cluster) cairn(stdin []byte, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE="+c.nnAddr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code = 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			c.t.Fatalf("cairn %v: %v", args, err)
		}
	}
	return out.String(), errb.String(), code
}

// must runs a client command that must succeed and returns its stdout.
func (c *cluster) must(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.cairn(nil, args...)
	if code != 0 {
		c.t.Fatalf("cairn %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs a client command that must fail with exactly one line on
// stderr containing want, and returns that line.
func (c *cluster) fails(want string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.cairn(nil, args...)
	if code == 0 {
		c.t.Fatalf("cairn %s: succeeded (stdout %q), want failure with %q", strings.Join(args, " "), out, want)
	}
	line := strings.TrimSuffix(errOut, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "cairn: ") {
		c.t.Errorf("cairn %s: stderr is not one line starting with \"cairn: \": %q", strings.Join(args, " "), errOut)
	}
	if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
		c.t.Errorf("cairn %s: stderr shows a panic: %q", strings.Join(args, " "), errOut)
	}
	if !strings.Contains(line, want) {
		c.t.Errorf("cairn %s: stderr %q does not contain %q", strings.Join(args, " "), line, want)
	}
	return line
}

func (c *cluster) mustJSON(v any, args ...string) {
	c.t.Helper()
	out := c.must(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("cairn %s: bad JSON %q: %v", strings.Join(args, " "), out, err)
	}
}

type reportJSON struct {
	LiveDatanodes  int   `json:"liveDatanodes"`
	DeadDatanodes  int   `json:"deadDatanodes"`
	CapacityBytes  int64 `json:"capacityBytes"`
	UsedBytes      int64 `json:"usedBytes"`
	RemainingBytes int64 `json:"remainingBytes"`
	Datanodes      []struct {
		ID             string `json:"id"`
		Addr           string `json:"addr"`
		State          string `json:"state"`
		CapacityBytes  int64  `json:"capacityBytes"`
		UsedBytes      int64  `json:"usedBytes"`
		RemainingBytes int64  `json:"remainingBytes"`
		Blocks         int64  `json:"blocks"`
		LastHeartbeat  string `json:"lastHeartbeat"`
	} `json:"datanodes"`
}

type fsckJSON struct {
	Status                string `json:"status"`
	Files                 int64  `json:"files"`
	Directories           int64  `json:"directories"`
	Blocks                int64  `json:"blocks"`
	UnderReplicatedBlocks int64  `json:"underReplicatedBlocks"`
	CorruptBlocks         int64  `json:"corruptBlocks"`
	MissingBlocks         int64  `json:"missingBlocks"`
}

type statJSON struct {
	Path        string `json:"path"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Replication int    `json:"replication"`
	BlockSize   int64  `json:"blockSize"`
	Owner       string `json:"owner"`
	Group       string `json:"group"`
	Mode        string `json:"mode"`
	ModTime     string `json:"modTime"`
	Blocks      []struct {
		ID        uint64   `json:"id"`
		GenStamp  uint64   `json:"genStamp"`
		Size      int64    `json:"size"`
		Locations []string `json:"locations"`
	} `json:"blocks"`
}

// waitLive waits until n DataNodes are live.
func (c *cluster) waitLive(n int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d live datanodes", n), func() (bool, string) {
		out, errOut, code := c.cairn(nil, "admin", "report", "--json")
		if code != 0 {
			return false, errOut
		}
		var r reportJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			return false, err.Error()
		}
		return r.LiveDatanodes >= n, out
	})
}

// waitSafeModeOff waits until the NameNode leaves safe mode.
func (c *cluster) waitSafeModeOff() {
	c.t.Helper()
	c.waitFor("safe mode off", func() (bool, string) {
		out, errOut, code := c.cairn(nil, "admin", "safemode", "get")
		return code == 0 && strings.Contains(out, "OFF"), out + errOut
	})
}

// waitFor polls cond for up to 60 seconds.
func (c *cluster) waitFor(what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, info := cond()
		if ok {
			return
		}
		last = info
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

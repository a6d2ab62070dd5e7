package e2e

// TestHistory: a randomized fault test that checks histories, in the
// manner of Jepsen and etcd's robustness tests.
//
// A cluster of separate processes (a NameNode, or a group of three;
// four DataNodes at replication 3, block size 1 MiB, short heartbeat,
// stale, dead and lease limits) runs with a fault proxy on every
// DataNode's link to each NameNode and in front of every DataNode's
// data port (the DataNode advertises the proxy, so clients and pipeline
// peers alike reach it through the proxy), and on the NameNode links of
// two of the clients. In a group every member dials every other
// member's Raft traffic through a proxy of its own (ha_harness_test.go),
// and every client, worker and DataNode is given the members' list.
//
// Workers (three in-process Go clients, one running `cairn fs`
// commands) put, get, rename, delete and mkdir on eight paths in two
// directories, with self-identifying values of 32 bytes to 3 MiB, and
// record every operation as invoke / ok / fail / unknown. A nemesis
// derived from the seed kill -9s and restarts DataNodes and the
// NameNode, SIGSTOPs and resumes them, cuts and blackholes links, drops
// the NameNode's heartbeat replies to a DataNode, and pauses a `cairn
// fs put` past the soft lease limit while another client creates its
// file. Against a group it also kill -9s the leader or a follower and
// restarts it, cuts the leader or a follower off from the other
// members (clients and DataNodes still reach it), SIGSTOPs the leader
// past the election timeout, and hands leadership over with `cairn
// admin ha transfer` (in place of the kill and SIGSTOP of a NameNode
// alone; the DataNode and client faults strike every member's link).
// A client cut off holds in a group only until the client follows a
// NotLeader's hint: that names the leader's own address, which the
// client then dials past its proxies. Then every fault is healed, the
// clients close, the hard lease limit passes, and the final state is
// read (for a group, each member's leader, term, log position and file
// count too). checkHistory (history_check_test.go) judges the history
// and the final state.
//
// Odd seeds run against a group, even ones against a NameNode alone,
// so that the seed alone says how to replay it. A run of several seeds
// alternates, starting with a group seed; CAIRN_HISTORY_GROUP=1 runs
// group seeds only, =0 NameNode-alone seeds only (and, with
// CAIRN_HISTORY_SEED, overrides the seed's own choice).
//
// A failing run prints its seed and writes the history (JSON lines,
// with the nemesis's steps among them), the schedule, the violations
// and the processes' logs to a directory it names; the run is replayed
// (as far as timing allows: the schedule and each worker's operations
// are fixed by the seed, their interleaving is not) with
// CAIRN_HISTORY_SEED=<seed>.
//
// Knobs: CAIRN_HISTORY_DURATION or -history.duration (default 2m40s:
// a few seeds; 30m cycles seeds for half an hour), CAIRN_HISTORY_SEED
// (one seed), CAIRN_HISTORY_GROUP (1, 0 or both, the default: see
// above), CAIRN_HISTORY_RUN (the faulty phase of one seed; default
// 20s, 45s when the duration is 10m or more), CAIRN_HISTORY_DIR (where
// failing runs are written; default a new directory under $TMPDIR, or
// the test's artifact directory with -artifacts), CAIRN_HISTORY_KEEP=1
// (write them for passing seeds too).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/faultproxy"
)

var historyDurationFlag = flag.Duration("history.duration", 0, "how long TestHistory runs, cycling seeds (default 2m40s; also $CAIRN_HISTORY_DURATION)")

// The cluster of TestHistory.
const (
	hDataNodes   = 4
	hReplication = 3
	hBlockSize   = 1 << 20
	hSoftLimit   = 2 * time.Second
	hHardLimit   = 6 * time.Second
	hRoot        = "/h"
	// hInProcess is the number of in-process workers; the CLI worker
	// comes after them.
	hInProcess = 3
	// Process ids of the lease scenario: the paused `cairn fs put` and
	// the client that creates its file meanwhile.
	hLeasePut   = 10
	hLeaseThief = 11
	hSetup      = 20
	hNemesis    = -1
)

// Operation timeouts: an operation still running then is of unknown
// outcome.
const (
	hPutTimeout   = 60 * time.Second
	hOpTimeout    = 20 * time.Second
	hCleanupLimit = 60 * time.Second
	// hSettle bounds the wait, after the hard lease limit, for the
	// cluster to be clean at the end.
	hSettle = 45 * time.Second
)

// hDirs and hKeys are the key space: four files in each of two
// directories. In-process workers put only into the first directory,
// and mkdir only keys of the second, so that the temporary + rename of
// their own puts never races with a key turning into a directory (the
// CLI's put, which the CLI worker and the lease scenario run, meets
// that race: issue 10 defect 6).
var (
	hDirs = []string{hRoot + "/d0", hRoot + "/d1"}
	hKeys = func() []string {
		var ks []string
		for _, d := range hDirs {
			for i := range 4 {
				ks = append(ks, fmt.Sprintf("%s/k%d", d, i))
			}
		}
		return ks
	}()
)

func historyBudget(t *testing.T) time.Duration {
	if d, ok := durationKnob(t, *historyDurationFlag, "CAIRN_HISTORY_DURATION"); ok {
		return d
	}
	return 2*time.Minute + 40*time.Second
}

func historyRun(t *testing.T, budget time.Duration) time.Duration {
	if s := os.Getenv("CAIRN_HISTORY_RUN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("CAIRN_HISTORY_RUN=%q: want a positive duration such as 20s", s)
		}
		return d
	}
	if budget >= 10*time.Minute {
		return 45 * time.Second
	}
	return 20 * time.Second
}

// groupSeed reports whether seed runs against a NameNode group: odd
// seeds do.
func groupSeed(seed int64) bool { return seed%2 != 0 }

// historyGroup reads CAIRN_HISTORY_GROUP: "1" (group seeds only), "0"
// (NameNode-alone seeds only) or "both" (the default).
func historyGroup(t *testing.T) string {
	switch s := os.Getenv("CAIRN_HISTORY_GROUP"); s {
	case "", "both":
		return "both"
	case "1", "0":
		return s
	default:
		t.Fatalf("CAIRN_HISTORY_GROUP=%q: want 1, 0 or both", s)
		return ""
	}
}

// TestHistory runs seeds until its time budget is spent: each seed is a
// fresh cluster, a faulty phase, a final state and a check.
func TestHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("the history test runs for minutes; skipped with -short")
	}
	budget := historyBudget(t)
	run := historyRun(t, budget)
	mode := historyGroup(t)
	name := func(seed int64, group bool) string {
		if group {
			return fmt.Sprintf("seed=%d_group", seed) // no comma: t.TempDir() has the name, and --dir takes a list
		}
		return fmt.Sprintf("seed=%d", seed)
	}
	if s := os.Getenv("CAIRN_HISTORY_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CAIRN_HISTORY_SEED=%q: want an integer", s)
		}
		group := groupSeed(seed)
		if mode != "both" {
			group = mode == "1"
		}
		t.Run(name(seed, group), func(t *testing.T) { historySeed(t, seed, run, group) })
		return
	}
	start := time.Now()
	// A seed takes the faulty phase, up to the hard limit and hSettle
	// to settle, and some seconds to start, drain and check.
	perSeed := run + hHardLimit + hSettle + 15*time.Second
	// The first seed is a group's, unless only NameNode-alone seeds
	// are wanted; with one kind of seed, every other seed is skipped.
	seed, step := time.Now().UnixNano()%1_000_000_000|1, int64(1)
	switch mode {
	case "1":
		step = 2
	case "0":
		seed, step = seed-1, 2
	}
	for i := 0; i == 0 || time.Since(start)+perSeed <= budget; i++ {
		s := seed + int64(i)*step
		t.Run(name(s, groupSeed(s)), func(t *testing.T) { historySeed(t, s, run, groupSeed(s)) })
	}
}

// history records events from many goroutines.
type history struct {
	start time.Time
	mu    sync.Mutex
	ev    []event // guarded by mu
}

func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) add(e event) event {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.Time = h.now()
	e.Index = len(h.ev)
	h.ev = append(h.ev, e)
	return e
}

func (h *history) invoke(e event) { e.Type = evInvoke; h.add(e) }

// complete records the end of the operation process p invoked last.
func (h *history) complete(p int, typ string, f func(*event)) {
	e := event{Type: typ, Process: p}
	if f != nil {
		f(&e)
	}
	h.add(e)
}

func (h *history) nemesis(format string, args ...any) {
	h.add(event{Type: evNemesis, Process: hNemesis, Err: fmt.Sprintf(format, args...)})
}

func (h *history) events() []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event(nil), h.ev...)
}

// hcluster is the cluster of one seed.
type hcluster struct {
	*cluster
	// g is the NameNode group; nil for a NameNode alone (cluster.nn).
	// The cluster's nnAddr is the members' list then.
	g       *haGroup
	nnProxy [][]*faultproxy.Proxy // nnProxy[d][m]: DataNode d's link to NameNode m
	data    []*faultproxy.Proxy   // in front of DataNode i's data port
	cliNN   [][]*faultproxy.Proxy // cliNN[w][m]: in-process worker w's link to NameNode m
	outDir  func() string
}

// hNameNodeArgs are the flags of TestHistory's NameNodes besides their
// addresses and directories; hGroupArgs are added for a group's members
// (those of the HA tests: Raft notices a lost leader within a second,
// and a member snapshots every 100 entries, so restarts load
// snapshots).
var (
	hNameNodeArgs = []string{
		"--replication", fmt.Sprint(hReplication),
		"--block-size", fmt.Sprint(hBlockSize),
		"--heartbeat-interval", "200ms",
		"--stale-node-timeout", "1s",
		"--dead-node-timeout", "3s",
		"--lease-soft-limit", hSoftLimit.String(),
		"--lease-hard-limit", hHardLimit.String(),
		"--safemode-extension", "1s",
	}
	hGroupArgs = []string{
		"--raft-heartbeat-timeout", "500ms",
		"--raft-election-timeout", "500ms",
		"--snapshot-threshold", "100",
	}
)

// startHistoryCluster starts the NameNode, or a group of haMembers, and
// the DataNodes with their proxies.
func startHistoryCluster(t *testing.T, outDir func() string, group bool) *hcluster {
	t.Helper()
	hc := &hcluster{cluster: &cluster{t: t, dir: t.TempDir()}, outDir: outDir}
	c := hc.cluster
	if group {
		hc.startGroup(t)
	} else {
		c.nnAddr = freeAddr(t)
		c.nn = hc.startProc(t, "namenode", append([]string{"namenode",
			"--dir", filepath.Join(c.dir, "nn"),
			"--rpc-addr", c.nnAddr,
			"--http-addr", freeAddr(t),
		}, hNameNodeArgs...)...)
	}
	rpcs := hc.nnRPC()
	// proxies returns a new proxy to every NameNode, and their list.
	proxies := func() ([]*faultproxy.Proxy, string) {
		var ps []*faultproxy.Proxy
		var addrs []string
		for _, a := range rpcs {
			p := hc.proxy(t, a)
			ps = append(ps, p)
			addrs = append(addrs, p.Addr())
		}
		return ps, strings.Join(addrs, ",")
	}
	for i := range hDataNodes {
		addr := freeAddr(t)
		nnp, list := proxies()
		dp := hc.proxy(t, addr)
		hc.nnProxy = append(hc.nnProxy, nnp)
		hc.data = append(hc.data, dp)
		args := []string{"datanode",
			"--dir", filepath.Join(c.dir, fmt.Sprintf("dn%d", i)),
			"--namenode", list,
			"--addr", addr,
			"--advertise-addr", dp.Addr(),
			"--http-addr", freeAddr(t),
			"--heartbeat-interval", "200ms",
			"--block-report-interval", "5s",
		}
		c.dns = append(c.dns, hc.startProc(t, fmt.Sprintf("datanode%d", i), args...))
		c.dnAddr = append(c.dnAddr, dp.Addr())
	}
	for range 2 {
		ps, _ := proxies()
		hc.cliNN = append(hc.cliNN, ps)
	}
	if hc.g != nil {
		hc.g.waitLeader()
		hc.g.waitLiveAll(hDataNodes)
	} else {
		c.waitLive(hDataNodes)
	}
	return hc
}

// startGroup starts a NameNode group of haMembers as startHAGroup does,
// each member's output kept as startProc keeps it.
func (hc *hcluster) startGroup(t *testing.T) {
	g := &haGroup{cluster: hc.cluster, http: &http.Client{Timeout: time.Second}}
	hc.g = g
	var rpcs []string
	for i := range haMembers {
		m := &haMember{i: i, rpc: freeAddr(t), web: freeAddr(t), dir: filepath.Join(hc.dir, fmt.Sprintf("nn%d", i))}
		g.members = append(g.members, m)
		rpcs = append(rpcs, m.rpc)
	}
	list := strings.Join(rpcs, ",")
	hc.nnAddr = list
	for i := range haMembers {
		for j := range haMembers {
			if i != j {
				g.links[i][j] = hc.proxy(t, g.members[j].rpc)
			}
		}
	}
	for i, m := range g.members {
		args := append(g.memberArgs(i, list), hNameNodeArgs...)
		m.proc = hc.startProc(t, fmt.Sprintf("namenode%d", i), append(args, hGroupArgs...)...)
	}
}

// namenodes returns the NameNode processes: the one, or the members.
func (hc *hcluster) namenodes() []*proc {
	if hc.g == nil {
		return []*proc{hc.nn}
	}
	var ps []*proc
	for _, m := range hc.g.members {
		ps = append(ps, m.proc)
	}
	return ps
}

// nnRPC returns the NameNodes' RPC addresses.
func (hc *hcluster) nnRPC() []string {
	if hc.g == nil {
		return []string{hc.nnAddr}
	}
	var as []string
	for _, m := range hc.g.members {
		as = append(as, m.rpc)
	}
	return as
}

// cliAddr is what in-process worker i dials: its proxies to the
// NameNodes, or the NameNodes themselves.
func (hc *hcluster) cliAddr(i int) string {
	if i >= len(hc.cliNN) {
		return hc.nnAddr
	}
	var as []string
	for _, p := range hc.cliNN[i] {
		as = append(as, p.Addr())
	}
	return strings.Join(as, ",")
}

func (hc *hcluster) proxy(t *testing.T, target string) *faultproxy.Proxy {
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// startProc starts a server process that is killed (by its PID) when
// the test ends; on failure its output is saved in the seed's output
// directory rather than printed.
func (hc *hcluster) startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, args: args, out: &syncBuffer{}}
	p.start(t)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() && hc.outDir != nil {
			os.WriteFile(filepath.Join(hc.outDir(), name+".log"), []byte(p.out.String()), 0o644)
		}
	})
	return p
}

// heal resumes every paused process, restarts every dead one and
// restores every proxy.
func (hc *hcluster) heal(t *testing.T) {
	for _, p := range append(hc.namenodes(), hc.dns...) {
		if p.running() {
			p.signal(syscall.SIGCONT)
		} else {
			p.start(t)
		}
	}
	var ps []*faultproxy.Proxy
	for _, l := range append(hc.nnProxy, hc.cliNN...) {
		ps = append(ps, l...)
	}
	for _, p := range append(ps, hc.data...) {
		p.Restore()
	}
	if hc.g != nil {
		hc.g.heal()
	}
}

// dialRetry dials the NameNode at addr until it answers or ctx ends.
func dialRetry(ctx context.Context, addr, name string) (*client.Client, error) {
	for {
		c, err := client.Dial(ctx, addr,
			client.WithClientName(name),
			client.WithDialTimeout(5*time.Second),
			client.WithDataTimeout(10*time.Second))
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial %s: %v (last: %v)", addr, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// definite reports whether err says the NameNode refused the operation
// (so it had no effect), as opposed to a failure after which the
// outcome is unknown.
//
// NotLeader is not among them: a call that gives up in a group has the
// kind of its last attempt's failure, and an attempt before it may have
// reached a leader that committed the change and died before it
// answered (or lost leadership while committing it, which mutate
// reports as NotLeader too).
func definite(err error) bool {
	for _, k := range []cairn.Kind{cairn.Exist, cairn.NotExist, cairn.IsDir, cairn.NotDir, cairn.NotEmpty,
		cairn.LeaseConflict, cairn.SafeMode, cairn.Invalid, cairn.Permission} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// outcome is the history type of an operation's error.
func outcome(err error) string {
	switch {
	case err == nil:
		return evOK
	case definite(err):
		return evFail
	default:
		return evUnknown
	}
}

// cliDefinite are phrases of the errors that say a `cairn fs` command
// was refused, so that it had no effect (the CLI prints "cairn: OP
// PATH: MESSAGE", and the NameNode's messages name what was wrong: "file
// already exists", "destination /x exists", "file is not open for
// writing"); cliIndefinite are those of a lost connection, after which
// the outcome is unknown. Any other message counts as unknown too.
var (
	cliDefinite = []string{
		"exist", cairn.IsDir.String(), cairn.NotDir.String(), cairn.NotEmpty.String(),
		cairn.LeaseConflict.String(), "not open for writing", cairn.SafeMode.String(),
		cairn.Invalid.String(), cairn.Permission.String(), cairn.NotReplicated.String(),
		cairn.NoSpace.String(),
	}
	cliIndefinite = []string{"unreachable", "unavailable", "connection", "transport", "deadline",
		"timed out", "timeout", "EOF", "reset", "canceled", "refused", "signal", "killed"}
)

// cliOutcome is the history type of a `cairn fs` command's end.
func cliOutcome(code int, stderr string) string {
	if code == 0 {
		return evOK
	}
	if code < 0 {
		return evUnknown
	}
	for _, m := range cliIndefinite {
		if strings.Contains(stderr, m) {
			return evUnknown
		}
	}
	for _, m := range cliDefinite {
		if strings.Contains(stderr, m) {
			return evFail
		}
	}
	return evUnknown
}

// valueSize draws the size of a value: small ones, ones at block
// boundaries, and up to three blocks.
func valueSize(rng *rand.Rand) int64 {
	switch r := rng.Intn(20); {
	case r < 5:
		return valueHeader + rng.Int63n(64<<10)
	case r < 8:
		return []int64{hBlockSize - 1, hBlockSize, hBlockSize + 1, 2 * hBlockSize, 3 * hBlockSize}[rng.Intn(5)]
	default:
		return valueHeader + rng.Int63n(3*hBlockSize-valueHeader)
	}
}

// worker runs operations on the key space and records them.
type worker struct {
	id  int
	h   *history
	rng *rand.Rand
	seq uint64
	c   *client.Client // nil for the CLI worker
	hc  *hcluster
	log func(format string, args ...any)
	// quiet is set while the lease scenario runs: no directory is
	// removed then, so that the paused put's file stays.
	quiet *atomic.Bool
}

func (w *worker) nextValue() uint64 {
	w.seq++
	return uint64(w.id+1)<<32 | w.seq
}

// run performs operations until ctx ends.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.step(ctx)
	}
}

func (w *worker) step(ctx context.Context) {
	key := hKeys[w.rng.Intn(len(hKeys))]
	cli := w.c == nil
	switch r := w.rng.Intn(100); {
	case r < 40:
		if !cli && !strings.HasPrefix(key, hDirs[0]+"/") {
			key = hKeys[w.rng.Intn(len(hKeys)/2)]
		}
		id, size := w.nextValue(), valueSize(w.rng)
		w.h.invoke(event{Process: w.id, F: fPut, Path: key, Value: id, Size: size, Overwrite: true})
		typ, err := w.put(ctx, key, id, size)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
	case r < 70:
		w.h.invoke(event{Process: w.id, F: fGet, Path: key})
		typ, rr, err := w.get(ctx, key)
		w.h.complete(w.id, typ, func(e *event) { e.Read, e.Err = rr, err })
	case r < 82:
		// Within a directory, so that the key-turned-directory of d1
		// never reaches d0.
		dir := cairn.Dir(key)
		dst := fmt.Sprintf("%s/k%d", dir, w.rng.Intn(4))
		overwrite := !cli && w.rng.Intn(2) == 0
		w.h.invoke(event{Process: w.id, F: fRename, Path: key, Dest: dst, Overwrite: overwrite})
		typ, err := w.rename(ctx, key, dst, overwrite)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
	case r < 95:
		w.h.invoke(event{Process: w.id, F: fDelete, Path: key})
		typ, err := w.remove(ctx, key, fDelete)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
	case r < 98 || w.rng.Intn(8) != 0 || w.quiet.Load():
		// A key of the second directory becomes a directory.
		if !strings.HasPrefix(key, hDirs[1]+"/") {
			key = hKeys[len(hKeys)/2+w.rng.Intn(len(hKeys)/2)]
		}
		w.h.invoke(event{Process: w.id, F: fMkdir, Path: key})
		typ, err := w.mkdir(ctx, key)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
	default:
		// A whole directory is removed and made again (one
		// operation in 400, and not while the lease scenario runs).
		dir := hDirs[w.rng.Intn(len(hDirs))]
		w.h.invoke(event{Process: w.id, F: fRmr, Path: dir})
		typ, err := w.remove(ctx, dir, fRmr)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
		w.h.invoke(event{Process: w.id, F: fMkdir, Path: dir})
		typ, err = w.mkdir(ctx, dir)
		w.h.complete(w.id, typ, func(e *event) { e.Err = err })
	}
}

// put writes value id to key as `cairn fs put -f` does: a temporary
// beside it, renamed over it when complete.
func (w *worker) put(ctx context.Context, key string, id uint64, size int64) (string, string) {
	data := valueBytes(id, size)
	if w.c == nil {
		_, errOut, code := w.cairn(ctx, hPutTimeout, data, "fs", "put", "-f", "-", key)
		return cliOutcome(code, errOut), strings.TrimSpace(errOut)
	}
	octx, cancel := context.WithTimeout(ctx, hPutTimeout)
	defer cancel()
	c := w.c
	// Nothing before the rename can make the value visible at key: an
	// error there is a failure whatever its kind.
	fi, err := c.Stat(octx, key)
	switch {
	case err == nil && fi.IsDir:
		return evFail, "is a directory"
	case err != nil && !errors.Is(err, cairn.NotExist):
		return evFail, err.Error()
	}
	tmp := hTempName(key, w.rng)
	fw, err := c.Create(octx, tmp, &client.CreateOptions{Overwrite: false})
	if err != nil {
		w.removeTemp(tmp)
		return evFail, err.Error()
	}
	if _, err := fw.Write(data); err != nil {
		fw.Abort()
		w.removeTemp(tmp)
		return evFail, err.Error()
	}
	if err := fw.Close(); err != nil {
		w.removeTemp(tmp)
		return evFail, err.Error()
	}
	if err := c.Rename(octx, tmp, key, true); err != nil {
		w.removeTemp(tmp)
		return outcome(err), err.Error()
	}
	return evOK, ""
}

// hTempName is a temporary name beside key exactly of the CLI's form
// (".<name>._COPYING_.<8 hex digits>"), so that the NameNode's lease
// recovery removes a worker's abandoned temporary as it does the CLI's.
func hTempName(key string, rng *rand.Rand) string {
	return fmt.Sprintf("%s/.%s%s.%08x", cairn.Dir(key), cairn.Base(key), tempMarker, rng.Uint32())
}

// removeTemp removes a put's temporary, retrying while the NameNode is
// away, as the CLI does once.
func (w *worker) removeTemp(tmp string) {
	deadline := time.Now().Add(hCleanupLimit)
	wait := 200 * time.Millisecond
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.c.Remove(ctx, tmp)
		cancel()
		if err == nil || errors.Is(err, cairn.NotExist) {
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
	w.log("worker %d: could not remove %s within %v", w.id, tmp, hCleanupLimit)
}

func (w *worker) get(ctx context.Context, key string) (string, *readResult, string) {
	if w.c == nil {
		out, errOut, code := w.cairn(ctx, hOpTimeout, nil, "fs", "cat", key)
		switch {
		case code == 0:
			r := identify(out)
			return evOK, &r, ""
		case code > 0 && strings.Contains(errOut, cairn.NotExist.String()):
			return evOK, &readResult{Kind: readAbsent}, ""
		case code > 0 && strings.Contains(errOut, cairn.IsDir.String()):
			return evOK, &readResult{Kind: readDir}, ""
		}
		return evFail, nil, strings.TrimSpace(errOut)
	}
	octx, cancel := context.WithTimeout(ctx, hOpTimeout)
	defer cancel()
	f, err := w.c.Open(octx, key)
	switch {
	case errors.Is(err, cairn.NotExist):
		return evOK, &readResult{Kind: readAbsent}, ""
	case errors.Is(err, cairn.IsDir):
		return evOK, &readResult{Kind: readDir}, ""
	case err != nil:
		return evFail, nil, err.Error()
	}
	defer f.Close()
	if f.Stat().IsDir {
		return evOK, &readResult{Kind: readDir}, ""
	}
	data, err := io.ReadAll(f)
	if err != nil {
		// A read has no effect: a failed one tells nothing.
		return evFail, nil, err.Error()
	}
	r := identify(data)
	return evOK, &r, ""
}

func (w *worker) rename(ctx context.Context, src, dst string, overwrite bool) (string, string) {
	if w.c == nil {
		_, errOut, code := w.cairn(ctx, hOpTimeout, nil, "fs", "mv", src, dst)
		return cliOutcome(code, errOut), strings.TrimSpace(errOut)
	}
	octx, cancel := context.WithTimeout(ctx, hOpTimeout)
	defer cancel()
	err := w.c.Rename(octx, src, dst, overwrite)
	return outcome(err), errString(err)
}

func (w *worker) remove(ctx context.Context, p, f string) (string, string) {
	if w.c == nil {
		_, errOut, code := w.cairn(ctx, hOpTimeout, nil, "fs", "rm", "-r", "-f", p)
		return cliOutcome(code, errOut), strings.TrimSpace(errOut)
	}
	octx, cancel := context.WithTimeout(ctx, hOpTimeout)
	defer cancel()
	err := w.c.RemoveAll(octx, p)
	return outcome(err), errString(err)
}

func (w *worker) mkdir(ctx context.Context, p string) (string, string) {
	if w.c == nil {
		_, errOut, code := w.cairn(ctx, hOpTimeout, nil, "fs", "mkdir", "-p", p)
		return cliOutcome(code, errOut), strings.TrimSpace(errOut)
	}
	octx, cancel := context.WithTimeout(ctx, hOpTimeout)
	defer cancel()
	err := w.c.MkdirAll(octx, p, 0o755)
	return outcome(err), errString(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// cairn runs a `cairn` client command with a deadline; code is -1 when
// it did not end by itself (killed at the deadline, or ctx ended).
func (w *worker) cairn(ctx context.Context, d time.Duration, stdin []byte, args ...string) ([]byte, string, int) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	// The NameNode, or the group's list, as a user gives it.
	cmd := exec.CommandContext(ctx, binary, append(args, "--namenode", w.hc.nnAddr)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err == nil {
		return out.Bytes(), errb.String(), 0
	}
	var ee *exec.ExitError
	if ctx.Err() == nil && errors.As(err, &ee) && ee.ExitCode() > 0 {
		return out.Bytes(), errb.String(), ee.ExitCode()
	}
	return out.Bytes(), fmt.Sprintf("%v: %s", err, errb.String()), -1
}

// Nemesis faults.
const (
	nKillDN      = "kill -9 datanode"
	nKill2DN     = "kill -9 two datanodes"
	nKillAllDN   = "kill -9 every datanode"
	nKillNN      = "kill -9 namenode"
	nStopDN      = "SIGSTOP datanode"
	nStopNN      = "SIGSTOP namenode"
	nCutNN       = "partition datanode from namenode"
	nCutData     = "partition datanode's data port"
	nDropReplies = "drop heartbeat replies to datanode"
	nCutClient   = "partition client from namenode"
	nLeaseSteal  = "pause a put past the soft limit and create its file"
)

// Nemesis faults of a NameNode group, in place of nKillNN and nStopNN.
// The leader is the member whose /readyz answers 200 when the fault
// begins; a follower is one of the others (step.Target chooses).
const (
	nKillLeader      = "kill -9 the leader"
	nKillFollower    = "kill -9 a follower"
	nIsolateLeader   = "isolate the leader from the other namenodes"
	nIsolateFollower = "isolate a follower from the other namenodes"
	nStopLeader      = "SIGSTOP the leader"
	nTransfer        = "transfer leadership"
)

// groupFaults are the faults among the members of a group.
var groupFaults = []string{nKillLeader, nKillFollower, nIsolateLeader, nIsolateFollower, nStopLeader, nTransfer}

// step is one fault of a nemesis schedule.
type step struct {
	Gap     time.Duration `json:"gap"` // before the fault
	Fault   string        `json:"fault"`
	Target  int           `json:"target"`
	Other   int           `json:"other"` // a second target; for the lease scenario, the whole blocks before the pause
	Dur     time.Duration `json:"dur"`
	Variant int           `json:"variant"`
	// For the lease scenario: the key, value size and how much is
	// written before the pause.
	Key    string `json:"key,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Before int64  `json:"before,omitempty"`
}

func (s step) String() string {
	switch s.Fault {
	case nKillNN, nStopNN, nKillAllDN, nKillLeader, nStopLeader:
		return fmt.Sprintf("after %v: %s for %v", s.Gap, s.Fault, s.Dur)
	case nKillFollower:
		return fmt.Sprintf("after %v: %s (the %s after the leader) for %v", s.Gap, s.Fault, []string{"first", "second"}[s.Target], s.Dur)
	case nIsolateLeader, nIsolateFollower:
		how := "cut"
		if s.Variant == 1 {
			how = "blackhole"
		}
		which := ""
		if s.Fault == nIsolateFollower {
			which = fmt.Sprintf(", the %s after the leader", []string{"first", "second"}[s.Target])
		}
		return fmt.Sprintf("after %v: %s (%s%s) for %v", s.Gap, s.Fault, how, which, s.Dur)
	case nTransfer:
		if s.Variant == 1 {
			return fmt.Sprintf("after %v: %s to the %s member after the leader", s.Gap, s.Fault, []string{"first", "second"}[s.Target])
		}
		return fmt.Sprintf("after %v: %s to any member", s.Gap, s.Fault)
	case nKill2DN:
		return fmt.Sprintf("after %v: %s %d and %d for %v", s.Gap, s.Fault, s.Target, s.Other, s.Dur)
	case nCutNN, nCutData, nCutClient:
		how := "cut"
		if s.Variant == 1 {
			how = "blackhole"
		}
		return fmt.Sprintf("after %v: %s %d (%s) for %v", s.Gap, s.Fault, s.Target, how, s.Dur)
	case nLeaseSteal:
		how := "create without overwrite"
		if s.Variant == 1 {
			how += ", then with overwrite"
		}
		return fmt.Sprintf("after %v: %s: put %s (%d bytes, %d before the pause), %s", s.Gap, s.Fault, s.Key, s.Size, s.Before, how)
	}
	return fmt.Sprintf("after %v: %s %d for %v", s.Gap, s.Fault, s.Target, s.Dur)
}

// schedule derives the nemesis's faults from the seed: enough steps for
// run, with at least one of each of the faults the issue names. For a
// group (group), every other step, the first included, is a fault among
// the members: the leader killed and the leader cut off first (in
// either order), then the other four in an order of the seed's, so
// that a short run meets several kinds; the steps between are the
// DataNode and client faults, drawn at random.
func schedule(seed int64, run time.Duration, group bool) []step {
	rng := rand.New(rand.NewSource(seed))
	type weight struct {
		f string
		w int
	}
	weights := []weight{
		{nKillDN, 12}, {nKill2DN, 4}, {nKillAllDN, 2}, {nKillNN, 8}, {nStopDN, 10}, {nStopNN, 6},
		{nCutNN, 8}, {nCutData, 8}, {nDropReplies, 10}, {nCutClient, 6}, {nLeaseSteal, 6},
	}
	var nnOrder []string
	if group {
		weights = slices.DeleteFunc(weights, func(w weight) bool { return w.f == nKillNN || w.f == nStopNN })
		nnOrder = []string{nKillLeader, nIsolateLeader}
		if rng.Intn(2) == 0 {
			nnOrder[0], nnOrder[1] = nnOrder[1], nnOrder[0]
		}
		rest := []string{nKillFollower, nIsolateFollower, nStopLeader, nTransfer}
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		nnOrder = append(nnOrder, rest...)
	}
	total := 0
	for _, w := range weights {
		total += w.w
	}
	draw := func() string {
		r := rng.Intn(total)
		for _, w := range weights {
			if r < w.w {
				return w.f
			}
			r -= w.w
		}
		panic("unreachable")
	}
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.Intn(hi-lo)) * time.Millisecond }
	var steps []step
	var planned time.Duration
	for planned < run || len(steps) < 4 {
		var s step
		if group && len(steps)%2 == 0 {
			s = step{Fault: nnOrder[len(steps)/2%len(nnOrder)], Gap: ms(300, 2000), Dur: ms(500, 5000)}
		} else {
			s = step{Fault: draw(), Gap: ms(300, 2000), Dur: ms(500, 5000)}
		}
		steps = append(steps, s)
		planned += s.Gap + s.Dur + time.Second
	}
	// The faults the issue names appear in every schedule of a
	// NameNode alone.
	must := []string{nLeaseSteal, nDropReplies, nKillNN}
	if group {
		must = nil
	}
	count := func() map[string]int {
		m := make(map[string]int)
		for _, s := range steps {
			m[s.Fault]++
		}
		return m
	}
	for _, f := range must {
		if count()[f] > 0 {
			continue
		}
		// Replace a step that no needed fault depends on.
		m := count()
		var free []int
		for i, s := range steps {
			if !slices.Contains(must, s.Fault) || m[s.Fault] > 1 {
				free = append(free, i)
			}
		}
		steps[free[rng.Intn(len(free))]].Fault = f
	}
	for i := range steps {
		s := &steps[i]
		s.Target = rng.Intn(hDataNodes)
		s.Other = (s.Target + 1 + rng.Intn(hDataNodes-1)) % hDataNodes
		s.Variant = rng.Intn(2)
		switch s.Fault {
		case nCutClient:
			s.Target = rng.Intn(2)
		case nLeaseSteal:
			// A path of its own, so that its temporary is the
			// only one there; the directory is the workers'.
			s.Key = hDirs[rng.Intn(len(hDirs))] + "/lease"
			// One or two whole blocks and at least a quarter of
			// the next are written before the pause.
			s.Size = hBlockSize + hBlockSize/2 + rng.Int63n(3*hBlockSize/2)
			s.Other = 1
			if s.Size > 2*hBlockSize+hBlockSize/2 && rng.Intn(2) == 0 {
				s.Other = 2
			}
			room := min(hBlockSize/2, s.Size-int64(s.Other)*hBlockSize-hBlockSize/4)
			s.Before = int64(s.Other)*hBlockSize + hBlockSize/4 + rng.Int63n(room)
			s.Dur = hSoftLimit + 1500*time.Millisecond
		case nKillLeader, nKillFollower:
			// Which follower (the first or second member after the
			// leader, in the list's order); the member is down from
			// one to six seconds.
			s.Target, s.Other = rng.Intn(2), 0
			s.Dur = ms(1000, 6000)
		case nIsolateLeader, nIsolateFollower:
			// Variant 0 cuts (connections reset, new ones refused),
			// 1 blackholes.
			s.Target, s.Other = rng.Intn(2), 0
			s.Dur = ms(1500, 6000)
		case nStopLeader:
			// At least three times the heartbeat timeout (500ms).
			s.Other = 0
			s.Dur = ms(1500, 5000)
		case nTransfer:
			// Variant 0 names no member, 1 the Target'th after the
			// leader.
			s.Target, s.Other, s.Dur = rng.Intn(2), 0, 0
		}
	}
	return steps
}

// nemesis runs a schedule against the cluster until ctx ends.
type nemesis struct {
	t     *testing.T
	hc    *hcluster
	h     *history
	admin *client.Client // for waits and the lease scenario's other client
	seq   uint64
	quiet *atomic.Bool // set during the lease scenario
	done  []string     // the faults begun, in order
}

func (n *nemesis) run(ctx context.Context, steps []step) {
	for i, s := range steps {
		if !sleepCtx(ctx, s.Gap) {
			return
		}
		n.h.nemesis("start %d: %s", i, s)
		n.done = append(n.done, s.Fault)
		n.do(ctx, s)
		n.h.nemesis("end %d: %s", i, s.Fault)
		n.waitBack(ctx)
	}
}

// sleepCtx sleeps for d, or until ctx ends; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (n *nemesis) do(ctx context.Context, s step) {
	hc, t := n.hc, n.t
	// A fault lasts its duration, or until the run ends.
	hold := func() { sleepCtx(ctx, s.Dur) }
	// cut cuts or blackholes links (every NameNode's of a DataNode or
	// a client), for the fault's duration.
	cut := func(ps ...*faultproxy.Proxy) {
		for _, p := range ps {
			if s.Variant == 1 {
				p.Blackhole()
			} else {
				p.Cut()
			}
		}
		hold()
		for _, p := range ps {
			p.Restore()
		}
	}
	switch s.Fault {
	case nKillDN:
		hc.dns[s.Target].kill()
		hold()
		hc.dns[s.Target].start(t)
	case nKill2DN:
		hc.dns[s.Target].kill()
		hc.dns[s.Other].kill()
		hold()
		hc.dns[s.Target].start(t)
		hc.dns[s.Other].start(t)
	case nKillAllDN:
		for _, p := range hc.dns {
			p.kill()
		}
		hold()
		for _, p := range hc.dns {
			p.start(t)
		}
	case nKillNN:
		hc.nn.kill()
		hold()
		hc.nn.start(t)
	case nStopDN:
		hc.dns[s.Target].signal(syscall.SIGSTOP)
		hold()
		hc.dns[s.Target].signal(syscall.SIGCONT)
	case nStopNN:
		hc.nn.signal(syscall.SIGSTOP)
		hold()
		hc.nn.signal(syscall.SIGCONT)
	case nCutNN:
		cut(hc.nnProxy[s.Target]...)
	case nCutData:
		cut(hc.data[s.Target])
	case nCutClient:
		cut(hc.cliNN[s.Target]...)
	case nDropReplies:
		for _, p := range hc.nnProxy[s.Target] {
			p.DropReplies()
		}
		hold()
		for _, p := range hc.nnProxy[s.Target] {
			p.Restore()
		}
	case nLeaseSteal:
		n.leaseSteal(ctx, s)
	case nKillLeader, nKillFollower, nIsolateLeader, nIsolateFollower, nStopLeader, nTransfer:
		n.groupFault(ctx, s)
	}
}

// groupFault does a fault among the members of a NameNode group. The
// member it strikes is named in the history.
func (n *nemesis) groupFault(ctx context.Context, s step) {
	g, h := n.hc.g, n.h
	hold := func() { sleepCtx(ctx, s.Dur) }
	leader := n.leader(ctx)
	if leader < 0 {
		h.nemesis("no single member serves; %s skipped", s.Fault)
		return
	}
	follower := (leader + 1 + s.Target) % haMembers
	m := leader
	switch s.Fault {
	case nKillFollower, nIsolateFollower:
		m = follower
	}
	p := g.members[m].proc
	switch s.Fault {
	case nKillLeader, nKillFollower:
		g.kill(m)
		h.nemesis("member %d (%s) killed; member %d led", m, g.members[m].rpc, leader)
		hold()
		g.restart(m)
		h.nemesis("member %d restarted", m)
	case nIsolateLeader, nIsolateFollower:
		for j := range haMembers {
			if j == m {
				continue
			}
			for _, l := range []*faultproxy.Proxy{g.links[m][j], g.links[j][m]} {
				if s.Variant == 1 {
					l.Blackhole()
				} else {
					l.Cut()
				}
			}
		}
		h.nemesis("member %d (%s) cut off from the others; member %d led", m, g.members[m].rpc, leader)
		hold()
		g.heal()
		h.nemesis("member %d back in the group; members serving: %v", m, g.serving())
	case nStopLeader:
		p.signal(syscall.SIGSTOP)
		h.nemesis("member %d (%s), the leader, stopped", m, g.members[m].rpc)
		hold()
		p.signal(syscall.SIGCONT)
		h.nemesis("member %d resumed; members serving: %v", m, g.serving())
	case nTransfer:
		args := []string{"admin", "ha", "transfer"}
		to := "any member"
		if s.Variant == 1 {
			args = append(args, g.members[follower].rpc)
			to = fmt.Sprintf("member %d", follower)
		}
		out, errOut, code := n.hc.cairnTimeout(30*time.Second, nil, args...)
		h.nemesis("cairn admin ha transfer from member %d to %s: exit %d: %s", leader, to, code,
			strings.TrimSpace(out+" "+errOut))
	}
}

// leader waits, for a bounded time, until exactly one member of the
// group serves (its /readyz answers 200), and returns it; -1 if none
// did within 10s.
func (n *nemesis) leader(ctx context.Context) int {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s := n.hc.g.serving(); len(s) == 1 {
			return s[0]
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return -1
}

// waitBack waits, for a bounded time, until the NameNode answers (in a
// group: one member serves) and sees every DataNode live, so that the
// workers get some work done between faults.
func (n *nemesis) waitBack(ctx context.Context) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if g := n.hc.g; g != nil {
			// The leader's own count: any member answers a
			// DatanodeReport.
			if s := g.serving(); len(s) == 1 {
				if v, err := g.metric(s[0], `cairn_namenode_datanodes{state="live"}`); err == nil && int(v) == hDataNodes {
					return
				}
			}
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		r, err := n.admin.DatanodeReport(rctx)
		cancel()
		if err == nil {
			live := 0
			for _, d := range r.Datanodes {
				if d.State == "live" {
					live++
				}
			}
			if live == hDataNodes {
				return
			}
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// leaseSteal: a `cairn fs put -f - KEY` writes part of its value from a
// pipe, is SIGSTOPped past the soft lease limit, and meanwhile another
// client creates its temporary file without overwrite (which must fail
// and must not touch the file) and, in variant 1, with overwrite (then
// aborts). The put is resumed, given the rest and left to finish or
// fail; it is an operation of the history like any other.
func (n *nemesis) leaseSteal(ctx context.Context, s step) {
	n.seq++
	id := uint64(hLeasePut+1)<<32 | n.seq
	data := valueBytes(id, s.Size)
	h := n.h
	h.invoke(event{Process: hLeasePut, F: fPut, Path: s.Key, Value: id, Size: s.Size, Overwrite: true})
	cmd := exec.Command(binary, "fs", "put", "-f", "-", s.Key)
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE="+n.hc.nnAddr)
	var errb syncBuffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	stdin, err := cmd.StdinPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	done := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(done) }()
	// Killed by its PID on every way out.
	defer func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		<-done
	}()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		stdin.Write(data[:s.Before])
	}()

	n.quiet.Store(true)
	defer n.quiet.Store(false)
	// Wait until the put's temporary has its second block, and give
	// the bytes before the pause time to reach the DataNodes.
	dir, base := cairn.Dir(s.Key), cairn.Base(s.Key)
	var tmp string
	deadline := time.Now().Add(20 * time.Second)
	for tmp == "" && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-done:
			deadline = time.Now()
			continue
		default:
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ents, err := n.admin.ReadDir(lctx, dir)
		if err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name, "."+base+tempMarker) {
					if fi, err := n.admin.StatBlocks(lctx, cairn.Join(dir, e.Name)); err == nil && len(fi.Blocks) > s.Other {
						tmp = cairn.Join(dir, e.Name)
					}
				}
			}
		}
		cancel()
		if tmp == "" {
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
	if tmp != "" {
		sleepCtx(ctx, 500*time.Millisecond)
		cmd.Process.Signal(syscall.SIGSTOP)
		h.nemesis("SIGSTOP the put of %s writing %s", s.Key, tmp)
		sleepCtx(ctx, s.Dur)
		variants := []bool{false}
		if s.Variant == 1 {
			variants = append(variants, true)
		}
		for _, overwrite := range variants {
			h.invoke(event{Process: hLeaseThief, F: fCreate, Path: tmp, Overwrite: overwrite})
			cctx, cancel := context.WithTimeout(context.Background(), hOpTimeout)
			fw, err := n.admin.Create(cctx, tmp, &client.CreateOptions{Overwrite: overwrite})
			cancel()
			h.complete(hLeaseThief, outcome(err), func(e *event) { e.Err = errString(err) })
			if err != nil && !overwrite {
				n.inspectTakeover(tmp, id, data, int64(s.Other)*hBlockSize+1)
			}
			if err == nil {
				// Do not keep what was made: remove it again.
				h.invoke(event{Process: hLeaseThief, F: fCreate, Path: tmp, Err: "abort"})
				aerr := fw.Abort()
				h.complete(hLeaseThief, outcome(aerr), func(e *event) { e.Err = errString(aerr) })
			}
		}
		cmd.Process.Signal(syscall.SIGCONT)
		h.nemesis("SIGCONT the put of %s", s.Key)
	} else {
		h.nemesis("the put of %s showed no temporary with a block; not paused", s.Key)
	}
	// The rest of the value, then the put ends by itself or is killed.
	go func() {
		<-fed
		stdin.Write(data[s.Before:])
		stdin.Close()
	}()
	select {
	case <-done:
	case <-time.After(hPutTimeout):
	}
	select {
	case <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			code = ee.ExitCode()
		} else if werr != nil {
			code = -1
		}
		h.complete(hLeasePut, cliOutcome(code, errb.String()), func(e *event) { e.Err = strings.TrimSpace(errb.String()) })
	default:
		h.complete(hLeasePut, evUnknown, func(e *event) { e.Err = "did not end within " + hPutTimeout.String() })
	}
}

// inspectTakeover waits (bounded) until the paused put's temporary is
// closed by the lease takeover, and reads it: a takeover runs block
// recovery, which keeps the bytes the DataNodes hold, so the file must
// be a prefix of the value at least `least` bytes long: longer than its
// whole blocks, since the put had sent part of the next block before
// the pause (the unsent rest, in the CLI's and the Writer's buffers and
// the pipe, is less than that part). The reading is
// an operation of the history, judged by the checker. A temporary
// deleted meanwhile (abandoned temporaries may be) tells nothing.
func (n *nemesis) inspectTakeover(tmp string, id uint64, data []byte, least int64) {
	h := n.h
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fi, err := n.admin.Stat(ctx, tmp)
		cancel()
		if errors.Is(err, cairn.NotExist) {
			h.nemesis("takeover: %s is gone, not inspected", tmp)
			return
		}
		if err == nil && !fi.UnderConstruction {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.invoke(event{Process: hLeaseThief, F: fInspect, Path: tmp, Value: id, Size: least})
	ctx, cancel := context.WithTimeout(context.Background(), hOpTimeout)
	defer cancel()
	fi, err := n.admin.Stat(ctx, tmp)
	if err == nil && fi.UnderConstruction {
		h.complete(hLeaseThief, evFail, func(e *event) { e.Err = "still being written after 20s" })
		return
	}
	var got []byte
	f, err := n.admin.Open(ctx, tmp)
	if err == nil {
		got, err = io.ReadAll(f)
		f.Close()
	}
	if err != nil {
		h.complete(hLeaseThief, evFail, func(e *event) { e.Err = err.Error() })
		return
	}
	r := readResult{Kind: readPrefix, Value: id, Size: int64(len(got))}
	if len(got) > len(data) || !bytes.Equal(got, data[:len(got)]) {
		r = readResult{Kind: readPartial, Size: int64(len(got)), Detail: fmt.Sprintf("%d bytes that are not a prefix of value %x", len(got), id)}
	}
	h.complete(hLeaseThief, evOK, func(e *event) { e.Read = &r })
}

// historySeed runs one seed: a cluster, the faulty phase, the final
// state and the check.
func historySeed(t *testing.T, seed int64, run time.Duration, group bool) {
	what := "a NameNode alone"
	if group {
		what = fmt.Sprintf("a group of %d NameNodes", haMembers)
	}
	t.Logf("CAIRN_HISTORY_SEED=%d: %s, faulty phase %v", seed, what, run)
	var outDir string
	out := func() string {
		if outDir != "" {
			return outDir
		}
		switch {
		case os.Getenv("CAIRN_HISTORY_DIR") != "":
			outDir = filepath.Join(os.Getenv("CAIRN_HISTORY_DIR"), fmt.Sprintf("seed-%d-%d", seed, time.Now().Unix()))
		case flag.Lookup("test.artifacts") != nil && flag.Lookup("test.artifacts").Value.String() == "true":
			outDir = t.ArtifactDir()
		default:
			outDir = filepath.Join(os.TempDir(), fmt.Sprintf("cairn-history-seed-%d-%d", seed, time.Now().Unix()))
		}
		os.MkdirAll(outDir, 0o755)
		return outDir
	}
	hc := startHistoryCluster(t, out, group) // out first: a failed start saves the logs too
	steps := schedule(seed, run, group)
	h := &history{start: time.Now()}
	for i, s := range steps {
		h.nemesis("plan %d: %s", i, s)
	}

	bg := context.Background()
	dctx, dcancel := context.WithTimeout(bg, time.Minute)
	admin, err := dialRetry(dctx, hc.nnAddr, "history-admin")
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The key space's directories, as operations of the history.
	for _, d := range hDirs {
		h.invoke(event{Process: hSetup, F: fMkdir, Path: d})
		err := admin.MkdirAll(bg, d, 0o755)
		h.complete(hSetup, outcome(err), func(e *event) { e.Err = errString(err) })
		if err != nil {
			t.Fatal(err)
		}
	}

	var logMu sync.Mutex
	var notes []string
	note := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		notes = append(notes, fmt.Sprintf(format, args...))
	}
	// The workers stop starting operations when the faulty phase ends;
	// wctx is cut later, to bound the ones still running.
	runCtx, stopRun := context.WithTimeout(bg, run)
	defer stopRun()
	wctx, stopWorkers := context.WithCancel(bg)
	var wg sync.WaitGroup
	var clients []*client.Client
	var quiet atomic.Bool
	defer func() {
		stopWorkers()
		wg.Wait()
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range hInProcess + 1 {
		wk := &worker{id: i, h: h, rng: rand.New(rand.NewSource(seed*1000 + int64(i))), hc: hc, log: note, quiet: &quiet}
		if i < hInProcess {
			dctx, dcancel := context.WithTimeout(bg, time.Minute)
			c, err := dialRetry(dctx, hc.cliAddr(i), fmt.Sprintf("history-worker-%d", i))
			dcancel()
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
			wk.c = c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil && wctx.Err() == nil {
				wk.step(wctx)
			}
		}()
	}

	n := &nemesis{t: t, hc: hc, h: h, admin: admin, quiet: &quiet}
	n.run(runCtx, steps)
	<-runCtx.Done()
	h.nemesis("heal everything")
	hc.heal(t)
	// Operations still running get the longest operation timeout to end.
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(hPutTimeout + 10*time.Second):
		note("workers still running %v after the faulty phase; cancelled", hPutTimeout+10*time.Second)
		stopWorkers()
		<-drained
	}
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	h.nemesis("workers stopped, clients closed")

	final := hc.settle(admin, h)
	h.nemesis("final state read: settled=%v %s", final.Settled, final.Detail)
	if final.Group != nil {
		fb, _ := json.Marshal(final.Group)
		h.nemesis("final group: %s", fb)
	}
	events := h.events()
	vs := checkHistory(events, final)
	counts := map[string]int{}
	for _, e := range events {
		if e.Type != evInvoke && e.Type != evNemesis {
			counts[e.Type]++
		}
	}
	t.Logf("seed %d: %d operations (%d ok, %d fail, %d unknown), %d of %d planned faults done (%s), %d paths at the end",
		seed, counts[evOK]+counts[evFail]+counts[evUnknown], counts[evOK], counts[evFail], counts[evUnknown],
		len(n.done), len(steps), strings.Join(n.done, "; "), len(final.Entries))
	for _, s := range notes {
		t.Log(s)
	}
	if counts[evOK] == 0 {
		vs = append(vs, violation{Kind: "no progress", Msg: "no operation succeeded"})
	}
	if len(vs) == 0 {
		if os.Getenv("CAIRN_HISTORY_KEEP") != "" {
			dir := out()
			writeHistory(t, dir, events, steps, final, vs)
			for _, p := range append(hc.namenodes(), hc.dns...) {
				os.WriteFile(filepath.Join(dir, p.name+".log"), []byte(p.out.String()), 0o644)
			}
			t.Logf("seed %d: history, schedule and logs kept in %s", seed, dir)
		}
		return
	}
	dir := out()
	writeHistory(t, dir, events, steps, final, vs)
	for i, v := range vs {
		if i == 30 {
			t.Errorf("... and %d more violations", len(vs)-30)
			break
		}
		t.Errorf("%s", v)
	}
	t.Errorf("seed %d: %d violations; history, schedule and logs in %s; replay with CAIRN_HISTORY_SEED=%d", seed, len(vs), dir, seed)
}

// settle waits, up to the hard lease limit and a bounded time more,
// until the cluster is back and clean (every DataNode live, safe mode
// off, no temporary, nothing open, fsck HEALTHY with every block at its
// replication; in a group one leader, every member counting every
// DataNode live and caught up with it), then reads the final state.
func (hc *hcluster) settle(admin *client.Client, h *history) finalState {
	bg := context.Background()
	var final finalState
	deadline := time.Now().Add(hHardLimit + hSettle)
	for {
		ok, detail := hc.clean(admin)
		final.Settled, final.Detail = ok, detail
		if ok {
			final.Detail = ""
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if hc.g != nil {
		final.Group = hc.readGroup()
	}
	r, code, info := hc.fsck("--open-files", "/")
	if code > 1 {
		final.Fsck = "fsck failed: " + info
	} else {
		final.Fsck = r.Status
		final.UnderReplicated, final.Missing, final.Corrupt = r.UnderReplicatedBlocks, r.MissingBlocks, r.CorruptBlocks
		for _, f := range r.FileDetails {
			if f.Open {
				final.OpenFiles = append(final.OpenFiles, f.Path)
			}
		}
	}
	final.Entries = make(map[string]finalEntry)
	var walk func(dir string)
	walk = func(dir string) {
		var ents []cairn.FileInfo
		var err error
		for try := 0; try < 10; try++ {
			ctx, cancel := context.WithTimeout(bg, hOpTimeout)
			ents, err = admin.ReadDir(ctx, dir)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			final.Settled = false
			final.Detail += fmt.Sprintf("; list %s: %v", dir, err)
			return
		}
		for _, e := range ents {
			p := cairn.Join(dir, e.Name)
			if e.IsDir {
				final.Entries[p] = finalEntry{Dir: true}
				walk(p)
				continue
			}
			final.Entries[p] = finalEntry{Read: readFinal(admin, p)}
		}
	}
	walk(hRoot)
	return final
}

// readFinal reads a file of the final state, trying a few times, and
// identifies its value.
func readFinal(c *client.Client, p string) readResult {
	var last error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), hOpTimeout)
		f, err := c.Open(ctx, p)
		if err == nil {
			var data []byte
			data, err = io.ReadAll(f)
			f.Close()
			if err == nil {
				cancel()
				return identify(data)
			}
		}
		cancel()
		last = err
		time.Sleep(time.Second)
	}
	return readResult{Kind: readError, Detail: last.Error()}
}

// clean reports whether the cluster is in its final state: every
// DataNode live, safe mode off, no temporary below the root, nothing
// open, and fsck HEALTHY with every block at its replication; in a
// group also one leader that every member names, every member counting
// every DataNode live and holding the leader's namespace.
func (hc *hcluster) clean(admin *client.Client) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if hc.g != nil {
		// Any member answers a DatanodeReport, from its own registry
		// and safe mode (a follower's is on), and the client keeps
		// asking the member that answered: the members' /metrics say
		// it instead.
		g := hc.readGroup()
		ps := append(g.leaderProblems(), g.convergeProblems()...)
		for i, m := range g.Members {
			if m.Live != hDataNodes {
				ps = append(ps, fmt.Sprintf("member %d counts %d live datanodes", i, m.Live))
			}
			if slices.Equal(g.Serving, []int{i}) && m.SafeMode != 0 {
				ps = append(ps, fmt.Sprintf("member %d, the leader, is in safe mode (%d)", i, m.SafeMode))
			}
		}
		if len(ps) > 0 {
			return false, strings.Join(ps, "; ")
		}
	} else {
		r, err := admin.DatanodeReport(ctx)
		if err != nil {
			return false, err.Error()
		}
		live := 0
		for _, d := range r.Datanodes {
			if d.State == "live" {
				live++
			}
		}
		if live != hDataNodes || r.SafeMode {
			return false, fmt.Sprintf("%d live datanodes, safe mode %v", live, r.SafeMode)
		}
	}
	var temps []string
	for _, d := range hDirs {
		ents, err := admin.ReadDir(ctx, d)
		if err != nil && !errors.Is(err, cairn.NotExist) {
			return false, err.Error()
		}
		for _, e := range ents {
			if strings.Contains(e.Name, tempMarker) {
				temps = append(temps, cairn.Join(d, e.Name))
			}
		}
	}
	if len(temps) > 0 {
		return false, fmt.Sprintf("temporaries %v", temps)
	}
	return hc.healthy()
}

// readGroup reads the state of the group's members: which serve, and
// what each says of itself on its /metrics and in its `cairn admin ha
// status --json`.
func (hc *hcluster) readGroup() *finalGroup {
	g := hc.g
	fg := &finalGroup{Serving: g.serving()}
	for i, m := range g.members {
		fm := finalMember{Addr: m.rpc, Files: -1, Live: -1, SafeMode: -1}
		var errs []string
		if v, err := g.metric(i, "cairn_namenode_safe_mode"); err == nil {
			fm.SafeMode = int(v)
		} else {
			errs = append(errs, err.Error())
		}
		if n, err := g.files(i); err == nil {
			fm.Files = n
		} else {
			errs = append(errs, err.Error())
		}
		if v, err := g.metric(i, `cairn_namenode_datanodes{state="live"}`); err == nil {
			fm.Live = int(v)
		} else {
			errs = append(errs, err.Error())
		}
		out, errOut, code := hc.cairnTimeout(10*time.Second, nil, "admin", "ha", "status", "--json", "--namenode", m.rpc)
		var st cairn.HAStatus
		switch {
		case code != 0:
			errs = append(errs, fmt.Sprintf("ha status: exit %d: %s", code, strings.TrimSpace(errOut)))
		case json.Unmarshal([]byte(out), &st) != nil:
			errs = append(errs, fmt.Sprintf("ha status: bad JSON %q", out))
		default:
			for _, e := range st.Members {
				if e.Address == m.rpc {
					fm.Status, fm.Leader, fm.Term = true, st.Leader, st.Term
					fm.State, fm.LastIndex, fm.AppliedIndex = e.State, e.LastIndex, e.AppliedIndex
				}
			}
			if !fm.Status {
				errs = append(errs, fmt.Sprintf("ha status does not list %s: %s", m.rpc, strings.TrimSpace(out)))
			}
		}
		fm.Err = strings.Join(errs, "; ")
		fg.Members = append(fg.Members, fm)
	}
	return fg
}

// writeHistory writes a failing seed's history (JSON lines), schedule,
// final state and violations into dir.
func writeHistory(t *testing.T, dir string, events []event, steps []step, final finalState, vs []violation) {
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Errorf("write history: %v", err)
		return
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, e := range events {
		enc.Encode(e)
	}
	bw.Flush()
	f.Close()
	var sched strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&sched, "%d: %s\n", i, s)
	}
	os.WriteFile(filepath.Join(dir, "schedule.txt"), []byte(sched.String()), 0o644)
	fb, _ := json.MarshalIndent(final, "", "  ")
	os.WriteFile(filepath.Join(dir, "final.json"), fb, 0o644)
	var vb strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&vb, "%s\n\n", v)
	}
	os.WriteFile(filepath.Join(dir, "violations.txt"), []byte(vb.String()), 0o644)
}

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/faultproxy"
)

// haMembers is the size of the NameNode group of the HA tests.
const haMembers = 3

// haNameNodeArgs are the flags every member of an HA test's group gets
// besides its addresses: Raft notices a lost leader within a second;
// members snapshot every 100 entries, so that a restarted member loads
// a snapshot and then the log after it; the DataNode and lease timeouts
// are the fault suite's; and a member restarted after a few seconds
// skips the safe mode extension.
//
// (A follower behind by more than the leader's log is sent a snapshot,
// but with raft-wal's 64 MiB segments the leader still reads the
// entries it compacted away from its open segment, so these tests never
// get there.)
var haNameNodeArgs = []string{
	"--raft-heartbeat-timeout", "500ms",
	"--raft-election-timeout", "500ms",
	"--snapshot-threshold", "100",
	"--replication", "3",
	"--block-size", "1MiB",
	"--heartbeat-interval", "200ms",
	"--stale-node-timeout", "1s",
	"--dead-node-timeout", "3s",
	"--lease-soft-limit", "2s",
	"--lease-hard-limit", "6s",
	"--safemode-extension", "1s",
}

// haGroup is a NameNode group of haMembers members and its DataNodes,
// all separate processes. Its cluster's nnAddr is the members' RPC
// addresses separated by commas, so every cluster helper (c.cairn,
// c.fsck, c.waitLive) goes through the group as a user's command does.
//
// Each member dials each other member's Raft traffic through a proxy of
// its own (links[i][j] carries member i's connections to member j), so
// a member can be cut off from the group while clients and DataNodes
// still reach it at its RPC address.
type haGroup struct {
	*cluster
	members []*haMember
	links   [haMembers][haMembers]*faultproxy.Proxy
	http    *http.Client
}

// haMember is one member of the group.
type haMember struct {
	i    int
	rpc  string // RPC address, which clients, DataNodes and peers use
	web  string // --http-addr: /readyz, /metrics
	dir  string
	proc *proc
}

// memberArgs are the arguments of 'cairn namenode' for member i of a
// group whose members' RPC addresses are list: its addresses and
// directory, and its Raft links to each other member through
// g.links[i].
func (g *haGroup) memberArgs(i int, list string) []string {
	m := g.members[i]
	var via []string
	for j, o := range g.members {
		if j != i {
			via = append(via, o.rpc+"="+g.links[i][j].Addr())
		}
	}
	return []string{"namenode",
		"--dir", m.dir,
		"--rpc-addr", m.rpc,
		"--http-addr", m.web,
		"--peers", list,
		"--peer-dial-addrs", strings.Join(via, ","),
	}
}

// startHAGroup starts a group of haMembers members and dataNodes
// DataNodes, and waits until a member leads and every DataNode is live.
func startHAGroup(t *testing.T, dataNodes int) *haGroup {
	t.Helper()
	g := &haGroup{http: &http.Client{Timeout: time.Second}}
	var rpcs []string
	for i := range haMembers {
		m := &haMember{i: i, rpc: freeAddr(t), web: freeAddr(t)}
		g.members = append(g.members, m)
		rpcs = append(rpcs, m.rpc)
	}
	list := strings.Join(rpcs, ",")
	g.cluster = &cluster{t: t, dir: t.TempDir(), nnAddr: list}
	for i := range haMembers {
		for j := range haMembers {
			if i == j {
				continue
			}
			p, err := faultproxy.New(g.members[j].rpc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			g.links[i][j] = p
		}
	}
	for i, m := range g.members {
		m.dir = filepath.Join(g.dir, fmt.Sprintf("nn%d", i))
		args := append(g.memberArgs(i, list), haNameNodeArgs...)
		m.proc = startProc(t, fmt.Sprintf("namenode%d", i), args...)
	}
	for i := range dataNodes {
		addr := freeAddr(t)
		args := []string{"datanode",
			"--dir", g.dnDir(i),
			"--namenode", list,
			"--addr", addr,
			"--http-addr", freeAddr(t),
			"--heartbeat-interval", "200ms",
		}
		g.dns = append(g.dns, startProc(t, fmt.Sprintf("datanode%d", i), args...))
		g.dnAddr = append(g.dnAddr, addr)
	}
	g.waitLeader()
	g.waitLiveAll(dataNodes)
	return g
}

// waitLiveAll waits until every member counts n live DataNodes. (`cairn
// admin report` is not enough: any member answers it from its own
// registry, not only the leader.)
func (g *haGroup) waitLiveAll(n int) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("%d live datanodes on every member", n), func() (bool, string) {
		var live []int
		for i := range g.members {
			v, err := g.metric(i, `cairn_namenode_datanodes{state="live"}`)
			if err != nil {
				return false, err.Error()
			}
			live = append(live, int(v))
		}
		return slices.Min(live) >= n, fmt.Sprintf("live datanodes per member: %v", live)
	})
}

// ready reports whether member i's /readyz answers 200: it leads and
// serves.
func (g *haGroup) ready(i int) bool {
	resp, err := g.http.Get("http://" + g.members[i].web + "/readyz")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// serving returns the members whose /readyz answers 200.
func (g *haGroup) serving() []int {
	var s []int
	for i := range g.members {
		if g.ready(i) {
			s = append(s, i)
		}
	}
	return s
}

// waitLeader waits until exactly one member serves, none of the
// members in not, and returns it.
func (g *haGroup) waitLeader(not ...int) int {
	g.t.Helper()
	leader := -1
	g.waitFor(fmt.Sprintf("one serving leader other than %v", not), func() (bool, string) {
		s := g.serving()
		if len(s) != 1 || slices.Contains(not, s[0]) {
			return false, fmt.Sprintf("members serving: %v", s)
		}
		leader = s[0]
		return true, ""
	})
	return leader
}

// metric returns the value of the gauge name on member i's /metrics.
func (g *haGroup) metric(i int, name string) (float64, error) {
	resp, err := g.http.Get("http://" + g.members[i].web + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("member %d: no metric %s", i, name)
}

// files returns the number of files in member i's namespace, as its
// /metrics says: every member applies the log, so a follower's count
// shows how far it has caught up.
func (g *haGroup) files(i int) (int, error) {
	v, err := g.metric(i, "cairn_namenode_files")
	return int(v), err
}

// waitFollower waits until member i follows: another member serves and
// member i does not, and member i's namespace holds at least min files.
func (g *haGroup) waitFollower(i, min int) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("member %d to follow with at least %d files", i, min), func() (bool, string) {
		s := g.serving()
		if len(s) != 1 || s[0] == i {
			return false, fmt.Sprintf("members serving: %v", s)
		}
		n, err := g.files(i)
		if err != nil {
			return false, err.Error()
		}
		return n >= min, fmt.Sprintf("leader %d; member %d has %d files", s[0], i, n)
	})
}

// waitConverged waits until one member serves, every other member
// follows, and every member's namespace holds as many files as the
// leader's (so with no writes going on, every member has applied what
// the leader has). It returns the leader.
func (g *haGroup) waitConverged() int {
	g.t.Helper()
	leader := -1
	g.waitFor("every member to hold the leader's namespace", func() (bool, string) {
		s := g.serving()
		if len(s) != 1 {
			return false, fmt.Sprintf("members serving: %v", s)
		}
		leader = s[0]
		var counts []int
		for i := range g.members {
			n, err := g.files(i)
			if err != nil {
				return false, err.Error()
			}
			counts = append(counts, n)
		}
		for _, n := range counts {
			if n != counts[leader] {
				return false, fmt.Sprintf("leader %d; files per member %v", leader, counts)
			}
		}
		return true, ""
	})
	return leader
}

// kill kills member i with SIGKILL and waits for it to end.
func (g *haGroup) kill(i int) {
	g.members[i].proc.kill()
}

// restored returns how many times member i loaded a snapshot, as its
// log says.
func (g *haGroup) restored(i int) int {
	return strings.Count(g.members[i].proc.out.String(), "namespace restored from snapshot")
}

// restart starts member i again, with its directory as it was left.
func (g *haGroup) restart(i int) {
	g.t.Helper()
	p := g.members[i].proc
	p.kill()
	fmt.Fprintf(p.out, "--- %s restarted at %s ---\n", p.name, time.Now().Format(time.StampMilli))
	p.start(g.t)
}

// isolate cuts member i's Raft traffic off from every other member, in
// both directions; clients and DataNodes still reach it.
func (g *haGroup) isolate(i int) {
	for j := range g.members {
		if j != i {
			g.links[i][j].Blackhole()
			g.links[j][i].Blackhole()
		}
	}
}

// heal restores every link between members.
func (g *haGroup) heal() {
	for i := range g.links {
		for j := range g.links[i] {
			if p := g.links[i][j]; p != nil {
				p.Restore()
			}
		}
	}
}

// dial returns a client of the group (or of the addresses in addrs)
// that gives up on a call after 30s without a leader.
func (g *haGroup) dial(addrs string) *client.Client {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs,
		client.WithDialTimeout(20*time.Second),
		client.WithDataTimeout(10*time.Second),
		client.WithFailoverTimeout(30*time.Second))
	if err != nil {
		g.t.Fatalf("dial %s: %v", addrs, err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}

// haContent is the content of the file a put writes at path: size
// bytes, the first a line naming the path and size, the rest drawn
// from a generator seeded by the path, so any file read back says
// which put wrote it.
func haContent(path string, size int) []byte {
	h := fnv.New64a()
	h.Write([]byte(path))
	b := randomBytes(size, int64(h.Sum64()))
	copy(b, fmt.Sprintf("cairn-ha %s size=%d\n", path, size))
	return b
}

// haPutGo writes data at path through c as `cairn fs put` does: to a
// temporary beside path (named as the CLI names its temporaries, so
// that lease recovery removes one left behind), renamed to path once
// complete. A put that fails removes its temporary.
func haPutGo(ctx context.Context, c *client.Client, path string, data []byte, tmpTag uint32) error {
	tmp := pathpkg.Join(cairn.Dir(path), fmt.Sprintf(".%s._COPYING_.%08x", cairn.Base(path), tmpTag))
	w, err := c.Create(ctx, tmp, &client.CreateOptions{CreateParent: true})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		w.Abort()
		return err
	}
	if err := c.Rename(ctx, tmp, path, false); err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if rerr := c.Remove(rctx, tmp); rerr != nil && !errors.Is(rerr, cairn.NotExist) {
			return fmt.Errorf("%w (and removing the temporary: %v)", err, rerr)
		}
		return err
	}
	return nil
}

// readGo reads path through c and compares it with want.
func readGo(ctx context.Context, c *client.Client, path string, want []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return readWithClient(ctx, c, path, want)
}

// catCheck reads paths with one `cairn fs cat` through the group and
// compares what it prints with their contents, as want gives them.
func (g *haGroup) catCheck(paths []string, want func(string) []byte) error {
	if len(paths) == 0 {
		return nil
	}
	out, errOut, code := g.cairnTimeout(2*time.Minute, nil, append([]string{"fs", "cat"}, paths...)...)
	if code != 0 {
		return fmt.Errorf("cairn fs cat %v: exit %d: %s", paths, code, strings.TrimSpace(errOut))
	}
	off := 0
	for _, p := range paths {
		w := want(p)
		end := off + len(w)
		if end > len(out) || out[off:end] != string(w) {
			got := out[off:min(end, len(out))]
			return fmt.Errorf("cairn fs cat %s: its %d bytes differ from the %d written (they begin %q)",
				p, len(got), len(w), got[:min(len(got), 60)])
		}
		off = end
	}
	if off != len(out) {
		return fmt.Errorf("cairn fs cat %v: %d bytes more than written", paths, len(out)-off)
	}
	return nil
}

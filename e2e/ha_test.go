package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/faultproxy"
)

// haSizes are the sizes the writers of the HA tests cycle through, with
// a 1 MiB block: a few bytes, part of a packet, several packets, two
// blocks and three.
var haSizes = []int{700, 64 << 10, 5, 200 << 10, 1<<20 + 4321, 32 << 10, 9000, 2<<20 + 512<<10}

// haPause is the writers' pause between two puts, which keeps the data
// to read back at the end to some 100 MiB.
const haPause = 250 * time.Millisecond

// haLedger records the puts of the writers of TestHAKillLeader.
type haLedger struct {
	mu     sync.Mutex
	sizes  map[string]int    // every path a put was tried for: its size
	acked  map[string]bool   // the paths whose put was acknowledged
	failed []string          // the puts that failed, with their errors
	per    map[string][2]int // writer: puts acknowledged, failed
	// killAt is when the last leader killed was dead (zero before the
	// first kill); ackAfter is the first acknowledgement of a put that
	// ended after killAt.
	killAt   time.Time
	ackAfter time.Time
}

func newHALedger() *haLedger {
	return &haLedger{sizes: make(map[string]int), acked: make(map[string]bool), per: make(map[string][2]int)}
}

func (l *haLedger) try(path string, size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sizes[path] = size
}

func (l *haLedger) done(writer, path string, err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.per[writer]
	if err != nil {
		n[1]++
		l.failed = append(l.failed, fmt.Sprintf("%s put %s at %s: %v", writer, path, now.Format(time.StampMilli), err))
	} else {
		n[0]++
		l.acked[path] = true
		if !l.killAt.IsZero() && l.ackAfter.IsZero() && now.After(l.killAt) {
			l.ackAfter = now
		}
	}
	l.per[writer] = n
}

// killed records that the leader was killed at t.
func (l *haLedger) killed(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killAt, l.ackAfter = t, time.Time{}
}

// firstAck returns the first acknowledgement after the last kill, zero
// if none yet.
func (l *haLedger) firstAck() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackAfter
}

func (l *haLedger) ackedPaths() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ps []string
	for p := range l.acked {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

func (l *haLedger) content(path string) []byte {
	l.mu.Lock()
	n, ok := l.sizes[path]
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return haContent(path, n)
}

// haWrite puts files into dir with put, one after another, until stop
// is closed, and records them in l.
func haWrite(l *haLedger, writer, dir string, stop <-chan struct{}, put func(path string, data []byte) error) {
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		path := fmt.Sprintf("%s/f%03d", dir, seq)
		size := haSizes[seq%len(haSizes)]
		l.try(path, size)
		l.done(writer, path, put(path, haContent(path, size)))
		time.Sleep(haPause)
	}
}

// TestHAKillLeader writes files through a NameNode group from three
// writers (two public Go clients and a stream of `cairn fs put`
// processes, all given the members' list) while the leader is killed
// with SIGKILL again and again, and restarted later with its directory.
// Every acknowledged put reads back whole, no put is seen half done,
// files written before the first kill are read after every failover,
// and every restarted member follows again.
func TestHAKillLeader(t *testing.T) {
	kills := 5
	if testing.Short() {
		kills = 3
	}
	start := time.Now()
	g := startHAGroup(t, 4)

	// Files written before the first kill.
	old := map[string]int{"/old/empty": 0, "/old/small": 1000, "/old/block": 1 << 20, "/old/multi": 2<<20 + 300<<10}
	var oldPaths []string
	g.must("fs", "mkdir", "-p", "/old", "/ha/cli")
	for p, n := range old {
		g.putBytes(p, haContent(p, n))
		oldPaths = append(oldPaths, p)
	}
	sort.Strings(oldPaths)
	oldContent := func(p string) []byte { return haContent(p, old[p]) }
	reader := g.dial(g.nnAddr)
	checkOld := func(when string) {
		t.Helper()
		if err := g.catCheck(oldPaths, oldContent); err != nil {
			t.Errorf("%s: %v", when, err)
		}
		for _, p := range oldPaths {
			if err := readGo(context.Background(), reader, p, oldContent(p)); err != nil {
				t.Errorf("%s: Go client: %v", when, err)
			}
		}
	}
	checkOld("before the first kill")

	l := newHALedger()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		c := g.dial(g.nnAddr)
		name := fmt.Sprintf("go%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			haWrite(l, name, "/ha/"+name, stop, func(path string, data []byte) error {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				return haPutGo(ctx, c, path, data, rand.Uint32())
			})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		haWrite(l, "cli", "/ha/cli", stop, func(path string, data []byte) error {
			_, errOut, code := g.cairnTimeout(90*time.Second, data, "fs", "put", "-", path)
			if code != 0 {
				return fmt.Errorf("cairn fs put: exit %d: %s", code, strings.TrimSpace(errOut))
			}
			return nil
		})
	}()
	stopWriters := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopWriters()

	for k := 1; k <= kills; k++ {
		time.Sleep(1500 * time.Millisecond) // writes reach this leader
		leader := g.waitLeader()
		g.kill(leader)
		killAt := time.Now()
		l.killed(killAt)
		next := g.waitLeader(leader)
		elected := time.Since(killAt)
		checkOld(fmt.Sprintf("after kill %d", k))
		var acked time.Duration
		g.waitFor(fmt.Sprintf("a put acknowledged after kill %d", k), func() (bool, string) {
			if a := l.firstAck(); !a.IsZero() {
				acked = a.Sub(killAt)
				return true, ""
			}
			return false, "no put acknowledged yet"
		})
		t.Logf("kill %d: member %d killed; member %d serving after %v; first put acknowledged after %v",
			k, leader, next, elected.Round(time.Millisecond), acked.Round(time.Millisecond))
		time.Sleep(time.Second) // the group goes on without it
		g.restart(leader)
		g.waitFollower(leader, len(old)+len(l.ackedPaths()))
	}
	stopWriters()
	t.Logf("%v: writers stopped", time.Since(start).Round(time.Millisecond))

	// Every member holds the same namespace, one leads, and the others
	// follow.
	g.waitConverged()
	var restored []int
	for i := range g.members {
		restored = append(restored, g.restored(i))
	}
	t.Logf("snapshots loaded per member: %v", restored)
	l.mu.Lock()
	t.Logf("puts acknowledged, failed per writer: %v; %d failures", l.per, len(l.failed))
	for _, f := range l.failed {
		t.Errorf("failed put: %s", f)
	}
	l.mu.Unlock()

	// The writers' leases expire (hard limit 6s) and fsck is healthy:
	// no file open, every block fully replicated.
	g.waitHealthy()
	t.Logf("%v: fsck healthy", time.Since(start).Round(time.Millisecond))
	acked := l.ackedPaths()
	if len(acked) == 0 {
		t.Fatal("no put was acknowledged")
	}

	// What is listed: every file at a final name is one a put wrote,
	// whole; no temporary is left.
	listed := make(map[string]bool)
	for _, dir := range []string{"/ha/go0", "/ha/go1", "/ha/cli"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		infos, err := reader.ReadDir(ctx, dir)
		cancel()
		if err != nil {
			t.Errorf("ReadDir(%s): %v", dir, err)
			continue
		}
		for _, fi := range infos {
			p := dir + "/" + fi.Name
			if strings.Contains(p, "._COPYING_.") {
				t.Errorf("temporary %s (%d bytes) left behind", p, fi.Size)
				continue
			}
			listed[p] = true
			want := l.content(p)
			if want == nil {
				t.Errorf("%s is listed but no put wrote it", p)
			} else if fi.Size != int64(len(want)) {
				t.Errorf("%s is listed with %d bytes, its put wrote %d (acknowledged: %v)", p, fi.Size, len(want), l.acked[p])
			}
		}
	}
	for _, p := range acked {
		if !listed[p] {
			t.Errorf("acknowledged %s is not listed", p)
		}
	}

	// Every acknowledged file reads back byte for byte, through `cairn
	// fs cat` and the Go client; so does every file a failed put left
	// complete.
	var all []string
	for p := range listed {
		all = append(all, p)
	}
	sort.Strings(all)
	for batch := range slices.Chunk(all, 25) {
		if err := g.catCheck(batch, l.content); err != nil {
			t.Errorf("after the failovers: %v", err)
		}
	}
	t.Logf("%v: read back with cairn fs cat", time.Since(start).Round(time.Millisecond))
	for _, p := range all {
		if err := readGo(context.Background(), reader, p, l.content(p)); err != nil {
			t.Errorf("after the failovers: Go client: %v", err)
		}
	}
	checkOld("at the end")
	t.Logf("%v: read back with the Go client; %d puts acknowledged, %d files listed",
		time.Since(start).Round(time.Millisecond), len(acked), len(all))
}

// TestHAPartitionLeader cuts the leader off from the rest of its group.
// A client that knows only the old leader's address gets no write
// acknowledged and no stale read, while the majority elects a new
// leader that accepts writes through the members' list, among them the
// end of a file begun before the partition. Once healed, the old
// leader follows and holds the new writes.
func TestHAPartitionLeader(t *testing.T) {
	g := startHAGroup(t, 3)
	old := g.waitLeader()
	ctx := context.Background()
	cl := g.dial(g.nnAddr)
	pinned := g.dial(g.members[old].rpc)
	before := "/part/before"
	if err := haPutGo(ctx, cl, before, haContent(before, 1<<20+100), 1); err != nil {
		t.Fatalf("put %s: %v", before, err)
	}
	if err := readGo(ctx, pinned, before, haContent(before, 1<<20+100)); err != nil {
		t.Fatalf("through the leader alone, before the partition: %v", err)
	}

	// A file whose writing spans the partition: its first block and a
	// part of its second are written before.
	span := "/part/span"
	spanData := haContent(span, 2<<20+100)
	sw, err := cl.Create(ctx, span, nil)
	if err != nil {
		t.Fatalf("create %s: %v", span, err)
	}
	if _, err := sw.Write(spanData[:1<<20+50]); err != nil {
		t.Fatalf("write %s: %v", span, err)
	}

	g.isolate(old)
	cutAt := time.Now()
	// The write to the old leader alone runs while the majority elects
	// and accepts writes; it must fail.
	pinnedPath := "/part/pinned"
	pinnedDone := make(chan error, 1)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		pinnedDone <- haPutGo(pctx, pinned, pinnedPath, haContent(pinnedPath, 300<<10), 2)
	}()

	next := g.waitLeader(old)
	t.Logf("member %d cut off; member %d serving after %v", old, next, time.Since(cutAt).Round(time.Millisecond))
	var after []string
	for i := range 3 {
		p := fmt.Sprintf("/part/go%d", i)
		if err := haPutGo(ctx, cl, p, haContent(p, haSizes[i+2]), uint32(10+i)); err != nil {
			t.Fatalf("put %s through the list during the partition: %v", p, err)
		}
		after = append(after, p)
	}
	p := "/part/cli"
	if _, errOut, code := g.cairnTimeout(60*time.Second, haContent(p, 2<<20+7), "fs", "put", "-", p); code != 0 {
		t.Fatalf("cairn fs put %s during the partition: exit %d: %s", p, code, errOut)
	}
	after = append(after, p)
	if _, err := sw.Write(spanData[1<<20+50:]); err != nil {
		t.Fatalf("write %s during the partition: %v", span, err)
	}
	if err := sw.Close(); err != nil {
		t.Fatalf("close %s during the partition: %v", span, err)
	}
	after = append(after, span)
	sizeOf := func(p string) int {
		switch p {
		case "/part/cli":
			return 2<<20 + 7
		case span:
			return len(spanData)
		}
		var i int
		fmt.Sscanf(p, "/part/go%d", &i)
		return haSizes[i+2]
	}
	content := func(p string) []byte { return haContent(p, sizeOf(p)) }

	select {
	case err := <-pinnedDone:
		if err == nil {
			t.Errorf("put %s through the cut-off leader alone was acknowledged", pinnedPath)
		} else {
			t.Logf("put %s through the cut-off leader alone failed as it must: %v", pinnedPath, err)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("put %s through the cut-off leader alone neither failed nor succeeded in 40s", pinnedPath)
	}
	// Reads through the old leader alone fail rather than answer from
	// its stale namespace (a file written since is not there).
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	fi, err := pinned.Stat(sctx, after[0])
	cancel()
	if err == nil || errors.Is(err, cairn.NotExist) {
		t.Errorf("Stat(%s) through the cut-off leader alone = %+v, %v; want a refusal (it does not lead)", after[0], fi, err)
	}
	if g.ready(old) {
		t.Errorf("the cut-off member %d still answers /readyz 200", old)
	}

	g.heal()
	// The old leader follows and has the new writes.
	g.waitFollower(old, 1+len(after))
	g.waitConverged()
	if err := g.catCheck(after, content); err != nil {
		t.Errorf("after the heal: %v", err)
	}
	for _, p := range append([]string{before}, after...) {
		want := content(p)
		if p == before {
			want = haContent(before, 1<<20+100)
		}
		if err := readGo(ctx, cl, p, want); err != nil {
			t.Errorf("after the heal: %v", err)
		}
	}
	sctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	infos, err := cl.ReadDir(sctx, "/part")
	cancel()
	if err != nil {
		t.Fatalf("ReadDir(/part): %v", err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, fi.Name)
	}
	if want := []string{"before", "cli", "go0", "go1", "go2", "span"}; !slices.Equal(names, want) {
		t.Errorf("after the heal /part lists %v, want %v", names, want)
	}
	g.waitHealthy()
}

// TestHARestartAll kills every member of the group at once with
// SIGKILL and starts them again with their directories: the group forms
// again, every file reads back, the DataNodes rejoin, and fsck is
// healthy.
func TestHARestartAll(t *testing.T) {
	g := startHAGroup(t, 3)
	ctx := context.Background()
	cl := g.dial(g.nnAddr)
	files := map[string]int{}
	for i, n := range haSizes {
		p := fmt.Sprintf("/all/go%d", i)
		if err := haPutGo(ctx, cl, p, haContent(p, n), uint32(i)); err != nil {
			t.Fatalf("put %s: %v", p, err)
		}
		files[p] = n
	}
	for i, n := range []int{3<<20 + 11, 999} {
		p := fmt.Sprintf("/all/cli%d", i)
		g.putBytes(p, haContent(p, n))
		files[p] = n
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	content := func(p string) []byte { return haContent(p, files[p]) }
	g.waitConverged()

	for i := range g.members {
		g.kill(i)
	}
	downAt := time.Now()
	for i := range g.members {
		g.restart(i)
	}
	leader := g.waitLeader()
	t.Logf("member %d serving %v after all were killed", leader, time.Since(downAt).Round(time.Millisecond))
	g.waitLiveAll(len(g.dns))
	g.waitConverged()

	if err := g.catCheck(paths, content); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	// The client dialed before the restart finds the new leader.
	for _, p := range paths {
		if err := readGo(ctx, cl, p, content(p)); err != nil {
			t.Errorf("after the restart: Go client dialed before it: %v", err)
		}
	}
	p := "/all/later"
	if err := haPutGo(ctx, cl, p, haContent(p, 1<<20+1), 99); err != nil {
		t.Errorf("put %s after the restart: %v", p, err)
	} else if err := g.catCheck([]string{p}, func(string) []byte { return haContent(p, 1<<20+1) }); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	g.waitHealthy()
}

// TestHABadPeers starts `cairn namenode` with a --peers list it must
// refuse: it exits non-zero at once with one line on stderr, and
// leaves no directory behind.
func TestHABadPeers(t *testing.T) {
	a, b, c := freeAddr(t), freeAddr(t), freeAddr(t)
	for _, tc := range []struct {
		name        string
		peers, self string
		want        string
	}{
		{"a member not in the list is refused", a + "," + b, c, "is not among --peers"},
		{"an empty entry in the list is refused", a + ",," + b, a, "empty address"},
		{"a trailing comma is refused", a + "," + b + ",", a, "empty address"},
		{"a blank entry is refused", a + ", ," + b, a, "empty address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "nn")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "namenode",
				"--dir", dir, "--peers", tc.peers, "--rpc-addr", tc.self, "--http-addr", "")
			var stderr syncBuffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			switch {
			case ctx.Err() != nil:
				t.Fatalf("cairn namenode --peers %q --rpc-addr %s still runs after 20s: %s", tc.peers, tc.self, stderr.String())
			case err == nil:
				t.Fatalf("cairn namenode --peers %q --rpc-addr %s exited 0", tc.peers, tc.self)
			case !errors.As(err, &ee):
				t.Fatalf("cairn namenode: %v", err)
			}
			line := strings.TrimSuffix(stderr.String(), "\n")
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "cairn: ") || !strings.Contains(line, tc.want) {
				t.Errorf("cairn namenode --peers %q --rpc-addr %s: stderr %q, want one line \"cairn: ...\" containing %q",
					tc.peers, tc.self, stderr.String(), tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cairn namenode --peers %q left %s behind (stat: %v)", tc.peers, dir, err)
			}
		})
	}
}

// TestHALongOutage (run only with CAIRN_HA_OUTAGE set, to a duration
// such as 100s) keeps a follower down for that long while the group
// writes, then restarts it. A member back from an outage must be ready
// to take over soon, as a rolling restart expects: within ten seconds
// of its start it must hold the leader's namespace and count every
// DataNode as live.
func TestHALongOutage(t *testing.T) {
	outage, ok := durationKnob(t, 0, "CAIRN_HA_OUTAGE")
	if !ok {
		t.Skip("set CAIRN_HA_OUTAGE (such as 100s) to run")
	}
	const ready = 10 * time.Second
	g := startHAGroup(t, 3)
	ctx := context.Background()
	cl := g.dial(g.nnAddr)
	leader := g.waitLeader()
	back := (leader + 1) % haMembers
	g.kill(back)
	deadline := time.Now().Add(outage)
	for i := 0; time.Now().Before(deadline); i++ {
		p := fmt.Sprintf("/outage/f%03d", i)
		if err := haPutGo(ctx, cl, p, haContent(p, haSizes[i%len(haSizes)]), uint32(i)); err != nil {
			t.Fatalf("put %s while member %d is down: %v", p, back, err)
		}
		time.Sleep(time.Second)
	}
	want, err := g.files(leader)
	if err != nil {
		t.Fatal(err)
	}
	g.restart(back)
	restarted := time.Now()
	var caughtUp, registered time.Duration
	for time.Since(restarted) < 3*time.Minute && (caughtUp == 0 || registered == 0) {
		if n, err := g.files(back); err == nil && n >= want && caughtUp == 0 {
			caughtUp = time.Since(restarted)
		}
		if v, err := g.metric(back, `cairn_namenode_datanodes{state="live"}`); err == nil && int(v) >= len(g.dns) && registered == 0 {
			registered = time.Since(restarted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("member %d, down %v: held the leader's %d files %v after its restart, counted %d live datanodes after %v (0: not within 3 minutes)",
		back, outage, want, caughtUp.Round(time.Millisecond), len(g.dns), registered.Round(time.Millisecond))
	if caughtUp == 0 || caughtUp > ready {
		t.Errorf("member %d, back after %v, held the leader's namespace only after %v (0: never), want within %v", back, outage, caughtUp, ready)
	}
	if registered == 0 || registered > ready {
		t.Errorf("member %d, back after %v, counted every datanode live only after %v (0: never), want within %v", back, outage, registered, ready)
	}
}

// TestHAClientLeaderVanishes makes
// the leader vanish as a host does when it loses power or its network:
// its Raft links and the clients' link to it carry no more bytes, and
// no connection is reset. The others elect a leader within a second or
// two; a client must then be served by it: a Go client dialed before
// (with or without a deadline on its call), and a `cairn fs stat` that
// lists the vanished member first.
func TestHAClientLeaderVanishes(t *testing.T) {
	g := startHAGroup(t, 3)
	leader := g.waitLeader()
	// Clients reach member i through links[i], the vanished leader
	// first in their list.
	links := make([]*faultproxy.Proxy, haMembers)
	var list []string
	for k := range haMembers {
		i := (leader + k) % haMembers
		p, err := faultproxy.New(g.members[i].rpc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		links[i] = p
		list = append(list, p.Addr())
	}
	cl := g.dial(strings.Join(list, ","))
	ctx := context.Background()
	if err := haPutGo(ctx, cl, "/v/x", haContent("/v/x", 100), 1); err != nil {
		t.Fatal(err)
	}

	g.isolate(leader)
	links[leader].Blackhole()
	next := g.waitLeader(leader)
	t.Logf("member %d vanished; member %d serving", leader, next)

	// A call with no deadline: the client's failover timeout is 30s.
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := cl.Stat(ctx, "/v/x")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stat(/v/x) with no deadline, after %v: %v", time.Since(start), err)
		}
	case <-time.After(45 * time.Second):
		t.Errorf("Stat(/v/x) with no deadline still blocked after 45s (the client's failover timeout is 30s)")
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	start = time.Now()
	_, err := cl.Stat(sctx, "/v/x")
	cancel()
	if err != nil {
		t.Errorf("Stat(/v/x) with a 20s deadline, after %v: %v", time.Since(start), err)
	}
	start = time.Now()
	if _, errOut, code := g.cairnTimeout(60*time.Second, nil, "fs", "stat", "--namenode", strings.Join(list, ","), "/v/x"); code != 0 {
		t.Errorf("cairn fs stat /v/x (default dial timeout 10s) listing the vanished member first: exit %d after %v: %s",
			code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(errOut))
	}
}

// TestHAAdminSafeModeOnTheLeader runs `cairn admin safemode` with a
// follower listed first: get must tell the leader's state, and enter
// must stop writes through the group, as it does with one NameNode.
func TestHAAdminSafeModeOnTheLeader(t *testing.T) {
	g := startHAGroup(t, 3)
	leader := g.waitLeader()
	var list []string
	for k := 1; k <= haMembers; k++ {
		list = append(list, g.members[(leader+k)%haMembers].rpc) // the leader last
	}
	nn := "--namenode=" + strings.Join(list, ",")
	if out := g.must("admin", "safemode", "get", nn); !strings.Contains(out, "OFF") {
		t.Errorf("cairn admin safemode get, a follower listed first, while the leader serves: %q, want OFF", out)
	}
	g.must("admin", "safemode", "enter", nn)
	if v, err := g.metric(leader, "cairn_namenode_safe_mode"); err != nil || v != 1 {
		t.Errorf("after cairn admin safemode enter, the leader's cairn_namenode_safe_mode = %v (%v), want 1", v, err)
	}
	if _, _, code := g.cairnTimeout(30*time.Second, []byte("x"), "fs", "put", "-", "/in-safe-mode"); code == 0 {
		t.Errorf("cairn fs put succeeded after cairn admin safemode enter")
	}
	g.must("admin", "safemode", "leave", nn)
	for i := range g.members {
		g.must("admin", "safemode", "leave", "--namenode="+g.members[i].rpc)
	}
}

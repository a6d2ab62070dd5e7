package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/faultproxy"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

var chaosFlag = flag.Duration("cairn.chaos", 0, "how long TestFaultChaos injects faults (default 60s, 20s with -short; also $CAIRN_CHAOS_DURATION)")

// chaosDuration is how long TestFaultChaos runs its faults: the
// -cairn.chaos flag, else $CAIRN_CHAOS_DURATION, else 60s (20s with
// -short).
func chaosDuration(t *testing.T) time.Duration {
	if d, ok := durationKnob(t, *chaosFlag, "CAIRN_CHAOS_DURATION"); ok {
		return d
	}
	if testing.Short() {
		return 20 * time.Second
	}
	return 60 * time.Second
}

// durationKnob is a test's duration from its flag (when set) or its
// environment variable; a variable that is not a positive duration
// fails the test.
func durationKnob(t testing.TB, flag time.Duration, env string) (time.Duration, bool) {
	t.Helper()
	if flag > 0 {
		return flag, true
	}
	s := os.Getenv(env)
	if s == "" {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 10m", env, s)
	}
	return d, true
}

// chaosSeed is $CAIRN_CHAOS_SEED, or the time: a failing run is
// replayed (as far as timing allows) with the seed it logs.
func chaosSeed(t *testing.T) int64 {
	if s := os.Getenv("CAIRN_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CAIRN_CHAOS_SEED=%q: want an integer", s)
		}
		return n
	}
	return time.Now().UnixNano()
}

// TestFaultChaos writes and reads files while DataNodes are killed,
// paused, restarted or cut off from the NameNode at random, never more
// than one at a time, so
// that with four nodes and replication 3 every block stays available.
// Every put must succeed and every read return the bytes put; after the
// chaos every acknowledged file reads back identical, and fsck returns
// to HEALTHY with every block at exactly three replicas, on disk too.
func TestFaultChaos(t *testing.T) {
	dur := chaosDuration(t)
	seed := chaosSeed(t)
	t.Logf("chaos for %v with CAIRN_CHAOS_SEED=%d", dur, seed)
	// Three DataNodes, and a fourth that reaches the NameNode through a
	// fault-injecting proxy so its link can be cut while it runs.
	c := startFaultCluster(t, 3, 3)
	proxy, err := faultproxy.New(c.nnAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	proxied := c.addDataNode(t, "--namenode", proxy.Addr())
	c.waitLive(4)
	c.must("fs", "mkdir", "/chaos")

	var (
		mu     sync.Mutex
		acked  = make(map[string][]byte)
		names  []string
		errs   []string
		puts   int
		reads  int
		faults []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	// note logs a failure to reach the NameNode, which the chaos never
	// touches: on a loaded machine a client's 5s dial can time out.
	// The operation is retried once; wrong bytes are never excused.
	note := func(format string, args ...any) {
		t.Logf(format, args...)
	}
	const opTimeout = 2 * time.Minute
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup

	// Writers: files of 0 to 1.5 blocks, some empty, some exactly a
	// block.
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for i := 0; time.Now().Before(deadline); i++ {
				var n int
				switch rng.Intn(6) {
				case 0:
					n = 0
				case 1:
					n = 1 << 20
				default:
					n = rng.Intn(3 << 19)
				}
				data := randomBytes(n, rng.Int63())
				p := fmt.Sprintf("/chaos/w%d-%d", w, i)
				_, errOut, code := c.cairnTimeout(opTimeout, data, "fs", "put", "-", p)
				if code != 0 && nameNodeUnreachable(errOut) {
					note("put %s: %s; retrying", p, errOut)
					_, errOut, code = c.cairnTimeout(opTimeout, data, "fs", "put", "-", p)
				}
				if code != 0 {
					fail("put %s (%d bytes): exit %d: %s", p, n, code, errOut)
					continue
				}
				mu.Lock()
				acked[p] = data
				names = append(names, p)
				puts++
				mu.Unlock()
			}
		}(w)
	}
	// A reader of acknowledged files.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewSource(seed + 100))
		for time.Now().Before(deadline) {
			mu.Lock()
			if len(names) == 0 {
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			p := names[rng.Intn(len(names))]
			data := acked[p]
			mu.Unlock()
			err := c.readBack(p, data)
			if err != nil && nameNodeUnreachable(err.Error()) {
				note("during chaos: %v; retrying", err)
				err = c.readBack(p, data)
			}
			if err != nil {
				fail("during chaos: %v", err)
			}
			mu.Lock()
			reads++
			mu.Unlock()
		}
	}()

	// The chaos: one DataNode at a time is killed and restarted, paused
	// and resumed (sometimes past the dead timeout), or restarted.
	rng := rand.New(rand.NewSource(seed + 200))
	sleep := func(min, max time.Duration) {
		time.Sleep(min + time.Duration(rng.Int63n(int64(max-min))))
	}
	for time.Now().Before(deadline) {
		sleep(500*time.Millisecond, 2*time.Second)
		i := rng.Intn(len(c.dns))
		p := c.dns[i]
		switch rng.Intn(4) {
		case 0:
			faults = append(faults, fmt.Sprintf("kill -9 datanode%d", i))
			n := registrations(p)
			p.kill()
			sleep(500*time.Millisecond, 5*time.Second)
			p.start(t)
			c.waitRegistered(i, n)
		case 1:
			faults = append(faults, fmt.Sprintf("SIGSTOP datanode%d", i))
			p.signal(syscall.SIGSTOP)
			sleep(500*time.Millisecond, 5*time.Second)
			p.signal(syscall.SIGCONT)
		case 2:
			faults = append(faults, fmt.Sprintf("restart datanode%d", i))
			n := registrations(p)
			p.signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				fail("datanode%d did not stop within 10s of SIGTERM", i)
			}
			p.start(t)
			c.waitRegistered(i, n)
		case 3:
			if rng.Intn(2) == 0 {
				faults = append(faults, fmt.Sprintf("cut datanode%d from the namenode", proxied))
				proxy.Cut()
			} else {
				faults = append(faults, fmt.Sprintf("blackhole datanode%d from the namenode", proxied))
				proxy.Blackhole()
			}
			sleep(500*time.Millisecond, 5*time.Second)
			proxy.Restore()
		}
		// The next fault waits until the cluster sees this node again,
		// so at most one node of any replica set is down.
		c.waitLive(len(c.dns))
	}
	wg.Wait()
	t.Logf("%d faults: %v", len(faults), faults)
	t.Logf("%d puts acknowledged, %d reads during the chaos", puts, reads)
	for _, e := range errs {
		t.Error(e)
	}
	if puts == 0 {
		t.Fatal("no put was acknowledged during the chaos")
	}

	// After the chaos: healed, and nothing acknowledged lost. The many
	// files are read through one client rather than a process each.
	c.waitLive(len(c.dns))
	c.waitHealthy()
	ctx := context.Background()
	cl, err := client.Dial(ctx, c.nnAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, p := range names {
		if err := readWithClient(ctx, cl, p, acked[p]); err != nil {
			t.Errorf("after the chaos: %v", err)
		}
	}
	// On disk, every block has exactly three replicas of the right
	// length (the content of a sample of them is compared too).
	r, code, info := c.fsck("/chaos")
	if code != 0 {
		t.Fatalf("fsck /chaos: exit %d: %s", code, info)
	}
	sample := make(map[string]bool)
	for i := 0; i < 40 && len(names) > 0; i++ {
		sample[names[rng.Intn(len(names))]] = true
	}
	c.waitFor("three replicas on disk of every block", func() (bool, string) {
		index := c.diskIndex()
		for _, f := range r.FileDetails {
			data, ok := acked[f.Path]
			if !ok {
				continue // a put that failed but left its file
			}
			var off int64
			for _, b := range f.Blocks {
				reps := index[cairn.BlockID(b.ID)]
				if len(reps) != 3 {
					return false, fmt.Sprintf("%s block %d has %d replicas on disk: %v", f.Path, b.ID, len(reps), reps)
				}
				for _, rep := range reps {
					st, err := os.Stat(rep)
					if err != nil || st.Size() != b.Size {
						return false, fmt.Sprintf("replica %s of %s: %v, size want %d", rep, f.Path, err, b.Size)
					}
				}
				if sample[f.Path] {
					if ok, info := c.goodReplicasOnDisk(b, off, data, 3); !ok {
						return false, info
					}
				}
				off += b.Size
			}
		}
		return true, ""
	})
}

// nameNodeUnreachable reports whether a client command failed to reach
// the NameNode at all (its dial timed out), as opposed to failing an
// operation.
func nameNodeUnreachable(stderr string) bool {
	return strings.Contains(stderr, "namenode") && strings.Contains(stderr, "unreachable")
}

// registrations counts the times a DataNode process logged its
// registration with the NameNode, over all its restarts.
func registrations(p *proc) int {
	return strings.Count(p.out.String(), "registered with the namenode")
}

// waitRegistered waits until DataNode i has registered more than n
// times: a restarted node is back, not merely not yet noticed gone.
func (c *cluster) waitRegistered(i, n int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("datanode%d to register again", i), func() (bool, string) {
		return registrations(c.dns[i]) > n, ""
	})
}

// readWithClient reads path with the Go client and compares it with
// data.
func readWithClient(ctx context.Context, cl *client.Client, path string, data []byte) error {
	f, err := cl.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("read %s: %d bytes that differ from the %d acknowledged", path, len(got), len(data))
	}
	return nil
}

// diskIndex maps every block ID to its finalized data files on the
// disks of all DataNodes.
func (c *cluster) diskIndex() map[cairn.BlockID][]string {
	dirs := make([]string, len(c.dns))
	for i := range c.dns {
		dirs[i] = c.dnDir(i)
	}
	return testcluster.FinalizedReplicas(dirs...)
}

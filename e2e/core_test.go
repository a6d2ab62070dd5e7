package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

func randomFile(t testing.TB, dir string, size int64, seed int64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(data)
	p := filepath.Join(dir, fmt.Sprintf("random-%d-%d", size, seed))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestPutGetMultiBlock(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	size := int64(200 << 20)
	blockSize := "32MiB"
	if testing.Short() {
		size, blockSize = 20<<20, "3MiB"
	}
	local, data := randomFile(t, t.TempDir(), size, 1)
	c.must("fs", "mkdir", "-p", "/data")
	c.must("fs", "put", "--block-size", blockSize, "--replication", "3", local, "/data/big")

	var st statJSON
	c.mustJSON(&st, "fs", "stat", "--json", "/data/big")
	if st.Type != "file" || st.Size != size || st.Replication != 3 {
		t.Errorf("stat = type %q size %d replication %d, want file %d 3", st.Type, st.Size, st.Replication, size)
	}
	if len(st.Blocks) != 7 {
		t.Fatalf("stat: %d blocks, want 7", len(st.Blocks))
	}
	var total int64
	for i, b := range st.Blocks {
		total += b.Size
		if len(b.Locations) != 3 {
			t.Errorf("block %d (%d) has %d locations %v, want 3", i, b.ID, len(b.Locations), b.Locations)
		}
		for _, loc := range b.Locations {
			if !contains(c.dnAddr, loc) {
				t.Errorf("block %d location %q is not a datanode --addr %v", i, loc, c.dnAddr)
			}
		}
		if i < len(st.Blocks)-1 && b.Size != st.BlockSize {
			t.Errorf("block %d has size %d, want the block size %d", i, b.Size, st.BlockSize)
		}
	}
	if total != size {
		t.Errorf("blocks add up to %d bytes, want %d", total, size)
	}

	out := filepath.Join(t.TempDir(), "got")
	c.must("fs", "get", "/data/big", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if cat := c.must("fs", "cat", "/data/big"); cat != string(data) {
		t.Fatalf("cat returned %d bytes that differ from the %d put", len(cat), len(data))
	}

	var f fsckJSON
	c.mustJSON(&f, "admin", "fsck", "/", "--json")
	if f.Status != "HEALTHY" || f.Files != 1 || f.Blocks != 7 || f.UnderReplicatedBlocks != 0 {
		t.Errorf("fsck = %+v, want HEALTHY with 1 file and 7 blocks", f)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestNamespaceCommands(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	tmp := t.TempDir()
	local, data := randomFile(t, tmp, 3<<20+17, 2)

	c.must("fs", "mkdir", "-p", "/a/b/c")
	c.must("fs", "put", local, "/a/b/f")
	c.must("fs", "touch", "/a/empty")
	if out := c.must("fs", "ls", "/a"); !strings.Contains(out, "/a/b") || !strings.Contains(out, "/a/empty") {
		t.Errorf("ls /a = %q, want /a/b and /a/empty", out)
	}
	if out := c.must("fs", "ls", "-R", "/"); !strings.Contains(out, "/a/b/c") || !strings.Contains(out, "/a/b/f") {
		t.Errorf("ls -R / = %q, want /a/b/c and /a/b/f", out)
	}
	if out := c.must("fs", "ls", "-l", "-h", "/a/b"); !strings.Contains(out, "/a/b/f") {
		t.Errorf("ls -l -h /a/b = %q, want /a/b/f", out)
	}

	// mv into an existing directory puts the source inside it.
	c.must("fs", "mkdir", "/d")
	c.must("fs", "mv", "/a/b/f", "/d")
	var st statJSON
	c.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Size != int64(len(data)) {
		t.Errorf("after mv, /d/f has size %d, want %d", st.Size, len(data))
	}
	c.fails("does not exist", "fs", "stat", "/a/b/f")
	// Renaming a whole directory, and refusing to move it into itself.
	c.must("fs", "mv", "/a", "/z")
	c.must("fs", "stat", "/z/b/c")
	c.fails("", "fs", "mv", "/z", "/z/b/c")
	// mv onto an existing file fails and leaves both.
	c.must("fs", "touch", "/d/g")
	c.fails("exists", "fs", "mv", "/d/g", "/d/f")
	c.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Size != int64(len(data)) {
		t.Errorf("failed mv changed /d/f: size %d, want %d", st.Size, len(data))
	}

	// chmod, chown, setrep, touch show in stat.
	c.must("fs", "chmod", "600", "/d/f")
	c.must("fs", "chown", "alice:staff", "/d/f")
	c.must("fs", "setrep", "2", "/d/f")
	c.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Owner != "alice" || st.Group != "staff" || st.Replication != 2 || !strings.HasSuffix(st.Mode, "600") {
		t.Errorf("stat after chmod/chown/setrep = owner %q group %q replication %d mode %q", st.Owner, st.Group, st.Replication, st.Mode)
	}
	var dir statJSON
	c.mustJSON(&dir, "fs", "stat", "--json", "/z")
	if dir.Type != "directory" {
		t.Errorf("stat /z type = %q, want directory", dir.Type)
	}

	// du counts the bytes below a path.
	if out := c.must("fs", "du", "-s", "/d"); !strings.Contains(out, fmt.Sprint(len(data))) {
		t.Errorf("du -s /d = %q, want it to show %d", out, len(data))
	}
	// tail shows the last KiB.
	if out := c.must("fs", "tail", "/d/f"); out != string(data[len(data)-1024:]) {
		t.Errorf("tail /d/f returned %d bytes, not the last 1024", len(out))
	}

	// put refuses to overwrite without -f and leaves the file intact.
	other, otherData := randomFile(t, tmp, 1000, 3)
	c.fails("exists", "fs", "put", other, "/d/f")
	c.mustJSON(&st, "fs", "stat", "--json", "/d/f")
	if st.Size != int64(len(data)) {
		t.Errorf("refused put changed /d/f: size %d", st.Size)
	}
	c.must("fs", "put", "-f", other, "/d/f")
	if got := c.must("fs", "cat", "/d/f"); got != string(otherData) {
		t.Errorf("after put -f, cat /d/f returned %d bytes, want the new %d", len(got), len(otherData))
	}
	// No temporary is left behind by puts.
	if out := c.must("fs", "ls", "/d"); strings.Contains(out, "COPYING") {
		t.Errorf("ls /d shows a temporary: %q", out)
	}

	// put from stdin.
	if _, errOut, code := c.cairn([]byte("hello from stdin\n"), "fs", "put", "-", "/d/stdin"); code != 0 {
		t.Fatalf("put - failed: %s", errOut)
	}
	if got := c.must("fs", "cat", "/d/stdin"); got != "hello from stdin\n" {
		t.Errorf("cat /d/stdin = %q", got)
	}
	// put -r and get -r of a directory tree.
	tree := filepath.Join(tmp, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "one"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "two"), []byte("22"), 0o644)
	c.must("fs", "put", "-r", tree, "/t")
	back := filepath.Join(tmp, "back")
	c.must("fs", "get", "-r", "/t", back)
	if b, err := os.ReadFile(filepath.Join(back, "sub", "two")); err != nil || string(b) != "22" {
		t.Errorf("get -r: sub/two = %q, %v", b, err)
	}

	// rm: a non-empty directory needs -r.
	c.fails("not empty", "fs", "rm", "/z")
	c.must("fs", "rm", "-r", "/z")
	c.fails("does not exist", "fs", "stat", "/z")
	c.must("fs", "rm", "/d/g")

	var r reportJSON
	c.mustJSON(&r, "admin", "report", "--json")
	if r.LiveDatanodes != 3 || len(r.Datanodes) != 3 || r.CapacityBytes <= 0 {
		t.Errorf("report = %+v, want 3 live datanodes with capacity", r)
	}
	for _, d := range r.Datanodes {
		if d.State != "live" || !contains(c.dnAddr, d.Addr) || d.ID == "" {
			t.Errorf("report datanode %+v, want live with an --addr of ours", d)
		}
	}
	if out := c.must("admin", "safemode", "get"); !strings.Contains(out, "OFF") {
		t.Errorf("safemode get = %q, want OFF", out)
	}
	c.must("admin", "safemode", "enter")
	c.fails("safe mode", "fs", "mkdir", "/x")
	c.must("admin", "safemode", "leave")
	c.must("fs", "mkdir", "/x")
}

func TestBadInputs(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	local, _ := randomFile(t, t.TempDir(), 100, 4)
	c.must("fs", "put", local, "/keep")
	c.must("fs", "mkdir", "/dir")

	for _, p := range []string{"rel/path", "/a/../b", "//x", "/" + strings.Repeat("n", 256), "/dir/"} {
		c.fails("invalid path", "fs", "mkdir", p)
		c.fails("invalid path", "fs", "put", local, p)
	}
	c.fails("replication", "fs", "put", "--replication", "0", local, "/r0")
	line := c.fails("replication", "fs", "put", "--replication", "5", local, "/r5")
	if !strings.Contains(line, "5") || !strings.Contains(line, "3") {
		t.Errorf("replication 5 error %q does not name both 5 and 3", line)
	}
	c.fails("block-size", "fs", "put", "--block-size", "12XB", local, "/bs")
	c.fails("no such file", "fs", "put", filepath.Join(t.TempDir(), "missing"), "/m")
	c.fails("does not exist", "fs", "get", "/nope", filepath.Join(t.TempDir(), "x"))
	c.fails("does not exist", "fs", "cat", "/nope")
	c.fails("", "fs", "rm", "-r", "/")
	c.fails("exists", "fs", "mkdir", "/dir")

	// An unreachable NameNode is named within a few seconds.
	start := time.Now()
	_, errOut, code := c.cairn(nil, "fs", "--namenode", "127.0.0.1:1", "ls", "/")
	if code == 0 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("ls against a closed port: exit %d, stderr %q; want failure naming 127.0.0.1:1", code, errOut)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("ls against a closed port took %v", d)
	}

	// Nothing above changed the files that were there, or left any.
	got := c.must("fs", "ls", "-R", "/")
	for _, name := range []string{"/r0", "/r5", "/bs", "/m", "/nope", "COPYING", "/a", "/x"} {
		if strings.Contains(got, name+"\n") || strings.Contains(got, name+"/") || strings.Contains(got, "COPYING") {
			t.Errorf("ls -R / after bad inputs shows %s: %q", name, got)
		}
	}
	if !strings.Contains(got, "/dir") || !strings.Contains(got, "/keep") {
		t.Errorf("ls -R / after bad inputs = %q, want /dir and /keep", got)
	}
	var st statJSON
	c.mustJSON(&st, "fs", "stat", "--json", "/keep")
	if st.Size != 100 {
		t.Errorf("/keep has size %d, want 100", st.Size)
	}
}

// TestNameNodeKill9 kills the NameNode with SIGKILL in the middle of a
// stream of mkdirs and creates and checks that every acknowledged one
// is there after a restart.
func TestNameNodeKill9(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	ctx := context.Background()

	for round := 0; round < 2; round++ {
		cl, err := client.Dial(ctx, c.nnAddr)
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			acked []string
			wg    sync.WaitGroup
		)
		stop := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					p := fmt.Sprintf("/r%d-w%d-%d", round, w, i)
					var err error
					if i%2 == 0 {
						err = cl.Mkdir(ctx, p, 0o755)
					} else {
						err = cl.Touch(ctx, p)
					}
					if err != nil {
						return // the NameNode is gone
					}
					mu.Lock()
					acked = append(acked, p)
					mu.Unlock()
				}
			}(w)
		}
		// Let some operations through, then kill.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 500 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.nn.kill()
		close(stop)
		wg.Wait()
		cl.Close()
		if len(acked) == 0 {
			t.Fatal("no operation was acknowledged before the kill")
		}

		c.nn.start(t)
		c.waitLive(3)
		c.waitSafeModeOff()
		cl, err = client.Dial(ctx, c.nnAddr)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, p := range acked {
			if _, err := cl.Stat(ctx, p); err != nil {
				missing++
				if missing < 10 {
					t.Errorf("acknowledged %s is lost after kill -9: %v", p, err)
				}
			}
		}
		cl.Close()
		if missing > 0 {
			t.Fatalf("%d of %d acknowledged operations lost", missing, len(acked))
		}
		t.Logf("round %d: %d acknowledged operations all present after kill -9", round, len(acked))
	}
}

// TestDataNodeKill9ReadsFailOver kills DataNodes between operations and
// checks that reads fail over to the surviving replicas.
func TestDataNodeKill9ReadsFailOver(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	local, data := randomFile(t, t.TempDir(), 5<<20+3, 5)
	c.must("fs", "put", local, "/f")

	c.dns[0].kill()
	if got := c.must("fs", "cat", "/f"); got != string(data) {
		t.Fatalf("with one datanode killed, cat returned %d bytes that differ", len(got))
	}
	c.dns[1].kill()
	if got := c.must("fs", "cat", "/f"); got != string(data) {
		t.Fatalf("with two datanodes killed, cat returned %d bytes that differ", len(got))
	}
	c.dns[2].kill()
	line := c.fails("blk_", "fs", "cat", "/f")
	t.Logf("with every replica gone: %s", line)

	// Restarted DataNodes report their blocks and serve again.
	c.dns[0].start(t)
	c.dns[1].start(t)
	c.dns[2].start(t)
	c.waitFor("reads to succeed after restart", func() (bool, string) {
		out, errOut, code := c.cairn(nil, "fs", "cat", "/f")
		return code == 0 && out == string(data), errOut
	})
}

// TestFlippedByteNeverReachesReader corrupts one replica on disk and
// checks that readers get the right bytes anyway.
func TestFlippedByteNeverReachesReader(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	local, data := randomFile(t, t.TempDir(), 2<<20+100, 6)
	c.must("fs", "put", "--block-size", "1MiB", local, "/f")
	var st statJSON
	c.mustJSON(&st, "fs", "stat", "--json", "/f")
	if len(st.Blocks) == 0 {
		t.Fatal("no blocks")
	}
	// Flip one byte of every block in every replica but one, so each
	// block has exactly one good replica left.
	for _, b := range st.Blocks {
		for i := 0; i < 2; i++ {
			testcluster.FlipReplicaByte(t, cairn.BlockID(b.ID), b.Size/2, c.dnDir(i))
		}
	}
	for i := 0; i < 3; i++ {
		if got := c.must("fs", "cat", "/f"); got != string(data) {
			t.Fatalf("read %d returned %d bytes that differ from what was put", i, len(got))
		}
	}
	// Every replica corrupt: the read fails naming the block, and
	// never returns wrong bytes. (The replicas corrupted above may have
	// been replaced by now, so this uses a file of its own, corrupted
	// everywhere before anyone reads it.)
	local2, data2 := randomFile(t, t.TempDir(), 300<<10, 7)
	c.must("fs", "put", local2, "/g")
	var st2 statJSON
	c.mustJSON(&st2, "fs", "stat", "--json", "/g")
	b := st2.Blocks[0]
	for i := 0; i < 3; i++ {
		testcluster.FlipReplicaByte(t, cairn.BlockID(b.ID), b.Size/3, c.dnDir(i))
	}
	out, errOut, code := c.cairn(nil, "fs", "cat", "/g")
	if code == 0 {
		t.Fatalf("cat succeeded with every replica of block %d corrupt", b.ID)
	}
	if !bytes.HasPrefix(data2, []byte(out)) {
		t.Errorf("cat wrote %d bytes that are not a prefix of the file", len(out))
	}
	if !strings.Contains(errOut, fmt.Sprint(b.ID)) {
		t.Errorf("error %q does not name block %d", errOut, b.ID)
	}
}

package namenode

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// dump describes the whole namespace, one line per inode, for
// comparing two NameNodes.
func dump(s *Server) string {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "counters inode=%d block=%d gs=%d files=%d dirs=%d complete=%d\n",
		s.ns.nextInodeID, s.ns.nextBlockID, s.ns.nextGenStamp, s.ns.files, s.ns.dirs, s.ns.completeBlocks.Load())
	var walk func(n *inode, p string)
	walk = func(n *inode, p string) {
		st := s.ns.status(n, p)
		fmt.Fprintf(&b, "%s id=%d dir=%v mode=%v owner=%s group=%s mtime=%d size=%d repl=%d bs=%d uc=%v",
			p, n.id, st.IsDir, st.Mode, st.Owner, st.Group, n.mtime, st.Size, st.Replication, st.BlockSize, st.UnderConstruction)
		if u := s.ns.uc[n.id]; u != nil {
			fmt.Fprintf(&b, " holder=%s expected=%v", u.holder, u.expected)
		}
		for _, blk := range n.blocks {
			fmt.Fprintf(&b, " [%d %d %d %v]", blk.id, blk.gs, blk.len, blk.committed)
		}
		if n.xattrs != nil {
			for _, x := range n.xattrs.items {
				fmt.Fprintf(&b, " %s=%q", x.name, x.value)
			}
		}
		b.WriteByte('\n')
		for _, c := range n.children {
			walk(c, cairn.Join(p, c.name))
		}
	}
	walk(s.ns.root, "/")
	return b.String()
}

// mutate runs a varied stream of mutations.
func mutate(t *testing.T, s *Server, tag string) {
	t.Helper()
	build(t, s, "d:/"+tag+"/dir/sub", "f:/"+tag+"/empty")
	writeFile(t, s, "/"+tag+"/data/one", "w1", 1<<20, 1<<20, 7)
	writeFile(t, s, "/"+tag+"/data/two", "w1", 3)
	writeFile(t, s, "/"+tag+"/gone", "w2", 5)
	if err := s.Delete(bg, "/"+tag+"/gone", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rename(bg, "/"+tag+"/data/two", "/"+tag+"/dir", RenameOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPermission(bg, "/"+tag+"/dir", 0o711); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOwner(bg, "/"+tag+"/data/one", "dora", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetReplication(bg, "/"+tag+"/data", 2, true); err != nil {
		t.Fatal(err)
	}
	// An open file: one committed block and one being written.
	st, err := s.Create(bg, "/"+tag+"/open", CreateOptions{ClientName: "w3"})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.AddBlock(bg, "/"+tag+"/open", st.ID, "w3", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	lb.Block.Len = 1 << 20
	if _, err := s.AddBlock(bg, "/"+tag+"/open", st.ID, "w3", &lb.Block, nil, ""); err != nil {
		t.Fatal(err)
	}
	// An open file made with its first block, in one entry.
	if st, err := s.Create(bg, "/"+tag+"/open1", CreateOptions{ClientName: "w4", AllocateBlock: true}); err != nil || len(st.Blocks) != 1 {
		t.Fatalf("Create(AllocateBlock) = %+v, %v; want a block", st, err)
	}
	// A failed mutation is logged too, and must replay as a failure.
	if _, err := s.Mkdirs(bg, "/"+tag+"/dir", 0, false, "", ""); cairn.KindOf(err) != cairn.Exist {
		t.Fatalf("Mkdirs(existing) = %v, want Exist", err)
	}
	// Extended attributes: set, replaced, removed, on files (an open
	// one too) and directories, with bytes a string table would choke
	// on.
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("SetXAttrs", s.SetXAttrs(bg, "/"+tag+"/data/one", []xattr{{"user.s3.etag", "abc " + tag}, {"USER.mime", "text/plain"}, {"trusted.k", "\x00\xff"}}, false, false))
	must("SetXAttrs replace", s.SetXAttrs(bg, "/"+tag+"/data/one", []xattr{{"user.mime", "text/csv"}}, false, true))
	must("SetXAttrs dir", s.SetXAttrs(bg, "/"+tag+"/dir", []xattr{{"user.a", ""}, {"user.b", "2"}}, true, false))
	must("RemoveXAttr", s.RemoveXAttr(bg, "/"+tag+"/dir", "user.a"))
	must("SetXAttrs open", s.SetXAttrs(bg, "/"+tag+"/open", []xattr{{"user.x", "y"}}, false, false))
	if err := s.SetXAttrs(bg, "/"+tag+"/dir", []xattr{{"user.b", "3"}}, true, false); cairn.KindOf(err) != cairn.Exist {
		t.Fatalf("SetXAttrs(create, existing) = %v, want Exist", err)
	}
}

func TestReopenAfterClose(t *testing.T) {
	for _, snap := range []string{"log only", "snapshot and log"} {
		t.Run(snap, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			s := startServer(t, cfg)
			registerNodes(t, s, 3)
			mutate(t, s, "a")
			if snap != "log only" {
				if err := s.rn.raft.Snapshot().Error(); err != nil {
					t.Fatalf("Snapshot: %v", err)
				}
				mutate(t, s, "b")
			}
			want := dump(s)
			id := s.ClusterID()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}

			s2 := startServer(t, cfg)
			if got := dump(s2); got != want {
				t.Errorf("namespace after reopen:\n%s\nwant:\n%s", got, want)
			}
			if s2.ClusterID() != id {
				t.Errorf("cluster ID after reopen = %q, want %q", s2.ClusterID(), id)
			}
		})
	}
}

func TestAutomaticSnapshotsAndReplay(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SnapshotThreshold = 16
	cfg.snapshotInterval = 20 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	for i := range 10 {
		mutate(t, s, fmt.Sprintf("t%d", i))
	}
	waitFor(t, "an automatic snapshot", func() bool {
		snaps, _ := os.ReadDir(filepath.Join(cfg.Dir, "raft", "snapshots"))
		return len(snaps) > 0
	})
	mutate(t, s, "last")
	want := dump(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, cfg)
	if got := dump(s2); got != want {
		t.Errorf("namespace after snapshot and replay:\n%s\nwant:\n%s", got, want)
	}
	// The counters came back: a new block does not reuse an ID.
	registerNodes(t, s2, 3)
	if _, err := s2.SafeMode(bg, "leave"); err != nil {
		t.Fatal(err)
	}
	lbs := writeFile(t, s2, "/new", "w", 1)
	s2.ns.mu.RLock()
	owner := s2.ns.blocks[lbs[0].Block.ID].file
	s2.ns.mu.RUnlock()
	if owner.path() != "/new" {
		t.Errorf("new block %d belongs to %s, want /new", lbs[0].Block.ID, owner.path())
	}
}

func TestConcurrentCreatesSurviveReopen(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SnapshotThreshold = 200
	cfg.snapshotInterval = 50 * time.Millisecond
	s := startServer(t, cfg)
	registerNodes(t, s, 3)
	const workers, each = 16, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := fmt.Sprintf("/c/w%02d/f%03d", w, i)
				if _, err := s.Create(bg, p, CreateOptions{Touch: true, CreateParent: true}); err != nil {
					errs <- fmt.Errorf("Create(%q) = %v", p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.Close()
	s2 := startServer(t, cfg)
	for w := range workers {
		entries, _, err := s2.ListDir(bg, fmt.Sprintf("/c/w%02d", w), "", 0)
		if err != nil || len(entries) != each {
			t.Fatalf("after reopen, worker %d has %d files (%v), want %d", w, len(entries), err, each)
		}
	}
}

// TestKill9 runs a NameNode in a child process, kills it with SIGKILL
// in the middle of a stream of concurrent creates, reopens its
// directory and checks that every create the child saw acknowledged is
// there.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("CAIRN_NAMENODE_KILL_CHILD"); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE_KILL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "ack "); ok {
			acked[p] = true
		}
		if !killed && len(acked) >= 2000 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledged creates without being killed", len(acked))
	}
	s := startServer(t, Config{Dir: dir, SnapshotThreshold: 100})
	missing := 0
	for p := range acked {
		if ok, _ := exists(t, s, p); !ok {
			missing++
			if missing < 10 {
				t.Errorf("acknowledged %s is missing after kill -9", p)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged creates lost", missing, len(acked))
	}
	t.Logf("%d acknowledged creates all present after kill -9", len(acked))
}

// killChild is the child of TestKill9: it creates files from 8
// goroutines and prints "ack PATH" after each acknowledged create until
// it is killed.
func killChild(dir string) {
	cfg := Config{Dir: dir, SnapshotThreshold: 100, snapshotInterval: 10 * time.Millisecond}
	s, err := New(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				p := "/k/w" + strconv.Itoa(w) + "/f" + strconv.Itoa(i)
				if _, err := s.Create(bg, p, CreateOptions{Touch: true, CreateParent: true}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

func TestOpenFileSurvivesRestart(t *testing.T) {
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			s := startServer(t, cfg)
			registerNodes(t, s, 3)
			st, _ := s.Create(bg, "/open", CreateOptions{ClientName: "w"})
			lb, err := s.AddBlock(bg, "/open", st.ID, "w", nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if snap {
				if err := s.rn.raft.Snapshot().Error(); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()

			s2 := startServer(t, cfg)
			registerNodes(t, s2, 3)
			// The lease holder came back with the file.
			_, err = s2.Create(bg, "/open", CreateOptions{ClientName: "other", Overwrite: true})
			wantKind(t, "Create by another client after restart", err, cairn.LeaseConflict)
			// So did the pipeline of the block being written.
			fi, err := s2.GetBlockLocations(bg, "/open", 0, 0, "")
			if err != nil || len(fi.Blocks) != 1 || len(fi.Blocks[0].Locations) != 3 {
				t.Fatalf("GetBlockLocations after restart = %+v, %v; want the block at its 3 targets", fi.Blocks, err)
			}
			// The writer carries on.
			lb.Block.Len = 12
			done, err := s2.Complete(bg, "/open", st.ID, "w", &lb.Block)
			if err != nil || done.Size != 12 {
				t.Fatalf("Complete after restart = %+v, %v", done, err)
			}
			fi, _ = s2.GetBlockLocations(bg, "/open", 0, 0, "")
			if len(fi.Blocks[0].Locations) != 3 {
				t.Errorf("locations after Complete = %v, want the 3 targets", fi.Blocks[0].Locations)
			}
		})
	}
}

package client_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestNamespace(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})

	t.Run("mkdir and stat", func(t *testing.T) {
		if err := cl.Mkdir(ctx, "/d", 0o750); err != nil {
			t.Fatalf("Mkdir(/d) = %v", err)
		}
		fi, err := cl.Stat(ctx, "/d")
		if err != nil || !fi.IsDir || fi.Mode != 0o750 || fi.Name != "d" || fi.Path != "/d" {
			t.Errorf("Stat(/d) = %+v, %v; want a directory named d with mode 0750", fi, err)
		}
		wantKind(t, "Mkdir of an existing directory", cl.Mkdir(ctx, "/d", 0o755), cairn.Exist)
		if err := cl.Mkdir(ctx, "/d", 0); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Mkdir(existing) = %v, want fs.ErrExist", err)
		}
		wantKind(t, "Mkdir with a missing parent", cl.Mkdir(ctx, "/missing/d", 0o755), cairn.NotExist)
		if err := cl.MkdirAll(ctx, "/a/b/c", 0o755); err != nil {
			t.Fatalf("MkdirAll(/a/b/c) = %v", err)
		}
		if err := cl.MkdirAll(ctx, "/a/b/c", 0o755); err != nil {
			t.Errorf("MkdirAll of an existing directory = %v", err)
		}
		for _, p := range []string{"/a", "/a/b", "/a/b/c"} {
			if fi, err := cl.Stat(ctx, p); err != nil || !fi.IsDir {
				t.Errorf("Stat(%s) = %+v, %v; want a directory", p, fi, err)
			}
		}
		root, err := cl.Stat(ctx, "/")
		if err != nil || !root.IsDir {
			t.Errorf("Stat(/) = %+v, %v; want a directory", root, err)
		}
		_, err = cl.Stat(ctx, "/nope")
		wantKind(t, "Stat of a missing file", err, cairn.NotExist)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("create checks existence and parents", func(t *testing.T) {
		writeFile(t, ctx, cl, "/d/f", []byte("one"), nil)
		_, err := cl.Create(ctx, "/d/f", nil)
		wantKind(t, "Create of an existing file", err, cairn.Exist)
		writeFile(t, ctx, cl, "/d/f", []byte("two!"), &client.CreateOptions{Overwrite: true})
		if got := readFile(t, ctx, cl, "/d/f"); string(got) != "two!" {
			t.Errorf("overwritten file reads %q, want %q", got, "two!")
		}
		_, err = cl.Create(ctx, "/x/y/f", nil)
		wantKind(t, "Create with a missing parent", err, cairn.NotExist)
		writeFile(t, ctx, cl, "/x/y/f", []byte("deep"), &client.CreateOptions{CreateParent: true})
		_, err = cl.Open(ctx, "/x/y")
		wantKind(t, "Open of a directory", err, cairn.IsDir)
		_, err = cl.Open(ctx, "/x/y/nope")
		wantKind(t, "Open of a missing file", err, cairn.NotExist)
	})

	t.Run("readdir lists sorted entries", func(t *testing.T) {
		cl.MkdirAll(ctx, "/list/sub", 0)
		for _, n := range []string{"c", "a", "b"} {
			if err := cl.Touch(ctx, "/list/"+n); err != nil {
				t.Fatalf("Touch(/list/%s) = %v", n, err)
			}
		}
		list, err := cl.ReadDir(ctx, "/list")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range list {
			names = append(names, e.Name)
			if e.Path != "/list/"+e.Name {
				t.Errorf("entry %q has path %q", e.Name, e.Path)
			}
		}
		if got, want := strings.Join(names, ","), "a,b,c,sub"; got != want {
			t.Errorf("ReadDir(/list) = %s, want %s", got, want)
		}
		if !list[3].IsDir || list[0].IsDir || list[0].Size != 0 {
			t.Errorf("ReadDir(/list) types wrong: %+v", list)
		}
		_, err = cl.ReadDir(ctx, "/list/a")
		wantKind(t, "ReadDir of a file", err, cairn.NotDir)
		_, err = cl.ReadDir(ctx, "/nolist")
		wantKind(t, "ReadDir of a missing directory", err, cairn.NotExist)
	})

	t.Run("readdir pages through a large directory", func(t *testing.T) {
		const n = 1100 // more than one page of the NameNode (1000)
		if err := cl.Mkdir(ctx, "/big", 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 8)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := cl.Touch(ctx, fmt.Sprintf("/big/f%05d", i)); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Touch: %v", err)
		}
		list, err := cl.ReadDir(ctx, "/big")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("ReadDir(/big) has %d entries, want %d", len(list), n)
		}
		for i, e := range list {
			if want := fmt.Sprintf("f%05d", i); e.Name != want {
				t.Fatalf("entry %d is %q, want %q", i, e.Name, want)
			}
		}
	})

	t.Run("rename", func(t *testing.T) {
		cl.MkdirAll(ctx, "/r/dir", 0)
		writeFile(t, ctx, cl, "/r/src", []byte("moving"), nil)
		if err := cl.Rename(ctx, "/r/src", "/r/dst", false); err != nil {
			t.Fatalf("Rename(/r/src, /r/dst) = %v", err)
		}
		if got := readFile(t, ctx, cl, "/r/dst"); string(got) != "moving" {
			t.Errorf("renamed file reads %q", got)
		}
		_, err := cl.Stat(ctx, "/r/src")
		wantKind(t, "Stat of a renamed source", err, cairn.NotExist)
		if err := cl.Rename(ctx, "/r/dst", "/r/dir", false); err != nil {
			t.Fatalf("Rename into a directory = %v", err)
		}
		if _, err := cl.Stat(ctx, "/r/dir/dst"); err != nil {
			t.Errorf("Stat(/r/dir/dst) after a move into /r/dir = %v", err)
		}
		wantKind(t, "Rename of a missing file", cl.Rename(ctx, "/r/nope", "/r/x", false), cairn.NotExist)
		writeFile(t, ctx, cl, "/r/other", []byte("other"), nil)
		wantKind(t, "Rename onto an existing file", cl.Rename(ctx, "/r/other", "/r/dir/dst", false), cairn.Exist)
		if err := cl.Rename(ctx, "/r/other", "/r/dir/dst", true); err != nil {
			t.Fatalf("Rename with overwrite = %v", err)
		}
		if got := readFile(t, ctx, cl, "/r/dir/dst"); string(got) != "other" {
			t.Errorf("overwritten destination reads %q, want %q", got, "other")
		}
	})

	t.Run("rename to exactly a path", func(t *testing.T) {
		cl.MkdirAll(ctx, "/rx/dir", 0)
		writeFile(t, ctx, cl, "/rx/src", []byte("exact"), nil)
		writeFile(t, ctx, cl, "/rx/file", []byte("old"), nil)
		wantKind(t, "RenameTo onto a directory", cl.RenameTo(ctx, "/rx/src", "/rx/dir", nil), cairn.IsDir)
		wantKind(t, "RenameTo onto a directory with overwrite", cl.RenameTo(ctx, "/rx/src", "/rx/dir", &client.RenameOptions{Overwrite: true}), cairn.IsDir)
		if _, err := cl.Stat(ctx, "/rx/dir/src"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(/rx/dir/src) after RenameTo onto /rx/dir = %v, want not found", err)
		}
		wantKind(t, "RenameTo onto a file", cl.RenameTo(ctx, "/rx/src", "/rx/file", nil), cairn.Exist)
		wantKind(t, "RenameTo below a missing directory", cl.RenameTo(ctx, "/rx/src", "/rx/nope/x", nil), cairn.NotExist)
		if got := readFile(t, ctx, cl, "/rx/src"); string(got) != "exact" {
			t.Errorf("source after failed renames reads %q", got)
		}
		if err := cl.RenameTo(ctx, "/rx/src", "/rx/file", &client.RenameOptions{Overwrite: true}); err != nil {
			t.Fatalf("RenameTo with overwrite = %v", err)
		}
		if got := readFile(t, ctx, cl, "/rx/file"); string(got) != "exact" {
			t.Errorf("overwritten destination reads %q, want %q", got, "exact")
		}
		if err := cl.RenameTo(ctx, "/rx/file", "/rx/dir/new", nil); err != nil {
			t.Fatalf("RenameTo(/rx/file, /rx/dir/new) = %v", err)
		}
		if got := readFile(t, ctx, cl, "/rx/dir/new"); string(got) != "exact" {
			t.Errorf("renamed file reads %q", got)
		}
	})

	t.Run("remove", func(t *testing.T) {
		cl.MkdirAll(ctx, "/rm/full/deeper", 0)
		writeFile(t, ctx, cl, "/rm/full/deeper/f", randomBytes(7, 1000), nil)
		writeFile(t, ctx, cl, "/rm/file", []byte("x"), nil)
		if err := cl.Remove(ctx, "/rm/file"); err != nil {
			t.Fatalf("Remove(file) = %v", err)
		}
		wantKind(t, "Remove of a missing file", cl.Remove(ctx, "/rm/file"), cairn.NotExist)
		wantKind(t, "Remove of a full directory", cl.Remove(ctx, "/rm/full"), cairn.NotEmpty)
		if err := cl.RemoveAll(ctx, "/rm/full"); err != nil {
			t.Fatalf("RemoveAll = %v", err)
		}
		if _, err := cl.Stat(ctx, "/rm/full/deeper/f"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat below a removed tree = %v, want fs.ErrNotExist", err)
		}
		if err := cl.RemoveAll(ctx, "/rm/full"); err != nil {
			t.Errorf("RemoveAll of a missing name = %v, want nil", err)
		}
		if err := cl.Remove(ctx, "/rm"); err != nil {
			t.Errorf("Remove of an empty directory = %v", err)
		}
	})

	t.Run("attributes", func(t *testing.T) {
		writeFile(t, ctx, cl, "/attr", []byte("attributes"), nil)
		if err := cl.Chmod(ctx, "/attr", 0o640); err != nil {
			t.Fatal(err)
		}
		if err := cl.Chown(ctx, "/attr", "alice", ""); err != nil {
			t.Fatal(err)
		}
		if err := cl.Chown(ctx, "/attr", "", "staff"); err != nil {
			t.Fatal(err)
		}
		if err := cl.SetReplication(ctx, "/attr", 2); err != nil {
			t.Fatal(err)
		}
		fi, err := cl.Stat(ctx, "/attr")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode != 0o640 || fi.Owner != "alice" || fi.Group != "staff" || fi.Replication != 2 {
			t.Errorf("Stat = mode %v owner %s group %s replication %d; want 0640 alice staff 2", fi.Mode, fi.Owner, fi.Group, fi.Replication)
		}
		wantKind(t, "Chmod of a missing file", cl.Chmod(ctx, "/nope", 0o600), cairn.NotExist)
		wantKind(t, "Chown of a missing file", cl.Chown(ctx, "/nope", "bob", ""), cairn.NotExist)
		wantKind(t, "SetReplication of a missing file", cl.SetReplication(ctx, "/nope", 2), cairn.NotExist)
		wantKind(t, "SetReplication to 0", cl.SetReplication(ctx, "/attr", 0), cairn.Invalid)

		cl.MkdirAll(ctx, "/rep/sub", 0)
		writeFile(t, ctx, cl, "/rep/a", []byte("a"), nil)
		writeFile(t, ctx, cl, "/rep/sub/b", []byte("b"), nil)
		if err := cl.SetReplication(ctx, "/rep", 1); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/rep/a", "/rep/sub/b"} {
			if fi, err := cl.Stat(ctx, p); err != nil || fi.Replication != 1 {
				t.Errorf("Stat(%s) after SetReplication(/rep, 1) = replication %d, %v", p, fi.Replication, err)
			}
		}
	})

	t.Run("touch", func(t *testing.T) {
		if err := cl.Touch(ctx, "/touched"); err != nil {
			t.Fatal(err)
		}
		fi, err := cl.Stat(ctx, "/touched")
		if err != nil || fi.Size != 0 || fi.IsDir || fi.UnderConstruction {
			t.Fatalf("Stat(touched) = %+v, %v; want an empty complete file", fi, err)
		}
		writeFile(t, ctx, cl, "/touched2", []byte("data"), nil)
		before, _ := cl.Stat(ctx, "/touched2")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := cl.Touch(ctx, "/touched2"); err != nil {
				t.Fatal(err)
			}
			after, err := cl.Stat(ctx, "/touched2")
			if err != nil {
				t.Fatal(err)
			}
			if after.Size != 4 {
				t.Fatalf("Touch changed the size to %d", after.Size)
			}
			if after.ModTime.After(before.ModTime) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Touch never moved mtime past %v", before.ModTime)
			}
		}
	})

	t.Run("settimes", func(t *testing.T) {
		writeFile(t, ctx, cl, "/timed", []byte("data"), nil)
		mtime := time.Date(2021, 6, 7, 8, 9, 10, 11e6, time.UTC)
		if err := cl.SetTimes(ctx, "/timed", mtime); err != nil {
			t.Fatal(err)
		}
		if fi, err := cl.Stat(ctx, "/timed"); err != nil || !fi.ModTime.Equal(mtime) || fi.Size != 4 {
			t.Fatalf("Stat after SetTimes(%v) = %+v, %v", mtime, fi, err)
		}
		wantKind(t, "SetTimes of a missing file", cl.SetTimes(ctx, "/untimed", mtime), cairn.NotExist)
		wantKind(t, "SetTimes of a bad path", cl.SetTimes(ctx, "rel", mtime), cairn.Invalid)
	})

	t.Run("content summary", func(t *testing.T) {
		cl.MkdirAll(ctx, "/cs/sub", 0)
		writeFile(t, ctx, cl, "/cs/a", randomBytes(1, 1000), nil)
		writeFile(t, ctx, cl, "/cs/sub/b", randomBytes(2, 2000), &client.CreateOptions{Replication: 2})
		sum, err := cl.ContentSummary(ctx, "/cs")
		if err != nil {
			t.Fatal(err)
		}
		want := client.ContentSummary{Length: 3000, Files: 2, Directories: 2, SpaceConsumed: 1000*3 + 2000*2}
		if sum != want {
			t.Errorf("ContentSummary(/cs) = %+v, want %+v", sum, want)
		}
	})

	t.Run("server defaults", func(t *testing.T) {
		d, err := cl.ServerDefaults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.BlockSize != testBlockSize || d.Replication != 3 || d.ClusterID == "" {
			t.Errorf("ServerDefaults() = %+v, want block size %d, replication 3, a cluster ID", d, testBlockSize)
		}
	})

	t.Run("invalid paths are refused locally", func(t *testing.T) {
		for _, p := range []string{"", "relative", "/a/../b", "//x", "/trailing/", "/nul\x00"} {
			calls := map[string]error{
				"Stat":      func() error { _, err := cl.Stat(ctx, p); return err }(),
				"Mkdir":     cl.Mkdir(ctx, p, 0),
				"Create":    func() error { _, err := cl.Create(ctx, p, nil); return err }(),
				"Open":      func() error { _, err := cl.Open(ctx, p); return err }(),
				"Rename":    cl.Rename(ctx, "/d", p, false),
				"RemoveAll": cl.RemoveAll(ctx, p),
				"ReadDir":   func() error { _, err := cl.ReadDir(ctx, p); return err }(),
			}
			for name, err := range calls {
				wantKind(t, fmt.Sprintf("%s(%q)", name, p), err, cairn.Invalid)
				if err != nil && !strings.Contains(err.Error(), "invalid path") {
					t.Errorf("%s(%q) = %v, want an \"invalid path\" message", name, p, err)
				}
			}
		}
	})
}

func TestAdmin(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})
	rep, err := cl.DatanodeReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Datanodes) != 3 || rep.ClusterID == "" || rep.SafeMode {
		t.Errorf("DatanodeReport() = %+v, want 3 datanodes, a cluster ID, no safe mode", rep)
	}
	for _, d := range rep.Datanodes {
		if d.State != "live" || d.ID == "" || d.Addr == "" || d.LastHeartbeat.IsZero() {
			t.Errorf("datanode %+v: want live with an ID, an address and a heartbeat", d)
		}
	}

	writeFile(t, ctx, cl, "/fsck/f", randomBytes(3, 2*testBlockSize+1), &client.CreateOptions{CreateParent: true})
	fsck, err := cl.Fsck(ctx, "/", client.FsckOptions{Locations: true})
	if err != nil {
		t.Fatal(err)
	}
	if fsck.Status != "HEALTHY" || fsck.Files != 1 || fsck.Blocks != 3 || fsck.TotalSize != 2*testBlockSize+1 || fsck.LiveDatanodes != 3 {
		t.Errorf("Fsck(/) = %+v, want HEALTHY, 1 file, 3 blocks", fsck)
	}
	if len(fsck.FileDetails) != 1 || len(fsck.FileDetails[0].Blocks) != 3 || len(fsck.FileDetails[0].Blocks[0].Locations) != 3 {
		t.Errorf("Fsck(/) details = %+v, want one file of 3 blocks with 3 locations each", fsck.FileDetails)
	}
	_, err = cl.Fsck(ctx, "/nope", client.FsckOptions{})
	wantKind(t, "Fsck of a missing path", err, cairn.NotExist)

	st, err := cl.SafeMode(ctx, "get")
	if err != nil || st.On {
		t.Fatalf("SafeMode(get) = %+v, %v; want off", st, err)
	}
	if st, err := cl.SafeMode(ctx, "enter"); err != nil || !st.On || !st.Manual {
		t.Fatalf("SafeMode(enter) = %+v, %v; want on, manual", st, err)
	}
	_, err = cl.Create(ctx, "/in-safe-mode", nil)
	wantKind(t, "Create in safe mode", err, cairn.SafeMode)
	if st, err := cl.SafeMode(ctx, "leave"); err != nil || st.On {
		t.Fatalf("SafeMode(leave) = %+v, %v; want off", st, err)
	}
	if err := cl.WaitSafeModeOff(ctx); err != nil {
		t.Errorf("WaitSafeModeOff() = %v", err)
	}
	_, err = cl.SafeMode(ctx, "toggle")
	wantKind(t, "SafeMode(toggle)", err, cairn.Invalid)
}

func TestSetTimes(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	writeFile(t, ctx, cl, "/f", []byte("x"), nil)
	mt := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	for _, p := range []string{"/f", "/"} {
		if err := cl.SetTimes(ctx, p, mt); err != nil {
			t.Fatalf("SetTimes(%s) = %v", p, err)
		}
		if fi, err := cl.Stat(ctx, p); err != nil || !fi.ModTime.Equal(mt) {
			t.Errorf("Stat(%s).ModTime = %v, %v; want %v", p, fi.ModTime, err, mt)
		}
	}
	wantKind(t, "SetTimes of a missing file", cl.SetTimes(ctx, "/nope", mt), cairn.NotExist)
}

func TestWriterFileID(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatalf("Create(/f) = %v", err)
	}
	defer w.Abort()
	fi, err := cl.Stat(ctx, "/f")
	if err != nil || fi.FileID == 0 || w.FileID() != fi.FileID {
		t.Errorf("Writer.FileID() = %d, Stat(/f).FileID = %d (%v); want the same, not 0", w.FileID(), fi.FileID, err)
	}
}

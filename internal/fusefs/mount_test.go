package fusefs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/fusefs"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// needFUSE skips the test when FUSE is missing, unless CI is set,
// where it fails: the CI machine must have it (.ci/run installs fuse3).
func needFUSE(t *testing.T) {
	t.Helper()
	var missing string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = "/dev/fuse is missing"
	} else if _, err := exec.LookPath("fusermount3"); err != nil && os.Geteuid() != 0 {
		missing = "fusermount3 is missing (apt-get install fuse3)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("FUSE needed: %s", missing)
	}
	t.Skipf("FUSE needed: %s", missing)
}

// testLogger routes logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is a test cluster, a client of it and a mount of it.
type env struct {
	tc  *testcluster.Cluster
	cl  *client.Client
	ctx context.Context
	dir string
	srv *fusefs.Server
}

// mount starts a cluster of one DataNode and mounts it in a temporary
// directory, unmounted by t.Cleanup.
func mount(t *testing.T, cfg fusefs.Config) *env {
	t.Helper()
	needFUSE(t)
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1})
	cl := tc.Client(t)
	dir := t.TempDir()
	cfg.Client = cl
	lg := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: logLevel()}))
	srv, err := fusefs.Mount(dir, cfg, lg)
	if err != nil {
		t.Fatalf("Mount(%s) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("Unmount = %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &env{tc: tc, cl: cl, ctx: ctx, dir: dir, srv: srv}
}

// p returns the local path of a cairn path in the mount.
func (e *env) p(name string) string { return filepath.Join(e.dir, name) }

// cat reads a cairn file through the client, as 'cairn fs cat' does.
func (e *env) cat(t *testing.T, name string) []byte {
	t.Helper()
	r, err := e.cl.Open(e.ctx, name)
	if err != nil {
		t.Fatalf("client Open(%s) = %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("client read %s = %v", name, err)
	}
	return b
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

// TestMount drives one mount with the system calls cp, mv, rm, ls,
// tar, dd and the shell make, and checks what the cluster holds through
// the client.
func TestMount(t *testing.T) {
	e := mount(t, fusefs.Config{AttrTimeout: 200 * time.Millisecond, Debug: os.Getenv("FUSE_DEBUG") != ""})

	t.Run("a file written through the mount is whole once close returns", func(t *testing.T) {
		data := random(3<<20 + 17) // several 1 MiB blocks and a partial one
		if err := os.WriteFile(e.p("a.bin"), data, 0o640); err != nil {
			t.Fatalf("WriteFile = %v", err)
		}
		// No wait: close(2) returned, so the client reads it all.
		if got := e.cat(t, "/a.bin"); !bytes.Equal(got, data) {
			t.Fatalf("client reads %d bytes, want %d", len(got), len(data))
		}
		got, err := os.ReadFile(e.p("a.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile = %d bytes, %v; want %d", len(got), err, len(data))
		}
		fi, err := os.Stat(e.p("a.bin"))
		if err != nil || fi.Size() != int64(len(data)) || fi.Mode().Perm() != 0o640 {
			t.Errorf("Stat = %v, %v; want size %d, mode 0640", fi, err, len(data))
		}
		// And the cluster completes it (on RELEASE, just after).
		e.tc.WaitFor(t, "the file to be complete", func(ctx context.Context) (bool, error) {
			fi, err := e.cl.Stat(ctx, "/a.bin")
			return err == nil && !fi.UnderConstruction && fi.Size == int64(len(data)), nil
		})
	})

	t.Run("random reads", func(t *testing.T) {
		data := random(2<<20 + 5)
		writeClient(t, e, "/r.bin", data)
		f, err := os.Open(e.p("r.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// Sequential reads (through the read-ahead), a jump, and
		// sequential reads again.
		got := make([]byte, 0, len(data))
		buf := make([]byte, 100<<10)
		for len(got) < len(data) {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if len(got) > 1<<20 && len(got) < 1<<20+len(buf) {
				jump := make([]byte, 10)
				if n, err := f.ReadAt(jump, 5); n != 10 || !bytes.Equal(jump, data[5:15]) {
					t.Errorf("ReadAt(5) in the middle of sequential reads = %x, %v", jump[:n], err)
				}
			}
		}
		if !bytes.Equal(got, data) {
			t.Errorf("sequential reads give %d bytes, want the %d written", len(got), len(data))
		}
		for _, off := range []int64{1 << 20, 17, 2<<20 + 1, 0, 1<<20 - 3} {
			buf := make([]byte, 4)
			n, err := f.ReadAt(buf, off)
			if n != 4 || !bytes.Equal(buf, data[off:off+4]) {
				t.Errorf("ReadAt(%d) = %x, %v; want %x", off, buf[:n], err, data[off:off+4])
			}
		}
	})

	t.Run("a file written by the client shows after the attribute timeout", func(t *testing.T) {
		if _, err := os.Stat(e.p("late")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Stat(late) = %v, want not exist", err)
		}
		writeClient(t, e, "/late", []byte("hello"))
		start := time.Now()
		e.tc.WaitFor(t, "the file to show through the mount", func(context.Context) (bool, error) {
			b, err := os.ReadFile(e.p("late"))
			return err == nil && string(b) == "hello", nil
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the file showed after %v, want about the attribute timeout (200ms)", d)
		}
		writeClientOver(t, e, "/late", []byte("hello, world"))
		e.tc.WaitFor(t, "the new size to show through the mount", func(context.Context) (bool, error) {
			fi, err := os.Stat(e.p("late"))
			return err == nil && fi.Size() == 12, nil
		})
	})

	t.Run("O_TRUNC replaces an existing file", func(t *testing.T) {
		writeClient(t, e, "/t", []byte("old contents, long"))
		f, err := os.OpenFile(e.p("t"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatalf("open O_TRUNC = %v", err)
		}
		if _, err := f.WriteString("new"); err != nil {
			t.Fatalf("write = %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close = %v", err)
		}
		if got := e.cat(t, "/t"); string(got) != "new" {
			t.Errorf("client reads %q, want %q", got, "new")
		}
	})

	t.Run("ftruncate to zero of a file being written starts it again", func(t *testing.T) {
		f, err := os.Create(e.p("ft"))
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("discarded")
		if err := f.Truncate(0); err != nil {
			t.Fatalf("Truncate(0) = %v", err)
		}
		if _, err := f.WriteAt([]byte("kept"), 0); err != nil {
			t.Fatalf("WriteAt(0) after truncate = %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.cat(t, "/ft"); string(got) != "kept" {
			t.Errorf("client reads %q, want %q", got, "kept")
		}
	})

	t.Run("writes cairn cannot do fail with EOPNOTSUPP", func(t *testing.T) {
		f, err := os.Create(e.p("w"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteAt([]byte("x"), 2)
		wantErrno(t, "WriteAt before the end", err, syscall.EOPNOTSUPP)
		// A seek past the end leaves a hole of zeros.
		if _, err := f.WriteAt([]byte("z"), 12); err != nil {
			t.Errorf("WriteAt past the end = %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close = %v", err)
		}
		if got := e.cat(t, "/w"); string(got) != "0123456789\x00\x00z" {
			t.Errorf("client reads %q, want the bytes before the failed write and a hole", got)
		}
		// An existing file, not truncated.
		f, err = os.OpenFile(e.p("w"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatalf("open O_APPEND = %v", err)
		}
		_, err = f.Write([]byte("more"))
		wantErrno(t, "append to an existing file", err, syscall.EOPNOTSUPP)
		f.Close()
		f, err = os.OpenFile(e.p("w"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatalf("open O_WRONLY = %v", err)
		}
		_, err = f.Write([]byte("over"))
		wantErrno(t, "overwrite of an existing file", err, syscall.EOPNOTSUPP)
		f.Close()
		if got := e.cat(t, "/w"); string(got) != "0123456789\x00\x00z" {
			t.Errorf("after the refused writes the client reads %q", got)
		}
		// An existing empty file may be written from the start.
		if err := os.WriteFile(e.p("empty"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err = os.OpenFile(e.p("empty"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("filled")); err != nil {
			t.Errorf("write to an empty existing file = %v", err)
		}
		f.Close()
		if got := e.cat(t, "/empty"); string(got) != "filled" {
			t.Errorf("client reads %q, want %q", got, "filled")
		}
	})

	t.Run("a duplicated descriptor outlives the close of the original", func(t *testing.T) {
		// As a shell's "echo x > f": open, dup2, close the original
		// (FLUSH before anything is written), write through the
		// duplicate, close it.
		f, err := os.Create(e.p("dup"))
		if err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close of the original = %v", err)
		}
		if _, err := syscall.Write(fd, []byte("first ")); err != nil {
			t.Fatalf("write through the duplicate = %v", err)
		}
		// Another duplicate closed after a write (as a child
		// process exiting): what was written is readable, and
		// writing goes on.
		fd2, err := syscall.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Close(fd2); err != nil {
			t.Fatalf("close of a second duplicate = %v", err)
		}
		if got := e.cat(t, "/dup"); string(got) != "first " {
			t.Errorf("after a duplicate's close the client reads %q, want %q", got, "first ")
		}
		if _, err := syscall.Write(fd, []byte("second")); err != nil {
			t.Fatalf("write after a duplicate's close = %v", err)
		}
		if err := syscall.Close(fd); err != nil {
			t.Fatalf("close of the last descriptor = %v", err)
		}
		if got := e.cat(t, "/dup"); string(got) != "first second" {
			t.Errorf("client reads %q, want %q", got, "first second")
		}
	})

	t.Run("a file removed while open for writing", func(t *testing.T) {
		f, err := os.Create(e.p("gone"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString("abc")
		must(t, os.Remove(e.p("gone")))
		fi, err := f.Stat()
		if err != nil || fi.Size() != 3 {
			t.Errorf("fstat of the removed file = %v, %v; want size 3", fi, err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("close of the removed file = %v", err)
		}
		if _, err := e.cl.Stat(e.ctx, "/gone"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("client Stat(/gone) = %v, want not exist", err)
		}
	})

	t.Run("mkdir, rmdir, unlink and their errors", func(t *testing.T) {
		if err := os.Mkdir(e.p("d"), 0o750); err != nil {
			t.Fatalf("Mkdir = %v", err)
		}
		if fi, err := e.cl.Stat(e.ctx, "/d"); err != nil || !fi.IsDir || fi.Mode.Perm() != 0o750 {
			t.Errorf("client Stat(/d) = %+v, %v; want a directory, mode 0750", fi, err)
		}
		wantErrno(t, "Mkdir of an existing name", os.Mkdir(e.p("d"), 0o755), syscall.EEXIST)
		if err := os.WriteFile(e.p("d/f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantErrno(t, "Rmdir of a non-empty directory", syscall.Rmdir(e.p("d")), syscall.ENOTEMPTY)
		wantErrno(t, "Unlink of a directory", syscall.Unlink(e.p("d")), syscall.EISDIR)
		_, err := os.Stat(e.p("d/f/x"))
		wantErrno(t, "Stat below a file", err, syscall.ENOTDIR)
		_, err = os.Stat(e.p("nope"))
		wantErrno(t, "Stat of a missing name", err, syscall.ENOENT)
		_, err = os.OpenFile(e.p("d"), os.O_WRONLY, 0)
		wantErrno(t, "open of a directory for writing", err, syscall.EISDIR)
		wantErrno(t, "Symlink", os.Symlink("f", e.p("d/link")), syscall.EOPNOTSUPP)
		wantErrno(t, "Link", os.Link(e.p("d/f"), e.p("d/hard")), syscall.EOPNOTSUPP)
		if err := os.Remove(e.p("d/f")); err != nil {
			t.Fatalf("Remove(d/f) = %v", err)
		}
		if err := os.Remove(e.p("d")); err != nil {
			t.Fatalf("Remove(d) = %v", err)
		}
		if _, err := e.cl.Stat(e.ctx, "/d"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("client Stat(/d) after rmdir = %v, want not exist", err)
		}
	})

	t.Run("rename replaces as POSIX does", func(t *testing.T) {
		must(t, os.MkdirAll(e.p("mv/full"), 0o755))
		must(t, os.MkdirAll(e.p("mv/empty"), 0o755))
		must(t, os.MkdirAll(e.p("mv/src"), 0o755))
		must(t, os.WriteFile(e.p("mv/full/x"), []byte("x"), 0o644))
		must(t, os.WriteFile(e.p("mv/a"), []byte("a"), 0o644))
		must(t, os.WriteFile(e.p("mv/b"), []byte("b"), 0o644))
		if err := os.Rename(e.p("mv/a"), e.p("mv/b")); err != nil {
			t.Fatalf("Rename onto a file = %v", err)
		}
		if got := e.cat(t, "/mv/b"); string(got) != "a" {
			t.Errorf("after rename the target holds %q, want %q", got, "a")
		}
		if _, err := os.Stat(e.p("mv/a")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat of the renamed source = %v, want not exist", err)
		}
		// syscall.Rename: os.Rename refuses a directory as the
		// target itself.
		wantErrno(t, "Rename of a directory onto a non-empty one", syscall.Rename(e.p("mv/src"), e.p("mv/full")), syscall.ENOTEMPTY)
		wantErrno(t, "Rename of a file onto a directory", syscall.Rename(e.p("mv/b"), e.p("mv/empty")), syscall.EISDIR)
		wantErrno(t, "Rename of a directory onto a file", syscall.Rename(e.p("mv/src"), e.p("mv/b")), syscall.ENOTDIR)
		if err := syscall.Rename(e.p("mv/src"), e.p("mv/empty")); err != nil {
			t.Errorf("Rename of a directory onto an empty one = %v", err)
		}
		must(t, os.WriteFile(e.p("mv/c"), []byte("c"), 0o644))
		err := unix.Renameat2(unix.AT_FDCWD, e.p("mv/c"), unix.AT_FDCWD, e.p("mv/b"), unix.RENAME_NOREPLACE)
		wantErrno(t, "RENAME_NOREPLACE onto a file", err, syscall.EEXIST)
		// A file renamed just after it was written (rsync's
		// temporary) is whole.
		data := random(1<<20 + 3)
		must(t, os.WriteFile(e.p("mv/.tmp.XXXX"), data, 0o644))
		must(t, os.Rename(e.p("mv/.tmp.XXXX"), e.p("mv/final")))
		e.tc.WaitFor(t, "the renamed file to be complete", func(ctx context.Context) (bool, error) {
			fi, err := e.cl.Stat(ctx, "/mv/final")
			return err == nil && !fi.UnderConstruction, nil
		})
		if got := e.cat(t, "/mv/final"); !bytes.Equal(got, data) {
			t.Errorf("the renamed file holds %d bytes, want %d", len(got), len(data))
		}
	})

	t.Run("readdir of a large directory", func(t *testing.T) {
		const n = 2500 // more than two pages
		must(t, e.cl.Mkdir(e.ctx, "/big", 0))
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprintf("f%05d", i)
			must(t, e.cl.Touch(e.ctx, "/big/"+want[i]))
		}
		ents, err := os.ReadDir(e.p("big"))
		if err != nil {
			t.Fatalf("ReadDir = %v", err)
		}
		var got []string
		for _, de := range ents {
			got = append(got, de.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("ReadDir gives %d entries, want %d in order", len(got), n)
		}
		// readdir plus attributes, as ls -l does.
		out, err := exec.Command("ls", "-l", e.p("big")).Output()
		if err != nil || strings.Count(string(out), "\n") != n+1 {
			t.Errorf("ls -l = %d lines, %v; want %d", strings.Count(string(out), "\n"), err, n+1)
		}
	})

	t.Run("chmod, chown and utimens", func(t *testing.T) {
		must(t, os.WriteFile(e.p("attr"), []byte("x"), 0o644))
		must(t, os.Chmod(e.p("attr"), 0o600))
		mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		must(t, os.Chtimes(e.p("attr"), mt, mt))
		must(t, os.Chown(e.p("attr"), os.Getuid(), os.Getgid()))
		// The file was completed (RELEASE) just now, maybe after
		// the time was set: then the mount sets it again.
		e.tc.WaitFor(t, "the mode and time to reach the cluster", func(ctx context.Context) (bool, error) {
			fi, err := e.cl.Stat(ctx, "/attr")
			return err == nil && fi.Mode.Perm() == 0o600 && fi.ModTime.Equal(mt), nil
		})
		fi, err := e.cl.Stat(e.ctx, "/attr")
		if err != nil {
			t.Fatal(err)
		}
		if u, err := user.Current(); err == nil && fi.Owner != u.Username {
			t.Errorf("owner = %q, want %q", fi.Owner, u.Username)
		}
		time.Sleep(250 * time.Millisecond) // past the attribute timeout
		lfi, err := os.Stat(e.p("attr"))
		if err != nil || lfi.Mode().Perm() != 0o600 || !lfi.ModTime().Equal(mt) {
			t.Errorf("Stat = %v, %v; want mode 0600, mtime %v", lfi, err, mt)
		}
		// A time set on a file still open (cp -p sets it before
		// close) is kept by the completion.
		f, err := os.Create(e.p("attr2"))
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("data")
		must(t, os.Chtimes(e.p("attr2"), mt, mt))
		must(t, f.Close())
		e.tc.WaitFor(t, "the file to be complete with its mtime", func(ctx context.Context) (bool, error) {
			fi, err := e.cl.Stat(ctx, "/attr2")
			return err == nil && !fi.UnderConstruction && fi.ModTime.Equal(mt), nil
		})
	})

	t.Run("statfs gives the cluster's capacity", func(t *testing.T) {
		var st syscall.Statfs_t
		must(t, syscall.Statfs(e.dir, &st))
		rep, err := e.cl.DatanodeReport(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var capacity int64
		for _, d := range rep.Datanodes {
			capacity += d.CapacityBytes
		}
		if got := int64(st.Blocks) * st.Frsize; got <= 0 || got > capacity || capacity-got >= st.Frsize {
			t.Errorf("statfs size = %d, want the capacity %d", got, capacity)
		}
		if st.Bavail == 0 || st.Namelen != 255 {
			t.Errorf("statfs = %+v, want free blocks and names of 255", st)
		}
	})

	t.Run("a read-only mount refuses changes", func(t *testing.T) {
		dir := t.TempDir()
		srv, err := fusefs.Mount(dir, fusefs.Config{Client: e.cl, ReadOnly: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Unmount()
		if got, err := os.ReadFile(filepath.Join(dir, "t")); err != nil || string(got) != "new" {
			t.Errorf("ReadFile through the read-only mount = %q, %v", got, err)
		}
		wantErrno(t, "WriteFile", os.WriteFile(filepath.Join(dir, "ro"), nil, 0o644), syscall.EROFS)
		wantErrno(t, "Mkdir", os.Mkdir(filepath.Join(dir, "ro"), 0o755), syscall.EROFS)
		wantErrno(t, "Remove", os.Remove(filepath.Join(dir, "t")), syscall.EROFS)
	})

	t.Run("mounting on a mount point in use fails", func(t *testing.T) {
		_, err := fusefs.Mount(e.dir, fusefs.Config{Client: e.cl}, nil)
		if err == nil || !strings.Contains(err.Error(), "busy") {
			t.Errorf("Mount on a mount point = %v, want busy", err)
		}
		f := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(f, nil, 0o644))
		if _, err := fusefs.Mount(f, fusefs.Config{Client: e.cl}, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("Mount on a file = %v, want not a directory", err)
		}
	})
}

// TestMountFaults: a block no DataNode serves reads as EIO, and a
// NameNode that is gone fails a request with EIO in bounded time.
func TestMountFaults(t *testing.T) {
	e := mount(t, fusefs.Config{AttrTimeout: -1, OpTimeout: 5 * time.Second})
	writeClient(t, e, "/f", random(100))
	e.tc.StopDataNode(t, 0)
	_, err := os.ReadFile(e.p("f"))
	wantErrno(t, "ReadFile of a file whose only replica is gone", err, syscall.EIO)

	e.tc.StopNameNode(t, 0)
	start := time.Now()
	_, err = os.Stat(e.p("f"))
	wantErrno(t, "Stat with the NameNode gone", err, syscall.EIO)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stat took %v with the NameNode gone, want about the op timeout (5s)", d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeClient writes a new file through the client.
func writeClient(t *testing.T, e *env, name string, data []byte) {
	t.Helper()
	writeWith(t, e, name, data, nil)
}

// writeClientOver replaces a file through the client.
func writeClientOver(t *testing.T, e *env, name string, data []byte) {
	t.Helper()
	writeWith(t, e, name, data, &client.CreateOptions{Overwrite: true})
}

func writeWith(t *testing.T, e *env, name string, data []byte, opts *client.CreateOptions) {
	t.Helper()
	w, err := e.cl.Create(e.ctx, name, opts)
	if err != nil {
		t.Fatalf("client Create(%s) = %v", name, err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatalf("client write %s = %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("client close %s = %v", name, err)
	}
}

func logLevel() slog.Level {
	if os.Getenv("FUSE_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

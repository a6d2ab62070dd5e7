package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The calls the gateways need: paged listings, a context per call on
// readers and writers, and one client acting for many users.

func TestListPage(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	if err := cl.Mkdir(ctx, "/dir", 0); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("f%02d", 24-i) // created out of order
		if err := cl.Touch(ctx, "/dir/"+name); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	slices.Sort(want)

	t.Run("pages of a limit follow each other in order of name", func(t *testing.T) {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			page, more, err := cl.ListPage(ctx, "/dir", after, 10)
			if err != nil {
				t.Fatalf("ListPage(/dir, %q, 10) = %v", after, err)
			}
			if len(page) > 10 {
				t.Fatalf("ListPage(/dir, %q, 10) gave %d entries", after, len(page))
			}
			for _, fi := range page {
				if fi.Path != "/dir/"+fi.Name {
					t.Errorf("entry %q has path %q", fi.Name, fi.Path)
				}
				got = append(got, fi.Name)
			}
			if !more {
				if pages != 2 {
					t.Errorf("listing took %d pages, want 3", pages+1)
				}
				break
			}
			after = page[len(page)-1].Name
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged listing = %v, want %v", got, want)
		}
	})
	t.Run("a page starts after a name that need not exist", func(t *testing.T) {
		page, more, err := cl.ListPage(ctx, "/dir", "f10x", 3)
		if err != nil || !more || len(page) != 3 || page[0].Name != "f11" {
			t.Errorf("ListPage(/dir, f10x, 3) = %v, %v, %v; want f11 f12 f13 and more", page, more, err)
		}
		page, more, err = cl.ListPage(ctx, "/dir", "f24", 0)
		if err != nil || more || len(page) != 0 {
			t.Errorf("ListPage after the last name = %v, %v, %v; want an empty last page", page, more, err)
		}
	})
	t.Run("the iterator lists everything in order and stops when asked", func(t *testing.T) {
		var got []string
		for fi, err := range cl.List(ctx, "/dir") {
			if err != nil {
				t.Fatalf("List(/dir) yielded %v", err)
			}
			got = append(got, fi.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(/dir) = %v, want %v", got, want)
		}
		n := 0
		for range cl.List(ctx, "/dir") {
			if n++; n == 5 {
				break
			}
		}
		if n != 5 {
			t.Errorf("break after 5 entries saw %d", n)
		}
	})
	t.Run("errors", func(t *testing.T) {
		_, _, err := cl.ListPage(ctx, "/missing", "", 0)
		wantKind(t, "ListPage(/missing)", err, cairn.NotExist)
		_, _, err = cl.ListPage(ctx, "/dir/f00", "", 0)
		wantKind(t, "ListPage of a file", err, cairn.NotDir)
		_, _, err = cl.ListPage(ctx, "/dir", "", -1)
		wantKind(t, "ListPage with a negative limit", err, cairn.Invalid)
		var errs []error
		for _, err := range cl.List(ctx, "/missing") {
			errs = append(errs, err)
		}
		if len(errs) != 1 {
			t.Fatalf("List(/missing) yielded %d times, want once", len(errs))
		}
		wantKind(t, "List(/missing)", errs[0], cairn.NotExist)
	})
}

// TestReaderContextPerCall: a Reader opened under one context reads
// under another, per call, after the first has ended.
func TestReaderContextPerCall(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	data := randomBytes(70, 2*testBlockSize+1000)
	writeFile(t, ctx, cl, "/f", data, nil)

	openCtx, cancelOpen := context.WithCancel(ctx)
	r, err := cl.Open(openCtx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cancelOpen()
	if _, err := r.ReadAt(make([]byte, 10), 0); err == nil {
		t.Error("ReadAt after Open's context ended succeeded, want an error")
	}

	buf := make([]byte, 5000)
	off := int64(testBlockSize - 100) // across a block boundary
	if n, err := r.ReadAtContext(ctx, buf, off); err != nil || n != len(buf) || !bytes.Equal(buf, data[off:off+int64(n)]) {
		t.Errorf("ReadAtContext under a live context = %d, %v; want %d correct bytes", n, err, len(buf))
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.ReadAtContext(ended, buf, 0); err == nil {
		t.Error("ReadAtContext under an ended context succeeded")
	}

	// Sequential reads, each under its own context.
	var got []byte
	for {
		cctx, cancel := context.WithCancel(ctx)
		p := make([]byte, 100<<10)
		n, err := r.ReadContext(cctx, p)
		cancel()
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadContext at %d = %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Errorf("ReadContext read %d bytes, not the file's %d", len(got), len(data))
	}
}

// TestWriterContextPerCall: a Writer created under a long-lived context
// writes and closes under a context per call; a call under an ended
// context fails alone, and a context that ends during a call fails the
// Writer.
func TestWriterContextPerCall(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	data := randomBytes(71, testBlockSize+3000)
	w, err := cl.Create(ctx, "/w", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.WriteContext(ended, data); err == nil {
		t.Fatal("WriteContext under an ended context succeeded")
	}
	if err := w.CloseContext(ended); err == nil {
		t.Fatal("CloseContext under an ended context succeeded")
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 50<<10)
		cctx, cancel := context.WithCancel(ctx)
		m, err := w.WriteContext(cctx, rest[:n])
		cancel() // ends after the call: the Writer goes on
		if err != nil || m != n {
			t.Fatalf("WriteContext(%d bytes) = %d, %v", n, m, err)
		}
		rest = rest[n:]
	}
	cctx, cancelClose := context.WithCancel(ctx)
	defer cancelClose()
	if err := w.CloseContext(cctx); err != nil {
		t.Fatalf("CloseContext = %v", err)
	}
	if got := readFile(t, ctx, cl, "/w"); !bytes.Equal(got, data) {
		t.Errorf("file written under contexts per call reads back wrong")
	}

	// A context that ends after its call leaves the Writer open; one
	// that ends during a call fails the Writer.
	w2, err := cl.Create(ctx, "/w2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Abort()
	short, cancelShort := context.WithCancel(ctx)
	if _, err := w2.WriteContext(short, data[:1000]); err != nil {
		t.Fatal(err)
	}
	cancelShort()
	if _, err := w2.Write(data[1000:2000]); err != nil {
		t.Errorf("Write after a finished call's context ended = %v, want the Writer still open", err)
	}
	big := make([]byte, 64<<20)
	during, cancelDuring := context.WithCancel(ctx)
	defer cancelDuring()
	go func() {
		// End the context once the call is well under way.
		for w2.Written() < 2000+1<<20 && during.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancelDuring()
	}()
	if n, err := w2.WriteContext(during, big); err == nil {
		t.Fatalf("WriteContext of %d bytes, its context ended midway = %d, nil; want interrupted", len(big), n)
	}
	if _, err := w2.Write(data[:10]); err == nil {
		t.Error("Write after an interrupted call succeeded, want the Writer failed")
	}
}

// TestAsUser: one Client creates files and directories for different
// users, each owned by the user it acts for, with the group the
// NameNode's host gives it, or the parent directory's.
func TestAsUser(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1, NameNode: func(cfg *namenode.Config) {
		cfg.Groups = func(user string) []string {
			if user == "alice" {
				return []string{"staff"}
			}
			return nil
		}
	}})
	// A shared root, as /tmp.
	if err := cl.Chmod(ctx, "/", 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	alice := client.AsUser(ctx, "alice", "staff") // one of hers, on the NameNode's host
	bob := client.AsUser(ctx, "bob")
	if err := cl.Mkdir(alice, "/a", 0); err != nil {
		t.Fatal(err)
	}
	if err := cl.Touch(bob, "/b"); err != nil {
		t.Fatal(err)
	}
	w, err := cl.Create(alice, "/a/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Touch(ctx, "/mine"); err != nil {
		t.Fatal(err)
	}
	mine, err := cl.Stat(ctx, "/mine")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, owner, group string }{
		{"/a", "alice", "staff"},
		{"/a/f", "alice", "staff"},
		{"/b", "bob", mine.Group}, // no group of bob's: the parent's
	} {
		fi, err := cl.Stat(ctx, tt.path)
		if err != nil || fi.Owner != tt.owner || fi.Group != tt.group {
			t.Errorf("Stat(%s) owner, group = %q, %q, %v; want %q, %q", tt.path, fi.Owner, fi.Group, err, tt.owner, tt.group)
		}
	}
	if mine.Owner == "alice" || mine.Owner == "bob" {
		t.Errorf("a call without AsUser created a file owned by %q", mine.Owner)
	}
	if client.AsUser(ctx, "") != ctx {
		t.Error("AsUser with an empty user changed the context")
	}
}

// TestUmask: the modes of what a Client creates lose its umask, 022
// unless WithUmask says otherwise, as HDFS's fs.permissions.umask-mode.
func TestUmask(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1})
	strict, err := client.Dial(ctx, c.NameNodeAddr(), client.WithUmask(0o077))
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	for _, tc := range []struct {
		c    *client.Client
		path string
		dir  bool
		perm fs.FileMode
		want fs.FileMode
	}{
		{cl, "/d022", true, 0, 0o755},
		{cl, "/f022", false, 0, 0o644},
		{cl, "/d777", true, 0o777, 0o755},
		{cl, "/t", true, 0o777 | fs.ModeSticky, 0o755 | fs.ModeSticky},
		{strict, "/d077", true, 0, 0o700},
		{strict, "/f077", false, 0o666, 0o600},
	} {
		if tc.dir {
			err = tc.c.Mkdir(ctx, tc.path, tc.perm)
		} else {
			var w *client.Writer
			if w, err = tc.c.Create(ctx, tc.path, &client.CreateOptions{Mode: tc.perm}); err == nil {
				err = w.Close()
			}
		}
		if err != nil {
			t.Fatalf("create %s: %v", tc.path, err)
		}
		if fi, err := cl.Stat(ctx, tc.path); err != nil || fi.Mode != tc.want {
			t.Errorf("%s made with %v: mode %v, %v; want %v", tc.path, tc.perm, fi.Mode, err, tc.want)
		}
	}
}

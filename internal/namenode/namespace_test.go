package namenode

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		name  string
		setup []string
		path  string
		opts  CreateOptions
		want  cairn.Kind
		check func(t *testing.T, s *Server)
	}{
		{name: "a new file in the root is created", path: "/f", opts: CreateOptions{ClientName: "c1"},
			check: func(t *testing.T, s *Server) {
				st, err := s.GetFileInfo(bg, "/f", false, "")
				if err != nil || !st.UnderConstruction || st.Replication != 3 || st.BlockSize != 1<<20 || st.Mode != 0o644 {
					t.Errorf("GetFileInfo = %+v, %v; want an open file, replication 3, 1 MiB blocks, mode 0644", st, err)
				}
			}},
		{name: "an existing file is not replaced without overwrite", setup: []string{"f:/f"}, path: "/f", opts: CreateOptions{ClientName: "c1"}, want: cairn.Exist},
		{name: "an existing file is replaced with overwrite", setup: []string{"f:/f"}, path: "/f", opts: CreateOptions{ClientName: "c1", Overwrite: true}},
		{name: "a missing parent is NotExist", path: "/a/f", opts: CreateOptions{ClientName: "c1"}, want: cairn.NotExist},
		{name: "a missing parent is made with CreateParent", path: "/a/b/f", opts: CreateOptions{ClientName: "c1", CreateParent: true},
			check: func(t *testing.T, s *Server) {
				if ok, dir := exists(t, s, "/a/b"); !ok || !dir {
					t.Errorf("/a/b exists=%v dir=%v, want a directory", ok, dir)
				}
			}},
		{name: "a file as parent is NotDir", setup: []string{"f:/a"}, path: "/a/f", opts: CreateOptions{ClientName: "c1"}, want: cairn.NotDir},
		{name: "a file as parent is NotDir even with CreateParent", setup: []string{"f:/a"}, path: "/a/b/f", opts: CreateOptions{ClientName: "c1", CreateParent: true}, want: cairn.NotDir},
		{name: "a directory is not replaced", setup: []string{"d:/a"}, path: "/a", opts: CreateOptions{ClientName: "c1", Overwrite: true}, want: cairn.IsDir},
		{name: "the root is not a file", path: "/", opts: CreateOptions{ClientName: "c1"}, want: cairn.IsDir},
		{name: "a relative path is invalid", path: "a/b", opts: CreateOptions{ClientName: "c1"}, want: cairn.Invalid},
		{name: "a dot-dot path is invalid", path: "/a/../b", opts: CreateOptions{ClientName: "c1"}, want: cairn.Invalid},
		{name: "a trailing slash is invalid", path: "/a/", opts: CreateOptions{ClientName: "c1"}, want: cairn.Invalid},
		{name: "no client name is invalid", path: "/f", want: cairn.Invalid},
		{name: "a negative replication is invalid", path: "/f", opts: CreateOptions{ClientName: "c1", Replication: -1}, want: cairn.Invalid},
		{name: "a replication above the datanodes is invalid", path: "/f", opts: CreateOptions{ClientName: "c1", Replication: 5}, want: cairn.Invalid},
		{name: "a block size not a multiple of 512 is invalid", path: "/f", opts: CreateOptions{ClientName: "c1", BlockSize: 1000}, want: cairn.Invalid},
		{name: "touch makes an empty complete file", path: "/t", opts: CreateOptions{Touch: true},
			check: func(t *testing.T, s *Server) {
				st, err := s.GetFileInfo(bg, "/t", false, "")
				if err != nil || st.UnderConstruction || st.Size != 0 || st.IsDir {
					t.Errorf("GetFileInfo = %+v, %v; want an empty complete file", st, err)
				}
			}},
		{name: "touch of an existing directory sets its time", setup: []string{"d:/a"}, path: "/a", opts: CreateOptions{Touch: true}},
		{name: "a file being written by another client is a lease conflict", setup: []string{"open:/f:other"}, path: "/f", opts: CreateOptions{ClientName: "c1", Overwrite: true}, want: cairn.LeaseConflict},
		{name: "a file being written by the same client is not replaced without overwrite", setup: []string{"open:/f:c1"}, path: "/f", opts: CreateOptions{ClientName: "c1"}, want: cairn.Exist},
		{name: "a file being written by the same client is replaced with overwrite", setup: []string{"open:/f:c1"}, path: "/f", opts: CreateOptions{ClientName: "c1", Overwrite: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			registerNodes(t, s, 3)
			for _, spec := range tt.setup {
				if rest, ok := strings.CutPrefix(spec, "open:"); ok {
					p, client, _ := strings.Cut(rest, ":")
					if _, err := s.Create(bg, p, CreateOptions{ClientName: client}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				build(t, s, spec)
			}
			_, err := s.Create(bg, tt.path, tt.opts)
			wantKind(t, fmt.Sprintf("Create(%q)", tt.path), err, tt.want)
			if tt.want == cairn.Invalid && strings.Contains(tt.name, "path") {
				if msg := err.Error(); !strings.HasPrefix(msg, "invalid path") {
					t.Errorf("Create(%q) message = %q, want it to start with \"invalid path\"", tt.path, msg)
				}
				if !errors.Is(err, fs.ErrInvalid) {
					t.Errorf("errors.Is(%v, fs.ErrInvalid) = false", err)
				}
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestCreateReplicationMessageNamesBothNumbers(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	_, err := s.Create(bg, "/f", CreateOptions{ClientName: "c", Replication: 5})
	if err == nil || !strings.Contains(err.Error(), "replication 5 exceeds the 3 datanodes registered") {
		t.Fatalf("Create(replication 5) = %v, want the message to name 5 and 3", err)
	}
}

func TestTouchSetsTimeOfExistingFile(t *testing.T) {
	s := newServer(t)
	build(t, s, "f:/f")
	if err := s.SetTimes(bg, "/f", time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	st, err := s.Create(bg, "/f", CreateOptions{Touch: true})
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime.After(time.Unix(100, 0)) {
		t.Errorf("touch: mtime = %v, want now", st.ModTime)
	}
}

func TestMkdirs(t *testing.T) {
	tests := []struct {
		name    string
		setup   []string
		path    string
		parents bool
		want    cairn.Kind
	}{
		{name: "a new directory is made", path: "/a"},
		{name: "an existing directory is Exist without parents", setup: []string{"d:/a"}, path: "/a", want: cairn.Exist},
		{name: "an existing directory is fine with parents", setup: []string{"d:/a"}, path: "/a", parents: true},
		{name: "a missing parent is NotExist without parents", path: "/x/y", want: cairn.NotExist},
		{name: "missing parents are made with parents", path: "/x/y/z", parents: true},
		{name: "a file in the way is Exist", setup: []string{"f:/a"}, path: "/a", parents: true, want: cairn.Exist},
		{name: "a file as parent is NotDir", setup: []string{"f:/a"}, path: "/a/b", parents: true, want: cairn.NotDir},
		{name: "the root is Exist without parents", path: "/", want: cairn.Exist},
		{name: "the root is fine with parents", path: "/", parents: true},
		{name: "a bad path is Invalid", path: "/a//b", parents: true, want: cairn.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			build(t, s, tt.setup...)
			st, err := s.Mkdirs(bg, tt.path, 0o700, tt.parents, "bob", "eng")
			wantKind(t, fmt.Sprintf("Mkdirs(%q, parents=%v)", tt.path, tt.parents), err, tt.want)
			if err == nil && !st.IsDir {
				t.Errorf("Mkdirs(%q) = %+v, want a directory", tt.path, st)
			}
			if err == nil && len(tt.setup) == 0 && tt.path != "/" {
				if st.Mode != 0o700 || st.Owner != "bob" || st.Group != "eng" {
					t.Errorf("Mkdirs(%q) = mode %v owner %q group %q, want 0700 bob eng", tt.path, st.Mode, st.Owner, st.Group)
				}
			}
		})
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		name      string
		setup     []string
		src, dst  string
		overwrite bool
		exact     bool
		want      cairn.Kind
		final     string   // the path returned
		present   []string // must exist afterwards
		absent    []string // must not exist afterwards
	}{
		{name: "a file moves to a new name", setup: []string{"f:/a"}, src: "/a", dst: "/b", final: "/b", present: []string{"/b"}, absent: []string{"/a"}},
		{name: "a file moves to another directory", setup: []string{"f:/a", "d:/d"}, src: "/a", dst: "/d/x", final: "/d/x", present: []string{"/d/x"}, absent: []string{"/a"}},
		{name: "renaming to itself is a no-op", setup: []string{"f:/a"}, src: "/a", dst: "/a", final: "/a", present: []string{"/a"}},
		{name: "renaming into its own parent is a no-op", setup: []string{"f:/d/a"}, src: "/d/a", dst: "/d", final: "/d/a", present: []string{"/d/a"}},
		{name: "an existing file is not replaced without overwrite", setup: []string{"f:/a", "f:/b"}, src: "/a", dst: "/b", want: cairn.Exist, present: []string{"/a", "/b"}},
		{name: "an existing file is replaced with overwrite", setup: []string{"f:/a", "f:/b"}, src: "/a", dst: "/b", overwrite: true, final: "/b", present: []string{"/b"}, absent: []string{"/a"}},
		{name: "onto an existing directory the source goes inside", setup: []string{"f:/a", "d:/d"}, src: "/a", dst: "/d", final: "/d/a", present: []string{"/d/a"}, absent: []string{"/a"}},
		{name: "a directory moves with its tree", setup: []string{"f:/x/y/z", "d:/w"}, src: "/x", dst: "/w/v", final: "/w/v", present: []string{"/w/v/y/z"}, absent: []string{"/x"}},
		{name: "a directory moves inside an existing directory", setup: []string{"f:/x/y", "d:/w"}, src: "/x", dst: "/w", final: "/w/x", present: []string{"/w/x/y"}, absent: []string{"/x"}},
		{name: "a directory may not move below itself", setup: []string{"d:/a/b"}, src: "/a", dst: "/a/b/c", want: cairn.Invalid, present: []string{"/a/b"}},
		{name: "a directory may not move into its own child", setup: []string{"d:/a/b"}, src: "/a", dst: "/a/b", want: cairn.Invalid},
		{name: "the root may not move", setup: []string{"d:/a"}, src: "/", dst: "/a/r", want: cairn.Invalid},
		{name: "a missing source is NotExist", src: "/nope", dst: "/b", want: cairn.NotExist},
		{name: "a missing destination parent is NotExist", setup: []string{"f:/a"}, src: "/a", dst: "/x/b", want: cairn.NotExist},
		{name: "a file as destination parent is NotDir", setup: []string{"f:/a", "f:/f"}, src: "/a", dst: "/f/b", want: cairn.NotDir},
		{name: "a directory of the same name inside the destination is Exist", setup: []string{"d:/a", "d:/d/a"}, src: "/a", dst: "/d", overwrite: true, want: cairn.Exist},
		{name: "a file of the same name inside the destination is replaced with overwrite", setup: []string{"f:/a", "f:/d/a"}, src: "/a", dst: "/d", overwrite: true, final: "/d/a", absent: []string{"/a"}},
		{name: "a directory does not overwrite a file", setup: []string{"d:/a", "f:/b"}, src: "/a", dst: "/b", overwrite: true, want: cairn.Exist},
		{name: "a bad destination is Invalid", setup: []string{"f:/a"}, src: "/a", dst: "b", want: cairn.Invalid},

		// Exact (HDFS rename2): dst is the final path, never a
		// directory to move into.
		{name: "exactly: a file moves to a new name", setup: []string{"f:/a", "d:/d"}, src: "/a", dst: "/d/b", exact: true, final: "/d/b", present: []string{"/d/b"}, absent: []string{"/a"}},
		{name: "exactly: a directory moves to a new name", setup: []string{"f:/x/y"}, src: "/x", dst: "/z", exact: true, final: "/z", present: []string{"/z/y"}, absent: []string{"/x"}},
		{name: "exactly: onto an existing directory is IsDir and moves nothing", setup: []string{"f:/a", "f:/d/x"}, src: "/a", dst: "/d", exact: true, want: cairn.IsDir, present: []string{"/a", "/d/x"}, absent: []string{"/d/a"}},
		{name: "exactly: onto an empty directory with overwrite is IsDir", setup: []string{"f:/a", "d:/d"}, src: "/a", dst: "/d", exact: true, overwrite: true, want: cairn.IsDir, present: []string{"/a", "/d"}, absent: []string{"/d/a"}},
		{name: "exactly: a directory onto a directory is IsDir", setup: []string{"d:/x", "d:/w"}, src: "/x", dst: "/w", exact: true, want: cairn.IsDir, present: []string{"/x", "/w"}, absent: []string{"/w/x"}},
		{name: "exactly: onto its own parent is IsDir", setup: []string{"f:/d/a"}, src: "/d/a", dst: "/d", exact: true, want: cairn.IsDir, present: []string{"/d/a"}},
		{name: "exactly: an existing file is not replaced without overwrite", setup: []string{"f:/a", "f:/b"}, src: "/a", dst: "/b", exact: true, want: cairn.Exist, present: []string{"/a", "/b"}},
		{name: "exactly: an existing file is replaced with overwrite", setup: []string{"f:/a", "f:/b"}, src: "/a", dst: "/b", exact: true, overwrite: true, final: "/b", present: []string{"/b"}, absent: []string{"/a"}},
		{name: "exactly: a missing destination parent is NotExist", setup: []string{"f:/a"}, src: "/a", dst: "/x/b", exact: true, want: cairn.NotExist, present: []string{"/a"}},
		{name: "exactly: renaming to itself is a no-op", setup: []string{"f:/a"}, src: "/a", dst: "/a", exact: true, final: "/a", present: []string{"/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			build(t, s, tt.setup...)
			got, err := s.Rename(bg, tt.src, tt.dst, RenameOptions{Overwrite: tt.overwrite, Exact: tt.exact})
			wantKind(t, fmt.Sprintf("Rename(%q, %q)", tt.src, tt.dst), err, tt.want)
			if err == nil && got != tt.final {
				t.Errorf("Rename(%q, %q) = %q, want %q", tt.src, tt.dst, got, tt.final)
			}
			for _, p := range tt.present {
				if ok, _ := exists(t, s, p); !ok {
					t.Errorf("after Rename(%q, %q): %s missing", tt.src, tt.dst, p)
				}
			}
			for _, p := range tt.absent {
				if ok, _ := exists(t, s, p); ok {
					t.Errorf("after Rename(%q, %q): %s still there", tt.src, tt.dst, p)
				}
			}
		})
	}
}

func TestRenameOfOpenFileKeepsItsLease(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	st, err := s.Create(bg, "/a", CreateOptions{ClientName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rename(bg, "/a", "/b", RenameOptions{}); err != nil {
		t.Fatal(err)
	}
	lb, err := s.AddBlock(bg, "/b", st.ID, "c", nil, nil, "")
	if err != nil {
		t.Fatalf("AddBlock after rename = %v", err)
	}
	lb.Block.Len = 10
	if _, err := s.Complete(bg, "/b", st.ID, "c", &lb.Block); err != nil {
		t.Fatalf("Complete after rename = %v", err)
	}
	got, _ := s.GetFileInfo(bg, "/b", false, "")
	if got.Size != 10 || got.UnderConstruction {
		t.Errorf("GetFileInfo(/b) = size %d open %v, want 10, closed", got.Size, got.UnderConstruction)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name      string
		setup     []string
		path      string
		recursive bool
		want      cairn.Kind
	}{
		{name: "a file is deleted", setup: []string{"f:/a"}, path: "/a"},
		{name: "an empty directory is deleted", setup: []string{"d:/a"}, path: "/a"},
		{name: "a non-empty directory needs recursive", setup: []string{"f:/a/b"}, path: "/a", want: cairn.NotEmpty},
		{name: "a non-empty directory is deleted recursively", setup: []string{"f:/a/b/c", "f:/a/d"}, path: "/a", recursive: true},
		{name: "a missing file is NotExist", path: "/a", want: cairn.NotExist},
		{name: "the root may not be deleted", setup: []string{"f:/a"}, path: "/", recursive: true, want: cairn.Invalid},
		{name: "a bad path is Invalid", path: "", want: cairn.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			build(t, s, tt.setup...)
			err := s.Delete(bg, tt.path, tt.recursive)
			wantKind(t, fmt.Sprintf("Delete(%q, %v)", tt.path, tt.recursive), err, tt.want)
			if err == nil {
				if ok, _ := exists(t, s, tt.path); ok {
					t.Errorf("%s still there after Delete", tt.path)
				}
			}
		})
	}
}

func TestListDir(t *testing.T) {
	s := newServer(t)
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("f%02d", 24-i))
	}
	for _, n := range names {
		build(t, s, "f:/d/"+n)
	}
	build(t, s, "d:/d/sub/x", "f:/d/sub/y")
	slices.Sort(names)
	names = append(names, "sub")

	var got []string
	after := ""
	pages := 0
	for {
		entries, more, err := s.ListDir(bg, "/d", after, 10)
		if err != nil {
			t.Fatalf("ListDir(/d, %q) = %v", after, err)
		}
		pages++
		for _, e := range entries {
			got = append(got, e.Name)
			if e.Path != "/d/"+e.Name {
				t.Errorf("entry path %q, want /d/%s", e.Path, e.Name)
			}
			if e.Name == "sub" && (!e.IsDir || e.Children != 2) {
				t.Errorf("entry sub = dir %v children %d, want a directory of 2", e.IsDir, e.Children)
			}
		}
		if !more {
			break
		}
		after = entries[len(entries)-1].Name
	}
	if !slices.Equal(got, names) || pages != 3 {
		t.Errorf("ListDir pages = %d, names %v; want 3 pages of %v", pages, got, names)
	}
	entries, more, err := s.ListDir(bg, "/d", "f10x", 2)
	if err != nil || more != true || len(entries) != 2 || entries[0].Name != "f11" {
		t.Errorf("ListDir(start after a missing name) = %v, %v, %v; want f11, f12 and more", entries, more, err)
	}
	st, err := s.GetFileInfo(bg, "/d", false, "")
	if err != nil || st.Children != 26 {
		t.Errorf("GetFileInfo(/d) children = %d, %v; want 26", st.Children, err)
	}
	_, _, err = s.ListDir(bg, "/d/f00", "", 0)
	wantKind(t, "ListDir(a file)", err, cairn.NotDir)
	_, _, err = s.ListDir(bg, "/nope", "", 0)
	wantKind(t, "ListDir(missing)", err, cairn.NotExist)
}

func TestAttributes(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	build(t, s, "f:/a/b", "f:/a/c/d", "d:/e")

	if err := s.SetPermission(bg, "/a/b", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOwner(bg, "/a/b", "carol", ""); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1234, 5678)
	if err := s.SetTimes(bg, "/a/b", mt); err != nil {
		t.Fatal(err)
	}
	st, _ := s.GetFileInfo(bg, "/a/b", false, "")
	if st.Mode != 0o600 || st.Owner != "carol" || st.Group != "staff" || !st.ModTime.Equal(mt) {
		t.Errorf("after chmod/chown/settimes: %+v", st.FileInfo)
	}

	_, err := s.SetReplication(bg, "/a", 2, false)
	wantKind(t, "SetReplication(dir, not recursive)", err, cairn.IsDir)
	n, err := s.SetReplication(bg, "/a", 2, true)
	if err != nil || n != 2 {
		t.Errorf("SetReplication(/a, recursive) = %d, %v; want 2 files", n, err)
	}
	st, _ = s.GetFileInfo(bg, "/a/c/d", false, "")
	if st.Replication != 2 {
		t.Errorf("replication of /a/c/d = %d, want 2", st.Replication)
	}
	_, err = s.SetReplication(bg, "/a/b", 4, false)
	if cairn.KindOf(err) != cairn.Invalid || !strings.Contains(err.Error(), "replication 4 exceeds the 3 datanodes registered") {
		t.Errorf("SetReplication(4) = %v, want Invalid naming 4 and 3", err)
	}
	_, err = s.SetReplication(bg, "/a/b", 0, false)
	wantKind(t, "SetReplication(0)", err, cairn.Invalid)
	err = s.SetPermission(bg, "/zz", 0o600)
	wantKind(t, "SetPermission(missing)", err, cairn.NotExist)
}

func TestContentSummary(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	build(t, s, "d:/t/empty")
	writeFile(t, s, "/t/a", "c", 1<<20, 100)
	writeFile(t, s, "/t/sub/b", "c", 50)
	if _, err := s.SetReplication(bg, "/t/sub/b", 2, false); err != nil {
		t.Fatal(err)
	}
	cs, err := s.GetContentSummary(bg, "/t")
	want := cairn.ContentSummary{Length: 1<<20 + 150, Files: 2, Directories: 3, SpaceConsumed: (1<<20+100)*3 + 50*2}
	if err != nil || cs != want {
		t.Errorf("GetContentSummary(/t) = %+v, %v; want %+v", cs, err, want)
	}
}

func TestResolve(t *testing.T) {
	s := newServer(t)
	build(t, s, "d:/a/b", "f:/a/f")
	tests := []struct {
		path string
		want []string // the paths of the inodes resolved, root first
		ok   bool
		kind cairn.Kind
		msg  string
	}{
		{path: "/", want: []string{"/"}, ok: true},
		{path: "/a/b", want: []string{"/", "/a", "/a/b"}, ok: true},
		{path: "/a/f", want: []string{"/", "/a", "/a/f"}, ok: true},
		{path: "/a/nope", want: []string{"/", "/a"}, kind: cairn.NotExist},
		{path: "/a/nope/c", want: []string{"/", "/a"}, kind: cairn.NotExist, msg: "/a/nope does not exist"},
		{path: "/a/f/c", want: []string{"/", "/a", "/a/f"}, kind: cairn.NotDir, msg: "/a/f is not a directory"},
	}
	for _, tt := range tests {
		s.ns.mu.RLock()
		inodes, err := s.ns.resolve(nil, tt.path)
		s.ns.mu.RUnlock()
		var got []string
		for _, n := range inodes {
			got = append(got, n.path())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("resolve(%q) = %v, want %v", tt.path, got, tt.want)
		}
		if tt.ok {
			if err != nil {
				t.Errorf("resolve(%q) error = %v, want nil", tt.path, err)
			}
			continue
		}
		wantKind(t, fmt.Sprintf("resolve(%q)", tt.path), err, tt.kind)
		if err != nil && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("resolve(%q) error = %q, want it to say %q", tt.path, err, tt.msg)
		}
	}
}

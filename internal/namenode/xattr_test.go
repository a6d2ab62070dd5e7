package namenode

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

func TestXAttrs(t *testing.T) {
	s := newServer(t)
	build(t, s, "f:/f", "d:/d")

	if err := s.SetXAttrs(bg, "/f", []xattr{{"user.a", "1"}, {"Trusted.b", "\x00two"}}, false, false); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetXAttrs(bg, "/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["user.a"]) != "1" || !bytes.Equal(got["trusted.b"], []byte("\x00two")) {
		t.Fatalf("GetXAttrs(all) = %q", got)
	}
	// A namespace is case-insensitive; the rest of a name is not.
	if got, err := s.GetXAttrs(bg, "/f", []string{"USER.a"}); err != nil || len(got) != 1 || string(got["user.a"]) != "1" {
		t.Fatalf("GetXAttrs(USER.a) = %q, %v", got, err)
	}
	_, err = s.GetXAttrs(bg, "/f", []string{"user.A"})
	wantKind(t, "GetXAttrs(missing)", err, cairn.NotExist)
	names, err := s.ListXAttrs(bg, "/f")
	if err != nil || strings.Join(names, ",") != "trusted.b,user.a" {
		t.Fatalf("ListXAttrs = %q, %v", names, err)
	}

	// HDFS's flags.
	wantKind(t, "create existing", s.SetXAttrs(bg, "/f", []xattr{{"user.a", "x"}}, true, false), cairn.Exist)
	wantKind(t, "replace missing", s.SetXAttrs(bg, "/f", []xattr{{"user.z", "x"}}, false, true), cairn.NotExist)
	// A set is all or nothing: user.new is not added when user.a fails.
	wantKind(t, "create mixed", s.SetXAttrs(bg, "/f", []xattr{{"user.new", "x"}, {"user.a", "x"}}, true, false), cairn.Exist)
	if got, _ := s.GetXAttrs(bg, "/f", nil); len(got) != 2 {
		t.Fatalf("after a failed set: %q", got)
	}
	if err := s.SetXAttrs(bg, "/f", []xattr{{"user.a", "replaced"}}, true, true); err != nil {
		t.Fatal(err)
	}

	// Bad names, sizes and counts are refused before anything is logged.
	for _, name := range []string{"", "user.", "a", "system.x", "security.x", "raw.x", "other.x"} {
		wantKind(t, "name "+name, s.SetXAttrs(bg, "/f", []xattr{{name, "v"}}, false, false), cairn.Invalid)
	}
	wantKind(t, "twice", s.SetXAttrs(bg, "/f", []xattr{{"user.q", "1"}, {"USER.q", "2"}}, false, false), cairn.Invalid)
	wantKind(t, "too big", s.SetXAttrs(bg, "/f", []xattr{{"user.big", strings.Repeat("v", maxXAttrSize)}}, false, false), cairn.Invalid)
	if err := s.SetXAttrs(bg, "/f", []xattr{{"user.fits", strings.Repeat("v", maxXAttrSize-len("user.fits"))}}, false, false); err != nil {
		t.Fatalf("an xattr of exactly the limit: %v", err)
	}
	var many []xattr
	for i := range maxXAttrsPerInode {
		many = append(many, xattr{fmt.Sprintf("user.m%02d", i), "v"})
	}
	if err := s.SetXAttrs(bg, "/d", many, false, false); err != nil {
		t.Fatalf("%d xattrs: %v", len(many), err)
	}
	wantKind(t, "one too many", s.SetXAttrs(bg, "/d", []xattr{{"user.more", "v"}}, false, false), cairn.Invalid)
	if err := s.SetXAttrs(bg, "/d", []xattr{{"user.m00", "replacing is not adding"}}, false, false); err != nil {
		t.Fatal(err)
	}

	// Remove.
	if err := s.RemoveXAttr(bg, "/f", "trusted.b"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "remove missing", s.RemoveXAttr(bg, "/f", "trusted.b"), cairn.NotExist)
	wantKind(t, "missing file", s.SetXAttrs(bg, "/nope", []xattr{{"user.a", "1"}}, false, false), cairn.NotExist)

	// Attributes follow a rename and go with a delete.
	if _, err := s.Rename(bg, "/f", "/g", RenameOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := s.GetFileInfoWith(bg, "/g", StatOptions{XAttrs: true})
	if err != nil || string(st.XAttrs["user.a"]) != "replaced" {
		t.Fatalf("after rename: %q, %v", st.XAttrs, err)
	}
	if err := s.Delete(bg, "/g", false); err != nil {
		t.Fatal(err)
	}
	build(t, s, "f:/g")
	if got, err := s.GetXAttrs(bg, "/g", nil); err != nil || len(got) != 0 {
		t.Fatalf("a new file at the path has xattrs %q, %v", got, err)
	}

	// A listing carries them when asked, and only then.
	entries, _, err := s.ListDirWith(bg, "/", "", 0, StatOptions{XAttrs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == "d" && len(e.XAttrs) != maxXAttrsPerInode {
			t.Errorf("listing: /d has %d xattrs, want %d", len(e.XAttrs), maxXAttrsPerInode)
		}
	}
	plain, _, _ := s.ListDir(bg, "/", "", 0)
	for _, e := range plain {
		if e.XAttrs != nil {
			t.Errorf("a plain listing carries xattrs of %s", e.Name)
		}
	}
}

func TestXAttrCommandEncoding(t *testing.T) {
	c := command{op: opSetXAttr, path: "/p", flags: flagXAttrCreate, xattrs: []xattr{{"user.a", ""}, {"user.b", "\x00\x01"}}}
	got, err := decodeCommand(c.encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.op != c.op || got.path != c.path || got.flags != c.flags || fmt.Sprint(got.xattrs) != fmt.Sprint(c.xattrs) {
		t.Fatalf("decoded %+v, want %+v", got, c)
	}
	// Truncated anywhere inside the xattrs, it is refused.
	b := c.encode(nil)
	for i := len(b) - 1; i > 0; i-- {
		if _, err := decodeCommand(b[:i]); err == nil {
			t.Fatalf("a command truncated to %d of %d bytes decoded", i, len(b))
		}
	}
}

// A rename with ReplaceFileID replaces only that file (the S3
// gateway's If-Match): a missing destination is NotExist, another file
// there Exist, and neither changes anything.
func TestRenameReplaceFileID(t *testing.T) {
	s := newServer(t)
	build(t, s, "f:/a", "f:/b", "f:/c", "f:/d")
	b, err := s.GetFileInfo(bg, "/b", false, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Rename(bg, "/a", "/c", RenameOptions{Exact: true, ReplaceFileID: b.ID})
	wantKind(t, "rename onto another file", err, cairn.Exist)
	_, err = s.Rename(bg, "/a", "/nope", RenameOptions{Exact: true, ReplaceFileID: b.ID})
	wantKind(t, "rename onto nothing", err, cairn.NotExist)
	if ok, _ := exists(t, s, "/a"); !ok {
		t.Fatal("a refused rename moved /a")
	}
	if _, err := s.Rename(bg, "/a", "/b", RenameOptions{Exact: true, ReplaceFileID: b.ID}); err != nil {
		t.Fatalf("rename onto the expected file: %v", err)
	}
	// The second swap of the same version fails: /b is /a's file now.
	_, err = s.Rename(bg, "/d", "/b", RenameOptions{Exact: true, ReplaceFileID: b.ID})
	wantKind(t, "a second swap of the same version", err, cairn.Exist)
}

// A delete with an xattr condition is refused, at apply, when the
// inode has the attribute, and goes on when it does not.
func TestDeleteUnlessXAttr(t *testing.T) {
	s := newServer(t)
	build(t, s, "d:/marked", "d:/plain")
	if err := s.SetXAttrs(bg, "/marked", []xattr{{"user.s3.dir", "1"}}, false, false); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "delete of a marked directory", s.DeleteUnless(bg, "/marked", false, "user.s3.dir"), cairn.Exist)
	if ok, _ := exists(t, s, "/marked"); !ok {
		t.Fatal("a refused delete removed /marked")
	}
	if err := s.DeleteUnless(bg, "/plain", false, "user.s3.dir"); err != nil {
		t.Fatalf("delete of an unmarked directory: %v", err)
	}
	wantKind(t, "a bad attribute name", s.DeleteUnless(bg, "/marked", false, "nonamespace"), cairn.Invalid)
	if err := s.Delete(bg, "/marked", false); err != nil {
		t.Fatalf("an unconditional delete: %v", err)
	}
}

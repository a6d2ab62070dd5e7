package namenode

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// as is a context of a call made for user, with the groups the tests'
// NameNodes give it (the interceptor's part).
func as(user string) context.Context {
	return WithCaller(bg, protocol.Caller{User: user, Groups: testGroups(user)})
}

// The users of the permission tests: alice owns what is checked, carol
// shares its group (staff), bob is another; hdfs is the superuser and
// admin a member of the supergroup.
var permClasses = []struct {
	class string
	user  string
	shift uint // of the class's bits in a mode
}{
	{"owner", "alice", 6},
	{"group", "carol", 3},
	{"other", "bob", 0},
}

// permCase is an operation whose permission rests on the bits of one
// inode: the directory d or the file d/f of a fresh tree
// /c/d/f (and /c/d/s, /c/d/sub/x), everything else mode 0777, owned by
// alice with group staff.
type permCase struct {
	name   string
	onFile bool   // the bits varied are d/f's, else d's
	need   access // the bits the operation needs on that inode
	op     func(s *Server, ctx context.Context, c string) error
}

var permCases = []permCase{
	// On the directory.
	{"stat an entry", false, accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetFileInfo(ctx, c+"/d/f", false, "")
		return err
	}},
	{"stat a missing entry (no existence told)", false, accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetFileInfo(ctx, c+"/d/nope", false, "")
		if cairn.KindOf(err) == cairn.NotExist {
			return nil
		}
		return err
	}},
	{"list", false, accRead | accExec, func(s *Server, ctx context.Context, c string) error {
		_, _, err := s.ListDir(ctx, c+"/d", "", 0)
		return err
	}},
	{"content summary", false, accRead | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetContentSummary(ctx, c+"/d")
		return err
	}},
	{"create", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Create(ctx, c+"/d/new", CreateOptions{ClientName: "cl"})
		return err
	}},
	{"touch a new file", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Create(ctx, c+"/d/new", CreateOptions{Touch: true})
		return err
	}},
	{"mkdir", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Mkdirs(ctx, c+"/d/new", 0o755, false, "", "")
		return err
	}},
	{"mkdir -p below", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Mkdirs(ctx, c+"/d/n1/n2", 0o755, true, "", "")
		return err
	}},
	{"delete an entry", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		return s.Delete(ctx, c+"/d/f", false)
	}},
	{"delete the tree (all of rwx on each directory)", false, accAll, func(s *Server, ctx context.Context, c string) error {
		return s.Delete(ctx, c+"/d", true)
	}},
	{"rename out of it", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Rename(ctx, c+"/d/f", c+"/moved", RenameOptions{})
		return err
	}},
	{"rename into it", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Rename(ctx, c+"/g", c+"/d/g", RenameOptions{})
		return err
	}},
	{"concat a source out of it", false, accWrite | accExec, func(s *Server, ctx context.Context, c string) error {
		return s.Concat(ctx, c+"/g", []string{c + "/d/s"})
	}},
	// On the file.
	{"open", true, accRead, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetBlockLocations(ctx, c+"/d/f", 0, -1, "")
		return err
	}},
	{"stat with locations", true, accRead, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetFileInfo(ctx, c+"/d/f", true, "")
		return err
	}},
	{"overwrite", true, accWrite, func(s *Server, ctx context.Context, c string) error {
		_, err := s.Create(ctx, c+"/d/f", CreateOptions{ClientName: "cl", Overwrite: true})
		return err
	}},
	{"set replication", true, accWrite, func(s *Server, ctx context.Context, c string) error {
		_, err := s.SetReplication(ctx, c+"/d/f", 2, false)
		return err
	}},
	{"set a user xattr", true, accWrite, func(s *Server, ctx context.Context, c string) error {
		return s.SetXAttrs(ctx, c+"/d/f", []xattr{{name: "user.k", value: "v"}}, false, false)
	}},
	{"get user xattrs", true, accRead, func(s *Server, ctx context.Context, c string) error {
		_, err := s.GetXAttrs(ctx, c+"/d/f", []string{"user.a"})
		return err
	}},
	{"concat onto it", true, accWrite, func(s *Server, ctx context.Context, c string) error {
		return s.Concat(ctx, c+"/d/f", []string{c + "/g"})
	}},
	{"concat it as a source", true, accRead, func(s *Server, ctx context.Context, c string) error {
		return s.Concat(ctx, c+"/g", []string{c + "/d/f"})
	}},
}

// permFixture makes /c/d/f, /c/d/s, /c/d/sub/x and /c/g, all mode 0777
// and alice:staff, with the bits of the inode the case varies set to
// mode.
func permFixture(t *testing.T, s *Server, c string, onFile bool, mode fs.FileMode) {
	t.Helper()
	for _, d := range []string{c, c + "/d", c + "/d/sub"} {
		if _, err := s.Mkdirs(bg, d, 0o777, false, "alice", "staff"); err != nil {
			t.Fatalf("Mkdirs(%s) = %v", d, err)
		}
	}
	for _, f := range []string{c + "/d/f", c + "/d/s", c + "/d/sub/x", c + "/g"} {
		writeFile(t, s, f, "setup", 10)
		if err := s.SetOwner(bg, f, "alice", "staff"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPermission(bg, f, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetXAttrs(bg, c+"/d/f", []xattr{{name: "user.a", value: "1"}}, false, false); err != nil {
		t.Fatal(err)
	}
	target := c + "/d"
	if onFile {
		target = c + "/d/f"
	}
	if err := s.SetPermission(bg, target, mode); err != nil {
		t.Fatal(err)
	}
}

// Every operation, for each class of user (owner, group, other) and
// each of the 8 settings of that class's bits (the other classes
// having all of rwx, so that only the caller's class counts, as
// HDFS's): allowed exactly when the class has the bits the operation
// needs. The superuser and the supergroup pass everything.
func TestPermissionTable(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	n := 0
	for _, pc := range permCases {
		for _, cl := range permClasses {
			for bits := access(0); bits <= 7; bits++ {
				n++
				c := fmt.Sprintf("/c%d", n)
				mode := fs.FileMode(0o777&^(7<<cl.shift) | uint32(bits)<<cl.shift)
				permFixture(t, s, c, pc.onFile, mode)
				err := pc.op(s, as(cl.user), c)
				allowed := bits&pc.need == pc.need
				what := fmt.Sprintf("%s as %s (%s) with mode %04o", pc.name, cl.user, cl.class, mode)
				switch {
				case allowed && err != nil:
					t.Errorf("%s = %v, want allowed", what, err)
				case !allowed && cairn.KindOf(err) != cairn.Permission:
					t.Errorf("%s = %v, want permission denied", what, err)
				case !allowed && !strings.Contains(err.Error(), "user="+cl.user):
					t.Errorf("%s: refusal %q does not name the user", what, err)
				}
			}
		}
		for _, super := range []string{"hdfs", "admin"} {
			n++
			c := fmt.Sprintf("/c%d", n)
			permFixture(t, s, c, pc.onFile, 0)
			if err := pc.op(s, as(super), c); err != nil {
				t.Errorf("%s as superuser %s with mode 0000 = %v, want allowed", pc.name, super, err)
			}
		}
	}
}

// Search permission is needed on every directory above a path: one
// without it refuses whatever is below, and does not tell whether it
// exists.
func TestPermissionTraverse(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	permFixture(t, s, "/c", false, 0o777)
	if err := s.SetPermission(bg, "/c", 0o776); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/c/d/f", "/c/d/missing", "/c/missing/x"} {
		_, err := s.GetFileInfo(as("bob"), p, false, "")
		wantKind(t, "stat "+p+" as bob below /c (0776)", err, cairn.Permission)
		if !strings.Contains(err.Error(), `inode="/c"`) || !strings.Contains(err.Error(), "access=EXECUTE") {
			t.Errorf("stat %s: refusal %q does not name /c and EXECUTE", p, err)
		}
	}
	if _, err := s.GetFileInfo(as("alice"), "/c/d/f", false, ""); err != nil {
		t.Errorf("stat as alice, the owner, with x = %v", err)
	}
}

// Only the owner (or a superuser) changes modes and times; only a
// superuser changes an owner; the owner may change the group to one of
// its own.
func TestPermissionOwnerOperations(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	permFixture(t, s, "/c", true, 0o777)
	f := "/c/d/f"
	for _, tc := range []struct {
		what string
		err  error
		want cairn.Kind
	}{
		{"chmod by carol (group, rwx)", s.SetPermission(as("carol"), f, 0o600), cairn.Permission},
		{"set times by bob (other, rwx)", s.SetTimes(as("bob"), f, s.now()), cairn.Permission},
		{"chown by alice (owner)", s.SetOwner(as("alice"), f, "bob", ""), cairn.Permission},
		{"chgrp by alice to eng (not hers)", s.SetOwner(as("alice"), f, "", "eng"), cairn.Permission},
		{"chgrp by carol (not the owner)", s.SetOwner(as("carol"), f, "", "staff"), cairn.Permission},
		{"chmod by alice", s.SetPermission(as("alice"), f, 0o640), cairn.Other},
		{"set times by alice", s.SetTimes(as("alice"), f, s.now()), cairn.Other},
		{"chgrp by alice to staff (hers)", s.SetOwner(as("alice"), f, "", "staff"), cairn.Other},
		{"chown by alice to herself", s.SetOwner(as("alice"), f, "alice", ""), cairn.Other},
		{"chown by hdfs (superuser)", s.SetOwner(as("hdfs"), f, "bob", "eng"), cairn.Other},
		{"chmod by admin (supergroup)", s.SetPermission(as("admin"), f, 0o600), cairn.Other},
		{"a trusted xattr by alice (owner)", s.SetXAttrs(as("alice"), f, []xattr{{name: "trusted.t", value: "x"}}, false, false), cairn.Permission},
		{"a trusted xattr by hdfs", s.SetXAttrs(as("hdfs"), f, []xattr{{name: "trusted.t", value: "x"}}, false, false), cairn.Other},
	} {
		wantKind(t, tc.what, tc.err, tc.want)
	}
	st, err := s.GetFileInfo(bg, f, false, "")
	if err != nil || st.Owner != "bob" || st.Group != "eng" || st.Mode != 0o600 {
		t.Errorf("after the changes: %+v, %v; want bob:eng 0600", st.FileInfo, err)
	}
	// A trusted xattr is invisible to others.
	if err := s.SetPermission(bg, f, 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := s.ListXAttrs(as("alice"), f)
	if err != nil || strings.Contains(strings.Join(names, ","), "trusted.") {
		t.Errorf("ListXAttrs as alice = %q, %v; want no trusted names", names, err)
	}
	if _, err := s.GetXAttrs(as("alice"), f, []string{"trusted.t"}); cairn.KindOf(err) != cairn.Permission {
		t.Errorf("GetXAttrs(trusted.t) as alice = %v, want permission denied", err)
	}
}

// In a sticky directory (/tmp's 1777) anyone may create, but only the
// owner of an entry, of the directory, or a superuser removes or
// renames it.
func TestPermissionStickyBit(t *testing.T) {
	s := newServer(t)
	if _, err := s.Mkdirs(bg, "/tmp", 0o777|fs.ModeSticky, false, "hdfs", "supergroup"); err != nil {
		t.Fatal(err)
	}
	st, err := s.GetFileInfo(bg, "/tmp", false, "")
	if err != nil || st.Mode != 0o777|fs.ModeSticky {
		t.Fatalf("/tmp made with mode 1777 = %v (%v), %v", st.Mode, uint32(st.Mode), err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, err := s.Create(as(u), "/tmp/"+u, CreateOptions{Touch: true, Mode: 0o666}); err != nil {
			t.Fatalf("create /tmp/%s as %s = %v", u, u, err)
		}
	}
	wantKind(t, "bob deletes alice's file in /tmp", s.Delete(as("bob"), "/tmp/alice", false), cairn.Permission)
	_, err = s.Rename(as("bob"), "/tmp/alice", "/tmp/mine", RenameOptions{})
	wantKind(t, "bob renames alice's file in /tmp", err, cairn.Permission)
	_, err = s.Rename(as("bob"), "/tmp/bob", "/tmp/carol", RenameOptions{Overwrite: true})
	wantKind(t, "bob renames his file over carol's in /tmp", err, cairn.Permission)
	if err != nil && !strings.Contains(err.Error(), "sticky") {
		t.Errorf("refusal %q does not name the sticky bit", err)
	}
	wantKind(t, "bob deletes his own file in /tmp", s.Delete(as("bob"), "/tmp/bob", false), cairn.Other)
	wantKind(t, "hdfs, the superuser, deletes alice's", s.Delete(as("hdfs"), "/tmp/alice", false), cairn.Other)
	// Without the sticky bit, write on the directory suffices.
	if err := s.SetPermission(bg, "/tmp", 0o777); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "bob deletes carol's file in a 0777 /tmp", s.Delete(as("bob"), "/tmp/carol", false), cairn.Other)
}

// The checks happen where changes are applied: every member of a group
// decides alike, and a command logged without the check flag (before
// permissions, or of a superuser) is applied unchecked.
func TestPermissionCheckedAtApply(t *testing.T) {
	s := newServer(t)
	if _, err := s.Mkdirs(bg, "/locked", 0o700, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	c := command{op: opMkdirs, path: "/locked/x", mode: 0o755, caller: "bob", flags: flagCheckPerm, mtime: 1}
	s.ns.mu.Lock()
	err, _ := s.ns.apply(&c).(error)
	s.ns.mu.Unlock()
	wantKind(t, "a logged mkdirs of bob's, checked", err, cairn.Permission)
	c.flags = 0
	s.ns.mu.Lock()
	v := s.ns.apply(&c)
	s.ns.mu.Unlock()
	if err, ok := v.(error); ok {
		t.Errorf("the same command logged unchecked = %v, want applied", err)
	}
}

// With permissions off (HDFS's dfs.permissions.enabled=false) anyone may
// do anything, and owners are still recorded.
func TestPermissionsOff(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.PermissionsOff = true
	s := startServer(t, cfg)
	if _, err := s.Mkdirs(bg, "/locked", 0o700, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Mkdirs(as("bob"), "/locked/mine", 0o700, false, "", "")
	if err != nil || st.Owner != "bob" {
		t.Fatalf("Mkdirs as bob below alice's 0700 directory with permissions off = %+v, %v", st.FileInfo, err)
	}
	if err := s.Delete(as("bob"), "/locked", true); err != nil {
		t.Errorf("Delete as bob with permissions off = %v", err)
	}
}

// What is known of a file does not open it: a listing gives blocks
// (and so block tokens) only of the files the caller may read; the
// lease holder's name does not let another user go on writing a file;
// and a Create is checked before it may take over another's file.
func TestPermissionOfWritersAndListings(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	if _, err := s.Mkdirs(bg, "/home", 0o755, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s, "/home/open", "w", 10)
	writeFile(t, s, "/home/secret", "w", 10)
	if err := s.SetPermission(bg, "/home/secret", 0o600); err != nil {
		t.Fatal(err)
	}
	sts, _, err := s.ListDirWith(as("bob"), "/home", "", 0, StatOptions{Blocks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if want := st.Name == "open"; (len(st.Blocks) > 0) != want {
			t.Errorf("ListDir with blocks as bob: %s has %d blocks, want blocks only of the files he may read", st.Name, len(st.Blocks))
		}
	}

	// alice writes a file; bob knows her client name.
	f, err := s.Create(as("alice"), "/home/draft", CreateOptions{ClientName: "alice-client", Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AddBlock(as("bob"), "/home/draft", f.ID, "alice-client", nil, nil, "")
	wantKind(t, "AddBlock by bob on alice's file with her lease", err, cairn.Permission)
	_, err = s.Complete(as("bob"), "/home/draft", f.ID, "alice-client", nil)
	wantKind(t, "Complete by bob on alice's file with her lease", err, cairn.Permission)
	_, err = s.Create(as("bob"), "/home/draft", CreateOptions{ClientName: "bob-client", Overwrite: true})
	wantKind(t, "Create over alice's open file by bob", err, cairn.Permission)
	// Her own file, even read-only, is hers to go on with.
	if err := s.SetPermission(bg, "/home/draft", 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddBlock(as("alice"), "/home/draft", f.ID, "alice-client", nil, nil, ""); err != nil {
		t.Errorf("AddBlock by alice on her 0444 file = %v", err)
	}
}

package namenode

import (
	"context"
	"slices"
	"strings"

	"github.com/cairn-fs/cairn"
)

// Permission checking, as HDFS's FSPermissionChecker: owner, group and
// other rwx bits on every inode; search (execute) on every directory
// crossed to reach a path; write on the parent to create, delete or
// rename an entry; read to open; read and execute to list; owner (or
// superuser) to chmod and set times; superuser to change an owner; the
// sticky bit on a directory lets only the owner of an entry (or of the
// directory) remove or rename it.
//
// Changes are checked where they are applied (apply.go), against the
// state they change, so that a check and its change are one step under
// the namespace lock on every member: the leader marks the command of a
// caller to be checked (flagCheckPerm; a superuser's, a change of the
// NameNode's own, or any with checking off, is not) and logs the caller
// and its groups in it, so that every member decides alike. Reads are
// checked where they are answered (ops.go), under the read lock.

// Command flags of permission checking (high bits, apart from the
// per-operation flags).
const (
	// flagCheckPerm: check the caller's permissions when applying.
	flagCheckPerm uint64 = 1 << 20
	// flagParentGroup: a created inode whose command names no group
	// takes its parent directory's group, as in HDFS (BSD semantics).
	// Commands logged before the flag existed keep their old meaning.
	flagParentGroup uint64 = 1 << 21
)

// access is a set of the rwx bits a check wants, in the layout of one
// class of a mode (4 read, 2 write, 1 execute), as HDFS's FsAction.
type access uint8

const (
	accExec  access = 1
	accWrite access = 2
	accRead  access = 4
	accAll          = accRead | accWrite | accExec
)

// String names a as HDFS's FsAction does, as its audit and errors show.
func (a access) String() string {
	switch a {
	case accRead:
		return "READ"
	case accWrite:
		return "WRITE"
	case accExec:
		return "EXECUTE"
	case accRead | accExec:
		return "READ_EXECUTE"
	case accRead | accWrite:
		return "READ_WRITE"
	case accWrite | accExec:
		return "WRITE_EXECUTE"
	case accAll:
		return "ALL"
	}
	return "NONE"
}

// checker is the caller a check is made for. A nil *checker permits
// everything: a superuser, checking turned off, or the NameNode itself.
type checker struct {
	user   string
	groups []string
}

// checkerOf is the checker of a command being applied.
func checkerOf(c *command) *checker {
	if c.flags&flagCheckPerm == 0 {
		return nil
	}
	return &checker{user: c.caller, groups: c.callerGroups}
}

// markChecks sets the permission flags of a command the leader is
// about to log for the caller of ctx.
func (s *Server) markChecks(ctx context.Context, c *command) {
	c.flags |= flagParentGroup
	if who, ok := CallerFrom(ctx); ok && !s.cfg.PermissionsOff && !s.isSuper(who.User, who.Groups) {
		c.flags |= flagCheckPerm
	}
}

// readChecker is the checker of a read made for the caller of ctx.
func (s *Server) readChecker(ctx context.Context) *checker {
	who, ok := CallerFrom(ctx)
	if !ok || s.cfg.PermissionsOff || s.isSuper(who.User, who.Groups) {
		return nil
	}
	return &checker{user: who.User, groups: who.Groups}
}

// superOnly refuses a non-superuser an operation reserved to
// superusers.
func (s *Server) superOnly(ctx context.Context, op string) error {
	if pc := s.readChecker(ctx); pc != nil {
		return denyf("user=%s: %s needs superuser privilege", pc.user, op)
	}
	return nil
}

// permits reports whether the caller has the bits of want on n.
func (pc *checker) permits(r *replicated, n *inode, want access) bool {
	var class access
	switch {
	case r.strs[n.owner] == pc.user:
		class = access(n.mode>>6) & 7
	case slices.Contains(pc.groups, r.strs[n.group]):
		class = access(n.mode>>3) & 7
	default:
		class = access(n.mode) & 7
	}
	return class&want == want
}

// denied is the refusal of want on n, whose path is p, in the form of
// HDFS's AccessControlException: the user, the access, and the inode
// with its owner, group and mode.
func (pc *checker) denied(r *replicated, p string, n *inode, want access) error {
	return denyf("user=%s, access=%s, inode=%q:%s:%s:%s",
		pc.user, want, p, r.strs[n.owner], r.strs[n.group], modeString(n))
}

// check refuses the caller without the bits of want on n (path p).
func (pc *checker) check(r *replicated, p string, n *inode, want access) error {
	if pc == nil || pc.permits(r, n, want) {
		return nil
	}
	return pc.denied(r, p, n, want)
}

// traverse checks search permission on the directories of inodes, a
// resolve of p: every one but the last when the whole path resolved
// (complete), every one otherwise (the deepest was searched for the
// next component).
func (pc *checker) traverse(r *replicated, p string, inodes []*inode, complete bool) error {
	if pc == nil {
		return nil
	}
	dirs := inodes
	if complete {
		dirs = inodes[:len(inodes)-1]
	}
	for i, n := range dirs {
		if n.isDir() && !pc.permits(r, n, accExec) {
			return pc.denied(r, prefixPath(p, i), n, accExec)
		}
	}
	return nil
}

// owns refuses the caller who does not own n (path p).
func (pc *checker) owns(r *replicated, p string, n *inode) error {
	if pc == nil || r.strs[n.owner] == pc.user {
		return nil
	}
	return denyf("user=%s is not the owner of inode=%q (owner %s)", pc.user, p, r.strs[n.owner])
}

// sticky refuses the caller the removal of n (path p) from parent
// when parent has the sticky bit and the caller owns neither.
func (pc *checker) sticky(r *replicated, p string, parent, n *inode) error {
	if pc == nil || parent.mode&0o1000 == 0 {
		return nil
	}
	if u := pc.user; r.strs[parent.owner] == u || r.strs[n.owner] == u {
		return nil
	}
	return denyf("sticky bit: user=%s may not remove or rename inode=%q (owner %s) in a sticky directory owned by %s",
		pc.user, p, r.strs[n.owner], r.strs[parent.owner])
}

// subtree checks want on n (path p) and every directory below it, as
// HDFS's subAccess: deleting a tree needs all of rwx on each of its
// directories.
func (pc *checker) subtree(r *replicated, p string, n *inode, want access) error {
	if pc == nil || !n.isDir() {
		return nil
	}
	if !pc.permits(r, n, want) {
		return pc.denied(r, p, n, want)
	}
	for _, ch := range n.children {
		if err := pc.subtree(r, cairn.Join(p, ch.name), ch, want); err != nil {
			return err
		}
	}
	return nil
}

// memberOf reports whether the caller is in group.
func (pc *checker) memberOf(group string) bool {
	return pc == nil || slices.Contains(pc.groups, group)
}

// resolveChecked resolves p as resolve does and checks search
// permission on the directories crossed; a refusal wins over the
// resolve's own error, so that a path's existence is not told to
// whoever may not search its parent.
func (r *replicated) resolveChecked(pc *checker, buf []*inode, p string) ([]*inode, error) {
	inodes, err := r.resolve(buf, p)
	if perr := pc.traverse(r, p, inodes, err == nil); perr != nil {
		return inodes, perr
	}
	return inodes, err
}

// lookupChecked is lookup with search permission checked.
func (r *replicated) lookupChecked(pc *checker, p string) (*inode, error) {
	var buf [maxResolveDepth]*inode
	inodes, err := r.resolveChecked(pc, buf[:0], p)
	if err != nil {
		return nil, err
	}
	return inodes[len(inodes)-1], nil
}

// prefixPath is the path of the i-th inode of a resolve of p (0: "/").
func prefixPath(p string, i int) string {
	if i == 0 {
		return "/"
	}
	end := 0
	for k := 0; k < i; k++ {
		j := strings.IndexByte(p[end+1:], '/')
		if j < 0 {
			return p
		}
		end += j + 1
	}
	return p[:end]
}

// modeString is n's mode as ls shows it: drwxr-xr-t.
func modeString(n *inode) string {
	b := []byte("-rwxrwxrwx")
	if n.isDir() {
		b[0] = 'd'
	}
	for i := 0; i < 9; i++ {
		if n.mode&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	if n.mode&0o1000 != 0 {
		if b[9] == 'x' {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}

// newGroup is the group of an inode a command creates under parent:
// the group the command names, if the caller may give it one (a
// superuser any, another user one of its groups), else the parent's.
func newGroup(r *replicated, c *command, parent *inode) string {
	if c.group != "" && (c.flags&flagParentGroup == 0 || checkerOf(c).memberOf(c.group)) {
		return c.group
	}
	if c.flags&flagParentGroup == 0 {
		return c.group
	}
	return r.strs[parent.group]
}

// lookupParentChecked is lookupParent with search permission checked
// on every directory down to the parent, the parent included.
func (r *replicated) lookupParentChecked(pc *checker, p string) (*inode, error) {
	dir := cairn.Dir(p)
	var buf [maxResolveDepth]*inode
	inodes, err := r.resolveChecked(pc, buf[:0], dir)
	if err != nil {
		if cairn.KindOf(err) == cairn.NotExist {
			return nil, errf(cairn.NotExist, "parent directory %s does not exist", dir)
		}
		return nil, err
	}
	d := inodes[len(inodes)-1]
	if !d.isDir() {
		return nil, errf(cairn.NotDir, "parent %s is not a directory", dir)
	}
	if err := pc.check(r, dir, d, accExec); err != nil {
		return nil, err
	}
	return d, nil
}

// walkPaths calls fn on n, whose path is p, and below it with each
// inode's path, depth first, until fn returns false.
func (n *inode) walkPaths(p string, fn func(p string, n *inode) bool) bool {
	if !fn(p, n) {
		return false
	}
	for _, c := range n.children {
		if !c.walkPaths(cairn.Join(p, c.name), fn) {
			return false
		}
	}
	return true
}

// checkXAttrAccess checks the caller's access to the attributes named
// of n (path p), as HDFS's: the trusted namespace is the superusers'
// alone; a user attribute needs want on the inode (read to get or
// list, write to set or remove).
func (pc *checker) checkXAttrAccess(r *replicated, p string, n *inode, names []string, want access) error {
	if pc == nil {
		return nil
	}
	for _, name := range names {
		if strings.HasPrefix(name, "trusted.") {
			return denyf("user=%s: the xattr %s of inode=%q is in the trusted namespace, which only a superuser reaches", pc.user, name, p)
		}
	}
	return pc.check(r, p, n, want)
}

// visibleXAttrs drops the attributes the caller may not see (the
// trusted namespace, for a non-superuser) from m.
func (pc *checker) visibleXAttrs(m map[string][]byte) map[string][]byte {
	if pc == nil {
		return m
	}
	for name := range m {
		if strings.HasPrefix(name, "trusted.") {
			delete(m, name)
		}
	}
	return m
}

func xattrNames(attrs []xattr) []string {
	names := make([]string, len(attrs))
	for i, a := range attrs {
		names[i] = a.name
	}
	return names
}

// xattrsFor is what a stat or a listing shows of n's attributes to the
// caller: none of a file it may not read (HDFS's getXAttrs needs
// read), never the trusted namespace to a non-superuser.
func (r *replicated) xattrsFor(pc *checker, n *inode) map[string][]byte {
	if pc != nil && !pc.permits(r, n, accRead) {
		return map[string][]byte{}
	}
	return pc.visibleXAttrs(n.xattrMap())
}

// denyf is a refusal of kind Permission whose message says so first,
// as HDFS's "Permission denied: user=..." does.
func denyf(format string, args ...any) error {
	return errf(cairn.Permission, "permission denied: "+format, args...)
}

// ownsOrWrites refuses the caller who neither owns n (path p) nor may
// write it: a file being written is its creator's to go on with.
func (pc *checker) ownsOrWrites(r *replicated, p string, n *inode) error {
	if pc == nil || r.strs[n.owner] == pc.user || pc.permits(r, n, accWrite) {
		return nil
	}
	return pc.denied(r, p, n, accWrite)
}

// checkCreate is the leader's check, before anything else, of a create
// of p by the caller: search down to the parent, write on the parent
// (if it exists: one made with the file is checked when applied), and
// write on a file already at p. The same checks are made again when
// the create is applied.
func (r *replicated) checkCreate(pc *checker, p string) error {
	parent, err := r.lookupParentChecked(pc, p)
	if cairn.KindOf(err) == cairn.NotExist {
		return nil
	}
	if err != nil {
		return err
	}
	if err := pc.check(r, cairn.Dir(p), parent, accWrite); err != nil {
		return err
	}
	if old := parent.child(cairn.Base(p)); old != nil && !old.isDir() {
		return pc.check(r, p, old, accWrite)
	}
	return nil
}

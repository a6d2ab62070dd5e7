package fusefs

import (
	"context"
	iofs "io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// node is a file or directory of the mount. Its cairn path is its path
// in go-fuse's tree of the names the kernel knows, which follows
// renames made through the mount; its inode number is the file's
// cairn FileID, which follows renames made anywhere.
type node struct {
	fs.Inode
	fsys *fsys

	// fin serializes the end of a writer (its Close, which stamps the
	// file with the NameNode's time, and setting a time again) with
	// SETATTRs of the modification time.
	fin sync.Mutex

	mu sync.Mutex // guards the fields below
	// writers are the handles open for writing on this file.
	writers map[*handle]struct{}
	// mtime is a modification time set while writers were open; the
	// NameNode stamps a file's completion with its own time, so it is
	// set again once the last writer is closed.
	mtime time.Time
}

var (
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeStatfser       = (*node)(nil)
	_ fs.NodeAccesser       = (*node)(nil)
)

// path returns the node's cairn path.
func (n *node) path() string {
	p := n.Path(n.Root())
	if p == "" {
		return "/"
	}
	return "/" + p
}

// child returns the cairn path of name in directory n.
func (n *node) child(name string) string { return cairn.Join(n.path(), name) }

// checkName refuses a name cairn cannot hold.
func checkName(name string) syscall.Errno {
	if len(name) > cairn.MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	if cairn.ValidateName(name) != nil {
		return syscall.EINVAL
	}
	return 0
}

// newChild returns the inode of a file or directory described by fi,
// the one the mount already has for its FileID if any.
func (n *node) newChild(ctx context.Context, fi cairn.FileInfo) *fs.Inode {
	mode := uint32(syscall.S_IFREG)
	if fi.IsDir {
		mode = syscall.S_IFDIR
	}
	return n.NewInode(ctx, &node{fsys: n.fsys}, fs.StableAttr{Mode: mode, Ino: fi.FileID})
}

// fillAttr describes fi in FUSE's terms.
func (f *fsys) fillAttr(fi cairn.FileInfo, a *fuse.Attr) {
	a.Mode = uint32(fi.Mode.Perm())
	if fi.IsDir {
		a.Mode |= syscall.S_IFDIR
		a.Size = 4096
	} else {
		a.Mode |= syscall.S_IFREG
		a.Size = uint64(fi.Size)
	}
	a.Ino = fi.FileID
	a.Nlink = 1
	a.Blksize = blockSizeHint
	a.Blocks = (a.Size + 511) / 512
	a.Uid = f.ids.uidOf(fi.Owner)
	a.Gid = f.ids.gidOf(fi.Group)
	t := fi.ModTime
	a.SetTimes(&t, &t, &t)
}

// overlay corrects attributes from the NameNode with what the node's
// open writers know better: the bytes written so far, a modification
// time set while writing.
func (n *node) overlay(a *fuse.Attr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.writers {
		if s := h.size.Load(); s > int64(a.Size) {
			a.Size = uint64(s)
			a.Blocks = (a.Size + 511) / 512
		}
	}
	if !n.mtime.IsZero() {
		t := n.mtime
		a.SetTimes(nil, &t, nil)
	}
}

func (n *node) addWriter(h *handle) {
	n.mu.Lock()
	if n.writers == nil {
		n.writers = make(map[*handle]struct{})
	}
	n.writers[h] = struct{}{}
	n.mu.Unlock()
}

// removeWriter forgets h and returns the modification time to set
// again if h was the last writer (see doneMtime).
func (n *node) removeWriter(h *handle) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.writers[h]; !ok {
		return time.Time{}
	}
	delete(n.writers, h)
	if len(n.writers) > 0 {
		return time.Time{}
	}
	return n.mtime
}

// doneMtime forgets the modification time set while writing, once it
// is set again; until then the node's attributes show it.
func (n *node) doneMtime() {
	n.mu.Lock()
	if len(n.writers) == 0 {
		n.mtime = time.Time{}
	}
	n.mu.Unlock()
}

// anyWriter returns one of the node's open write handles, nil if none.
func (n *node) anyWriter() *handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.writers {
		return h
	}
	return nil
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	fi, err := n.fsys.c.Stat(octx, n.child(name))
	if err != nil {
		return nil, toErrno(err)
	}
	ch := n.newChild(ctx, fi)
	n.fsys.fillAttr(fi, &out.Attr)
	ch.Operations().(*node).overlay(&out.Attr)
	return ch, 0
}

func (n *node) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	fi, err := n.fsys.c.Stat(octx, n.path())
	if err != nil {
		if h := n.anyWriter(); h != nil && cairn.KindOf(err) == cairn.NotExist {
			// Removed while open for writing (fstat of an
			// unlinked file): what the writer knows.
			fi = cairn.FileInfo{Mode: h.mode, ModTime: time.Now()}
			n.fsys.fillAttr(fi, &out.Attr)
			out.Attr.Uid, out.Attr.Gid = n.fsys.cfg.UID, n.fsys.cfg.GID
			n.overlay(&out.Attr)
			return 0
		}
		return toErrno(err)
	}
	n.fsys.fillAttr(fi, &out.Attr)
	n.overlay(&out.Attr)
	return 0
}

func (n *node) Access(ctx context.Context, mask uint32) syscall.Errno {
	if n.fsys.cfg.ReadOnly && mask&2 != 0 { // W_OK
		return syscall.EROFS
	}
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.fsys.cfg.ReadOnly {
		return syscall.EROFS
	}
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	c := n.fsys.c
	size, setSize := in.GetSize()
	if setSize {
		if e := n.truncate(octx, f, int64(size)); e != 0 {
			return e
		}
	}
	p := n.path()
	if mode, ok := in.GetMode(); ok {
		if err := c.Chmod(octx, p, iofs.FileMode(mode).Perm()); err != nil {
			return toErrno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		var owner, group string
		if uok {
			owner = n.fsys.ids.userOf(uid)
		}
		if gok {
			group = n.fsys.ids.groupOf(gid)
		}
		if err := c.Chown(octx, p, owner, group); err != nil {
			return toErrno(err)
		}
	}
	if mt, ok := in.GetMTime(); ok {
		now := in.Valid&fuse.FATTR_MTIME_NOW != 0
		// A truncation stamps the file with the NameNode's time
		// already (it is a new file).
		if !(now && setSize) {
			if e := n.setMtime(octx, mt, now); e != 0 {
				return e
			}
		}
	}
	return n.Getattr(ctx, f, out)
}

// setMtime sets the modification time (the NameNode's now when now),
// remembering it if the file is being written.
func (n *node) setMtime(ctx context.Context, t time.Time, now bool) syscall.Errno {
	if now {
		t = time.Time{}
	}
	n.fin.Lock()
	defer n.fin.Unlock()
	n.mu.Lock()
	if len(n.writers) > 0 && !now {
		n.mtime = t
	}
	n.mu.Unlock()
	return toErrno(n.fsys.c.SetTimes(ctx, n.path(), t))
}

// truncate sets the size of a file: 0 replaces it with an empty one
// (with an open handle, that handle writes the new file), its own size
// changes nothing, and a larger size extends a file being written with
// zeros. Anything else would rewrite bytes cairn has written once:
// EOPNOTSUPP.
func (n *node) truncate(ctx context.Context, f fs.FileHandle, size int64) syscall.Errno {
	h, _ := f.(*handle)
	if h == nil {
		h = n.anyWriter()
	}
	if h != nil {
		return h.truncate(size)
	}
	p := n.path()
	c := n.fsys.c
	fi, err := c.Stat(ctx, p)
	if err != nil {
		return toErrno(err)
	}
	if fi.IsDir {
		return syscall.EISDIR
	}
	if size == fi.Size {
		return 0
	}
	if size != 0 {
		return syscall.EOPNOTSUPP
	}
	w, err := c.Create(ctx, p, &client.CreateOptions{Overwrite: true, Mode: fi.Mode})
	if err != nil {
		return toErrno(err)
	}
	if err := w.Close(); err != nil {
		w.Abort()
		return toErrno(err)
	}
	return 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	h := &handle{n: n, fsys: f, flags: flags}
	p := n.path()
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		r, err := f.c.Open(f.ctx, p)
		if err != nil {
			return nil, 0, toErrno(err)
		}
		h.r = r
		if err := f.addHandle(h); err != nil {
			r.Close()
			return nil, 0, toErrno(err)
		}
		return h, 0, 0
	}
	if f.cfg.ReadOnly {
		return nil, 0, syscall.EROFS
	}
	octx, cancel := f.opCtx(ctx)
	defer cancel()
	fi, err := f.c.Stat(octx, p)
	if err != nil {
		return nil, 0, toErrno(err)
	}
	if fi.IsDir {
		return nil, 0, syscall.EISDIR
	}
	h.write = true
	h.existing = fi.Size
	h.mode = fi.Mode
	if flags&syscall.O_TRUNC != 0 {
		if e := h.startWriter(); e != 0 {
			return nil, 0, e
		}
	}
	if err := f.addHandle(h); err != nil {
		h.finish()
		return nil, 0, toErrno(err)
	}
	n.addWriter(h)
	return h, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	if f.cfg.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	if e := checkName(name); e != 0 {
		return nil, nil, 0, e
	}
	p := n.child(name)
	excl := flags&syscall.O_EXCL != 0
	perm := iofs.FileMode(mode).Perm()
	w, err := f.c.Create(f.ctx, p, &client.CreateOptions{Overwrite: flags&syscall.O_TRUNC != 0 && !excl, Mode: perm})
	if cairn.KindOf(err) == cairn.Exist && !excl {
		// The kernel believed the name free (a cached negative
		// entry): open the file that is there.
		return n.createExisting(ctx, p, flags, out)
	}
	if err != nil {
		return nil, nil, 0, toErrno(err)
	}
	now := time.Now()
	fi := cairn.FileInfo{FileID: w.FileID(), Mode: perm, ModTime: now}
	ch := n.newChild(ctx, fi)
	f.fillAttr(fi, &out.Attr)
	out.Attr.Uid, out.Attr.Gid = f.cfg.UID, f.cfg.GID
	cn := ch.Operations().(*node)
	h := &handle{n: cn, fsys: f, flags: flags, write: true, w: w, existing: -1, mode: perm}
	if err := f.addHandle(h); err != nil {
		w.Abort()
		return nil, nil, 0, toErrno(err)
	}
	cn.addWriter(h)
	return ch, h, 0, 0
}

// createExisting answers a CREATE of a name that holds a file already,
// as an OPEN of that file.
func (n *node) createExisting(ctx context.Context, p string, flags uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	fi, err := n.fsys.c.Stat(octx, p)
	if err != nil {
		return nil, nil, 0, toErrno(err)
	}
	if fi.IsDir {
		return nil, nil, 0, syscall.EISDIR
	}
	ch := n.newChild(ctx, fi)
	n.fsys.fillAttr(fi, &out.Attr)
	fh, fl, e := ch.Operations().(*node).Open(ctx, flags)
	if e != 0 {
		return nil, nil, 0, e
	}
	return ch, fh, fl, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.fsys.cfg.ReadOnly {
		return nil, syscall.EROFS
	}
	if e := checkName(name); e != 0 {
		return nil, e
	}
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	p := n.child(name)
	perm := iofs.FileMode(mode).Perm()
	if err := n.fsys.c.Mkdir(octx, p, perm); err != nil {
		return nil, toErrno(err)
	}
	if perm == 0 { // client.Mkdir takes 0 for its default, 0755
		if err := n.fsys.c.Chmod(octx, p, 0); err != nil {
			return nil, toErrno(err)
		}
	}
	fi, err := n.fsys.c.Stat(octx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	n.fsys.fillAttr(fi, &out.Attr)
	return n.newChild(ctx, fi), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name)
}

func (n *node) remove(ctx context.Context, name string) syscall.Errno {
	if n.fsys.cfg.ReadOnly {
		return syscall.EROFS
	}
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	return toErrno(n.fsys.c.Remove(octx, n.child(name)))
}

// Rename renames atomically and replaces the target as POSIX does: a
// file replaces a file; a directory replaces an empty directory (two
// NameNode calls: remove, then rename); RENAME_NOREPLACE refuses an
// existing target; RENAME_EXCHANGE is not supported (EINVAL).
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.fsys.cfg.ReadOnly {
		return syscall.EROFS
	}
	if e := checkName(newName); e != 0 {
		return e
	}
	if flags&fs.RENAME_EXCHANGE != 0 {
		return syscall.EINVAL
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	octx, cancel := n.fsys.opCtx(ctx)
	defer cancel()
	c := n.fsys.c
	src, dst := n.child(name), np.child(newName)
	overwrite := flags&unix.RENAME_NOREPLACE == 0
	err := c.RenameTo(octx, src, dst, &client.RenameOptions{Overwrite: overwrite})
	switch cairn.KindOf(err) {
	case cairn.IsDir, cairn.Exist:
		// The target exists and is a directory, or a file the
		// source (a directory?) cannot replace.
		if !overwrite {
			return syscall.EEXIST
		}
		sfi, serr := c.Stat(octx, src)
		dfi, derr := c.Stat(octx, dst)
		if serr != nil || derr != nil {
			return toErrno(err)
		}
		switch {
		case sfi.IsDir && !dfi.IsDir:
			return syscall.ENOTDIR
		case !sfi.IsDir && dfi.IsDir:
			return syscall.EISDIR
		case sfi.IsDir && dfi.IsDir:
			if dfi.Children > 0 {
				return syscall.ENOTEMPTY
			}
			if err := c.Remove(octx, dst); err != nil {
				return toErrno(err)
			}
			err = c.RenameTo(octx, src, dst, nil)
		}
	}
	return toErrno(err)
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	f := n.fsys
	f.mu.Lock()
	if !f.statAt.IsZero() && time.Since(f.statAt) < statfsTTL {
		*out = f.statOut
		f.mu.Unlock()
		return 0
	}
	f.mu.Unlock()
	octx, cancel := f.opCtx(ctx)
	defer cancel()
	rep, err := f.c.DatanodeReport(octx)
	if err != nil {
		return toErrno(err)
	}
	var capacity, remaining int64
	for _, d := range rep.Datanodes {
		switch d.State {
		case "dead", "decommissioned":
			continue
		}
		capacity += d.CapacityBytes
		remaining += d.RemainingBytes
	}
	const bs = 4096
	*out = fuse.StatfsOut{
		Blocks:  uint64(max(capacity, 0)) / bs,
		Bfree:   uint64(max(remaining, 0)) / bs,
		Bavail:  uint64(max(remaining, 0)) / bs,
		Bsize:   bs,
		Frsize:  bs,
		NameLen: cairn.MaxNameLen,
	}
	f.mu.Lock()
	f.statAt, f.statOut = time.Now(), *out
	f.mu.Unlock()
	return 0
}

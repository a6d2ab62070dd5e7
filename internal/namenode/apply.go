package namenode

import (
	"strings"

	"github.com/cairn-fs/cairn"
)

// The functions of this file apply one logged command to the namespace.
// They run with namespace.mu held for writing, on every member of the
// Raft group, and so must be deterministic: they read only the state
// and the command (times and choices come in the command), and they
// re-check everything, returning the same kinds of error a check before
// proposing would. The return value is the command's result or an
// error.

// addBlockResult is the result of opAddBlock.
type addBlockResult struct {
	block  cairn.Block
	offset int64
	// targets is the pipeline logged with the block: a retried call
	// answered from the retry cache gets these, not its own choice.
	targets []cairn.NodeID
}

// createResult is the result of opCreateWithBlock: the new file's
// status and its first block.
type createResult struct {
	status FileStatus
	block  addBlockResult
}

func (ns *namespace) apply(c *command) any {
	switch c.op {
	case opMkdirs:
		return ns.applyMkdirs(c)
	case opCreate:
		return ns.applyCreate(c)
	case opCreateWithBlock:
		return ns.applyCreateWithBlock(c)
	case opAddBlock:
		return ns.applyAddBlock(c)
	case opComplete:
		return ns.applyComplete(c)
	case opAbandonBlock:
		return ns.applyAbandonBlock(c)
	case opRename:
		return ns.applyRename(c)
	case opDelete:
		return ns.applyDelete(c)
	case opSetReplication:
		return ns.applySetReplication(c)
	case opSetPermission:
		return ns.applySetPermission(c)
	case opSetOwner:
		return ns.applySetOwner(c)
	case opSetTimes:
		return ns.applySetTimes(c)
	case opCloseFile:
		return ns.applyCloseFile(c)
	case opSetNodeAdmin:
		return ns.applySetNodeAdmin(c)
	case opNewGenStamp:
		return ns.applyNewGenStamp(c)
	case opUpdatePipeline:
		return ns.applyUpdatePipeline(c)
	case opFsync:
		return ns.applyFsync(c)
	case opSetXAttr:
		return ns.applySetXAttr(c)
	case opRemoveXAttr:
		return ns.applyRemoveXAttr(c)
	case opConcat:
		return ns.applyConcat(c)
	case opTokenKey:
		return ns.applyTokenKey(c)
	case opTokenPurge:
		return ns.applyTokenPurge(c)
	case opRevokeToken:
		return ns.applyRevokeToken(c)
	}
	return errf(cairn.Internal, "unknown command %v", c.op)
}

// result turns an apply result into (value, error).
func result(v any) (any, error) {
	if err, ok := v.(error); ok {
		return nil, err
	}
	return v, nil
}

func (ns *namespace) applyMkdirs(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	parents := c.flags&flagParents != 0
	if c.path == "/" {
		if parents {
			return ns.status(ns.root, "/")
		}
		return errKind(cairn.Exist)
	}
	pc := checkerOf(c)
	var buf [maxResolveDepth]*inode
	inodes, err := ns.resolveChecked(pc, buf[:0], c.path)
	n := inodes[len(inodes)-1]
	if cairn.KindOf(err) == cairn.Permission {
		return err
	}
	switch {
	case err == nil && !n.isDir():
		return errf(cairn.Exist, "%s exists and is a file", c.path)
	case err == nil && !parents:
		return errKind(cairn.Exist)
	case err == nil:
		return ns.status(n, c.path)
	case cairn.KindOf(err) != cairn.NotExist:
		return err
	}
	// Make the missing components, from the first one on, in the
	// deepest directory there, which the caller must be able to write.
	elems := cairn.SplitPath(c.path)
	missing := elems[len(inodes)-1:]
	if len(missing) > 1 && !parents {
		return errf(cairn.NotExist, "parent directory %s does not exist", "/"+strings.Join(elems[:len(inodes)], "/"))
	}
	if err := pc.check(&ns.replicated, prefixPath(c.path, len(inodes)-1), n, accWrite); err != nil {
		return err
	}
	group := newGroup(&ns.replicated, c, n)
	for i, name := range missing {
		mode := c.mode
		if i < len(missing)-1 && c.flags&flagParentGroup != 0 {
			// As HDFS's mkdirs -p: the parents made on the way
			// can be searched and written by their owner, whatever
			// the mode asked for the last.
			mode |= 0o300
		}
		ch := ns.newInode(name, inodeDir, mode, c.owner, group, c.mtime)
		n.addChild(ch)
		n.mtime = c.mtime
		n = ch
	}
	return ns.status(n, c.path)
}

func (ns *namespace) applyCreate(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	touch := c.flags&flagTouch != 0
	if c.path == "/" {
		if touch {
			ns.root.mtime = c.mtime
			return ns.status(ns.root, "/")
		}
		return errf(cairn.IsDir, "/ is a directory")
	}
	if !touch && c.clientName == "" {
		return errf(cairn.Invalid, "create needs a client name")
	}
	if c.replication <= 0 || c.replication > maxReplication {
		return errf(cairn.Invalid, "replication %d out of range", c.replication)
	}
	if c.blockSize <= 0 {
		return errf(cairn.Invalid, "block size %d out of range", c.blockSize)
	}
	pc := checkerOf(c)
	parent, err := ns.lookupParentChecked(pc, c.path)
	if err != nil {
		if cairn.KindOf(err) != cairn.NotExist || c.flags&flagCreateParent == 0 {
			return err
		}
		// The parents, made as mkdirs -p makes them (and checked the
		// same way), with the mode and group they would have had.
		mk := command{op: opMkdirs, path: cairn.Dir(c.path), mode: defaultDirMode, owner: c.owner, group: c.group, mtime: c.mtime,
			flags: flagParents | c.flags&(flagCheckPerm|flagParentGroup), caller: c.caller, callerGroups: c.callerGroups}
		if _, err := result(ns.applyMkdirs(&mk)); err != nil {
			return err
		}
		if parent, err = ns.lookupParent(c.path); err != nil {
			return err
		}
	} else if err := pc.check(&ns.replicated, cairn.Dir(c.path), parent, accWrite); err != nil {
		return err
	}
	name := cairn.Base(c.path)
	if old := parent.child(name); old != nil {
		if !old.isDir() || touch {
			// Touching or overwriting a file writes it (HDFS's
			// startFile with overwrite checks WRITE on the file).
			if err := pc.check(&ns.replicated, c.path, old, accWrite); err != nil {
				return err
			}
		}
		if touch {
			old.mtime = c.mtime
			return ns.status(old, c.path)
		}
		if old.isDir() {
			return errf(cairn.IsDir, "%s is a directory", c.path)
		}
		if old.underConstruction() {
			if u := ns.uc[old.id]; u != nil && u.holder != c.clientName {
				return errf(cairn.LeaseConflict, "file is being written by another client")
			}
		}
		if c.flags&flagOverwrite == 0 {
			return errKind(cairn.Exist)
		}
		ns.removeTree(old)
		parent.removeChild(old)
	}
	f := ns.newInode(name, 0, c.mode, c.owner, newGroup(&ns.replicated, c, parent), c.mtime)
	f.repl = uint16(c.replication)
	f.blkSize = c.blockSize
	if !touch {
		f.flags |= inodeUnderConstruction
		ns.uc[f.id] = &ucFile{f: f, holder: c.clientName}
	}
	parent.addChild(f)
	parent.mtime = c.mtime
	return ns.status(f, c.path)
}

// applyCreateWithBlock is a create (never a touch) and the addBlock of
// the new file's first block on c.targets, in one step: if the create
// fails, nothing is allocated.
func (ns *namespace) applyCreateWithBlock(c *command) any {
	if c.flags&flagTouch != 0 {
		return errf(cairn.Invalid, "a touch has no block to allocate")
	}
	if len(c.targets) == 0 {
		return errf(cairn.Invalid, "create with a block needs its pipeline")
	}
	v := ns.applyCreate(c)
	st, ok := v.(FileStatus)
	if !ok {
		return v
	}
	u := ns.uc[st.ID]
	b := ns.newBlock(u.f)
	u.expected = c.targets
	return createResult{status: st, block: addBlockResult{block: b.block(), targets: c.targets}}
}

// writer finds a file under construction by its ID and checks that
// client holds its lease.
func (ns *namespace) writer(fileID uint64, client string) (*ucFile, error) {
	u := ns.uc[fileID]
	if u == nil {
		return nil, errf(cairn.LeaseConflict, "file is not open for writing (closed, deleted or recovered)")
	}
	if u.holder != client {
		if u.holder == leaseRecoveryHolder {
			return nil, errf(cairn.LeaseConflict, "file is under lease recovery: its writer's lease expired")
		}
		return nil, errf(cairn.LeaseConflict, "file is being written by another client")
	}
	return u, nil
}

func (ns *namespace) lastBlock(f *inode) *blockInfo {
	if len(f.blocks) == 0 {
		return nil
	}
	return f.blocks[len(f.blocks)-1]
}

// commitLast commits the file's last block with the length the writer
// gives; blk is the writer's view of that block (absent: no block).
func (ns *namespace) commitLast(u *ucFile, has bool, blk cairn.Block) error {
	last := ns.lastBlock(u.f)
	switch {
	case !has && (last == nil || last.committed):
		return nil
	case !has:
		return errf(cairn.Invalid, "the file's last block %d was not given", last.id)
	case last == nil:
		return errf(cairn.Invalid, "block %d is not the file's last block: the file has no block", blk.ID)
	case last.id != blk.ID:
		return errf(cairn.Invalid, "block %d is not the file's last block %d", blk.ID, last.id)
	case last.gs != blk.GenStamp:
		return errf(cairn.Invalid, "block %d has generation stamp %d, not %d", blk.ID, blk.GenStamp, last.gs)
	case blk.Len < 0 || blk.Len > u.f.blkSize:
		return errf(cairn.Invalid, "block %d length %d out of range", blk.ID, blk.Len)
	case last.committed:
		if last.len != blk.Len {
			return errf(cairn.Invalid, "block %d was committed with length %d, not %d", blk.ID, last.len, blk.Len)
		}
		return nil
	}
	ns.commitBlock(last, blk.Len, ns.expectedNodes(u))
	u.expected = nil
	return nil
}

func (ns *namespace) applyAddBlock(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	if err := ns.commitLast(u, c.flags&flagHasBlock != 0, c.block); err != nil {
		return err
	}
	offset := u.f.size()
	b := ns.newBlock(u.f)
	u.expected = c.targets
	return addBlockResult{block: b.block(), offset: offset, targets: c.targets}
}

func (ns *namespace) applyComplete(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	if err := ns.commitLast(u, c.flags&flagHasBlock != 0, c.block); err != nil {
		return err
	}
	ns.closeFile(u, c.mtime)
	return ns.status(u.f, u.f.path())
}

func (ns *namespace) closeFile(u *ucFile, mtime int64) {
	delete(ns.uc, u.f.id)
	u.f.flags &^= inodeUnderConstruction
	u.f.mtime = mtime
}

func (ns *namespace) applyAbandonBlock(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	last := ns.lastBlock(u.f)
	if last == nil || last.id != c.block.ID || last.committed {
		return errf(cairn.Invalid, "block %d is not the file's last uncommitted block", c.block.ID)
	}
	u.f.blocks = u.f.blocks[:len(u.f.blocks)-1]
	ns.removeBlock(last, ns.expectedNodes(u))
	u.expected = nil
	return nil
}

// applyCloseFile closes a file whose writer's lease expired: the last
// block is committed at the length given (after block synchronization,
// with its new generation stamp and the nodes that synchronized it),
// or dropped. With flagRemoveFile the file (a put's abandoned
// temporary) is then removed.
func (ns *namespace) applyCloseFile(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	last := ns.lastBlock(u.f)
	if last != nil && !last.committed {
		if c.flags&flagHasBlock == 0 || c.block.ID != last.id {
			return errf(cairn.Invalid, "the file's last block changed")
		}
		if c.flags&flagDropLast != 0 {
			u.f.blocks = u.f.blocks[:len(u.f.blocks)-1]
			ns.removeBlock(last, ns.expectedNodes(u))
		} else if c.block.GenStamp > last.gs {
			// Block synchronization (recovery.go): the block takes
			// the recovery's generation stamp, and the nodes that
			// synchronized it (targets) are its replicas.
			if uint64(c.block.GenStamp) >= ns.nextGenStamp {
				return errf(cairn.Invalid, "generation stamp %d was not allocated", c.block.GenStamp)
			}
			ns.restamp(last, c.block.GenStamp, c.targets)
			ns.commitBlock(last, c.block.Len, ns.reg.indexes(c.targets))
		} else {
			ns.commitBlock(last, c.block.Len, nil)
		}
	}
	u.expected = nil
	ns.closeFile(u, c.mtime)
	if c.flags&flagRemoveFile != 0 && u.f.parent != nil {
		parent := u.f.parent
		ns.removeTree(u.f)
		parent.removeChild(u.f)
		parent.mtime = c.mtime
	}
	return nil
}

func (ns *namespace) applyRename(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	if err := validPath(c.path2); err != nil {
		return err
	}
	if c.path == "/" {
		return errf(cairn.Invalid, "cannot rename /")
	}
	pc := checkerOf(c)
	r := &ns.replicated
	src, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	// Moving src out of its directory writes that directory, which a
	// sticky bit may forbid.
	if err := pc.check(r, cairn.Dir(c.path), src.parent, accWrite|accExec); err != nil {
		return err
	}
	if err := pc.sticky(r, c.path, src.parent, src); err != nil {
		return err
	}
	dst := c.path2
	if dst == c.path {
		return dst
	}
	if d, err := ns.lookupChecked(pc, dst); cairn.KindOf(err) == cairn.Permission {
		return err
	} else if err == nil && d.isDir() {
		if c.flags&flagExact != 0 {
			return errf(cairn.IsDir, "destination %s is a directory", dst)
		}
		// As mv: into an existing directory.
		if d == src.parent {
			return c.path
		}
		dst = cairn.Join(dst, src.name)
	}
	if src.isDir() && cairn.IsWithin(dst, c.path) {
		return errf(cairn.Invalid, "cannot move directory %s into itself (%s)", c.path, dst)
	}
	parent, err := ns.lookupParentChecked(pc, dst)
	if err != nil {
		return err
	}
	if err := pc.check(r, cairn.Dir(dst), parent, accWrite|accExec); err != nil {
		return err
	}
	name := cairn.Base(dst)
	if c.fileID != 0 {
		// A compare-and-swap: dst must be exactly that file.
		switch old := parent.child(name); {
		case old == nil:
			return errf(cairn.NotExist, "destination %s does not exist (expected file %d there)", dst, c.fileID)
		case old.id != c.fileID:
			return errf(cairn.Exist, "destination %s is not file %d (it is %d)", dst, c.fileID, old.id)
		}
	}
	if old := parent.child(name); old != nil {
		if old == src {
			return dst
		}
		if old.isDir() {
			return errf(cairn.Exist, "destination %s exists and is a directory", dst)
		}
		if c.flags&flagOverwrite == 0 {
			return errf(cairn.Exist, "destination %s exists", dst)
		}
		if src.isDir() {
			return errf(cairn.Exist, "cannot overwrite file %s with directory %s", dst, c.path)
		}
		if err := pc.sticky(r, dst, parent, old); err != nil {
			return err
		}
		ns.removeTree(old)
		parent.removeChild(old)
	}
	src.parent.removeChild(src)
	src.parent.mtime = c.mtime
	src.name = name
	parent.addChild(src)
	parent.mtime = c.mtime
	return dst
}

func (ns *namespace) applyDelete(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	if c.path == "/" {
		return errf(cairn.Invalid, "cannot delete /")
	}
	pc := checkerOf(c)
	r := &ns.replicated
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	// As HDFS's delete: write and search on the parent, the sticky
	// bit, and all of rwx on every directory of a tree removed.
	if err := pc.check(r, cairn.Dir(c.path), n.parent, accWrite|accExec); err != nil {
		return err
	}
	if err := pc.sticky(r, c.path, n.parent, n); err != nil {
		return err
	}
	if n.isDir() && len(n.children) > 0 && c.flags&flagRecursive == 0 {
		return errKind(cairn.NotEmpty)
	}
	if err := pc.subtree(r, c.path, n, accAll); err != nil {
		return err
	}
	for _, x := range c.xattrs {
		if _, has := n.xattrs.find(x.name); has {
			return errf(cairn.Exist, "%s has the xattr %s", c.path, x.name)
		}
	}
	ns.removeTree(n)
	n.parent.removeChild(n)
	n.parent.mtime = c.mtime
	return nil
}

// removeTree drops n and everything below it from the accounting: its
// blocks leave the block map (queued for deletion on their nodes), its
// files under construction lose their lease. The caller unlinks n.
func (ns *namespace) removeTree(n *inode) {
	n.walk(func(n *inode) {
		if n.isDir() {
			ns.dirs--
			return
		}
		var expected []uint32
		if u := ns.uc[n.id]; u != nil {
			expected = ns.expectedNodes(u)
			delete(ns.uc, n.id)
		}
		for i, b := range n.blocks {
			if i == len(n.blocks)-1 {
				ns.removeBlock(b, expected)
			} else {
				ns.removeBlock(b, nil)
			}
		}
		ns.files--
	})
}

func (ns *namespace) applySetReplication(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	if c.replication <= 0 || c.replication > maxReplication {
		return errf(cairn.Invalid, "replication %d out of range", c.replication)
	}
	pc := checkerOf(c)
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	if n.isDir() && c.flags&flagRecursive == 0 {
		return errf(cairn.IsDir, "%s is a directory (set replication recursively)", c.path)
	}
	// Every file changed must be writable by the caller, and every
	// directory crossed searchable: all or nothing.
	if pc != nil {
		var denied error
		n.walkPaths(c.path, func(p string, m *inode) bool {
			want := accWrite
			if m.isDir() {
				want = accRead | accExec
			}
			denied = pc.check(&ns.replicated, p, m, want)
			return denied == nil
		})
		if denied != nil {
			return denied
		}
	}
	var count int64
	n.walk(func(n *inode) {
		if n.isDir() {
			return
		}
		if n.repl != uint16(c.replication) {
			// The replication monitor adds or removes replicas to
			// match.
			for _, b := range n.blocks {
				ns.touch(b.id)
			}
		}
		n.repl = uint16(c.replication)
		count++
	})
	return count
}

func (ns *namespace) applySetPermission(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	pc := checkerOf(c)
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	if err := pc.owns(&ns.replicated, c.path, n); err != nil {
		return err
	}
	n.mode = uint16(c.mode & 0o1777)
	return nil
}

func (ns *namespace) applySetOwner(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	pc := checkerOf(c)
	r := &ns.replicated
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	// As HDFS: the owner may change the group to one of its own;
	// only a superuser gives a file away.
	if err := pc.owns(r, c.path, n); err != nil {
		return err
	}
	if pc != nil && c.owner != "" && c.owner != pc.user {
		return denyf("user=%s is not a superuser: only a superuser changes the owner of inode=%q", pc.user, c.path)
	}
	if c.group != "" && !pc.memberOf(c.group) {
		return denyf("user=%s does not belong to group %s (inode=%q)", pc.user, c.group, c.path)
	}
	if c.owner != "" {
		n.owner = ns.intern(c.owner)
	}
	if c.group != "" {
		n.group = ns.intern(c.group)
	}
	return nil
}

func (ns *namespace) applySetTimes(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	pc := checkerOf(c)
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	if err := pc.owns(&ns.replicated, c.path, n); err != nil {
		return err
	}
	n.mtime = c.mtime
	return nil
}

package namenode

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The client-facing operations of the NameNode, one method per RPC of
// ClientProtocol. Mutations check, hand a command to mutate (the log) and
// return what applying it gave; reads take the namespace lock for
// reading and never wait for the log.

// GetServerDefaults returns the block size, replication, cluster ID and
// lease soft limit.
func (s *Server) GetServerDefaults(ctx context.Context) cairn.ServerDefaults {
	return cairn.ServerDefaults{
		BlockSize:      s.cfg.DefaultBlockSize,
		Replication:    s.cfg.DefaultReplication,
		ClusterID:      s.clusterID,
		LeaseSoftLimit: s.cfg.LeaseSoftLimit,
	}
}

// CreateOptions are the parameters of Create.
type CreateOptions struct {
	Mode         fs.FileMode // permission bits; 0: 0644
	Replication  int         // 0: the default
	BlockSize    int64       // 0: the default; else a positive multiple of cairn.ChunkSize
	Overwrite    bool        // replace an existing file
	CreateParent bool        // create missing parent directories
	ClientName   string      // lease holder; required unless Touch
	Owner        string
	Group        string
	// Touch creates an empty, complete file (no lease), or only sets the
	// modification time of an existing one.
	Touch bool
	// AllocateBlock allocates the file's first block too, in the same
	// log entry, placed as AddBlock places it (ClientHost first): the
	// status Create returns then has it in Blocks, with its pipeline.
	// Without a live DataNode the file is created without it (Blocks
	// empty), and the writer asks AddBlock. Not with Touch.
	AllocateBlock bool
	ClientHost    string
}

// checkReplication refuses a replication no set of DataNodes can meet.
func (s *Server) checkReplication(repl int) error {
	if repl <= 0 {
		return errf(cairn.Invalid, "replication %d must be positive", repl)
	}
	if repl > maxReplication {
		return errf(cairn.Invalid, "replication %d exceeds the maximum %d", repl, maxReplication)
	}
	if n := s.reg.count(); repl > n {
		return errf(cairn.Invalid, "replication %d exceeds the %d datanodes registered", repl, n)
	}
	return nil
}

// Create makes a file under construction whose lease client holds, or
// with Touch an empty complete file. With AllocateBlock it also
// allocates the file's first block, in the same log entry, and returns
// it in the status's Blocks.
func (s *Server) Create(ctx context.Context, p string, o CreateOptions) (FileStatus, error) {
	if err := validPath(p); err != nil {
		return FileStatus{}, err
	}
	if err := s.writable(); err != nil {
		return FileStatus{}, err
	}
	if o.AllocateBlock && o.Touch {
		return FileStatus{}, errf(cairn.Invalid, "a touch has no block to allocate")
	}
	repl := o.Replication
	if repl == 0 {
		repl = s.cfg.DefaultReplication
	}
	if o.Touch {
		if repl < 0 || repl > maxReplication {
			return FileStatus{}, errf(cairn.Invalid, "replication %d out of range", repl)
		}
	} else if err := s.checkReplication(repl); err != nil {
		return FileStatus{}, err
	}
	bs := o.BlockSize
	if bs == 0 {
		bs = s.cfg.DefaultBlockSize
	}
	if bs <= 0 || bs%cairn.ChunkSize != 0 {
		return FileStatus{}, errf(cairn.Invalid, "block size %d is not a positive multiple of %d", bs, cairn.ChunkSize)
	}
	mode := o.Mode.Perm()
	if mode == 0 {
		mode = defaultFileMode
	}
	owner, group := ownerOf(ctx, o.Owner, o.Group)
	c := command{
		op: opCreate, path: p, mode: uint32(mode), owner: owner, group: group,
		mtime: s.now().UnixNano(), replication: int32(repl), blockSize: bs,
	}
	if o.Overwrite {
		c.flags |= flagOverwrite
	}
	if o.CreateParent {
		c.flags |= flagCreateParent
	}
	if o.Touch {
		c.flags |= flagTouch
	} else {
		if o.ClientName == "" {
			return FileStatus{}, errf(cairn.Invalid, "create needs a client name")
		}
		if err := checkClientName(o.ClientName); err != nil {
			return FileStatus{}, err
		}
		c.clientName = o.ClientName
		// The caller's permissions first: taking over another's
		// file (lease recovery) is for those who may write it.
		if pc := s.readChecker(ctx); pc != nil {
			s.ns.mu.RLock()
			err := s.ns.checkCreate(pc, p)
			s.ns.mu.RUnlock()
			if err != nil {
				return FileStatus{}, err
			}
		}
		if err := s.takeOverIfExpired(ctx, p, o.ClientName, o.Overwrite); err != nil {
			return FileStatus{}, err
		}
		if o.AllocateBlock {
			// The placement of AddBlock's first block. None live:
			// the file alone, and AddBlock says why later.
			if targets := s.reg.chooseTargets(repl, o.ClientHost, nil, bs); len(targets) > 0 {
				c.op = opCreateWithBlock
				c.targets = make([]cairn.NodeID, len(targets))
				for i, d := range targets {
					c.targets[i] = d.id
				}
			}
		}
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return FileStatus{}, err
	}
	if !o.Touch {
		s.leases.renew(o.ClientName)
	}
	// The answer may be an earlier attempt's (retry cache), with or
	// without a block whatever this attempt asked.
	if r, ok := v.(createResult); ok {
		st := r.status
		st.Blocks = []cairn.LocatedBlock{{Block: r.block.block, Offset: r.block.offset, Locations: s.locations(r.block.targets)}}
		return st, nil
	}
	return v.(FileStatus), nil
}

// locations are the addresses of the DataNodes of a logged pipeline,
// in its order (a node unknown here, after a restart, left out).
func (s *Server) locations(targets []cairn.NodeID) []cairn.DatanodeInfo {
	locs := make([]cairn.DatanodeInfo, 0, len(targets))
	for _, id := range targets {
		if d := s.reg.lookup(id); d != nil {
			locs = append(locs, d.addr.Load().info)
		}
	}
	return locs
}

// takeOverIfExpired handles a Create of a file another client is
// writing. Within that writer's soft limit it is a LeaseConflict.
// Past it (or with the file already under lease recovery), as HDFS's
// recoverLease: a Create without overwrite fails with Exist and
// changes nothing, neither the file nor its lease; a Create with
// overwrite recovers the lease first. A file that can be closed at once
// without losing a byte (see recoveryFor) is closed and the Create goes
// on; otherwise block recovery starts (the lease passes to the
// NameNode) and the Create fails with LeaseConflict, to be retried once
// the file is closed.
func (s *Server) takeOverIfExpired(ctx context.Context, p, client string, overwrite bool) error {
	s.ns.mu.RLock()
	n, err := s.ns.lookup(p)
	if err != nil || n.isDir() || !n.underConstruction() {
		s.ns.mu.RUnlock()
		return nil
	}
	u := s.ns.uc[n.id]
	if u == nil || u.holder == client {
		s.ns.mu.RUnlock()
		return nil
	}
	holder := u.holder
	if holder != leaseRecoveryHolder && s.leases.age(holder) <= s.cfg.LeaseSoftLimit {
		s.ns.mu.RUnlock()
		return errf(cairn.LeaseConflict, "file is being written by another client")
	}
	if !overwrite {
		s.ns.mu.RUnlock()
		return errf(cairn.Exist, "file exists, open for writing by a client whose lease expired (%s); only a create with overwrite takes it over", holder)
	}
	r := s.recoveryFor(u, s.now().UnixNano())
	s.ns.mu.RUnlock()
	if r.close != nil {
		err := s.closeNow(ctx, r)
		if cairn.KindOf(err) == cairn.LeaseConflict {
			// Closed meanwhile: nothing left to recover.
			return nil
		}
		return err
	}
	s.driveRecovery(ctx, r)
	if holder == leaseRecoveryHolder {
		return errf(cairn.LeaseConflict, "file is being recovered: its last block is being synchronized; retry later")
	}
	return errf(cairn.LeaseConflict, "file is being recovered: its writer (%s) stopped renewing its lease, and its last block is being synchronized; retry later", holder)
}

// findWriter resolves the file a writer names, by inode ID or else by
// path, and checks that client holds its lease. The caller holds ns.mu.
//
// The lease holder's name is not a secret (a Create of the file tells
// it): the caller of ctx must also be the file's owner (its creator) or
// may write it, so that no one continues another's file.
func (s *Server) findWriter(ctx context.Context, p string, fileID uint64, client string) (*ucFile, error) {
	if err := checkClientName(client); err != nil {
		return nil, err
	}
	pc := s.readChecker(ctx)
	if fileID == 0 {
		if err := validPath(p); err != nil {
			return nil, err
		}
		n, err := s.ns.lookupChecked(pc, p)
		if err != nil {
			return nil, err
		}
		if n.isDir() {
			return nil, errf(cairn.IsDir, "%s is a directory", p)
		}
		fileID = n.id
	}
	u, err := s.ns.writer(fileID, client)
	if err != nil {
		return nil, err
	}
	if err := pc.ownsOrWrites(&s.ns.replicated, u.f.path(), u.f); err != nil {
		return nil, err
	}
	return u, nil
}

// AddBlock commits the writer's previous block (if any) with its final
// length and allocates the next block on replication DataNodes. A call
// whose previous block is the one before the file's uncommitted last
// block is taken as a retry and answered with that last block, unless
// exclude names a node of that block's pipeline: then the writer failed
// to set that pipeline up and could not abandon the block, so AddBlock
// abandons it and allocates another, never on an excluded node.
func (s *Server) AddBlock(ctx context.Context, p string, fileID uint64, client string, previous *cairn.Block, exclude []cairn.NodeID, clientHost string) (cairn.LocatedBlock, error) {
	if err := s.writable(); err != nil {
		return cairn.LocatedBlock{}, err
	}
	if previous != nil && previous.ID == 0 {
		previous = nil // never allocated: absent
	}
	s.leases.renew(client)
	s.ns.mu.RLock()
	u, err := s.findWriter(ctx, p, fileID, client)
	if err != nil {
		s.ns.mu.RUnlock()
		return cairn.LocatedBlock{}, err
	}
	// A retry of an AddBlock whose answer was lost: the last block is
	// uncommitted and previous names the block before it. Give the same
	// block again rather than orphan it.
	var stale *cairn.Block
	blocks := u.f.blocks
	if k := len(blocks); k > 0 && !blocks[k-1].committed {
		prevMatches := previous == nil && k == 1 ||
			previous != nil && k >= 2 && blocks[k-2].id == previous.ID
		if prevMatches && !slices.ContainsFunc(u.expected, func(id cairn.NodeID) bool { return slices.Contains(exclude, id) }) {
			lb := s.locate(blocks[k-1], u.f.size(), s.ns.expectedNodes(u), clientHost, s.now().UnixNano())
			s.ns.mu.RUnlock()
			return lb, nil
		}
		if prevMatches {
			b := blocks[k-1].block()
			stale = &b
		}
	}
	fileID = u.f.id
	repl, blockSize := int(u.f.repl), u.f.blkSize
	s.ns.mu.RUnlock()

	if stale != nil {
		c := command{op: opAbandonBlock, fileID: fileID, clientName: client, block: *stale}
		if _, err := s.mutate(ctx, &c); err != nil {
			return cairn.LocatedBlock{}, err
		}
	}

	if err := s.checkReplication(repl); err != nil {
		return cairn.LocatedBlock{}, err
	}
	targets := s.reg.chooseTargets(repl, clientHost, exclude, blockSize)
	if len(targets) == 0 {
		if len(exclude) > 0 {
			return cairn.LocatedBlock{}, errf(cairn.NotReplicated, "no live datanodes (%d excluded)", len(exclude))
		}
		return cairn.LocatedBlock{}, errf(cairn.NotReplicated, "no live datanodes")
	}
	c := command{op: opAddBlock, fileID: fileID, clientName: client, mtime: s.now().UnixNano()}
	if previous != nil {
		c.flags |= flagHasBlock
		c.block = *previous
	}
	locs := make([]cairn.DatanodeInfo, len(targets))
	c.targets = make([]cairn.NodeID, len(targets))
	for i, d := range targets {
		c.targets[i] = d.id
		locs[i] = d.addr.Load().info
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return cairn.LocatedBlock{}, err
	}
	res := v.(addBlockResult)
	if !slices.Equal(res.targets, c.targets) {
		// The answer of an earlier attempt of this call (retry cache):
		// its pipeline, not this attempt's choice.
		locs = s.locations(res.targets)
	}
	return cairn.LocatedBlock{Block: res.block, Offset: res.offset, Locations: locs}, nil
}

// Complete commits the writer's last block with its final length and
// closes the file.
func (s *Server) Complete(ctx context.Context, p string, fileID uint64, client string, last *cairn.Block) (FileStatus, error) {
	if err := s.writable(); err != nil {
		return FileStatus{}, err
	}
	if last != nil && last.ID == 0 {
		last = nil // never allocated: absent
	}
	if err := checkClientName(client); err != nil {
		return FileStatus{}, err
	}
	// A retry of a Complete that succeeded: answer the same.
	if st, ok := s.alreadyComplete(p, fileID, last); ok {
		return st, nil
	}
	c := command{op: opComplete, fileID: fileID, clientName: client, mtime: s.now().UnixNano()}
	if fileID == 0 || s.readChecker(ctx) != nil {
		s.ns.mu.RLock()
		u, err := s.findWriter(ctx, p, fileID, client)
		if err == nil {
			c.fileID = u.f.id
		}
		s.ns.mu.RUnlock()
		if err != nil {
			return FileStatus{}, err
		}
	}
	if last != nil {
		c.flags |= flagHasBlock
		c.block = *last
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return FileStatus{}, err
	}
	s.leases.renew(client)
	return v.(FileStatus), nil
}

func (s *Server) alreadyComplete(p string, fileID uint64, last *cairn.Block) (FileStatus, bool) {
	if validPath(p) != nil {
		return FileStatus{}, false
	}
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookup(p)
	if err != nil || n.isDir() || n.underConstruction() || (fileID != 0 && n.id != fileID) {
		return FileStatus{}, false
	}
	lb := s.ns.lastBlock(n)
	switch {
	case last == nil && lb == nil:
	case last != nil && lb != nil && lb.id == last.ID && lb.len == last.Len:
	default:
		return FileStatus{}, false
	}
	return s.ns.status(n, p), true
}

// AbandonBlock drops the writer's last, uncommitted block (as after a
// failed pipeline), so that AddBlock can allocate another. A block the
// file no longer has is taken as abandoned already (a retry whose first
// answer was lost): that is no error.
func (s *Server) AbandonBlock(ctx context.Context, p string, fileID uint64, client string, b cairn.Block) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkClientName(client); err != nil {
		return err
	}
	s.ns.mu.RLock()
	u, err := s.findWriter(ctx, p, fileID, client)
	gone := false
	if err == nil {
		fileID = u.f.id
		gone = !slices.ContainsFunc(u.f.blocks, func(bi *blockInfo) bool { return bi.id == b.ID })
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return err
	}
	if gone {
		return nil
	}
	c := command{op: opAbandonBlock, fileID: fileID, clientName: client, block: b}
	_, err = s.mutate(ctx, &c)
	return err
}

// Mkdirs makes a directory, and with parents its missing ancestors (an
// existing directory is then no error).
func (s *Server) Mkdirs(ctx context.Context, p string, mode fs.FileMode, parents bool, owner, group string) (FileStatus, error) {
	if err := validPath(p); err != nil {
		return FileStatus{}, err
	}
	if err := s.writable(); err != nil {
		return FileStatus{}, err
	}
	if mode.Perm() == 0 {
		mode = defaultDirMode
	}
	owner, group = ownerOf(ctx, owner, group)
	c := command{op: opMkdirs, path: p, mode: protocol.WireMode(mode), owner: owner, group: group, mtime: s.now().UnixNano()}
	if parents {
		c.flags |= flagParents
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return FileStatus{}, err
	}
	return v.(FileStatus), nil
}

// RenameOptions are the parameters of Rename.
type RenameOptions struct {
	// Overwrite replaces an existing file at the destination (never a
	// directory).
	Overwrite bool
	// Exact makes dst the final path of src (HDFS rename2): an existing
	// directory at dst is an error of kind cairn.IsDir instead of the
	// directory to move src into.
	Exact bool
	// ReplaceFileID, if not 0, replaces the file at dst only if it is
	// the file with this inode ID (a compare-and-swap): a missing dst
	// is NotExist, another file there Exist. It implies Overwrite.
	ReplaceFileID uint64
}

// Rename moves src to dst atomically, with the semantics of mv: onto an
// existing directory it moves src inside it; with o.Exact, dst is the
// final path. It returns the final path.
func (s *Server) Rename(ctx context.Context, src, dst string, o RenameOptions) (string, error) {
	if err := validPath(src); err != nil {
		return "", err
	}
	if err := validPath(dst); err != nil {
		return "", err
	}
	if err := s.writable(); err != nil {
		return "", err
	}
	c := command{op: opRename, path: src, path2: dst, mtime: s.now().UnixNano()}
	if o.Overwrite {
		c.flags |= flagOverwrite
	}
	if o.Exact {
		c.flags |= flagExact
	}
	if o.ReplaceFileID != 0 {
		c.flags |= flagOverwrite
		c.fileID = o.ReplaceFileID
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Delete removes a file or a directory (a non-empty one only when
// recursive). The blocks of removed files are deleted from their
// DataNodes at their next heartbeats.
func (s *Server) Delete(ctx context.Context, p string, recursive bool) error {
	return s.DeleteUnless(ctx, p, recursive, "")
}

// DeleteUnless is Delete, refused with Exist if the inode has the
// extended attribute unlessXAttr (when not empty), decided when the
// delete is applied.
func (s *Server) DeleteUnless(ctx context.Context, p string, recursive bool, unlessXAttr string) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	c := command{op: opDelete, path: p, mtime: s.now().UnixNano()}
	if recursive {
		c.flags |= flagRecursive
	}
	if unlessXAttr != "" {
		attrs, err := checkXAttrs([]xattr{{name: unlessXAttr}}, false)
		if err != nil {
			return err
		}
		c.xattrs = attrs
	}
	_, err := s.mutate(ctx, &c)
	return err
}

// SetReplication sets the replication of a file, or of every file below
// a directory when recursive; it returns the number of files changed.
func (s *Server) SetReplication(ctx context.Context, p string, replication int, recursive bool) (int64, error) {
	if err := validPath(p); err != nil {
		return 0, err
	}
	if err := s.writable(); err != nil {
		return 0, err
	}
	if err := s.checkReplication(replication); err != nil {
		return 0, err
	}
	c := command{op: opSetReplication, path: p, replication: int32(replication)}
	if recursive {
		c.flags |= flagRecursive
	}
	v, err := s.mutate(ctx, &c)
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// SetPermission sets the permission bits of a file or directory.
func (s *Server) SetPermission(ctx context.Context, p string, mode fs.FileMode) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	c := command{op: opSetPermission, path: p, mode: protocol.WireMode(mode)}
	_, err := s.mutate(ctx, &c)
	return err
}

// SetOwner sets the owner and group; an empty one is left unchanged.
func (s *Server) SetOwner(ctx context.Context, p, owner, group string) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	c := command{op: opSetOwner, path: p, owner: owner, group: group}
	_, err := s.mutate(ctx, &c)
	return err
}

// SetTimes sets the modification time; the zero time means now.
func (s *Server) SetTimes(ctx context.Context, p string, mtime time.Time) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	if mtime.IsZero() {
		mtime = s.now()
	}
	c := command{op: opSetTimes, path: p, mtime: mtime.UnixNano()}
	_, err := s.mutate(ctx, &c)
	return err
}

// GetFileInfo describes a file or directory; with withBlocks a file's
// blocks are filled in with their locations, nearest clientHost first.
func (s *Server) GetFileInfo(ctx context.Context, p string, withBlocks bool, clientHost string) (FileStatus, error) {
	return s.GetFileInfoWith(ctx, p, StatOptions{Blocks: withBlocks, ClientHost: clientHost})
}

// StatOptions says what GetFileInfoWith and ListDirWith return beside
// the basic metadata.
type StatOptions struct {
	// Blocks fills in a file's blocks: with their locations nearest
	// ClientHost first for a stat, without locations in a listing.
	Blocks     bool
	ClientHost string
	// XAttrs fills in the extended attributes.
	XAttrs bool
}

// GetFileInfoWith describes a file or directory with what opts asks.
func (s *Server) GetFileInfoWith(ctx context.Context, p string, opts StatOptions) (FileStatus, error) {
	if err := validPath(p); err != nil {
		return FileStatus{}, err
	}
	if err := s.readable(ctx); err != nil {
		return FileStatus{}, err
	}
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return FileStatus{}, err
	}
	st := s.ns.status(n, p)
	if opts.Blocks && !n.isDir() {
		// The locations are what an open gives: they need read.
		if err := pc.check(&s.ns.replicated, p, n, accRead); err != nil {
			return FileStatus{}, err
		}
		st.Blocks = s.locateRange(n, 0, -1, 0, opts.ClientHost)
	}
	if opts.XAttrs {
		st.XAttrs = s.ns.xattrsFor(pc, n)
	}
	return st, nil
}

// blockList is a file's blocks with their offsets and no locations.
func blockList(n *inode) []cairn.LocatedBlock {
	if len(n.blocks) == 0 {
		return nil
	}
	out := make([]cairn.LocatedBlock, len(n.blocks))
	var off int64
	for i, b := range n.blocks {
		out[i] = cairn.LocatedBlock{Block: cairn.Block{ID: b.id, GenStamp: b.gs, Len: b.len}, Offset: off}
		off += b.len
	}
	return out
}

// GetBlockLocations describes a file with the blocks that overlap
// [offset, offset+length) (length <= 0: to the end), each with its
// live, non-corrupt replicas nearest clientHost first. A range given a
// length yields at most maxLocatedBlocks blocks, the first ones: since
// concat, blocks may be of any length, and a range of a few block
// sizes may span thousands of short blocks; a reader asks again from
// the end of the last block it got.
func (s *Server) GetBlockLocations(ctx context.Context, p string, offset, length int64, clientHost string) (FileStatus, error) {
	if err := validPath(p); err != nil {
		return FileStatus{}, err
	}
	if err := s.readable(ctx); err != nil {
		return FileStatus{}, err
	}
	if offset < 0 {
		return FileStatus{}, errf(cairn.Invalid, "negative offset %d", offset)
	}
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return FileStatus{}, err
	}
	if n.isDir() {
		return FileStatus{}, errf(cairn.IsDir, "%s is a directory", p)
	}
	if err := pc.check(&s.ns.replicated, p, n, accRead); err != nil {
		return FileStatus{}, err
	}
	st := s.ns.status(n, p)
	limit := 0
	if length > 0 {
		limit = maxLocatedBlocks
	}
	st.Blocks = s.locateRange(n, offset, length, limit, clientHost)
	return st, nil
}

// maxLocatedBlocks bounds the blocks GetBlockLocations gives for a
// range with a length.
const maxLocatedBlocks = 1000

// locateRange locates the blocks of f overlapping [offset,
// offset+length), the first limit of them (0: all); length <= 0 means
// to the end. The caller holds ns.mu.
func (s *Server) locateRange(f *inode, offset, length int64, limit int, clientHost string) []cairn.LocatedBlock {
	var out []cairn.LocatedBlock
	now := s.now().UnixNano()
	var expected []uint32
	if u := s.ns.uc[f.id]; u != nil {
		expected = s.ns.expectedNodes(u)
	}
	var pos int64
	for i, b := range f.blocks {
		start := pos
		end := pos + b.len
		pos = end
		// The last block of a file being written has no length yet:
		// it is given whenever the range reaches it.
		writing := i == len(f.blocks)-1 && !b.committed
		if end <= offset && !writing {
			continue
		}
		if length > 0 && start >= offset+length || limit > 0 && len(out) == limit {
			break
		}
		var exp []uint32
		if writing {
			exp = expected
		}
		out = append(out, s.locate(b, start, exp, clientHost, now))
	}
	return out
}

// locate builds a located block: live and stale replicas that are not
// corrupt (and, for a block being written, its pipeline targets), on
// clientHost first, then live before stale. When every known replica is
// corrupt, they are given with Corrupt set. The caller holds ns.mu.
func (s *Server) locate(b *blockInfo, offset int64, expected []uint32, clientHost string, now int64) cairn.LocatedBlock {
	type loc struct {
		info  cairn.DatanodeInfo
		rank  int // 0 local live, 1 local stale, 2 live, 3 stale
		state nodeState
	}
	var good, bad []loc
	add := func(node uint32, corrupt bool) {
		d := s.reg.node(node)
		if d == nil {
			return
		}
		st := s.reg.state(d, now)
		if st == stateDead || st == stateDecommissioned {
			return
		}
		a := d.addr.Load()
		rank := 0
		if clientHost == "" || a.host != clientHost {
			rank = 2
		}
		if st != stateLive {
			rank++
		}
		l := loc{info: a.info, rank: rank}
		if corrupt {
			bad = append(bad, l)
		} else {
			good = append(good, l)
		}
	}
	for _, r := range b.replicas {
		add(r.node, r.corrupt())
	}
	for _, node := range expected {
		if b.replicaIndex(node) < 0 {
			add(node, false)
		}
	}
	lb := cairn.LocatedBlock{Block: b.block(), Offset: offset}
	locs := good
	if len(good) == 0 && len(bad) > 0 {
		lb.Corrupt = true
		locs = bad
	}
	if len(locs) > 1 {
		rand.Shuffle(len(locs), func(i, j int) { locs[i], locs[j] = locs[j], locs[i] })
		slices.SortStableFunc(locs, func(x, y loc) int { return x.rank - y.rank })
	}
	lb.Locations = make([]cairn.DatanodeInfo, len(locs))
	for i, l := range locs {
		lb.Locations[i] = l.info
	}
	return lb
}

// ListDir lists a directory sorted by name: up to limit entries (0: a
// default of 1000) after the name startAfter. It also says whether more
// follow.
func (s *Server) ListDir(ctx context.Context, p, startAfter string, limit int) ([]FileStatus, bool, error) {
	return s.ListDirWith(ctx, p, startAfter, limit, StatOptions{})
}

// ListDirWith is ListDir with what opts asks of every entry.
func (s *Server) ListDirWith(ctx context.Context, p, startAfter string, limit int, opts StatOptions) ([]FileStatus, bool, error) {
	if err := validPath(p); err != nil {
		return nil, false, err
	}
	if err := s.readable(ctx); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return nil, false, err
	}
	if !n.isDir() {
		return nil, false, errf(cairn.NotDir, "%s is not a directory", p)
	}
	if err := pc.check(&s.ns.replicated, p, n, accRead|accExec); err != nil {
		return nil, false, err
	}
	i := 0
	if startAfter != "" {
		j, found := n.childIndex(startAfter)
		if found {
			j++
		}
		i = j
	}
	end := min(i+limit, len(n.children))
	out := make([]FileStatus, 0, end-i)
	for _, c := range n.children[i:end] {
		st := s.ns.status(c, cairn.Join(p, c.name))
		if opts.Blocks && !c.isDir() && (pc == nil || pc.permits(&s.ns.replicated, c, accRead)) {
			// The blocks (with their access tokens) of the files the
			// caller may read; none of the others.
			st.Blocks = blockList(c)
		}
		if opts.XAttrs {
			st.XAttrs = s.ns.xattrsFor(pc, c)
		}
		out = append(out, st)
	}
	return out, end < len(n.children), nil
}

// GetContentSummary sums up the tree at p.
func (s *Server) GetContentSummary(ctx context.Context, p string) (cairn.ContentSummary, error) {
	if err := validPath(p); err != nil {
		return cairn.ContentSummary{}, err
	}
	if err := s.readable(ctx); err != nil {
		return cairn.ContentSummary{}, err
	}
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return cairn.ContentSummary{}, err
	}
	// As HDFS's: read and search on every directory of the tree.
	if err := pc.subtree(&s.ns.replicated, p, n, accRead|accExec); err != nil {
		return cairn.ContentSummary{}, err
	}
	var cs cairn.ContentSummary
	n.walk(func(n *inode) {
		if n.isDir() {
			cs.Directories++
			return
		}
		size := n.size()
		cs.Files++
		cs.Length += size
		cs.SpaceConsumed += size * int64(n.repl)
	})
	return cs, nil
}

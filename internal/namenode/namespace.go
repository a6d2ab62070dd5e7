package namenode

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// inode flags.
const (
	inodeDir uint8 = 1 << iota
	inodeUnderConstruction
)

// inode is one file or directory. It is kept small: no full path, no
// per-file map; owner and group are indexes into the namespace's string
// table; a file's size is the sum of its committed blocks.
//
// All fields are guarded by namespace.mu.
type inode struct {
	id       uint64
	parent   *inode // nil for the root
	name     string
	mtime    int64 // unix nanoseconds
	owner    uint32
	group    uint32
	mode     uint16 // permission bits
	flags    uint8
	repl     uint16       // files only
	blkSize  int64        // files only
	children []*inode     // directories only, sorted by name
	blocks   []*blockInfo // files only, in order
	xattrs   *xattrList   // nil if none
}

func (n *inode) isDir() bool { return n.flags&inodeDir != 0 }

func (n *inode) underConstruction() bool { return n.flags&inodeUnderConstruction != 0 }

// childIndex returns the position of name among n's children and
// whether it is there.
func (n *inode) childIndex(name string) (int, bool) {
	c := n.children
	// Fast path for names appended in order.
	if k := len(c); k > 0 && c[k-1].name < name {
		return k, false
	}
	return slices.BinarySearchFunc(c, name, func(x *inode, name string) int {
		return strings.Compare(x.name, name)
	})
}

func (n *inode) child(name string) *inode {
	if i, ok := n.childIndex(name); ok {
		return n.children[i]
	}
	return nil
}

func (n *inode) addChild(c *inode) {
	i, _ := n.childIndex(c.name)
	n.children = slices.Insert(n.children, i, c)
	c.parent = n
}

func (n *inode) removeChild(c *inode) {
	if i, ok := n.childIndex(c.name); ok && n.children[i] == c {
		n.children = slices.Delete(n.children, i, i+1)
		if len(n.children) == 0 {
			n.children = nil
		}
	}
}

// walk calls fn for n and every inode below it, parents before their
// children, children in name order. Every walk of a subtree (delete,
// setReplication, content summaries) goes through here; fsck, which
// needs each path and may stop, has its own.
func (n *inode) walk(fn func(*inode)) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
}

// size is the sum of the file's committed block lengths and of the
// bytes synced of an uncommitted last block.
func (n *inode) size() int64 {
	var s int64
	for _, b := range n.blocks {
		// An uncommitted last block counts the bytes synced.
		s += b.len
	}
	return s
}

// path rebuilds the inode's full path from its ancestors.
func (n *inode) path() string {
	if n.parent == nil {
		return "/"
	}
	size := 0
	for x := n; x.parent != nil; x = x.parent {
		size += 1 + len(x.name)
	}
	b := make([]byte, size)
	i := size
	for x := n; x.parent != nil; x = x.parent {
		i -= len(x.name)
		copy(b[i:], x.name)
		i--
		b[i] = '/'
	}
	return string(b)
}

// isAncestorOf reports whether n is a or one of a's ancestors.
func (n *inode) isAncestorOf(a *inode) bool {
	for x := a; x != nil; x = x.parent {
		if x == n {
			return true
		}
	}
	return false
}

// expectedNodes resolves u's expected targets to registry indexes,
// skipping nodes not registered (yet).
func (ns *namespace) expectedNodes(u *ucFile) []uint32 {
	if u == nil {
		return nil
	}
	return ns.reg.indexes(u.expected)
}

// ucFile is the writer's state of a file under construction.
type ucFile struct {
	f      *inode
	holder string // lease holder (client name)
	// expected are the pipeline targets of the last block, until it is
	// committed or abandoned. They come from the addBlock command (and
	// the snapshot), so they survive a restart.
	expected []cairn.NodeID
}

// namespace is the state machine's state, in two parts under one lock:
// the replicated state (the tree, counters, files under construction:
// everything the log determines, the same on every member) and the
// local state beside it (replica locations, the monitors' state),
// rebuilt on each member from DataNode reports and forgotten when the
// replicated state is replaced.
type namespace struct {
	mu sync.RWMutex

	// replicated is guarded by mu. Embedded, so that its fields and
	// methods read as the namespace's (ns.root, ns.lookup).
	replicated

	// Local state, guarded by mu.
	//
	// heal is the replication monitor's state (replication.go).
	heal healState
	// unfinal holds, by block, the replicas of uncommitted last blocks
	// that are not finalized replicas of their block (heldReplica):
	// lease recovery synchronizes them. Not logged: DataNodes report
	// them.
	unfinal map[cairn.BlockID][]heldReplica
	// stamps holds the generation stamps of corrupt replicas whose
	// generation stamp is not their block's (a newer one), so that
	// their deletion names the replica their node has.
	stamps map[replicaKey]cairn.GenStamp
	// standby queues the reports a member that does not lead cannot
	// judge yet (ha.go).
	standby standbyState
	// retries are the results of the client calls applied, by call
	// (retrycache.go). Made by applying the log; not in snapshots.
	retries retryCache

	// completeBlocks counts committed blocks in the namespace, and
	// reportedBlocks those of them with at least one good replica.
	// Written under mu; read anywhere (safe mode).
	completeBlocks atomic.Int64
	reportedBlocks atomic.Int64

	reg *registry // for replica node lookups and deletion queues
}

// replicated is the namespace's replicated state: what applying the
// log (or loading a snapshot) makes, deterministically, on every
// member. A snapshot serializes one value (encodeSnapshot) and a
// restore decodes a new one (decodeSnapshot) and swaps it in whole
// (fsm.Restore); nothing else of the namespace is in a snapshot.
//
// Its blockInfos carry their replicas, which are local state (the block
// map is keyed by the replicated block IDs, as HDFS's BlocksMap hangs
// off its INodes): a decoded value has none, and DataNodes report them
// again.
type replicated struct {
	root         *inode
	nextInodeID  uint64
	nextBlockID  uint64
	nextGenStamp uint64
	strs         []string          // owner and group names; strs[0] is ""
	strIdx       map[string]uint32 // inverse of strs
	blocks       map[cairn.BlockID]*blockInfo
	uc           map[uint64]*ucFile // by inode ID
	files, dirs  int64
	// decom are the DataNodes being decommissioned (decommission.go).
	decom map[cairn.NodeID]struct{}
	// tokens are the token signing keys and revocations (tokens.go).
	tokens tokenState
}

// Initial counters of a fresh namespace. Block IDs and generation
// stamps start well above zero so that zero always means "none".
const (
	rootInodeID       = 1
	firstBlockID      = 1 << 30
	firstGenStamp     = 1000
	defaultDirMode    = 0o755
	defaultFileMode   = 0o644
	defaultOwnerGroup = "supergroup"
)

func newNamespace(reg *registry) *namespace {
	ns := &namespace{reg: reg, replicated: *newReplicated()}
	// Every member starts as one that does not lead.
	ns.standby.on = true
	ns.resetLocal(0)
	ns.heal.init()
	return ns
}

// newReplicated returns an empty replicated state: a root directory
// only.
func newReplicated() *replicated {
	return &replicated{
		strs:         []string{""},
		strIdx:       map[string]uint32{"": 0},
		root:         &inode{id: rootInodeID, flags: inodeDir, mode: defaultDirMode},
		nextInodeID:  rootInodeID + 1,
		nextBlockID:  firstBlockID,
		nextGenStamp: firstGenStamp,
		blocks:       make(map[cairn.BlockID]*blockInfo),
		uc:           make(map[uint64]*ucFile),
		decom:        make(map[cairn.NodeID]struct{}),
		dirs:         1,
	}
}

// replace swaps in a new replicated state, whole (fsm.Restore), and
// rebuilds the local state for it: no replica is known until DataNodes
// report them again, the nodes' admin states follow the new
// decommissioning list, and the replication monitor rescans. The
// caller holds ns.mu.
func (ns *namespace) replace(r *replicated) {
	// The good replicas known of the blocks the new state still has,
	// at the same generation stamp, are kept: a member that does not
	// lead and catches up by a snapshot keeps its replica map, and is
	// ready to lead with it. The others are reported again.
	type kept struct {
		b  *blockInfo
		rs []replica
	}
	var keep []kept
	for id, old := range ns.blocks {
		if nb := r.blocks[id]; nb != nil && nb.gs == old.gs && len(old.replicas) > 0 {
			keep = append(keep, kept{nb, old.replicas})
		}
	}
	ns.replicated = *r
	var complete int64
	for _, b := range r.blocks {
		if b.committed {
			complete++
		}
	}
	ns.resetLocal(complete)
	for _, d := range ns.reg.all() {
		ns.syncAdmin(d)
		d.blocks = nil
		d.numBlocks.Store(0)
	}
	for _, k := range keep {
		c0, r0 := k.b.counted()
		for _, rp := range k.rs {
			if !rp.corrupt() && k.b.replicaIndex(rp.node) < 0 {
				ns.addReplica(k.b, replica{node: rp.node, len: rp.len})
			}
		}
		ns.recount(k.b, c0, r0)
	}
	ns.heal.rescan = true
}

// resetLocal forgets the replicas' state; complete is the number of
// committed blocks in the replicated state. The caller holds ns.mu.
func (ns *namespace) resetLocal(complete int64) {
	ns.unfinal = make(map[cairn.BlockID][]heldReplica)
	ns.stamps = make(map[replicaKey]cairn.GenStamp)
	ns.completeBlocks.Store(complete)
	ns.reportedBlocks.Store(0)
}

// intern returns the string-table index of s.
func (r *replicated) intern(s string) uint32 {
	if i, ok := r.strIdx[s]; ok {
		return i
	}
	i := uint32(len(r.strs))
	r.strs = append(r.strs, s)
	r.strIdx[s] = i
	return i
}

// Error helpers. Errors from the namespace carry only a kind and a
// message: the caller at the edge (the client) adds its op and path, so
// that messages do not stutter.
func errKind(k cairn.Kind) error { return &cairn.Error{Kind: k} }

func errf(k cairn.Kind, format string, args ...any) error {
	return &cairn.Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// validPath checks a path from a request.
func validPath(p string) error {
	if err := cairn.ValidatePath(p); err != nil {
		return &cairn.Error{Kind: cairn.Invalid, Err: err}
	}
	return nil
}

// resolve walks the valid path p from the root, as HDFS's
// INodesInPath: it appends to buf the inodes of p's components that
// exist, the root first, so that inodes[i] is the inode of p's first i
// components, and stops at the first component missing or under a
// file. err is nil when the whole path exists; of kind NotExist when a
// component is missing (naming it unless it is the last); of kind
// NotDir when a file stands where a directory should (naming it).
// Every walk from the root to a path goes through here: lookups,
// mkdirs and the parent of a new or renamed entry. A buf with room for
// the path's depth (a stack array in the caller) keeps it from
// allocating.
func (r *replicated) resolve(buf []*inode, p string) (inodes []*inode, err error) {
	n := r.root
	inodes = append(buf, n)
	if p == "/" {
		return inodes, nil
	}
	rest := p[1:]
	end := 1
	for {
		name := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			name = rest[:i]
		}
		if !n.isDir() {
			return inodes, errf(cairn.NotDir, "%s is not a directory", p[:end-1])
		}
		c := n.child(name)
		if c == nil {
			if i >= 0 {
				return inodes, errf(cairn.NotExist, "%s does not exist", p[:end+len(name)])
			}
			return inodes, errKind(cairn.NotExist)
		}
		n = c
		inodes = append(inodes, n)
		end += len(name) + 1
		if i < 0 {
			return inodes, nil
		}
		rest = rest[i+1:]
	}
}

// maxResolveDepth is the depth of path lookup resolves without
// allocating.
const maxResolveDepth = 32

// lookup resolves a valid path to its inode.
func (r *replicated) lookup(p string) (*inode, error) {
	var buf [maxResolveDepth]*inode
	inodes, err := r.resolve(buf[:0], p)
	if err != nil {
		return nil, err
	}
	return inodes[len(inodes)-1], nil
}

// lookupParent resolves the parent directory of a valid path other than
// "/". A missing parent is NotExist, a file on the way NotDir.
func (r *replicated) lookupParent(p string) (*inode, error) {
	dir := cairn.Dir(p)
	d, err := r.lookup(dir)
	if err != nil {
		if cairn.KindOf(err) == cairn.NotExist {
			return nil, errf(cairn.NotExist, "parent directory %s does not exist", dir)
		}
		return nil, err
	}
	if !d.isDir() {
		return nil, errf(cairn.NotDir, "parent %s is not a directory", dir)
	}
	return d, nil
}

// FileStatus is a file's or directory's metadata together with its
// inode ID, which a writer names in AddBlock and Complete.
type FileStatus struct {
	cairn.FileInfo
	ID uint64
}

// status describes n, whose path is p.
func (r *replicated) status(n *inode, p string) FileStatus {
	fi := cairn.FileInfo{
		Path:    p,
		Name:    cairn.Base(p),
		IsDir:   n.isDir(),
		Owner:   r.strs[n.owner],
		Group:   r.strs[n.group],
		Mode:    protocol.FileMode(uint32(n.mode)),
		ModTime: time.Unix(0, n.mtime),
	}
	if n.isDir() {
		fi.Children = len(n.children)
	} else {
		fi.Size = n.size()
		fi.Replication = int(n.repl)
		fi.BlockSize = n.blkSize
		fi.UnderConstruction = n.underConstruction()
	}
	return FileStatus{FileInfo: fi, ID: n.id}
}

// newInode allocates an inode ID and makes an inode.
func (r *replicated) newInode(name string, flags uint8, mode uint32, owner, group string, mtime int64) *inode {
	id := r.nextInodeID
	r.nextInodeID++
	if flags&inodeDir != 0 {
		r.dirs++
	} else {
		r.files++
	}
	return &inode{
		id:    id,
		name:  name,
		flags: flags,
		mode:  uint16(mode & 0o1777),
		owner: r.intern(owner),
		group: r.intern(group),
		mtime: mtime,
	}
}

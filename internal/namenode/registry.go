package namenode

import (
	"cmp"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
)

// nodeState is a DataNode's state as reported by GetDatanodeReport.
type nodeState uint8

const (
	stateLive nodeState = iota
	stateStale
	stateDead
	stateDecommissioning
	stateDecommissioned
)

var stateNames = [...]string{
	stateLive:            "live",
	stateStale:           "stale",
	stateDead:            "dead",
	stateDecommissioning: "decommissioning",
	stateDecommissioned:  "decommissioned",
}

func (s nodeState) String() string { return stateNames[s] }

// adminState is the operator-set state of a DataNode (decommission.go).
// It mirrors namespace.decom, except that decommissioned is found by the
// replication monitor and kept in memory only.
type adminState uint8

const (
	adminNormal adminState = iota
	adminDecommissioning
	adminDecommissioned
)

// nodeAddr is a DataNode's addresses; replaced whole on re-registration.
type nodeAddr struct {
	info cairn.DatanodeInfo
	host string // host part of info.Addr, for placement and sorting
}

// datanode is one registered DataNode.
type datanode struct {
	idx uint32 // index in registry.nodes; replicas name nodes by it
	id  cairn.NodeID

	addr          atomic.Pointer[nodeAddr]
	lastHeartbeat atomic.Int64 // unix nanoseconds
	numBlocks     atomic.Int64 // len(blocks); changed under namespace.mu, read anywhere
	removed       atomic.Bool  // declared dead: its replicas were forgotten; it must register again
	admin         atomic.Uint32

	// Guarded by namespace.mu.
	//
	// blocks lists the blocks of which the block map has a replica on
	// this node (good or corrupt), in no order; each replica knows its
	// block's position here (replica.at). So what concerns one node
	// (its full block report, its death, its decommissioning) costs in
	// proportion to its blocks, not to the whole block map, for 8 bytes
	// a replica (a map would take 25 to 40). Kept by
	// namespace.addReplica and namespace.dropReplica.
	blocks []cairn.BlockID
	// invalid are its replicas queued for deletion and forgotten
	// (replication.go), until it confirms their deletion or a full
	// report no longer lists them.
	invalid map[cairn.BlockID]invalidReplica

	mu        sync.Mutex // guards the fields below
	storage   cairn.StorageReport
	scheduled int           // blocks placed on it since its last heartbeat
	deletes   []cairn.Block // invalidation queue, sent in heartbeat replies
	out       outbox        // commands sent and not yet acked (outbox.go)
}

// invalidReplica is a replica queued for deletion on its node.
type invalidReplica struct {
	gs     cairn.GenStamp // the generation stamp of the replica to delete
	queued int64          // when its deletion was last queued, unix nanoseconds
}

// registry is the set of DataNodes known since start.
type registry struct {
	mu    sync.Mutex // guards byID and appends to nodes
	byID  map[cairn.NodeID]*datanode
	nodes atomic.Pointer[[]*datanode] // by index; copy on append

	now     func() time.Time
	stale   time.Duration
	dead    time.Duration
	reserve int64
	// requeue is how long after queueing the deletion of an invalid
	// replica a report of it queues the deletion again.
	requeue time.Duration
	// resend is how long a command sent to a node waits for its ack
	// before it is sent again (outbox.go).
	resend time.Duration
	// idBase is the first command id of every node: the start time,
	// so that ids grow across NameNode restarts and a DataNode never
	// takes a new command for one it already ran.
	idBase uint64
}

func newRegistry(cfg *Config, now func() time.Time) *registry {
	r := &registry{
		byID:    make(map[cairn.NodeID]*datanode),
		now:     now,
		stale:   cfg.StaleNodeTimeout,
		dead:    cfg.DeadNodeTimeout,
		reserve: cfg.ReservedSpace,
		requeue: max(2*cfg.HeartbeatInterval, time.Second),
		resend:  resendDelay(cfg.HeartbeatInterval),
		idBase:  uint64(time.Now().UnixNano()),
	}
	r.nodes.Store(&[]*datanode{})
	return r
}

// node returns the DataNode at index i, or nil.
func (r *registry) node(i uint32) *datanode {
	ns := *r.nodes.Load()
	if int(i) < len(ns) {
		return ns[i]
	}
	return nil
}

func (r *registry) all() []*datanode { return *r.nodes.Load() }

func (r *registry) lookup(id cairn.NodeID) *datanode {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// count is the number of DataNodes registered since start.
func (r *registry) count() int { return len(r.all()) }

// register adds a DataNode or updates a known one's addresses.
func (r *registry) register(id cairn.NodeID, info cairn.DatanodeInfo, st cairn.StorageReport) *datanode {
	host, _, err := net.SplitHostPort(info.Addr)
	if err != nil {
		host = info.Addr
	}
	a := &nodeAddr{info: info, host: host}
	now := r.now().UnixNano()
	r.mu.Lock()
	d := r.byID[id]
	if d == nil {
		// Complete the node before readers can see it.
		old := r.all()
		d = &datanode{idx: uint32(len(old)), id: id, storage: st}
		d.addr.Store(a)
		d.lastHeartbeat.Store(now)
		nodes := make([]*datanode, len(old)+1)
		copy(nodes, old)
		nodes[d.idx] = d
		r.byID[id] = d
		r.nodes.Store(&nodes)
	}
	r.mu.Unlock()
	d.addr.Store(a)
	d.mu.Lock()
	d.storage = st
	d.scheduled = 0
	d.mu.Unlock()
	d.lastHeartbeat.Store(now)
	d.removed.Store(false)
	return d
}

// state is d's state at time now (unix nanoseconds).
func (r *registry) state(d *datanode, now int64) nodeState {
	age := time.Duration(now - d.lastHeartbeat.Load())
	switch {
	case d.removed.Load() || age > r.dead:
		return stateDead
	case adminState(d.admin.Load()) == adminDecommissioned:
		return stateDecommissioned
	case adminState(d.admin.Load()) == adminDecommissioning:
		return stateDecommissioning
	case age > r.stale:
		return stateStale
	}
	return stateLive
}

func (r *registry) blockCount(node uint32) int64 {
	if d := r.node(node); d != nil {
		return d.numBlocks.Load()
	}
	return 0
}

// queueDelete asks node to delete a replica at its next heartbeat.
func (r *registry) queueDelete(node uint32, b cairn.Block) {
	d := r.node(node)
	if d == nil {
		return
	}
	d.mu.Lock()
	d.deletes = append(d.deletes, b)
	d.mu.Unlock()
}

// pendingDeletes counts the replicas queued for deletion on all nodes,
// or sent and not acked.
func (r *registry) pendingDeletes() int64 {
	var n int64
	for _, d := range r.all() {
		d.mu.Lock()
		n += d.pendingDeletesLocked()
		d.mu.Unlock()
	}
	return n
}

// pendingDeletesLocked counts the node's deletions queued, or sent and
// not acked. The caller holds d.mu.
func (d *datanode) pendingDeletesLocked() int64 {
	n := int64(len(d.deletes))
	for _, sc := range d.out.sent {
		if sc.cmd.Type == CommandDeleteBlocks {
			n += int64(len(sc.cmd.Blocks))
		}
	}
	return n
}

// heartbeat records a heartbeat and the node's storage.
func (r *registry) heartbeat(d *datanode, st cairn.StorageReport) {
	d.lastHeartbeat.Store(r.now().UnixNano())
	d.mu.Lock()
	d.storage = st
	d.scheduled = 0
	d.mu.Unlock()
}

// indexes maps node IDs to registry indexes, skipping unknown ones.
func (r *registry) indexes(ids []cairn.NodeID) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	out := make([]uint32, 0, len(ids))
	r.mu.Lock()
	for _, id := range ids {
		if d := r.byID[id]; d != nil {
			out = append(out, d.idx)
		}
	}
	r.mu.Unlock()
	return out
}

// chooseTargets picks up to n distinct live DataNodes for a new block:
// a node on clientHost first, then the least busy with the most room;
// never a stale, dead, decommissioning or full node, nor an excluded
// one. It returns fewer than n when fewer qualify.
func (r *registry) chooseTargets(n int, clientHost string, exclude []cairn.NodeID, blockSize int64) []*datanode {
	now := r.now().UnixNano()
	type cand struct {
		d         *datanode
		local     bool
		load      int
		remaining int64
	}
	all := r.all()
	cands := make([]cand, 0, len(all))
	for _, d := range all {
		if r.state(d, now) != stateLive || slices.Contains(exclude, d.id) {
			continue
		}
		d.mu.Lock()
		full := d.storage.RemainingBytes < r.reserve
		rem := d.storage.RemainingBytes - int64(d.scheduled)*blockSize
		load := d.storage.ActiveTransfers + d.scheduled
		d.mu.Unlock()
		if full {
			continue
		}
		cands = append(cands, cand{d: d, local: clientHost != "" && d.addr.Load().host == clientHost, load: load, remaining: rem})
	}
	// Shuffle first so that equal candidates share the load.
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.local != b.local {
			if a.local {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.load, b.load); c != 0 {
			return c
		}
		return cmp.Compare(b.remaining, a.remaining)
	})
	if len(cands) > n {
		cands = cands[:n]
	}
	out := make([]*datanode, len(cands))
	for i, c := range cands {
		c.d.mu.Lock()
		c.d.scheduled++
		c.d.mu.Unlock()
		out[i] = c.d
	}
	return out
}

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

// StorageReport is what a DataNode says of its storage in Register and
// Heartbeat.
type StorageReport struct {
	CapacityBytes   int64
	UsedBytes       int64
	RemainingBytes  int64
	ActiveTransfers int
	FailedVolumes   []string
}

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
	numBlocks     atomic.Int64 // replicas in the block map; changed under namespace.mu
	removed       atomic.Bool  // declared dead: its replicas were forgotten; it must register again
	admin         atomic.Uint32

	mu        sync.Mutex // guards the fields below
	storage   StorageReport
	scheduled int           // blocks placed on it since its last heartbeat
	deletes   []cairn.Block // invalidation queue, sent in heartbeat replies
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
}

func newRegistry(cfg *Config, now func() time.Time) *registry {
	r := &registry{
		byID:    make(map[cairn.NodeID]*datanode),
		now:     now,
		stale:   cfg.StaleNodeTimeout,
		dead:    cfg.DeadNodeTimeout,
		reserve: cfg.ReservedSpace,
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
func (r *registry) register(id cairn.NodeID, info cairn.DatanodeInfo, st StorageReport) *datanode {
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

// addBlocks adjusts a node's replica count.
func (r *registry) addBlocks(node uint32, delta int64) {
	if d := r.node(node); d != nil {
		d.numBlocks.Add(delta)
	}
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

// pendingDeletes counts the replicas queued for deletion on all nodes.
func (r *registry) pendingDeletes() int64 {
	var n int64
	for _, d := range r.all() {
		d.mu.Lock()
		n += int64(len(d.deletes))
		d.mu.Unlock()
	}
	return n
}

// heartbeat records a heartbeat and takes up to max queued deletions.
func (r *registry) heartbeat(d *datanode, st StorageReport, max int) []cairn.Block {
	d.lastHeartbeat.Store(r.now().UnixNano())
	d.mu.Lock()
	defer d.mu.Unlock()
	d.storage = st
	d.scheduled = 0
	if len(d.deletes) == 0 {
		return nil
	}
	n := min(max, len(d.deletes))
	out := slices.Clone(d.deletes[:n])
	d.deletes = append(d.deletes[:0], d.deletes[n:]...)
	if len(d.deletes) == 0 {
		d.deletes = nil
	}
	return out
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

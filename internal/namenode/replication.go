package namenode

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
)

// The replication monitor keeps every committed block at its file's
// replication of good replicas on live DataNodes. It works from a set of
// blocks needing attention (healState.attention), which the block map
// fills as replicas come and go (a node dies, a replica is reported
// corrupt, a report brings one more, setrep changes a target, a node is
// decommissioned), and a full rescan only when it starts leading, leaves
// safe mode, or every fullRescanInterval. Each pass (every heartbeat
// interval, at most every 3s) judges the blocks of the set, most urgent
// first, and:
//
//   - for a block with fewer live good replicas than its target
//     (counting copies in flight), picks a source holding a good replica
//     (fewest copies in flight, not stale) with fewer than
//     ReplicationStreams copies in flight, and targets by the placement
//     rules (live, not full, not decommissioning, not holding the block),
//     and queues one COPY_BLOCKS command for that block on the source,
//     sent in its next heartbeat reply. The copy is pending until every
//     target reports the replica, or ReplicationTimeout passes (or the
//     source dies): then it is retried avoiding that source and those
//     targets if others can do;
//   - for a block with more live good replicas than its target, and none
//     on a stale node nor a copy in flight, deletes the surplus from the
//     fullest nodes (least remaining space);
//   - deletes corrupt replicas once the block has its target of good
//     ones (or at once when the corrupt replica's node is needed as a
//     target: see markCorrupt).
//
// Replicas of decommissioning and decommissioned nodes are sources and
// serve reads, but do not count toward the target. The monitor is idle
// in safe mode and on a NameNode that does not lead.

// fullRescanInterval is how often the monitor judges every block, in
// case a change escaped the attention set.
const fullRescanInterval = 10 * time.Minute

// maxBlocksPerPass bounds the blocks judged in one pass, so that the
// namespace lock is held briefly; the rest wait for the next pass.
const maxBlocksPerPass = 20000

// pendingCopy is a copy of a block ordered and not yet arrived.
type pendingCopy struct {
	source   uint32
	targets  []uint32 // those not yet reported
	deadline int64    // unix nanoseconds
}

// healState is the replication monitor's state. Fields are guarded by
// namespace.mu unless said otherwise.
type healState struct {
	// attention holds the blocks whose replicas changed since the
	// monitor last judged them.
	attention map[cairn.BlockID]struct{}
	// rescan asks the next pass to judge every block.
	rescan bool
	// pending are the copies ordered and not yet arrived, by block.
	pending map[cairn.BlockID]*pendingCopy
	// inflight counts pending copies per source node.
	inflight map[uint32]int
	// avoid are the nodes of copies that timed out, per block: the
	// retry prefers others.
	avoid map[cairn.BlockID][]uint32
	// (Replicas queued for deletion and forgotten are kept per node,
	// in datanode.invalid: reports of them do not count until the node
	// confirms the deletion, and the node is not a copy target for
	// that block meanwhile.)
	// lastFull is when the last full rescan was.
	lastFull time.Time
	// lastDecomCheck is when decommissioning progress was last checked.
	lastDecomCheck time.Time
	// idle says the monitor skipped its last pass (safe mode, not the
	// leader): the next one rescans everything.
	idle bool

	// needed is the number of under-replicated blocks at the last pass
	// (the report's pendingReplicationBlocks). Read anywhere.
	needed atomic.Int64

	cmdMu  sync.Mutex           // guards copies
	copies map[uint32][]Command // COPY_BLOCKS commands to send, by source node
}

func (h *healState) init() {
	h.attention = make(map[cairn.BlockID]struct{})
	h.pending = make(map[cairn.BlockID]*pendingCopy)
	h.inflight = make(map[uint32]int)
	h.avoid = make(map[cairn.BlockID][]uint32)
	h.cmdMu.Lock()
	h.copies = make(map[uint32][]Command)
	h.cmdMu.Unlock()
	h.idle = true
}

// touch puts b in the attention set. The caller holds ns.mu.
func (ns *namespace) touch(id cairn.BlockID) {
	ns.heal.attention[id] = struct{}{}
}

// arrived records that node now holds a replica of id, ending a copy
// to it. The caller holds ns.mu.
func (ns *namespace) arrived(id cairn.BlockID, node uint32) {
	h := &ns.heal
	p := h.pending[id]
	if p == nil {
		return
	}
	if i := slices.Index(p.targets, node); i >= 0 {
		p.targets = slices.Delete(p.targets, i, i+1)
	}
	if len(p.targets) == 0 {
		ns.dropPending(id, p)
		delete(h.avoid, id)
	}
}

func (ns *namespace) dropPending(id cairn.BlockID, p *pendingCopy) {
	h := &ns.heal
	delete(h.pending, id)
	if h.inflight[p.source]--; h.inflight[p.source] <= 0 {
		delete(h.inflight, p.source)
	}
}

// isInvalid says whether node's replica of id was queued for deletion
// and not yet confirmed deleted. The caller holds ns.mu.
func (ns *namespace) isInvalid(id cairn.BlockID, node uint32) bool {
	d := ns.reg.node(node)
	if d == nil {
		return false
	}
	_, ok := d.invalid[id]
	return ok
}

// clearInvalid forgets that node's replica of id, with generation
// stamp gs (0: any), awaits deletion. The caller holds ns.mu.
func (ns *namespace) clearInvalid(id cairn.BlockID, node uint32, gs cairn.GenStamp) {
	d := ns.reg.node(node)
	if d == nil {
		return
	}
	if e, ok := d.invalid[id]; ok && (gs == 0 || e.gs == gs) {
		delete(d.invalid, id)
		if len(d.invalid) == 0 {
			d.invalid = nil
		}
	}
}

// invalidate forgets node's replica of b and queues its deletion on the
// node. The caller holds ns.mu.
func (ns *namespace) invalidate(b *blockInfo, node uint32) {
	blk := ns.heldBlock(b, node)
	ns.removeReplica(b, node)
	ns.reg.queueDelete(node, blk)
	if d := ns.reg.node(node); d != nil {
		if d.invalid == nil {
			d.invalid = make(map[cairn.BlockID]invalidReplica)
		}
		d.invalid[b.id] = invalidReplica{gs: blk.GenStamp, queued: ns.nowNano()}
	}
}

// stillInvalid says whether rb, reported by node, is a replica queued
// for deletion there: it does not count again. Reported again a while
// after its deletion was queued, the deletion was lost (a lost reply,
// a node that took the command and crashed): it is queued again, so an
// invalid replica is never left for good. A report of another
// generation stamp means the replica being deleted is gone. The caller
// holds ns.mu.
func (ns *namespace) stillInvalid(node uint32, rb cairn.Block) bool {
	d := ns.reg.node(node)
	if d == nil {
		return false
	}
	e, ok := d.invalid[rb.ID]
	if !ok {
		return false
	}
	if e.gs != rb.GenStamp {
		delete(d.invalid, rb.ID)
		return false
	}
	if now := ns.nowNano(); now-e.queued >= int64(ns.reg.requeue) {
		ns.reg.queueDelete(node, rb)
		e.queued = now
		d.invalid[rb.ID] = e
	}
	return true
}

// copyingTo says whether a copy of block id to node is in flight.
func (ns *namespace) copyingTo(id cairn.BlockID, node uint32) bool {
	p := ns.heal.pending[id]
	return p != nil && slices.Contains(p.targets, node)
}

// nowNano is the registry's clock in unix nanoseconds, 0 without one.
func (ns *namespace) nowNano() int64 {
	if ns.reg.now == nil {
		return 0
	}
	return ns.reg.now().UnixNano()
}

// copyCommands takes the COPY_BLOCKS commands queued for node.
func (h *healState) copyCommands(node uint32) []Command {
	h.cmdMu.Lock()
	defer h.cmdMu.Unlock()
	c := h.copies[node]
	delete(h.copies, node)
	return c
}

// dropCopyCommands forgets the commands queued for node (it died).
func (h *healState) dropCopyCommands(node uint32) {
	h.cmdMu.Lock()
	delete(h.copies, node)
	h.cmdMu.Unlock()
}

// replicationMonitor runs a replication pass every heartbeat interval
// (clamped to [20ms, 3s]) until ctx ends.
func (s *Server) replicationMonitor(ctx context.Context) {
	interval := min(max(s.cfg.HeartbeatInterval, 20*time.Millisecond), 3*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.replicationPass()
	}
}

// replicaCounts is how a block's replicas stand.
type replicaCounts struct {
	live    int      // good, on live or stale nodes in service
	stale   int      // of live, on stale nodes
	decom   int      // good, on decommissioning or decommissioned nodes
	corrupt int      // known corrupt, on nodes not dead
	holders []uint32 // every node with a replica, any state
}

// countReplicas judges b's replicas at time now. The caller holds
// ns.mu.
func (s *Server) countReplicas(b *blockInfo, now int64) replicaCounts {
	var c replicaCounts
	for _, r := range b.replicas {
		c.holders = append(c.holders, r.node)
		d := s.reg.node(r.node)
		if d == nil {
			continue
		}
		st := s.reg.state(d, now)
		switch {
		case st == stateDead:
		case r.corrupt():
			c.corrupt++
		case st == stateDecommissioning || st == stateDecommissioned:
			c.decom++
		default:
			c.live++
			if st == stateStale {
				c.stale++
			}
		}
	}
	return c
}

// work is one block the pass acts on.
type work struct {
	b        *blockInfo
	c        replicaCounts
	target   int
	priority int // 0 most urgent
}

// replicationPass is one run of the replication monitor.
func (s *Server) replicationPass() {
	ns := s.ns
	h := &ns.heal
	if s.servingTerm() == 0 || s.safe.isOn() {
		ns.mu.Lock()
		h.idle = true
		ns.mu.Unlock()
		return
	}
	nowT := s.now()
	now := nowT.UnixNano()
	ns.mu.Lock()
	defer ns.mu.Unlock()

	if h.idle || h.rescan || nowT.Sub(h.lastFull) > fullRescanInterval {
		for id := range ns.blocks {
			h.attention[id] = struct{}{}
		}
		// Deletions of replicas of deleted blocks need no guard: a
		// report of an unknown block deletes it anyway.
		for _, d := range s.reg.all() {
			for id := range d.invalid {
				if ns.blocks[id] == nil {
					delete(d.invalid, id)
				}
			}
		}
		h.idle, h.rescan, h.lastFull = false, false, nowT
	}

	// Copies that did not arrive in time, or whose source died, are
	// retried elsewhere.
	for id, p := range h.pending {
		if b := ns.blocks[id]; b == nil || b.file == nil {
			ns.dropPending(id, p) // deleted meanwhile
			delete(h.avoid, id)
			continue
		}
		d := s.reg.node(p.source)
		if now < p.deadline && d != nil && s.reg.state(d, now) != stateDead {
			continue
		}
		ns.dropPending(id, p)
		h.avoid[id] = append(append(h.avoid[id][:0:0], p.source), p.targets...)
		h.attention[id] = struct{}{}
		s.log.Warn("block copy did not arrive in time; retrying", "block", id, "source", s.nodeID(p.source))
	}

	var todo []work
	under := make(map[cairn.BlockID]struct{})
	n := 0
	for id := range h.attention {
		if n++; n > maxBlocksPerPass {
			break
		}
		b := ns.blocks[id]
		if b == nil || b.file == nil || !b.committed {
			delete(h.attention, id)
			delete(h.avoid, id)
			continue
		}
		c := s.countReplicas(b, now)
		target := int(b.file.repl)
		w := work{b: b, c: c, target: target}
		switch {
		case c.live < target:
			under[id] = struct{}{}
			switch {
			case c.live <= 1:
				w.priority = 0 // one good replica left, or only corrupt or decommissioning ones
			case c.live*3 < target*2:
				w.priority = 1
			default:
				w.priority = 2
			}
		case c.live > target || c.corrupt > 0:
			w.priority = 3
		default:
			delete(h.attention, id)
			continue
		}
		todo = append(todo, w)
	}
	slices.SortFunc(todo, func(a, b work) int { return cmp.Compare(a.priority, b.priority) })
	for _, w := range todo {
		if s.heal(w, now) {
			delete(h.attention, w.b.id)
		}
	}
	if len(h.attention) == 0 {
		// A map keeps its buckets when emptied: after the full block
		// reports of a restart touched every block, that would be
		// tens of bytes of heap per block for good.
		h.attention = make(map[cairn.BlockID]struct{})
	}
	for id := range h.pending {
		under[id] = struct{}{}
	}
	h.needed.Store(int64(len(under)))
	s.checkDecommission(now)
}

// heal acts on one block; it reports whether the block needs no more
// attention (until something changes). The caller holds ns.mu.
func (s *Server) heal(w work, now int64) bool {
	ns := s.ns
	h := &ns.heal
	b, c := w.b, w.c
	p := h.pending[b.id]
	inFlight := 0
	if p != nil {
		inFlight = len(p.targets)
	}
	if c.live+inFlight < w.target {
		if p != nil {
			// One copy at a time per block: wait for it.
			return false
		}
		return s.scheduleCopy(b, c, w.target-c.live, now)
	}
	if p != nil || c.live < w.target {
		return false // a copy is on its way
	}
	// Enough good replicas: corrupt ones go.
	if c.corrupt > 0 {
		for _, r := range slices.Clone(b.replicas) {
			if r.corrupt() {
				s.log.Info("deleting corrupt replica: the block has enough good ones", "block", b.id, "node", s.nodeID(r.node))
				ns.invalidate(b, r.node)
			}
		}
	}
	if surplus := c.live - w.target; surplus > 0 {
		if c.stale > 0 {
			return false // wait until the stale nodes are judged
		}
		type cand struct {
			node uint32
			rem  int64
		}
		var cands []cand
		for _, r := range b.replicas {
			d := s.reg.node(r.node)
			if r.corrupt() || d == nil || s.reg.state(d, now) != stateLive {
				continue
			}
			d.mu.Lock()
			rem := d.storage.RemainingBytes
			d.mu.Unlock()
			cands = append(cands, cand{r.node, rem})
		}
		slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.rem, b.rem) })
		for _, x := range cands[:min(surplus, len(cands))] {
			s.log.Info("deleting surplus replica", "block", b.id, "node", s.nodeID(x.node), "replicas", c.live, "target", w.target)
			ns.invalidate(b, x.node)
		}
	}
	return true
}

// scheduleCopy orders one copy of b to need more nodes. It reports
// whether b needs no more attention (never: the copy must arrive).
func (s *Server) scheduleCopy(b *blockInfo, c replicaCounts, need int, now int64) bool {
	ns := s.ns
	h := &ns.heal
	avoid := h.avoid[b.id]
	src, ok := s.chooseSource(b, now, avoid)
	if !ok && len(avoid) > 0 {
		src, ok = s.chooseSource(b, now, nil)
	}
	if !ok {
		return false
	}
	exclude := make([]cairn.NodeID, 0, len(c.holders)+len(avoid)+2)
	for _, n := range c.holders {
		exclude = append(exclude, s.nodeID(n))
	}
	for _, d := range s.reg.all() {
		if ns.isInvalid(b.id, d.idx) {
			exclude = append(exclude, d.id)
		}
	}
	targets := s.reg.chooseTargets(need, "", append(slices.Clone(exclude), s.nodeIDs(avoid)...), b.len)
	if len(targets) == 0 && len(avoid) > 0 {
		targets = s.reg.chooseTargets(need, "", exclude, b.len)
	}
	if len(targets) == 0 {
		return false
	}
	delete(h.avoid, b.id)
	p := &pendingCopy{source: src.idx, deadline: now + int64(s.cfg.ReplicationTimeout)}
	infos := make([]cairn.DatanodeInfo, len(targets))
	for i, t := range targets {
		p.targets = append(p.targets, t.idx)
		infos[i] = t.addr.Load().info
	}
	h.pending[b.id] = p
	h.inflight[src.idx]++
	h.cmdMu.Lock()
	h.copies[src.idx] = append(h.copies[src.idx], Command{Type: CommandCopyBlocks, Blocks: []cairn.Block{b.block()}, Targets: infos})
	h.cmdMu.Unlock()
	s.log.Debug("block copy ordered", "block", b.id, "source", src.id, "targets", len(infos), "live", c.live)
	return false
}

// chooseSource picks a node holding a good replica of b with room for
// one more copy in flight: not stale if it can, fewest copies in flight
// first, never one of avoid.
func (s *Server) chooseSource(b *blockInfo, now int64, avoid []uint32) (*datanode, bool) {
	h := &s.ns.heal
	var best *datanode
	bestRank, bestLoad := 0, 0
	for _, r := range b.replicas {
		if r.corrupt() || slices.Contains(avoid, r.node) {
			continue
		}
		d := s.reg.node(r.node)
		if d == nil {
			continue
		}
		st := s.reg.state(d, now)
		if st == stateDead {
			continue
		}
		load := h.inflight[r.node]
		if load >= s.cfg.ReplicationStreams {
			continue
		}
		rank := 0
		if st == stateStale {
			rank = 1
		}
		if best == nil || rank < bestRank || (rank == bestRank && load < bestLoad) {
			best, bestRank, bestLoad = d, rank, load
		}
	}
	return best, best != nil
}

func (s *Server) nodeID(i uint32) cairn.NodeID {
	if d := s.reg.node(i); d != nil {
		return d.id
	}
	return ""
}

func (s *Server) nodeIDs(idx []uint32) []cairn.NodeID {
	out := make([]cairn.NodeID, len(idx))
	for i, n := range idx {
		out[i] = s.nodeID(n)
	}
	return out
}

// PendingReplications describes the copies in flight, for tests and
// reports: per source DataNode, the number of blocks it was asked to
// copy and that have not arrived yet.
func (s *Server) PendingReplications() map[cairn.NodeID]int {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	out := make(map[cairn.NodeID]int, len(s.ns.heal.inflight))
	for n, k := range s.ns.heal.inflight {
		out[s.nodeID(n)] = k
	}
	return out
}

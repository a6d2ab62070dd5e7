package namenode

import (
	"slices"

	"github.com/cairn-fs/cairn"
)

// replica is one DataNode's finalized copy of a block at the block's
// generation stamp, as that node reported it (or as the pipeline that
// wrote it acknowledged it), or a copy known to be corrupt.
//
// It is 16 bytes: node, the position of the block in the node's list
// of blocks with the corrupt flag in its top bit, and the length.
type replica struct {
	node uint32 // registry index
	at   uint32 // the block's index in datanode.blocks; bit 31: corrupt
	len  int64  // length reported by the node
}

const corruptBit = 1 << 31

func (r *replica) corrupt() bool     { return r.at&corruptBit != 0 }
func (r *replica) setCorrupt()       { r.at |= corruptBit }
func (r *replica) pos() uint32       { return r.at &^ corruptBit }
func (r *replica) setPos(pos uint32) { r.at = r.at&corruptBit | pos }

// heldReplica is a replica of the uncommitted last block of a file
// being written that is not one of the block's finalized replicas: one
// its node holds unfinalized (rbw: being written, kept after a failed
// pipeline, or moved back from finalized by a pipeline recovery), at
// the block's generation stamp or a newer one, or one finalized with a
// newer generation stamp than the block's (a pipeline recovery the
// writer did not get to log). Lease recovery synchronizes them.
type heldReplica struct {
	node      uint32
	gs        cairn.GenStamp
	len       int64
	finalized bool
}

func (h heldReplica) block(id cairn.BlockID) cairn.Block {
	return cairn.Block{ID: id, GenStamp: h.gs, Len: h.len}
}

// replicaKey names one node's replica of a block.
type replicaKey struct {
	id   cairn.BlockID
	node uint32
}

// replicaState is the state in which a DataNode reports a replica.
type replicaState uint8

const (
	// replicaFinalized: BlockReport.blocks, IncrementalBlockReport.received.
	replicaFinalized replicaState = iota
	// replicaReceiving: IncrementalBlockReport.receiving, a replica
	// the node holds unfinalized, perhaps being written.
	replicaReceiving
	// replicaIdle: BlockReport.rbw, an unfinalized replica no one
	// writes, waiting for a recovery.
	replicaIdle
)

// blockInfo is one entry of the block map: a block of a file and the
// replicas DataNodes reported. All fields are guarded by namespace.mu.
type blockInfo struct {
	id cairn.BlockID
	gs cairn.GenStamp
	// len is the committed length; before that, of the last block of
	// a file being written, the length its writer synced (fsync), 0
	// if none.
	len       int64
	file      *inode
	replicas  []replica
	committed bool // the writer has given the final length
}

func (b *blockInfo) block() cairn.Block {
	return cairn.Block{ID: b.id, GenStamp: b.gs, Len: b.len}
}

func (b *blockInfo) replicaIndex(node uint32) int {
	for i := range b.replicas {
		if b.replicas[i].node == node {
			return i
		}
	}
	return -1
}

// goodReplicas counts the replicas not known to be corrupt.
func (b *blockInfo) goodReplicas() int {
	n := 0
	for i := range b.replicas {
		if !b.replicas[i].corrupt() {
			n++
		}
	}
	return n
}

// counted says whether b counts for safe mode as a complete block and
// as a reported one.
func (b *blockInfo) counted() (complete, reported bool) {
	complete = b.committed && b.file != nil
	return complete, complete && b.goodReplicas() > 0
}

// recount adjusts the safe-mode counters after a change to b, given
// what counted said before it.
func (ns *namespace) recount(b *blockInfo, c0, r0 bool) {
	c1, r1 := b.counted()
	if c0 != c1 {
		if c1 {
			ns.completeBlocks.Add(1)
		} else {
			ns.completeBlocks.Add(-1)
		}
	}
	if r0 != r1 {
		if r1 {
			ns.reportedBlocks.Add(1)
		} else {
			ns.reportedBlocks.Add(-1)
		}
	}
}

// newBlock allocates a block for file f from the namespace counters and
// appends it to the file.
func (ns *namespace) newBlock(f *inode) *blockInfo {
	b := &blockInfo{
		id:   cairn.BlockID(ns.nextBlockID),
		gs:   cairn.GenStamp(ns.nextGenStamp),
		file: f,
	}
	ns.nextBlockID++
	ns.nextGenStamp++
	ns.blocks[b.id] = b
	f.blocks = append(f.blocks, b)
	return b
}

// addReplica lists r among b's replicas and b in the list of r's
// node. Every replica enters the block map here.
func (ns *namespace) addReplica(b *blockInfo, r replica) {
	if b.replicas == nil && b.file != nil {
		// Room for the usual number of replicas, allocated once.
		b.replicas = make([]replica, 0, max(int(b.file.repl), 1))
	}
	if d := ns.reg.node(r.node); d != nil {
		r.setPos(uint32(len(d.blocks)))
		d.blocks = append(d.blocks, b.id)
		d.numBlocks.Store(int64(len(d.blocks)))
	}
	b.replicas = append(b.replicas, r)
}

// dropReplica removes b's i-th replica from b and from its node's
// list: the node's last block takes its place there (its replica's
// position is updated), so that it costs O(1). Every replica leaves
// the block map here.
func (ns *namespace) dropReplica(b *blockInfo, i int) {
	r := b.replicas[i]
	b.replicas = append(b.replicas[:i], b.replicas[i+1:]...)
	if len(ns.stamps) > 0 {
		delete(ns.stamps, replicaKey{b.id, r.node})
	}
	d := ns.reg.node(r.node)
	if d == nil {
		return
	}
	p := int(r.pos())
	if p >= len(d.blocks) || d.blocks[p] != b.id {
		// Not where the replica says: a bug; find it.
		p = slices.Index(d.blocks, b.id)
		if p < 0 {
			return
		}
	}
	last := len(d.blocks) - 1
	if p != last {
		moved := d.blocks[last]
		d.blocks[p] = moved
		if mb := ns.blocks[moved]; mb != nil {
			if j := mb.replicaIndex(r.node); j >= 0 {
				mb.replicas[j].setPos(uint32(p))
			}
		}
	}
	d.blocks = d.blocks[:last]
	switch {
	case len(d.blocks) == 0:
		d.blocks = nil
	case cap(d.blocks) >= 1024 && len(d.blocks) <= cap(d.blocks)/4:
		// Give back the room of blocks gone for good.
		d.blocks = slices.Clone(d.blocks)
	}
	d.numBlocks.Store(int64(len(d.blocks)))
}

// heldBlock is b as node holds it: the length it reported and, for a
// corrupt replica with a generation stamp of its own, that stamp (a
// deletion must name the replica the node has).
func (ns *namespace) heldBlock(b *blockInfo, node uint32) cairn.Block {
	blk := b.block()
	if i := b.replicaIndex(node); i >= 0 {
		blk.Len = b.replicas[i].len
	}
	if gs, ok := ns.stamps[replicaKey{b.id, node}]; ok {
		blk.GenStamp = gs
	}
	return blk
}

// isWriting says whether b is the uncommitted last block of a file
// being written.
func (ns *namespace) isWriting(b *blockInfo) bool {
	if b.committed || b.file == nil {
		return false
	}
	u := ns.uc[b.file.id]
	return u != nil && ns.lastBlock(u.f) == b
}

// commitBlock records b's final length. The pipeline targets expected
// become replicas: every one of them acknowledged the fsync'd block.
// Replicas already reported with another length are corrupt. Replicas
// held unfinalized or with another generation stamp are settled: older
// ones deleted, newer ones corrupt.
func (ns *namespace) commitBlock(b *blockInfo, length int64, expected []uint32) {
	c0, r0 := b.counted()
	b.len = length
	b.committed = true
	for _, node := range expected {
		// A node whose replica was reported corrupt is either still
		// listed (marked corrupt) or being told to delete it: it does
		// not come back as a good replica.
		if b.replicaIndex(node) < 0 && !ns.isInvalid(b.id, node) {
			ns.addReplica(b, replica{node: node, len: length})
		}
	}
	var bad []uint32
	for i := range b.replicas {
		if b.replicas[i].len != length && !b.replicas[i].corrupt() {
			bad = append(bad, b.replicas[i].node)
		}
	}
	held := ns.unfinal[b.id]
	delete(ns.unfinal, b.id)
	ns.recount(b, c0, r0)
	for _, node := range bad {
		ns.markCorrupt(b, node, b.gs)
	}
	for _, h := range held {
		switch {
		case h.gs < b.gs && b.replicaIndex(h.node) < 0:
			ns.reg.queueDelete(h.node, h.block(b.id))
		case h.gs > b.gs:
			// Does not match the block as committed.
			ns.markCorrupt(b, h.node, h.gs)
		}
		// At the block's generation stamp: the node's finalized
		// report follows, or its full report finds a leftover.
	}
	ns.touch(b.id)
}

// removeBlock drops b from the block map and its file's accounting, and
// queues its deletion on every node that holds or was to hold it.
func (ns *namespace) removeBlock(b *blockInfo, expected []uint32) {
	c0, r0 := b.counted()
	b.file = nil
	blk := b.block()
	holders := make([]uint32, 0, len(b.replicas))
	for i := len(b.replicas) - 1; i >= 0; i-- {
		node := b.replicas[i].node
		holders = append(holders, node)
		ns.reg.queueDelete(node, ns.heldBlock(b, node))
		ns.dropReplica(b, i)
	}
	for _, node := range expected {
		if !slices.Contains(holders, node) {
			ns.reg.queueDelete(node, blk)
		}
	}
	for _, h := range ns.unfinal[b.id] {
		if h.gs != b.gs || !slices.Contains(holders, h.node) && !slices.Contains(expected, h.node) {
			ns.reg.queueDelete(h.node, h.block(b.id))
		}
	}
	delete(ns.unfinal, b.id)
	delete(ns.blocks, b.id)
	b.replicas = nil
	ns.recount(b, c0, r0)
}

// removeReplica forgets node's replica of b.
func (ns *namespace) removeReplica(b *blockInfo, node uint32) {
	i := b.replicaIndex(node)
	if i < 0 {
		return
	}
	c0, r0 := b.counted()
	ns.dropReplica(b, i)
	ns.recount(b, c0, r0)
	ns.touch(b.id)
}

// restamp gives b a new generation stamp: replicas reported with an
// older one no longer count, and are deleted on the nodes that are not
// to hold the new one (keep); replicas already finalized at the new one
// become b's replicas.
func (ns *namespace) restamp(b *blockInfo, gs cairn.GenStamp, keep []cairn.NodeID) {
	keepIdx := ns.reg.indexes(keep)
	for i := len(b.replicas) - 1; i >= 0; i-- {
		node := b.replicas[i].node
		if !slices.Contains(keepIdx, node) {
			ns.reg.queueDelete(node, ns.heldBlock(b, node))
		}
		ns.removeReplica(b, node)
	}
	b.gs = gs
	held := ns.unfinal[b.id]
	var rest []heldReplica
	for _, h := range held {
		switch {
		case h.gs < gs:
			if !slices.Contains(keepIdx, h.node) {
				ns.reg.queueDelete(h.node, h.block(b.id))
			}
		case h.gs == gs && h.finalized:
			ns.addReplica(b, replica{node: h.node, len: h.len})
			ns.touch(b.id)
		default:
			rest = append(rest, h)
		}
	}
	ns.setHeld(b.id, rest)
}

// markCorrupt marks node's replica of b, which has generation stamp
// gs, corrupt: it is no longer given to readers nor counted as live,
// and the replication monitor copies a good replica in its place. The
// corrupt replica is remembered (a later report does not make it good
// again) until the block has its target of good replicas; then it is
// forgotten and deleted on its node. It is deleted at once when good
// replicas remain but no other node could take a new copy (its node is
// needed as a target). With no good replica it is kept, so that a
// reader can still be offered it as a last resort.
func (ns *namespace) markCorrupt(b *blockInfo, node uint32, gs cairn.GenStamp) {
	c0, r0 := b.counted()
	i := b.replicaIndex(node)
	if i < 0 {
		ns.addReplica(b, replica{node: node, len: b.len})
		i = len(b.replicas) - 1
	}
	b.replicas[i].setCorrupt()
	if gs != b.gs {
		ns.stamps[replicaKey{b.id, node}] = gs
	}
	ns.recount(b, c0, r0)
	ns.touch(b.id)
	if good := b.goodReplicas(); good > 0 && (b.file == nil || good >= int(b.file.repl) || !ns.spareTarget(b)) {
		ns.invalidate(b, node)
	}
}

// spareTarget says whether a live DataNode with room holds no replica
// of b (so that a copy could go there). The caller holds ns.mu.
func (ns *namespace) spareTarget(b *blockInfo) bool {
	if ns.reg.now == nil {
		return false
	}
	now := ns.reg.now().UnixNano()
	for _, d := range ns.reg.all() {
		if ns.reg.state(d, now) != stateLive || b.replicaIndex(d.idx) >= 0 || ns.isInvalid(b.id, d.idx) {
			continue
		}
		d.mu.Lock()
		full := d.storage.RemainingBytes < ns.reg.reserve
		d.mu.Unlock()
		if !full {
			return true
		}
	}
	return false
}

// setHeld replaces the held replicas of block id.
func (ns *namespace) setHeld(id cairn.BlockID, hs []heldReplica) {
	if len(hs) == 0 {
		delete(ns.unfinal, id)
		return
	}
	ns.unfinal[id] = hs
}

// holdReplica records h as node's held replica of block id, in place
// of any other it had.
func (ns *namespace) holdReplica(id cairn.BlockID, h heldReplica) {
	hs := ns.unfinal[id]
	for i := range hs {
		if hs[i].node == h.node {
			hs[i] = h
			return
		}
	}
	ns.unfinal[id] = append(hs, h)
}

// dropHeld forgets node's held replica of block id.
func (ns *namespace) dropHeld(id cairn.BlockID, node uint32) {
	hs := ns.unfinal[id]
	if i := slices.IndexFunc(hs, func(h heldReplica) bool { return h.node == node }); i >= 0 {
		ns.setHeld(id, slices.Delete(hs, i, i+1))
	}
}

// reportReplica reconciles one replica a DataNode reports, in state st,
// with the block map. It is the one path of every reported replica:
// full reports (finalized and rbw), incremental ones (received and
// receiving). As HDFS's BlockManager:
//
//   - a replica of a block not in the namespace, or with an older
//     generation stamp than its block's, is deleted;
//   - a replica of the uncommitted last block of a file being written
//     that is unfinalized, or finalized with a newer generation stamp,
//     is held for lease recovery (and is not a finalized replica of
//     the block: not counted, not given to readers);
//   - a replica of a committed block with a newer generation stamp
//     does not match it: it is corrupt (and deleted once the block has
//     its good replicas);
//   - an unfinalized replica of a committed block at its generation
//     stamp is a copy being received, or a report that crossed the
//     finalized one (ignored); idle, it is a leftover and deleted;
//   - a finalized replica at the block's generation stamp is a replica,
//     corrupt if its length is not the committed length;
//   - a replica queued for deletion on that node does not count again;
//     reported again, its deletion is queued again.
func (ns *namespace) reportReplica(node uint32, rb cairn.Block, st replicaState) {
	if ns.fromFuture(node, rb, st) {
		return
	}
	b := ns.blocks[rb.ID]
	if b == nil {
		ns.reg.queueDelete(node, rb)
		return
	}
	if ns.stillInvalid(node, rb) {
		return
	}
	finalized := st == replicaFinalized
	switch {
	case rb.GenStamp < b.gs:
		// Left behind by a pipeline or block recovery.
		ns.removeReplica(b, node)
		ns.dropHeld(b.id, node)
		ns.reg.queueDelete(node, rb)
	case ns.isWriting(b) && (!finalized || rb.GenStamp > b.gs):
		if i := b.replicaIndex(node); i >= 0 && !b.replicas[i].corrupt() {
			// No longer finalized there.
			ns.removeReplica(b, node)
		}
		ns.holdReplica(b.id, heldReplica{node: node, gs: rb.GenStamp, len: rb.Len, finalized: finalized})
	case rb.GenStamp > b.gs:
		ns.markCorrupt(b, node, rb.GenStamp)
	case !finalized:
		if st == replicaIdle && b.replicaIndex(node) < 0 && !ns.copyingTo(b.id, node) {
			ns.reg.queueDelete(node, rb)
		}
	case b.committed && rb.Len != b.len:
		ns.dropHeld(b.id, node)
		ns.markCorrupt(b, node, b.gs)
	default:
		ns.dropHeld(b.id, node)
		c0, r0 := b.counted()
		if i := b.replicaIndex(node); i >= 0 {
			b.replicas[i].len = rb.Len
		} else {
			ns.addReplica(b, replica{node: node, len: rb.Len})
			ns.arrived(b.id, node)
			ns.touch(b.id)
		}
		ns.recount(b, c0, r0)
	}
}

// incrementalReport applies an incremental block report. A replica
// may be in more than one list (the report gathers what happened since
// the last one): unfinalized reports go before finalized ones of the
// same block unless their generation stamp is newer (a replica is
// received, then finalized; it goes back to being written only at a
// newer generation stamp), and deletions go last.
func (ns *namespace) incrementalReport(node uint32, received, receiving, deleted []cairn.Block) {
	var later []cairn.Block
	for _, rb := range receiving {
		if slices.ContainsFunc(received, func(f cairn.Block) bool { return f.ID == rb.ID && f.GenStamp < rb.GenStamp }) {
			later = append(later, rb)
			continue
		}
		ns.reportReplica(node, rb, replicaReceiving)
	}
	for _, rb := range received {
		ns.reportReplica(node, rb, replicaFinalized)
	}
	for _, rb := range later {
		ns.reportReplica(node, rb, replicaReceiving)
	}
	for _, rb := range deleted {
		delete(ns.standby.pending, standbyKey{node, rb.ID})
		ns.clearInvalid(rb.ID, node, rb.GenStamp)
		b := ns.blocks[rb.ID]
		if b == nil {
			continue
		}
		// (A replica of an older generation stamp deleted says
		// nothing of the node's current one.)
		if rb.GenStamp == 0 || rb.GenStamp >= b.gs {
			ns.removeReplica(b, node)
		}
		if hs := ns.unfinal[b.id]; hs != nil {
			if i := slices.IndexFunc(hs, func(h heldReplica) bool { return h.node == node }); i >= 0 && (rb.GenStamp == 0 || rb.GenStamp >= hs[i].gs) {
				ns.dropHeld(b.id, node)
			}
		}
	}
}

// blockReport replaces what the block map says of node with its full
// report: finalized replicas and idle unfinalized ones (rbw). It costs
// in proportion to the blocks of the node, not to the block map.
func (ns *namespace) blockReport(node uint32, finalized, idle []cairn.Block) {
	d := ns.reg.node(node)
	if d == nil {
		return
	}
	ns.forgetStandby(node)
	if len(d.blocks) > 0 || len(d.invalid) > 0 || len(ns.unfinal) > 0 {
		reported := make(map[cairn.BlockID]struct{}, len(finalized)+len(idle))
		for _, rb := range finalized {
			reported[rb.ID] = struct{}{}
		}
		for _, rb := range idle {
			reported[rb.ID] = struct{}{}
		}
		// Forget the replicas the node no longer reports. (The first
		// report of a node, the common case after a restart, has
		// nothing to forget.) Downwards: a replica dropped takes the
		// last block of the list, which was seen already.
		for i := len(d.blocks) - 1; i >= 0; i-- {
			if i >= len(d.blocks) {
				continue
			}
			id := d.blocks[i]
			if _, ok := reported[id]; !ok {
				ns.forgetListed(node, id)
			}
		}
		// Replicas queued for deletion and not reported any more are
		// gone.
		for id := range d.invalid {
			if _, ok := reported[id]; !ok {
				delete(d.invalid, id)
			}
		}
		for id, hs := range ns.unfinal {
			if _, ok := reported[id]; !ok && slices.ContainsFunc(hs, func(h heldReplica) bool { return h.node == node }) {
				ns.dropHeld(id, node)
			}
		}
	}
	for _, rb := range finalized {
		ns.reportReplica(node, rb, replicaFinalized)
	}
	for _, rb := range idle {
		ns.reportReplica(node, rb, replicaIdle)
	}
}

// forgetListed forgets node's replica of block id, which its list
// names.
func (ns *namespace) forgetListed(node uint32, id cairn.BlockID) {
	if b := ns.blocks[id]; b != nil && b.replicaIndex(node) >= 0 {
		ns.removeReplica(b, node)
		return
	}
	// Listed without a replica: a bug; mend the list.
	d := ns.reg.node(node)
	if i := slices.Index(d.blocks, id); i >= 0 {
		d.blocks = slices.Delete(d.blocks, i, i+1)
		d.numBlocks.Store(int64(len(d.blocks)))
	}
}

// removeNodeReplicas forgets every replica of a node, as when it is
// declared dead.
func (ns *namespace) removeNodeReplicas(node uint32) {
	d := ns.reg.node(node)
	if d == nil {
		return
	}
	for len(d.blocks) > 0 {
		ns.forgetListed(node, d.blocks[len(d.blocks)-1])
	}
	for id, hs := range ns.unfinal {
		if slices.ContainsFunc(hs, func(h heldReplica) bool { return h.node == node }) {
			ns.dropHeld(id, node)
		}
	}
}

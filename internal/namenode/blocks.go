package namenode

import (
	"slices"

	"github.com/cairn-fs/cairn"
)

// replica is one DataNode's copy of a block, as that node reported it.
type replica struct {
	node    uint32 // registry index
	corrupt bool
	len     int64 // length reported by the node
}

// blockInfo is one entry of the block map: a block of a file and the
// replicas DataNodes reported. All fields are guarded by namespace.mu.
type blockInfo struct {
	id        cairn.BlockID
	gs        cairn.GenStamp
	len       int64 // committed length; 0 until committed
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
		if !b.replicas[i].corrupt {
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

// commitBlock records b's final length. The pipeline targets expected
// become replicas: every one of them acknowledged the fsync'd block.
// Replicas already reported with another length are corrupt.
func (ns *namespace) commitBlock(b *blockInfo, length int64, expected []uint32) {
	c0, r0 := b.counted()
	b.len = length
	b.committed = true
	b.replicas = slices.Grow(b.replicas, len(expected))
	for _, node := range expected {
		// A node whose replica was reported corrupt is either still
		// listed (marked corrupt) or being told to delete it: it does
		// not come back as a good replica.
		if b.replicaIndex(node) < 0 && !ns.isInvalid(b.id, node) {
			b.replicas = append(b.replicas, replica{node: node, len: length})
			ns.reg.addBlocks(node, 1)
		}
	}
	var bad []uint32
	for i := range b.replicas {
		if b.replicas[i].len != length && !b.replicas[i].corrupt {
			bad = append(bad, b.replicas[i].node)
		}
	}
	ns.recount(b, c0, r0)
	for _, node := range bad {
		ns.markCorrupt(b, node)
	}
	ns.touch(b.id)
}

// removeBlock drops b from the block map and its file's accounting, and
// queues its deletion on every node that holds or was to hold it.
func (ns *namespace) removeBlock(b *blockInfo, expected []uint32) {
	c0, r0 := b.counted()
	delete(ns.blocks, b.id)
	b.file = nil
	blk := b.block()
	for _, r := range b.replicas {
		ns.reg.queueDelete(r.node, blk)
		ns.reg.addBlocks(r.node, -1)
	}
	for _, node := range expected {
		if b.replicaIndex(node) < 0 {
			ns.reg.queueDelete(node, blk)
		}
	}
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
	b.replicas = append(b.replicas[:i], b.replicas[i+1:]...)
	ns.reg.addBlocks(node, -1)
	ns.recount(b, c0, r0)
	ns.touch(b.id)
}

// markCorrupt marks node's replica of b corrupt: it is no longer given
// to readers nor counted as live, and the replication monitor copies a
// good replica in its place. The corrupt replica is remembered (a later
// report does not make it good again) until the block has its target of
// good replicas; then it is forgotten and deleted on its node. It is
// deleted at once when good replicas remain but no other node could
// take a new copy (its node is needed as a target). With no good
// replica it is kept, so that a reader can still be offered it as a
// last resort.
func (ns *namespace) markCorrupt(b *blockInfo, node uint32) {
	c0, r0 := b.counted()
	i := b.replicaIndex(node)
	if i < 0 {
		b.replicas = append(b.replicas, replica{node: node, corrupt: true, len: b.len})
		ns.reg.addBlocks(node, 1)
		i = len(b.replicas) - 1
	}
	b.replicas[i].corrupt = true
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

// reportReplica records that node holds a finalized replica rb, as a
// block report or an incremental report says. Replicas of blocks not in
// the namespace, and those with an older generation stamp, are queued
// for deletion on that node.
func (ns *namespace) reportReplica(node uint32, rb cairn.Block) {
	b := ns.blocks[rb.ID]
	if b != nil && ns.isInvalid(rb.ID, node) {
		// Queued for deletion there: it does not count again.
		return
	}
	if b == nil || rb.GenStamp < b.gs {
		ns.reg.queueDelete(node, rb)
		if b != nil {
			ns.removeReplica(b, node)
		}
		return
	}
	if rb.GenStamp > b.gs {
		// Newer than the namespace knows: only a recovery can make
		// that, and recovery is not there yet. Leave it alone.
		return
	}
	if b.committed && rb.Len != b.len {
		ns.markCorrupt(b, node)
		return
	}
	c0, r0 := b.counted()
	if i := b.replicaIndex(node); i >= 0 {
		b.replicas[i].len = rb.Len
	} else {
		if b.replicas == nil && b.file != nil {
			// Room for the usual number of replicas, allocated once.
			b.replicas = make([]replica, 0, max(int(b.file.repl), 1))
		}
		b.replicas = append(b.replicas, replica{node: node, len: rb.Len})
		ns.reg.addBlocks(node, 1)
		ns.arrived(b.id, node)
		ns.touch(b.id)
	}
	ns.recount(b, c0, r0)
}

// blockReport replaces node's replica set with the reported blocks.
func (ns *namespace) blockReport(node uint32, blocks []cairn.Block) {
	if ns.reg.blockCount(node) > 0 {
		// Forget the replicas the node no longer reports. The first
		// report of a node (the common case, after a restart) skips
		// this scan of the whole block map.
		reported := make(map[cairn.BlockID]struct{}, len(blocks))
		for _, rb := range blocks {
			reported[rb.ID] = struct{}{}
		}
		for id, b := range ns.blocks {
			if _, ok := reported[id]; ok {
				continue
			}
			if b.replicaIndex(node) >= 0 {
				ns.removeReplica(b, node)
			}
		}
	}
	if len(ns.heal.invalid) > 0 {
		// Replicas queued for deletion and not reported any more are
		// gone.
		reported := make(map[cairn.BlockID]struct{}, len(blocks))
		for _, rb := range blocks {
			reported[rb.ID] = struct{}{}
		}
		for id, nodes := range ns.heal.invalid {
			if _, ok := reported[id]; !ok && slices.Contains(nodes, node) {
				ns.clearInvalid(id, node)
			}
		}
	}
	for _, rb := range blocks {
		ns.reportReplica(node, rb)
	}
}

// removeNodeReplicas forgets every replica of a node, as when it is
// declared dead.
func (ns *namespace) removeNodeReplicas(node uint32) {
	if ns.reg.blockCount(node) == 0 {
		return
	}
	for _, b := range ns.blocks {
		if b.replicaIndex(node) >= 0 {
			ns.removeReplica(b, node)
		}
	}
}

package namenode

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
)

// The NameNode's side of data-path recovery: pipeline recovery
// (GetAdditionalDatanode, UpdateBlockForPipeline, UpdatePipeline),
// lease recovery with block synchronization (RECOVER_BLOCK commands and
// CommitBlockSynchronization), and the replicas DataNodes keep
// unfinalized (reportRbw). See doc.go, "Recovery".

// GetAdditionalDatanode picks a DataNode to replace a failed member of
// the pipeline of the writer's last block: a live node with room, not
// among existing nor exclude.
func (s *Server) GetAdditionalDatanode(ctx context.Context, p string, fileID uint64, client string, blk cairn.Block, existing, exclude []cairn.NodeID) (cairn.DatanodeInfo, error) {
	if err := s.writable(); err != nil {
		return cairn.DatanodeInfo{}, err
	}
	s.leases.renew(client)
	s.ns.mu.RLock()
	u, err := s.findWriter(p, fileID, client)
	if err == nil {
		err = checkLastBlock(s.ns, u, blk.ID)
	}
	var blockSize int64
	if err == nil {
		blockSize = u.f.blkSize
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return cairn.DatanodeInfo{}, err
	}
	avoid := append(slices.Clone(existing), exclude...)
	targets := s.reg.chooseTargets(1, "", avoid, blockSize)
	if len(targets) == 0 {
		return cairn.DatanodeInfo{}, errf(cairn.NotReplicated, "no live datanode left to add to the pipeline (%d in it, %d excluded)", len(existing), len(exclude))
	}
	return targets[0].addr.Load().info, nil
}

// checkLastBlock checks that id is the uncommitted last block of u.
// The caller holds ns.mu.
func checkLastBlock(ns *namespace, u *ucFile, id cairn.BlockID) error {
	last := ns.lastBlock(u.f)
	if last == nil || last.id != id || last.committed {
		return errf(cairn.Invalid, "block %d is not the file's last uncommitted block", id)
	}
	return nil
}

// UpdateBlockForPipeline gives the writer's last block, blk with its
// current generation stamp, a new generation stamp (logged), for a
// pipeline recovery. The block keeps its old one until UpdatePipeline.
func (s *Server) UpdateBlockForPipeline(ctx context.Context, p string, fileID uint64, client string, blk cairn.Block) (cairn.GenStamp, error) {
	if err := s.writable(); err != nil {
		return 0, err
	}
	if client == "" {
		return 0, errf(cairn.Invalid, "empty client name")
	}
	s.leases.renew(client)
	s.ns.mu.RLock()
	u, err := s.findWriter(p, fileID, client)
	if err == nil {
		fileID = u.f.id
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	v, err := s.propose(ctx, &command{op: opNewGenStamp, fileID: fileID, clientName: client, block: blk})
	if err != nil {
		return 0, err
	}
	return v.(cairn.GenStamp), nil
}

// UpdatePipeline records the outcome of a pipeline recovery: the
// writer's last block now has blk's (new) generation stamp and is
// expected on nodes. Replicas reported with the old generation stamp
// no longer count.
func (s *Server) UpdatePipeline(ctx context.Context, p string, fileID uint64, client string, blk cairn.Block, nodes []cairn.NodeID) error {
	if err := s.writable(); err != nil {
		return err
	}
	if len(nodes) == 0 {
		return errf(cairn.Invalid, "a pipeline without nodes")
	}
	s.leases.renew(client)
	s.ns.mu.RLock()
	u, err := s.findWriter(p, fileID, client)
	if err == nil {
		fileID = u.f.id
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return err
	}
	_, err = s.propose(ctx, &command{op: opUpdatePipeline, fileID: fileID, clientName: client, block: blk, targets: nodes})
	return err
}

// applyNewGenStamp allocates a generation stamp for the uncommitted
// last block of a file being written, which must have the generation
// stamp c.block.GenStamp. With a client name, that client must hold the
// lease (pipeline recovery); without, it is lease recovery.
func (ns *namespace) applyNewGenStamp(c *command) any {
	u := ns.uc[c.fileID]
	if u == nil {
		return errf(cairn.LeaseConflict, "file is not open for writing (closed, deleted or recovered)")
	}
	if c.clientName != "" && u.holder != c.clientName {
		return errf(cairn.LeaseConflict, "file is being written by another client")
	}
	if err := checkLastBlock(ns, u, c.block.ID); err != nil {
		return err
	}
	if last := ns.lastBlock(u.f); last.gs != c.block.GenStamp {
		return errf(cairn.Invalid, "block %d has generation stamp %d, not %d", last.id, last.gs, c.block.GenStamp)
	}
	gs := cairn.GenStamp(ns.nextGenStamp)
	ns.nextGenStamp++
	return gs
}

// applyUpdatePipeline gives the writer's last block its new generation
// stamp and pipeline.
func (ns *namespace) applyUpdatePipeline(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	if err := checkLastBlock(ns, u, c.block.ID); err != nil {
		return err
	}
	last := ns.lastBlock(u.f)
	if c.block.GenStamp <= last.gs || uint64(c.block.GenStamp) >= ns.nextGenStamp {
		return errf(cairn.Invalid, "generation stamp %d of block %d was not allocated after %d", c.block.GenStamp, last.id, last.gs)
	}
	ns.restamp(last, c.block.GenStamp, c.targets)
	u.expected = c.targets
	return nil
}

// restamp gives b a new generation stamp: replicas reported with the
// old one no longer count, and are deleted on the nodes that are not
// to hold the new one.
func (ns *namespace) restamp(b *blockInfo, gs cairn.GenStamp, keep []cairn.NodeID) {
	old := b.block()
	b.gs = gs
	keepIdx := ns.reg.indexes(keep)
	for _, r := range slices.Clone(b.replicas) {
		if !slices.Contains(keepIdx, r.node) {
			ns.reg.queueDelete(r.node, old)
		}
		ns.removeReplica(b, r.node)
	}
}

// blockRecoveries tracks the RECOVER_BLOCK commands of lease recovery,
// in memory on the leader.
type blockRecoveries struct {
	mu      sync.Mutex
	pending map[cairn.BlockID]*blockRecovery
	queued  map[uint32][]Command // by registry index: commands not yet sent
}

type blockRecovery struct {
	gs       cairn.GenStamp // the generation stamp the recovery gives the block
	started  time.Time      // when the current attempt was queued
	sent     bool           // its primary took the command in a heartbeat reply
	tried    []uint32       // the primaries asked so far
	attempts int
}

func newBlockRecoveries() *blockRecoveries {
	return &blockRecoveries{pending: make(map[cairn.BlockID]*blockRecovery), queued: make(map[uint32][]Command)}
}

// commands takes the RECOVER_BLOCK commands queued for a node.
func (r *blockRecoveries) commands(node uint32) []Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.queued[node]
	delete(r.queued, node)
	for _, c := range out {
		if p := r.pending[c.Blocks[0].ID]; p != nil && p.gs == c.NewGenStamp {
			p.sent = true
		}
	}
	return out
}

// unqueue drops a command not yet sent for block id.
func (r *blockRecoveries) unqueue(id cairn.BlockID) {
	for node, cmds := range r.queued {
		cmds = slices.DeleteFunc(cmds, func(c Command) bool { return c.Blocks[0].ID == id })
		if len(cmds) == 0 {
			delete(r.queued, node)
		} else {
			r.queued[node] = cmds
		}
	}
}

// maxBlockRecoveryAttempts is how many primaries that took the command
// are given a chance before the file is closed with what the NameNode
// knows.
const maxBlockRecoveryAttempts = 3

// blockRecoveryTimeout is how long a primary that took a RECOVER_BLOCK
// command has to report.
func (s *Server) blockRecoveryTimeout() time.Duration {
	return max(10*s.cfg.HeartbeatInterval, 5*time.Second)
}

// pickupTimeout is how long a RECOVER_BLOCK command may wait for its
// primary's heartbeat.
func (s *Server) pickupTimeout() time.Duration {
	return max(2*s.cfg.HeartbeatInterval, time.Second)
}

// startBlockRecovery starts, or lets run, the synchronization of the
// uncommitted last block of a file whose lease expired: a new
// generation stamp is logged and a primary among the block's expected
// nodes gets a RECOVER_BLOCK command; its CommitBlockSynchronization
// closes the file. The primary is the live node heard from last; a
// primary that does not take the command within pickupTimeout, or does
// not report within blockRecoveryTimeout, is replaced by another node
// heard from since, with a fresh generation stamp. It reports false when
// the file should be closed the simple way instead: no last block to
// recover, no node of it heard from, or every attempt failed.
func (s *Server) startBlockRecovery(ctx context.Context, r recovery) bool {
	if r.cmd.flags&flagHasBlock == 0 {
		return false
	}
	now := s.now()
	s.ns.mu.RLock()
	u := s.ns.uc[r.fileID]
	var last *blockInfo
	var nodes []*datanode
	if u != nil {
		last = s.ns.lastBlock(u.f)
		for _, idx := range s.ns.expectedNodes(u) {
			if d := s.reg.node(idx); d != nil {
				nodes = append(nodes, d)
			}
		}
	}
	var blk cairn.Block
	if last != nil {
		blk = last.block()
	}
	committed := last == nil || last.committed
	s.ns.mu.RUnlock()
	if committed || len(nodes) == 0 || blk.ID != r.cmd.block.ID {
		return false
	}

	s.recov.mu.Lock()
	p := s.recov.pending[blk.ID]
	since := time.Time{}
	if p != nil {
		switch {
		case !p.sent && now.Sub(p.started) < s.pickupTimeout(),
			p.sent && now.Sub(p.started) < s.blockRecoveryTimeout():
			s.recov.mu.Unlock()
			return true // running
		case p.sent && p.attempts >= maxBlockRecoveryAttempts:
			delete(s.recov.pending, blk.ID)
			s.recov.mu.Unlock()
			s.log.Warn("block recovery gave up; closing the file with the replicas reported", "path", r.path, "block", blk.ID)
			return false
		}
		// The primary did not take the command, or did not report:
		// another node, one heard from since.
		s.recov.unqueue(blk.ID)
		since = p.started
	}
	var primary *datanode
	var newest int64
	for _, d := range nodes {
		hb := d.lastHeartbeat.Load()
		st := s.reg.state(d, now.UnixNano())
		if (st != stateLive && st != stateStale) || hb <= since.UnixNano() || (p != nil && slices.Contains(p.tried, d.idx)) {
			continue
		}
		if primary == nil || hb > newest {
			primary, newest = d, hb
		}
	}
	if primary == nil && p == nil {
		// Every node that holds the last block's bytes is down. Closing
		// now would drop acknowledged bytes that are on their disks,
		// so the file stays open until one of them comes back, as in
		// HDFS.
		s.recov.mu.Unlock()
		s.log.Debug("block recovery waits for a node of the block", "path", r.path, "block", blk.ID)
		return true
	}
	if primary == nil {
		delete(s.recov.pending, blk.ID)
		s.recov.mu.Unlock()
		if p != nil {
			s.log.Warn("block recovery: no node of the block answers; closing the file with the replicas reported", "path", r.path, "block", blk.ID)
		}
		return false
	}
	np := &blockRecovery{started: now}
	if p != nil {
		np.tried, np.attempts = p.tried, p.attempts
	}
	np.tried = append(np.tried, primary.idx)
	if p == nil || p.sent {
		np.attempts++
	}
	// Hold the slot while the generation stamp is logged.
	s.recov.pending[blk.ID] = np
	s.recov.mu.Unlock()

	v, err := s.propose(ctx, &command{op: opNewGenStamp, fileID: r.fileID, block: blk})
	if err != nil {
		s.log.Warn("block recovery: cannot allocate a generation stamp", "path", r.path, "block", blk.ID, "err", err)
		return true
	}
	gs := v.(cairn.GenStamp)
	infos := make([]cairn.DatanodeInfo, len(nodes))
	for i, d := range nodes {
		infos[i] = d.addr.Load().info
	}
	s.recov.mu.Lock()
	np.gs = gs
	np.started = s.now()
	s.recov.queued[primary.idx] = append(s.recov.queued[primary.idx], Command{
		Type:        CommandRecoverBlock,
		Blocks:      []cairn.Block{blk},
		Targets:     infos,
		NewGenStamp: gs,
	})
	s.recov.mu.Unlock()
	s.log.Info("lease expired: block recovery started", "path", r.path, "holder", r.holder, "block", blk.ID,
		"newGenStamp", gs, "primary", primary.addr.Load().info.Addr, "nodes", len(nodes), "attempt", np.attempts)
	return true
}

// CommitBlockSynchronization closes a file whose last block a primary
// DataNode has synchronized: the block gets its new generation stamp
// and length (or is dropped), the nodes that hold it become its
// replicas, and the file is closed, through the log.
func (s *Server) CommitBlockSynchronization(ctx context.Context, node cairn.NodeID, nb cairn.Block, oldGS cairn.GenStamp, nodes []cairn.NodeID, drop bool) error {
	if err := s.writable(); err != nil {
		return err
	}
	s.recov.mu.Lock()
	p := s.recov.pending[nb.ID]
	stale := p == nil || p.gs != nb.GenStamp
	s.recov.mu.Unlock()
	s.ns.mu.RLock()
	b := s.ns.blocks[nb.ID]
	var u *ucFile
	if b != nil && b.file != nil {
		u = s.ns.uc[b.file.id]
	}
	switch {
	case b == nil:
		s.ns.mu.RUnlock()
		return errf(cairn.NotExist, "block %d no longer exists", nb.ID)
	case u == nil && b.gs == nb.GenStamp && b.len == nb.Len:
		// Already done: a retry.
		s.ns.mu.RUnlock()
		return nil
	case u == nil || s.ns.lastBlock(u.f) != b || b.committed:
		s.ns.mu.RUnlock()
		return errf(cairn.Invalid, "block %d is not the last block of a file being written", nb.ID)
	case stale:
		s.ns.mu.RUnlock()
		return errf(cairn.Invalid, "generation stamp %d is not that of the block's current recovery", nb.GenStamp)
	case nb.Len < 0 || nb.Len > u.f.blkSize:
		s.ns.mu.RUnlock()
		return errf(cairn.Invalid, "block %d length %d out of range", nb.ID, nb.Len)
	}
	c := command{op: opCloseFile, fileID: u.f.id, clientName: u.holder, mtime: s.now().UnixNano(), flags: flagHasBlock, block: nb, targets: nodes}
	if drop {
		c.flags |= flagDropLast
		c.targets = nil
	}
	path := u.f.path()
	s.ns.mu.RUnlock()
	if _, err := s.propose(ctx, &c); err != nil {
		return err
	}
	s.recov.mu.Lock()
	delete(s.recov.pending, nb.ID)
	s.recov.mu.Unlock()
	s.log.Info("lease recovered: last block synchronized, file closed", "path", path, "block", nb.ID,
		"genStamp", nb.GenStamp, "len", nb.Len, "replicas", len(nodes), "dropped", drop, "primary", node)
	return nil
}

// reportRbw handles the unfinalized replicas of a full block report:
// those of the uncommitted last block of a file being written, with
// its current generation stamp or newer, wait for recovery; any other
// is stale and deleted.
func (s *Server) reportRbw(id cairn.NodeID, rbw []cairn.Block) {
	if len(rbw) == 0 {
		return
	}
	d := s.reg.lookup(id)
	if d == nil {
		return
	}
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	for _, rb := range rbw {
		b := s.ns.blocks[rb.ID]
		if b != nil && !b.committed && b.file != nil && rb.GenStamp >= b.gs {
			if u := s.ns.uc[b.file.id]; u != nil && s.ns.lastBlock(u.f) == b {
				continue
			}
		}
		s.reg.queueDelete(d.idx, rb)
	}
}

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
	u, err := s.findWriter(ctx, p, fileID, client)
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
	u, err := s.findWriter(ctx, p, fileID, client)
	if err == nil {
		fileID = u.f.id
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	v, err := s.mutate(ctx, &command{op: opNewGenStamp, fileID: fileID, clientName: client, block: blk})
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
	u, err := s.findWriter(ctx, p, fileID, client)
	if err == nil {
		fileID = u.f.id
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return err
	}
	_, err = s.mutate(ctx, &command{op: opUpdatePipeline, fileID: fileID, clientName: client, block: blk, targets: nodes})
	return err
}

// applyNewGenStamp allocates a generation stamp for the uncommitted
// last block of a file being written, which must have the generation
// stamp c.block.GenStamp. With a client name, that client must hold the
// lease (pipeline recovery); without, it is lease recovery, and with
// flagLeaseRecovery the lease passes to leaseRecoveryHolder.
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
	if c.flags&flagLeaseRecovery != 0 {
		// The lease passes to the NameNode: the old writer may no
		// longer change the file.
		u.holder = leaseRecoveryHolder
	}
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

// blockRecoveries tracks the block synchronizations of lease recovery
// (RECOVER_BLOCK commands), in memory on the leader. Lock order:
// namespace.mu before mu.
type blockRecoveries struct {
	mu      sync.Mutex
	pending map[cairn.BlockID]*blockRecovery
	queued  map[uint32][]Command // by registry index: commands not yet sent
}

// recoveryStep is where a block recovery stands.
type recoveryStep uint8

const (
	stepIdle       recoveryStep = iota // no attempt running
	stepAllocating                     // its generation stamp is being logged
	stepRunning                        // its command is queued, sent or taken
)

type blockRecovery struct {
	fileID   uint64
	step     recoveryStep
	gs       cairn.GenStamp // the running attempt's generation stamp
	primary  uint32         // the running attempt's primary
	issued   time.Time      // when the running attempt's command was queued
	taken    time.Time      // when its primary acked it; zero: not yet
	tried    []uint32       // primaries asked so far in this round
	failures int            // attempts used up: taken, and no report in time
	switches int            // primaries replaced because they did not take the command
	next     time.Time      // no new attempt before this
	warned   bool           // the attempts ran out and it was said
}

func newBlockRecoveries() *blockRecoveries {
	return &blockRecoveries{pending: make(map[cairn.BlockID]*blockRecovery), queued: make(map[uint32][]Command)}
}

// dropQueued forgets the RECOVER_BLOCK commands not sent yet: they were
// decided in another term. The recoveries themselves time out and are
// tried again by the leader that owns them then.
func (r *blockRecoveries) dropQueued() {
	r.mu.Lock()
	clear(r.queued)
	r.mu.Unlock()
}

// commands takes the RECOVER_BLOCK commands queued for a node.
func (r *blockRecoveries) commands(node uint32) []Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.queued[node]
	delete(r.queued, node)
	return out
}

// taken records that node acked RECOVER_BLOCK commands: the primary
// works on them from now.
func (r *blockRecoveries) taken(node uint32, cmds []Command, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cmds {
		if p := r.pending[c.Blocks[0].ID]; p != nil && p.step == stepRunning && p.gs == c.NewGenStamp && p.primary == node && p.taken.IsZero() {
			p.taken = now
		}
	}
}

// current says whether gs and node are the running attempt of the
// recovery of block id.
func (r *blockRecoveries) current(id cairn.BlockID, gs cairn.GenStamp, node uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[id]
	return p != nil && p.step == stepRunning && p.gs == gs && p.primary == node
}

// endAttempt ends p's running attempt. The caller holds r.mu.
func (r *blockRecoveries) endAttempt(id cairn.BlockID, p *blockRecovery) {
	for node, cmds := range r.queued {
		cmds = slices.DeleteFunc(cmds, func(c Command) bool { return c.Blocks[0].ID == id })
		if len(cmds) == 0 {
			delete(r.queued, node)
		} else {
			r.queued[node] = cmds
		}
	}
	p.step, p.gs, p.taken = stepIdle, 0, time.Time{}
}

// prune forgets the recoveries of blocks that are no longer the
// uncommitted last block of a file being written (closed, deleted,
// abandoned), and returns the files of those that remain. The caller
// holds ns.mu.
func (r *blockRecoveries) prune(ns *namespace) map[uint64]struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	files := make(map[uint64]struct{}, len(r.pending))
	for id, p := range r.pending {
		u := ns.uc[p.fileID]
		if u == nil || ns.lastBlock(u.f) == nil || ns.lastBlock(u.f).id != id || ns.lastBlock(u.f).committed {
			r.endAttempt(id, p)
			delete(r.pending, id)
			continue
		}
		files[p.fileID] = struct{}{}
	}
	return files
}

// maxBlockRecoveryAttempts is how many attempts of a block recovery may
// be used up (their primary took the command and did not report in
// time) before the file is closed with what the reports say, if that
// cannot lose a byte.
const maxBlockRecoveryAttempts = 3

// maxRecoveryWait bounds the wait between two attempts.
const maxRecoveryWait = 5 * time.Minute

// blockRecoveryTimeout is how long a primary that took a RECOVER_BLOCK
// command has to report.
func (s *Server) blockRecoveryTimeout() time.Duration {
	return max(10*s.cfg.HeartbeatInterval, 5*time.Second)
}

// pickupTimeout is how long a RECOVER_BLOCK command waits to be taken
// by its primary before another node is asked, if one can be.
func (s *Server) pickupTimeout() time.Duration {
	return max(2*s.cfg.HeartbeatInterval, time.Second)
}

// backoff is the k-th (from 0) wait of a series: pickupTimeout doubled
// k times, at most maxRecoveryWait.
func (s *Server) backoff(k int) time.Duration {
	return min(s.pickupTimeout()<<min(k, 16), maxRecoveryWait)
}

// recoveryNodes lists the nodes a synchronization of last, the
// uncommitted last block of u, asks: every node that may hold bytes of
// it (the pipeline, the finalized replicas, the replicas held
// unfinalized or with a newer generation stamp), but not those whose
// replica is known corrupt (marked so, or queued for deletion), unless
// no other is left: then those. bad lists the nodes with a corrupt
// replica. The caller holds ns.mu.
func (s *Server) recoveryNodes(u *ucFile, last *blockInfo) (nodes, bad []*datanode) {
	corrupt := func(idx uint32) bool {
		i := last.replicaIndex(idx)
		return i >= 0 && last.replicas[i].corrupt() || s.ns.isInvalid(last.id, idx)
	}
	var all []uint32
	add := func(idx uint32) {
		if !slices.Contains(all, idx) {
			all = append(all, idx)
		}
	}
	for _, idx := range s.ns.expectedNodes(u) {
		add(idx)
	}
	for _, r := range last.replicas {
		add(r.node)
	}
	for _, h := range s.ns.unfinal[last.id] {
		add(h.node)
	}
	for _, idx := range all {
		d := s.reg.node(idx)
		switch {
		case d == nil:
		case corrupt(idx):
			bad = append(bad, d)
		default:
			nodes = append(nodes, d)
		}
	}
	if len(nodes) == 0 {
		return bad, bad
	}
	return nodes, bad
}

// choosePrimary picks the primary of a block synchronization among
// nodes: one that is up (not dead), not in exclude nor in bad, heard
// from last. With every node of the block bad (known corrupt), any
// live node in service that is not bad will do: the primary need not
// hold a replica, and a corrupt one never leads a recovery.
func (s *Server) choosePrimary(nodes, bad []*datanode, exclude []uint32, now int64) *datanode {
	cands := nodes
	if len(nodes) > 0 && len(nodes) == len(bad) {
		cands = nil
		for _, d := range s.reg.all() {
			if s.reg.state(d, now) == stateLive {
				cands = append(cands, d)
			}
		}
	}
	var best *datanode
	var newest int64
	for _, d := range cands {
		if slices.Contains(bad, d) || slices.Contains(exclude, d.idx) || s.reg.state(d, now) == stateDead {
			continue
		}
		if hb := d.lastHeartbeat.Load(); best == nil || hb > newest {
			best, newest = d, hb
		}
	}
	return best
}

// driveRecovery starts, watches or restarts the synchronization of the
// uncommitted last block of a file under lease recovery (r.block): an
// attempt logs a new generation stamp and queues a RECOVER_BLOCK
// command for a primary (choosePrimary), whose
// CommitBlockSynchronization closes the file with the block as the
// nodes agreed on it. What happens to an attempt:
//
//   - its primary does not take the command (no ack) within
//     pickupTimeout: it is late (a restart, a heartbeat held up) or its
//     replies are lost (the command is sent again meanwhile). Another
//     node of the block that can lead replaces it, with a fresh
//     generation stamp, each replacement waiting twice as long as the
//     last; with no other node, the attempt goes on waiting for this
//     one. Neither uses up an attempt;
//   - its primary dies before taking it: another node, at once,
//     without using up an attempt;
//   - its primary took it and has not reported within
//     blockRecoveryTimeout: the attempt is used up (it failed), and
//     the next one waits a backoff (pickupTimeout doubled per used-up
//     attempt, at most maxRecoveryWait).
//
// With no node of the block up, nothing happens until one is: the
// bytes on their disks were acknowledged. After
// maxBlockRecoveryAttempts used-up attempts the file is closed with the
// replicas the nodes reported finalized, if they agree (the block was
// written to its end, so no byte is lost); otherwise attempts go on,
// at the longest backoff, and the file stays open: never is a last
// block dropped or cut that a node may still hold.
func (s *Server) driveRecovery(ctx context.Context, r recovery) {
	nowT := s.now()
	now := nowT.UnixNano()
	s.ns.mu.RLock()
	u := s.ns.uc[r.fileID]
	var last *blockInfo
	if u != nil {
		last = s.ns.lastBlock(u.f)
	}
	if last == nil || last.committed || last.id != r.block.ID {
		s.ns.mu.RUnlock()
		return
	}
	blk := last.block()
	nodes, bad := s.recoveryNodes(u, last)
	targets := nodes
	s.ns.mu.RUnlock()

	rc := s.recov
	rc.mu.Lock()
	p := rc.pending[blk.ID]
	if p == nil {
		p = &blockRecovery{fileID: r.fileID}
		rc.pending[blk.ID] = p
	}
	switch p.step {
	case stepAllocating:
		rc.mu.Unlock()
		return
	case stepRunning:
		d := s.reg.node(p.primary)
		switch {
		case !p.taken.IsZero() && nowT.Sub(p.taken) < s.blockRecoveryTimeout():
			rc.mu.Unlock()
			return // the primary works on it
		case !p.taken.IsZero():
			p.failures++
			p.next = nowT.Add(s.backoff(p.failures - 1))
			rc.endAttempt(blk.ID, p)
			s.log.Warn("block recovery: the primary took the command and did not report; attempt used up",
				"path", r.path, "block", blk.ID, "primary", s.nodeID(p.primary), "failures", p.failures)
		case d == nil || s.reg.state(d, now) == stateDead:
			rc.endAttempt(blk.ID, p)
		case nowT.Sub(p.issued) < s.backoff(p.switches):
			rc.mu.Unlock()
			return // waiting for the primary to take it
		default:
			alt := s.choosePrimary(nodes, bad, append(slices.Clone(p.tried), p.primary), now)
			if alt == nil {
				rc.mu.Unlock()
				return // no other node: this one is only late
			}
			p.switches++
			s.log.Info("block recovery: the primary has not taken the command; asking another node",
				"path", r.path, "block", blk.ID, "primary", s.nodeID(p.primary), "next", alt.id)
			rc.endAttempt(blk.ID, p)
		}
	}
	if nowT.Before(p.next) {
		rc.mu.Unlock()
		return
	}
	if p.failures >= maxBlockRecoveryAttempts {
		rc.mu.Unlock()
		if s.closeFinalized(ctx, r) {
			return
		}
		rc.mu.Lock()
		if !p.warned {
			p.warned = true
			s.log.Error("block recovery failed every attempt and no finalized replica settles the block: the file stays open, recovery goes on",
				"path", r.path, "block", blk.ID, "failures", p.failures)
		}
	}
	primary := s.choosePrimary(nodes, bad, p.tried, now)
	if primary == nil && len(p.tried) > 0 {
		p.tried = nil // every node was asked: a new round
		primary = s.choosePrimary(nodes, bad, nil, now)
	}
	if primary == nil {
		// No node of the block is up: closing now would lose the
		// acknowledged bytes on their disks. Wait, as HDFS does.
		rc.mu.Unlock()
		s.log.Debug("block recovery waits for a node of the block", "path", r.path, "block", blk.ID)
		return
	}
	p.step, p.primary, p.issued = stepAllocating, primary.idx, nowT
	p.tried = append(p.tried, primary.idx)
	rc.mu.Unlock()

	v, err := s.mutate(ctx, &command{op: opNewGenStamp, fileID: r.fileID, block: blk, flags: flagLeaseRecovery})
	rc.mu.Lock()
	if err != nil {
		p.step = stepIdle
		rc.mu.Unlock()
		if cairn.KindOf(err) != cairn.LeaseConflict && ctx.Err() == nil {
			s.log.Warn("block recovery: cannot allocate a generation stamp", "path", r.path, "block", blk.ID, "err", err)
		}
		return
	}
	gs := v.(cairn.GenStamp)
	infos := make([]cairn.DatanodeInfo, len(targets))
	for i, d := range targets {
		infos[i] = d.addr.Load().info
	}
	p.step, p.gs, p.issued, p.taken = stepRunning, gs, s.now(), time.Time{}
	rc.queued[primary.idx] = append(rc.queued[primary.idx], Command{
		Type:        CommandRecoverBlock,
		Blocks:      []cairn.Block{blk},
		Targets:     infos,
		NewGenStamp: gs,
	})
	attempt := p.failures + 1
	rc.mu.Unlock()
	s.log.Info("lease recovery: block recovery started", "path", r.path, "holder", r.holder, "block", blk.ID,
		"newGenStamp", gs, "primary", primary.addr.Load().info.Addr, "nodes", len(infos), "attempt", attempt)
}

// closeFinalized closes the file of r with its last block at the
// length of the replicas reported finalized at the newest generation
// stamp, when they agree on it and no replica is newer: the block was
// written to its end there, so no acknowledged byte is lost. It reports
// whether it closed the file.
func (s *Server) closeFinalized(ctx context.Context, r recovery) bool {
	s.ns.mu.RLock()
	u := s.ns.uc[r.fileID]
	var last *blockInfo
	if u != nil {
		last = s.ns.lastBlock(u.f)
	}
	if last == nil || last.committed || last.id != r.block.ID {
		s.ns.mu.RUnlock()
		return false
	}
	gs, length := last.gs, int64(-1)
	var nodes []cairn.NodeID
	ok := true
	take := func(g cairn.GenStamp, n int64, node uint32) {
		switch {
		case g > gs || length < 0:
			gs, length, nodes = g, n, nil
		case g < gs:
			return
		case n != length:
			ok = false
		}
		nodes = append(nodes, s.nodeID(node))
	}
	for _, rp := range last.replicas {
		if !rp.corrupt() {
			take(last.gs, rp.len, rp.node)
		}
	}
	for _, h := range s.ns.unfinal[last.id] {
		if h.finalized && !s.ns.isInvalid(last.id, h.node) {
			take(h.gs, h.len, h.node)
		}
	}
	for _, h := range s.ns.unfinal[last.id] {
		if !h.finalized && h.gs > gs {
			ok = false // written again since
		}
	}
	c := command{op: opCloseFile, fileID: u.f.id, clientName: u.holder, mtime: s.now().UnixNano(),
		flags: flagHasBlock, block: cairn.Block{ID: last.id, GenStamp: gs, Len: length}, targets: nodes}
	s.ns.mu.RUnlock()
	if !ok || length < 0 {
		return false
	}
	if r.temp {
		c.flags |= flagRemoveFile
	}
	if _, err := s.mutate(ctx, &c); err != nil {
		s.log.Warn("lease recovery: cannot close the file", "path", r.path, "err", err)
		return false
	}
	s.log.Warn("block recovery failed every attempt; file closed with its finalized replicas",
		"path", r.path, "block", last.id, "genStamp", gs, "len", length, "replicas", len(nodes))
	return true
}

// CommitBlockSynchronization closes a file whose last block a primary
// DataNode has synchronized: the block gets its new generation stamp
// and length (or is dropped, when no node had any of it), the nodes
// that hold it become its replicas, and the file is closed, through
// the log; a put's temporary is then removed.
func (s *Server) CommitBlockSynchronization(ctx context.Context, node cairn.NodeID, nb cairn.Block, oldGS cairn.GenStamp, nodes []cairn.NodeID, drop bool) error {
	if err := s.writable(); err != nil {
		return err
	}
	s.recov.mu.Lock()
	p := s.recov.pending[nb.ID]
	stale := p == nil || p.step != stepRunning || p.gs != nb.GenStamp
	s.recov.mu.Unlock()
	s.ns.mu.RLock()
	b := s.ns.blocks[nb.ID]
	var u *ucFile
	if b != nil && b.file != nil {
		u = s.ns.uc[b.file.id]
	}
	switch {
	case b == nil && !stale:
		// Dropped by this very recovery, or the file removed.
		s.ns.mu.RUnlock()
		return nil
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
	temp := isTemporary(u.f.name)
	if temp {
		c.flags |= flagRemoveFile
	}
	path := u.f.path()
	s.ns.mu.RUnlock()
	if _, err := s.mutate(ctx, &c); err != nil {
		return err
	}
	s.recov.mu.Lock()
	if p := s.recov.pending[nb.ID]; p != nil {
		s.recov.endAttempt(nb.ID, p)
		delete(s.recov.pending, nb.ID)
	}
	s.recov.mu.Unlock()
	s.log.Info("lease recovered: last block synchronized, file closed", "path", path, "block", nb.ID,
		"genStamp", nb.GenStamp, "len", nb.Len, "replicas", len(nodes), "dropped", drop, "primary", node,
		"temporaryRemoved", temp)
	return nil
}

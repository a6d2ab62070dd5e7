package datanode

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The commands of heartbeat replies: delivered at least once, run at
// most once per id, and idempotent besides. See doc.go, "Commands".

// maxSeenCommands bounds the command ids remembered as run.
const maxSeenCommands = 4096

// maxRecoveriesKept bounds the finished block recoveries remembered, to
// answer a repeated RECOVER_BLOCK with the outcome already found.
const maxRecoveriesKept = 1024

// commandLog remembers the commands taken from heartbeat replies: the
// ids to acknowledge in the next heartbeat, kept until a heartbeat
// carrying them succeeds, and the recent ids already run.
type commandLog struct {
	acks  []uint64
	seen  map[uint64]bool
	order []uint64 // ids of seen, oldest first
}

// take records command id as received, to be acknowledged, and reports
// whether it is to be run (not run before).
func (l *commandLog) take(id uint64) bool {
	if id == 0 {
		return true // an id the NameNode does not track
	}
	if !slices.Contains(l.acks, id) {
		l.acks = append(l.acks, id)
	}
	if l.seen[id] {
		return false
	}
	if l.seen == nil {
		l.seen = make(map[uint64]bool)
	}
	l.seen[id] = true
	l.order = append(l.order, id)
	if len(l.order) > maxSeenCommands {
		delete(l.seen, l.order[0])
		l.order = l.order[1:]
	}
	return true
}

// ack records command id as received, to be acknowledged, but not as
// run: a command refused (see DataNode.acceptCommand).
func (l *commandLog) ack(id uint64) {
	if id != 0 && !slices.Contains(l.acks, id) {
		l.acks = append(l.acks, id)
	}
}

// acked forgets ids that a successful heartbeat carried.
func (l *commandLog) acked(ids []uint64) {
	l.acks = slices.DeleteFunc(l.acks, func(id uint64) bool { return slices.Contains(ids, id) })
}

func (l *commandLog) reset() { *l = commandLog{} }

func (n *nnSession) take(id uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmds.take(id)
}

func (n *nnSession) ack(id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmds.ack(id)
}

func (n *nnSession) pendingAcks() []uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.cmds.acks)
}

func (n *nnSession) acked(ids []uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmds.acked(ids)
}

// command runs one command from a heartbeat reply (REREGISTER aside).
// Each kind is idempotent: a DELETE_BLOCKS of a replica not here
// reports it deleted all the same; a COPY_BLOCKS of a block already
// being copied to the same targets is not started again; a
// RECOVER_BLOCK of a recovery running or done is not run again (see
// startRecovery).
func (n *nnSession) command(ctx context.Context, c *protocol.Command, wg *sync.WaitGroup) {
	d := n.d
	switch c.Type {
	case protocol.Command_DELETE_BLOCKS:
		deleted, busy := 0, 0
		for _, b := range protocol.BlocksFromProto(c.Blocks) {
			_, ok, inUse := d.store.remove(b)
			switch {
			case ok:
				deleted++ // reported by the store
			case inUse:
				// Being written or recovered: its next report
				// tells the NameNode where it stands.
				busy++
				d.log.Info("not deleting a replica in use", "block", blockName(b))
			default:
				// Not here: tell the NameNode anyway, so it stops
				// asking.
				d.notify(replicaEvent{kind: evDeleted, block: b})
			}
		}
		d.log.Debug("deleted replicas", "count", deleted, "busy", busy)
	case protocol.Command_COPY_BLOCKS:
		targets := protocol.DatanodesFromProto(c.Targets)
		for _, b := range protocol.BlocksFromProto(c.Blocks) {
			key := copyKey(b, targets)
			d.cmd.mu.Lock()
			if d.cmd.copying == nil {
				d.cmd.copying = make(map[string]bool)
			}
			dup := d.cmd.copying[key]
			d.cmd.copying[key] = true
			d.cmd.mu.Unlock()
			if dup {
				d.log.Debug("block copy already under way", "block", blockName(b))
				continue
			}
			d.store.hook(StepCopyStart, b)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					d.cmd.mu.Lock()
					delete(d.cmd.copying, key)
					d.cmd.mu.Unlock()
				}()
				select {
				case d.cmd.copies <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-d.cmd.copies }()
				if err := n.copyBlock(ctx, b, targets); err != nil {
					d.log.Warn("block copy failed", "block", blockName(b), "err", err)
				}
			}()
		}
	case protocol.Command_RECOVER_BLOCK:
		n.startRecovery(ctx, c, wg)
	default:
		d.log.Debug("ignoring command", "type", c.Type)
	}
}

// copyKey names a copy of b to targets.
func copyKey(b cairn.Block, targets []cairn.DatanodeInfo) string {
	var sb strings.Builder
	sb.WriteString(blockName(b))
	for _, t := range targets {
		sb.WriteString(" ")
		sb.WriteString(string(t.ID))
		sb.WriteString("@")
		sb.WriteString(t.Addr)
	}
	return sb.String()
}

// commandState is what the DataNode knows of the commands it runs,
// whichever NameNode sent them: the block copies under way (and the
// semaphore bounding them) and the block recoveries, so that the same
// work asked twice, by one NameNode or by two, runs once.
type commandState struct {
	copies chan struct{} // semaphore of COPY_BLOCKS transfers

	mu         sync.Mutex // guards the fields below
	copying    map[string]bool
	recoveries map[cairn.BlockID]*recoveryRun
}

func newCommandState() commandState {
	return commandState{copies: make(chan struct{}, 4)}
}

// recoveryRun is what this node, as primary, knows of the recoveries
// of a block: the one running or last done.
type recoveryRun struct {
	gs      cairn.GenStamp // the recovery's new generation stamp
	running bool
	// commit is the outcome of the run, once done, sent again when the
	// NameNode asks for the same recovery again (it may not have had
	// the first answer); nil if the run failed.
	commit *protocol.CommitBlockSynchronizationRequest
	// next is a command for a newer recovery that came while this one
	// ran, and nextFrom the session it came from; it starts when this
	// one ends.
	next     *protocol.Command
	nextFrom *nnSession
	done     uint64 // order in which runs ended, for forgetting the oldest
}

// startRecovery runs a RECOVER_BLOCK command in the background, one at
// a time per block. A recovery to the same generation stamp as one
// running is not started again; as one done, its outcome is sent again
// instead of running it again; a newer one waits for the running one.
func (n *nnSession) startRecovery(ctx context.Context, c *protocol.Command, wg *sync.WaitGroup) {
	d := n.d
	blocks := protocol.BlocksFromProto(c.Blocks)
	if len(blocks) != 1 || len(c.Targets) == 0 {
		d.log.Warn("ignoring a malformed RECOVER_BLOCK command", "blocks", len(blocks), "targets", len(c.Targets))
		return
	}
	b := blocks[0]
	gs := cairn.GenStamp(c.NewGenStamp)
	d.cmd.mu.Lock()
	if d.cmd.recoveries == nil {
		d.cmd.recoveries = make(map[cairn.BlockID]*recoveryRun)
	}
	run := d.cmd.recoveries[b.ID]
	switch {
	case run != nil && run.running && run.gs == gs:
		d.cmd.mu.Unlock()
		d.log.Debug("block recovery already running", "block", blockName(b), "newGenStamp", gs)
		return
	case run != nil && run.running:
		if gs > run.gs && (run.next == nil || gs > cairn.GenStamp(run.next.NewGenStamp)) {
			run.next, run.nextFrom = c, n
		}
		d.cmd.mu.Unlock()
		return
	case run != nil && run.gs == gs && run.commit != nil:
		commit := run.commit
		d.cmd.mu.Unlock()
		d.log.Info("block recovery already done; sending its outcome again", "block", blockName(b), "newGenStamp", gs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.sendCommit(ctx, commit); err != nil && ctx.Err() == nil {
				d.log.Warn("cannot report a block recovery", "block", blockName(b), "err", err)
			}
		}()
		return
	case run != nil && run.gs > gs:
		d.cmd.mu.Unlock()
		d.log.Info("ignoring a block recovery older than one done", "block", blockName(b), "newGenStamp", gs, "done", run.gs)
		return
	}
	run = &recoveryRun{gs: gs, running: true}
	d.cmd.recoveries[b.ID] = run
	d.cmd.mu.Unlock()
	d.store.hook(StepRecoveryStart, cairn.Block{ID: b.ID, GenStamp: gs})
	wg.Add(1)
	go func() {
		defer wg.Done()
		commit, err := n.recoverBlock(ctx, b, protocol.DatanodesFromProto(c.Targets), gs)
		if err == nil {
			err = d.sendCommit(ctx, commit)
		}
		if err != nil && ctx.Err() == nil {
			d.log.Warn("block recovery failed", "block", blockName(b), "err", err)
		}
		d.cmd.mu.Lock()
		run.running = false
		run.commit = commit
		next, from := run.next, run.nextFrom
		run.next, run.nextFrom = nil, nil
		d.cmd.forgetOldRecoveries(run)
		d.cmd.mu.Unlock()
		if next != nil && ctx.Err() == nil {
			from.startRecovery(ctx, next, wg)
		}
	}()
}

// forgetOldRecoveries keeps at most maxRecoveriesKept finished runs;
// c.mu must be held. just is the run that just ended.
func (c *commandState) forgetOldRecoveries(just *recoveryRun) {
	var order uint64
	for _, r := range c.recoveries {
		order = max(order, r.done)
	}
	just.done = order + 1
	if len(c.recoveries) <= maxRecoveriesKept {
		return
	}
	var oldest cairn.BlockID
	var oldestDone uint64
	for id, r := range c.recoveries {
		if !r.running && r != just && (oldestDone == 0 || r.done < oldestDone) {
			oldest, oldestDone = id, r.done
		}
	}
	if oldestDone != 0 {
		delete(c.recoveries, oldest)
	}
}

// sendCommit reports the outcome of a block recovery to the leader
// NameNode (toLeader), which asked for it unless leadership changed
// meanwhile.
func (d *DataNode) sendCommit(ctx context.Context, req *protocol.CommitBlockSynchronizationRequest) error {
	const op = "datanode.CommitBlockSynchronization"
	return d.toLeader(ctx, op, func(ctx context.Context, s *nnSession) error {
		_, err := s.dn.CommitBlockSynchronization(ctx, req)
		return protocol.FromStatus(op, s.addr, err)
	})
}

// commitRequest builds the report of a block recovery.
func (n *nnSession) commitRequest(old, nb cairn.Block, nodes []cairn.NodeID, drop bool) *protocol.CommitBlockSynchronizationRequest {
	ids := make([]string, len(nodes))
	for i, id := range nodes {
		ids[i] = string(id)
	}
	return &protocol.CommitBlockSynchronizationRequest{
		NodeId:      string(n.d.ID()),
		Block:       protocol.BlockToProto(nb),
		OldGenStamp: uint64(old.GenStamp),
		Nodes:       ids,
		DeleteBlock: drop,
	}
}

package namenode

import (
	"slices"
	"time"

	"github.com/cairn-fs/cairn"
)

// Commands to DataNodes are delivered at least once. Every command a
// heartbeat reply carries (DELETE_BLOCKS, COPY_BLOCKS, RECOVER_BLOCK)
// gets an id unique for its node and stays in the node's outbox until
// the id comes back in a later heartbeat's acked_commands: a reply lost
// on the way (a timeout, a reset connection) loses no command. An
// unacked command is sent again in the first reply at least
// resendDelay after it was last sent, the delay doubling with each
// sending up to maxResendDelay: the DataNode acks in its next heartbeat
// every command it took, so by then the ack of a command that arrived
// is in; waiting one heartbeat more than that, rather than sending
// again on the very next heartbeat, spares a duplicate when the
// DataNode's next heartbeat was already on its way as the reply
// arrived. Before it is sent again a command is checked against what
// the NameNode wants now: a copy no longer pending from this node, or a
// block recovery superseded, is dropped; so is, from a deletion, a
// replica that the block map now counts as good on the node. A
// deletion is also done with when the node's incremental report says
// the replica is deleted (which old DataNodes, that do not ack, send).
// An outbox holds at most maxUnacked commands: beyond, the oldest is
// dropped, each kind having its own second chance (a replica queued
// for deletion is deleted again when its node reports it, a copy is
// retried after ReplicationTimeout, a block recovery re-sends its
// command). The DataNode runs each id at most once, and every command
// is idempotent besides.

// maxUnacked bounds the commands kept per node until acked.
const maxUnacked = 256

// maxResendDelay bounds the wait between two sendings of a command.
const maxResendDelay = 30 * time.Second

// resendDelay is how long a command waits for its ack before it is
// sent again: one heartbeat interval and a half.
func resendDelay(heartbeat time.Duration) time.Duration {
	return max(heartbeat*3/2, 10*time.Millisecond)
}

// outbox holds the commands sent to one DataNode and not acked yet.
// Guarded by datanode.mu.
type outbox struct {
	lastID uint64         // the last id given; 0: none yet
	sent   []*sentCommand // in the order first sent
}

type sentCommand struct {
	cmd   Command // with its ID
	sends int     // how many replies carried it
	next  int64   // unix nanoseconds: not sent again before
}

// nextID gives the next command id of the node. Ids start at the
// registry's base (the NameNode's start time), so they also grow
// across restarts of the NameNode.
func (d *datanode) nextID(base uint64) uint64 {
	if d.out.lastID == 0 {
		d.out.lastID = base
	}
	d.out.lastID++
	return d.out.lastID
}

// ack forgets the commands whose ids the node acked, and returns the
// RECOVER_BLOCK commands among them (taken by their primary).
func (d *datanode) ack(ids []uint64) []Command {
	if len(ids) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var recovers []Command
	d.out.sent = slices.DeleteFunc(d.out.sent, func(sc *sentCommand) bool {
		if !slices.Contains(ids, sc.cmd.ID) {
			return false
		}
		if sc.cmd.Type == CommandRecoverBlock {
			recovers = append(recovers, sc.cmd)
		}
		return true
	})
	return recovers
}

// confirmDeleted takes deleted replicas out of the node's unacked
// DELETE_BLOCKS commands: the node did them.
func (d *datanode) confirmDeleted(deleted []cairn.Block) {
	if len(deleted) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.ContainsFunc(d.out.sent, func(sc *sentCommand) bool { return sc.cmd.Type == CommandDeleteBlocks }) {
		return
	}
	gone := make(map[cairn.BlockID]cairn.GenStamp, len(deleted))
	for _, b := range deleted {
		gone[b.ID] = b.GenStamp
	}
	d.out.sent = slices.DeleteFunc(d.out.sent, func(sc *sentCommand) bool {
		if sc.cmd.Type != CommandDeleteBlocks {
			return false
		}
		sc.cmd.Blocks = slices.DeleteFunc(sc.cmd.Blocks, func(b cairn.Block) bool {
			gs, ok := gone[b.ID]
			return ok && (gs == 0 || gs == b.GenStamp)
		})
		return len(sc.cmd.Blocks) == 0
	})
}

// due returns copies of the node's unacked commands due to be sent
// again at now.
func (d *datanode) due(now int64) []Command {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Command
	for _, sc := range d.out.sent {
		if now >= sc.next {
			c := sc.cmd
			c.Blocks = slices.Clone(c.Blocks)
			out = append(out, c)
		}
	}
	return out
}

// resent records that the due commands in keep (by id) are sent again
// at now, and drops the due ones not in keep (no longer wanted), or
// replaces them with their trimmed form.
func (d *datanode) resent(due, keep []Command, now int64, base time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := make(map[uint64]Command, len(keep))
	for _, c := range keep {
		kept[c.ID] = c
	}
	isDue := make(map[uint64]bool, len(due))
	for _, c := range due {
		isDue[c.ID] = true
	}
	d.out.sent = slices.DeleteFunc(d.out.sent, func(sc *sentCommand) bool {
		if !isDue[sc.cmd.ID] {
			return false
		}
		c, ok := kept[sc.cmd.ID]
		if !ok {
			return true
		}
		sc.cmd.Blocks = c.Blocks
		sc.sends++
		sc.next = now + int64(min(base<<min(sc.sends-1, 16), maxResendDelay))
		return false
	})
}

// send gives fresh commands their ids and keeps them until acked.
func (d *datanode) send(cmds []Command, now int64, base time.Duration, idBase uint64) []Command {
	if len(cmds) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range cmds {
		cmds[i].ID = d.nextID(idBase)
		kept := cmds[i]
		kept.Blocks = slices.Clone(kept.Blocks) // the caller's may change
		d.out.sent = append(d.out.sent, &sentCommand{cmd: kept, sends: 1, next: now + int64(base)})
	}
	if over := len(d.out.sent) - maxUnacked; over > 0 {
		d.out.sent = slices.Delete(d.out.sent, 0, over)
	}
	return cmds
}

// takeDeletes takes up to max of the node's queued deletions.
// dropQueued forgets the deletions queued for the node and the commands
// sent to it and not acked: a member that stops leading (or starts to)
// must not send what it decided in another term.
func (d *datanode) dropQueued() {
	d.mu.Lock()
	d.deletes = nil
	d.out.sent = nil
	d.mu.Unlock()
}

func (d *datanode) takeDeletes(max int) []cairn.Block {
	d.mu.Lock()
	defer d.mu.Unlock()
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

// unackedCount is the number of commands sent to the node and not
// acked.
func (d *datanode) unackedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.out.sent)
}

// stillWanted trims due commands to what is still wanted: deletions
// of replicas the block map does not count as good on the node, copies
// still pending from the node, the current attempt of a block
// recovery.
func (s *Server) stillWanted(node uint32, due []Command) []Command {
	var keep []Command
	s.ns.mu.RLock()
	for _, c := range due {
		switch c.Type {
		case CommandDeleteBlocks:
			c.Blocks = slices.DeleteFunc(c.Blocks, func(blk cairn.Block) bool {
				b := s.ns.blocks[blk.ID]
				if b == nil || b.gs != blk.GenStamp {
					return false
				}
				i := b.replicaIndex(node)
				return i >= 0 && !b.replicas[i].corrupt()
			})
			if len(c.Blocks) > 0 {
				keep = append(keep, c)
			}
		case CommandCopyBlocks:
			// The copy is still pending from this node, to a target
			// of this command that has not reported it yet.
			p := s.ns.heal.pending[c.Blocks[0].ID]
			if p != nil && p.source == node && slices.ContainsFunc(c.Targets, func(t cairn.DatanodeInfo) bool {
				d := s.reg.lookup(t.ID)
				return d != nil && slices.Contains(p.targets, d.idx)
			}) {
				keep = append(keep, c)
			}
		case CommandRecoverBlock:
			if s.recov.current(c.Blocks[0].ID, c.NewGenStamp, node) {
				keep = append(keep, c)
			}
		}
	}
	s.ns.mu.RUnlock()
	return keep
}

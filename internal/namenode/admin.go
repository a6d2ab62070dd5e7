package namenode

import (
	"context"
	"slices"
	"strings"

	"github.com/cairn-fs/cairn"
)

// GetDatanodeReport describes every DataNode known since start, sorted
// by ID.
func (s *Server) GetDatanodeReport(ctx context.Context) (cairn.ClusterReport, error) {
	now := s.now().UnixNano()
	rep := cairn.ClusterReport{ClusterID: s.clusterID, SafeMode: s.safe.isOn(), PendingReplicationBlocks: s.ns.heal.needed.Load()}
	for _, d := range s.reg.all() {
		ds := s.nodeStatus(d, now)
		rep.PendingDeletionBlocks += ds.PendingDeletion
		rep.Datanodes = append(rep.Datanodes, ds)
	}
	slices.SortFunc(rep.Datanodes, func(a, b cairn.DatanodeStatus) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return rep, nil
}

// BadBlock is a replica a reader or a scanner found corrupt.
type BadBlock struct {
	Block  cairn.Block
	Node   cairn.NodeID
	Reason string
}

// ReportBadBlocks marks replicas corrupt: they are no longer given to
// readers nor counted as live, and are deleted if good replicas remain.
// Unknown blocks and nodes are ignored. Only the leader takes them (it
// orders the deletion and the new copy; the other members learn of the
// replica's deletion from its DataNode's reports): a member that does
// not lead refuses with NotLeader, so that the reporter goes on to the
// leader instead of its report being lost.
func (s *Server) ReportBadBlocks(ctx context.Context, bad []BadBlock) error {
	if s.servingTerm() == 0 {
		return s.notLeader()
	}
	for _, bb := range bad {
		d := s.reg.lookup(bb.Node)
		if d == nil {
			continue
		}
		s.ns.mu.Lock()
		b := s.ns.blocks[bb.Block.ID]
		if b != nil && bb.Block.GenStamp >= b.gs {
			// Only the block map (which is not replicated) changes
			// here: a file's expected nodes are logged state, and
			// commitBlock leaves out a node whose replica is marked
			// corrupt or being deleted.
			s.ns.markCorrupt(b, d.idx, bb.Block.GenStamp)
		}
		s.ns.mu.Unlock()
		if b != nil {
			s.log.Warn("replica reported corrupt", "block", bb.Block.ID, "node", bb.Node, "reason", bb.Reason)
		}
	}
	return nil
}

// stateRank orders health from best to worst.
var stateRank = map[string]int{cairn.FsckHealthy: 0, cairn.FsckUnderReplicated: 1, cairn.FsckMissing: 2, cairn.FsckCorrupt: 3}

// Fsck walks the tree at p and reports the health of its blocks. A
// block is under-replicated with fewer live replicas than its file's
// replication, missing with no live replica, corrupt when every replica
// is corrupt. Replicas on decommissioning and decommissioned nodes do
// not count as live, but a block they alone hold is not missing. The
// last block of a file being written is not judged. Files with
// problems are always listed with their blocks that have problems; the
// options add the healthy ones, the open ones, every block and their
// locations: the nodes of the live and the corrupt replicas, and those
// of replicas on decommissioning or decommissioned nodes only when no
// live replica is left.
func (s *Server) Fsck(ctx context.Context, p string, o cairn.FsckOptions) (cairn.FsckReport, error) {
	if err := s.superOnly(ctx, "fsck"); err != nil {
		return cairn.FsckReport{}, err
	}
	if err := validPath(p); err != nil {
		return cairn.FsckReport{}, err
	}
	if err := s.readable(ctx); err != nil {
		return cairn.FsckReport{}, err
	}
	now := s.now().UnixNano()
	var rep cairn.FsckReport
	for _, d := range s.reg.all() {
		if s.reg.state(d, now) == stateLive {
			rep.LiveDatanodes++
		}
	}
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	root, err := s.ns.lookup(p)
	if err != nil {
		return cairn.FsckReport{}, err
	}
	var walk func(n *inode, path string) error
	walk = func(n *inode, path string) error {
		if err := ctx.Err(); err != nil {
			return errf(cairn.Unavailable, "fsck interrupted: %v", err)
		}
		if n.isDir() {
			rep.Directories++
			for _, c := range n.children {
				if err := walk(c, cairn.Join(path, c.name)); err != nil {
					return err
				}
			}
			return nil
		}
		rep.Files++
		open := n.underConstruction()
		if open {
			rep.OpenFiles++
		}
		ff := cairn.FsckFile{Path: path, Size: n.size(), Replication: int(n.repl), Open: open, Status: cairn.FsckHealthy}
		if u := s.ns.uc[n.id]; open && u != nil {
			ff.LeaseHolder = u.holder
			ff.LeaseAge = s.leases.age(u.holder)
		}
		rep.TotalSize += ff.Size
		for i, b := range n.blocks {
			rep.Blocks++
			fb := s.fsckBlock(b, int(n.repl), now, o.Locations)
			if open && i == len(n.blocks)-1 && !b.committed {
				fb.State = cairn.FsckHealthy
			}
			switch fb.State {
			case cairn.FsckUnderReplicated:
				rep.UnderReplicatedBlocks++
			case cairn.FsckCorrupt:
				rep.CorruptBlocks++
			case cairn.FsckMissing:
				rep.MissingBlocks++
			}
			if stateRank[fb.State] > stateRank[ff.Status] {
				ff.Status = fb.State
			}
			if o.Blocks || fb.State != cairn.FsckHealthy {
				// Blocks with problems are always named.
				ff.Blocks = append(ff.Blocks, fb)
			}
		}
		if o.Files || (o.OpenFiles && open) || ff.Status != cairn.FsckHealthy {
			rep.FileDetails = append(rep.FileDetails, ff)
		}
		return nil
	}
	if err := walk(root, p); err != nil {
		return cairn.FsckReport{}, err
	}
	rep.Status = cairn.FsckHealthy
	if rep.CorruptBlocks > 0 || rep.MissingBlocks > 0 {
		rep.Status = cairn.FsckCorrupt
	}
	return rep, nil
}

// fsckBlock judges one block. The caller holds ns.mu.
func (s *Server) fsckBlock(b *blockInfo, repl int, now int64, withLocations bool) cairn.FsckBlock {
	fb := cairn.FsckBlock{Block: b.block()}
	decom := 0
	var decomLocs []cairn.DatanodeInfo
	for _, r := range b.replicas {
		d := s.reg.node(r.node)
		if d == nil {
			continue
		}
		st := s.reg.state(d, now)
		if st == stateDead {
			continue
		}
		switch {
		case r.corrupt():
			fb.CorruptReplicas++
		case st == stateDecommissioning || st == stateDecommissioned:
			// Readable, but not counted toward the target, and
			// listed only when no live replica is.
			decom++
			if withLocations {
				decomLocs = append(decomLocs, d.addr.Load().info)
			}
			continue
		default:
			fb.LiveReplicas++
		}
		if withLocations {
			fb.Locations = append(fb.Locations, d.addr.Load().info)
		}
	}
	if fb.LiveReplicas == 0 {
		fb.Locations = append(fb.Locations, decomLocs...)
	}
	switch {
	case fb.LiveReplicas+decom == 0 && fb.CorruptReplicas > 0:
		fb.State = cairn.FsckCorrupt
	case fb.LiveReplicas+decom == 0:
		fb.State = cairn.FsckMissing
	case fb.LiveReplicas < repl:
		fb.State = cairn.FsckUnderReplicated
	default:
		fb.State = cairn.FsckHealthy
	}
	return fb
}

package namenode

import (
	"context"
	"net"

	"github.com/cairn-fs/cairn"
)

// The DataNode-facing operations, one method per RPC of
// DatanodeProtocol.

// CommandType and Command are the NameNode's orders to DataNodes, in
// the vocabulary (package cairn), where the wire conversion
// (protocol.CommandToProto) finds them.
type (
	CommandType = cairn.CommandType
	Command     = cairn.Command
)

// Commands to DataNodes.
const (
	CommandDeleteBlocks = cairn.CommandDeleteBlocks
	CommandCopyBlocks   = cairn.CommandCopyBlocks
	CommandReregister   = cairn.CommandReregister
	CommandRecoverBlock = cairn.CommandRecoverBlock
)

// Registration is what a DataNode tells of itself when it registers.
type Registration struct {
	ID        cairn.NodeID
	ClusterID cairn.ClusterID // empty when the DataNode is not formatted yet
	Addr      string          // data-transfer address, host:port
	HTTPAddr  string
	Storage   cairn.StorageReport
}

// Register admits a DataNode, or updates the addresses of a known one.
// A DataNode of another cluster is refused with ClusterMismatch. It
// returns this cluster's ID, which the DataNode keeps.
func (s *Server) Register(ctx context.Context, r Registration) (cairn.ClusterID, error) {
	if r.ID == "" {
		return "", errf(cairn.Invalid, "register: empty node ID")
	}
	if _, _, err := net.SplitHostPort(r.Addr); err != nil {
		return "", errf(cairn.Invalid, "register: bad address %q: %v", r.Addr, err)
	}
	if r.ClusterID != "" && r.ClusterID != s.clusterID {
		return "", errf(cairn.ClusterMismatch, "datanode %s belongs to cluster %s, this name node to cluster %s",
			r.ID, r.ClusterID, s.clusterID)
	}
	known := s.reg.lookup(r.ID) != nil
	d := s.reg.register(r.ID, cairn.DatanodeInfo{ID: r.ID, Addr: r.Addr, HTTPAddr: r.HTTPAddr}, r.Storage)
	s.ns.mu.RLock()
	s.ns.syncAdmin(d)
	s.ns.mu.RUnlock()
	if !known {
		s.log.Info("datanode registered", "node", r.ID, "addr", r.Addr)
	} else {
		s.log.Debug("datanode registered again", "node", r.ID, "addr", r.Addr)
	}
	return s.clusterID, nil
}

// Heartbeat records that a DataNode is alive and how its storage is,
// takes note of the commands it acks (it took them from earlier
// replies), and answers with its commands: those sent before and not
// acked that are due again, then new ones. An unknown node (or one
// declared dead) is told to register again.
func (s *Server) Heartbeat(ctx context.Context, id cairn.NodeID, st cairn.StorageReport, acked []uint64) ([]Command, error) {
	d := s.reg.lookup(id)
	if d == nil || d.removed.Load() {
		return []Command{{Type: CommandReregister}}, nil
	}
	s.reg.heartbeat(d, st)
	term := s.servingTerm()
	if term == 0 {
		// A member that does not lead orders nothing; it only keeps
		// track of the node.
		return nil, nil
	}
	nowT := s.now()
	now := nowT.UnixNano()
	if taken := d.ack(acked); len(taken) > 0 {
		s.recov.taken(d.idx, taken, nowT)
	}
	var cmds []Command
	if due := d.due(now); len(due) > 0 {
		keep := s.stillWanted(d.idx, due)
		d.resent(due, keep, now, s.reg.resend)
		cmds = append(cmds, keep...)
	}
	var fresh []Command
	if del := d.takeDeletes(maxDeletesPerHeartbeat); len(del) > 0 {
		fresh = append(fresh, Command{Type: CommandDeleteBlocks, Blocks: del})
	}
	fresh = append(fresh, s.ns.heal.copyCommands(d.idx)...)
	fresh = append(fresh, s.recov.commands(d.idx)...)
	cmds = append(cmds, d.send(fresh, now, s.reg.resend, s.reg.idBase)...)
	for i := range cmds {
		cmds[i].Term = term
	}
	return cmds, nil
}

// RaftTerm returns the member's current Raft term, and whether it
// serves as the leader in it: what a heartbeat reply tells DataNodes,
// which obey the leader of the newest term only.
func (s *Server) RaftTerm() (term uint64, leader bool) {
	t := s.servingTerm()
	if t != 0 {
		return t, true
	}
	return s.rn.raft.CurrentTerm(), false
}

// reportingNode finds a registered, not dead DataNode.
func (s *Server) reportingNode(id cairn.NodeID) (*datanode, error) {
	d := s.reg.lookup(id)
	if d == nil || d.removed.Load() {
		return nil, errf(cairn.Unknown, "datanode %s is not registered", id)
	}
	return d, nil
}

// BlockReport replaces what the NameNode knows of a DataNode's replicas
// with its full report: its finalized replicas, and its idle
// unfinalized ones (rbw) waiting for a recovery. Each is reconciled as
// namespace.reportReplica says.
func (s *Server) BlockReport(ctx context.Context, id cairn.NodeID, blocks, rbw []cairn.Block) error {
	d, err := s.reportingNode(id)
	if err != nil {
		return err
	}
	s.ns.mu.Lock()
	s.ns.blockReport(d.idx, blocks, rbw)
	s.ns.mu.Unlock()
	s.log.Debug("block report", "node", id, "blocks", len(blocks), "rbw", len(rbw))
	return nil
}

// IncrementalBlockReport takes what changed on a DataNode since its
// last report: replicas finalized (received), replicas now held
// unfinalized (receiving), replicas deleted.
func (s *Server) IncrementalBlockReport(ctx context.Context, id cairn.NodeID, received, receiving, deleted []cairn.Block) error {
	d, err := s.reportingNode(id)
	if err != nil {
		return err
	}
	s.ns.mu.Lock()
	s.ns.incrementalReport(d.idx, received, receiving, deleted)
	s.ns.mu.Unlock()
	d.confirmDeleted(deleted)
	return nil
}

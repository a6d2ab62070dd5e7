package namenode

import (
	"context"
	"net"

	"github.com/cairn-fs/cairn"
)

// The DataNode-facing operations, one method per RPC of
// DatanodeProtocol.

// CommandType is the kind of a command sent to a DataNode in a
// heartbeat reply. The values are those of the wire enum.
type CommandType int

// Commands to DataNodes.
const (
	CommandDeleteBlocks CommandType = 1 // delete Blocks
	CommandCopyBlocks   CommandType = 2 // copy Blocks to Targets (the replication monitor sends one block per command)
	CommandReregister   CommandType = 3 // register and send a full block report again
	CommandRecoverBlock CommandType = 4 // lease recovery of a block (later)
)

// Command is an order to a DataNode.
type Command struct {
	Type        CommandType
	Blocks      []cairn.Block
	Targets     []cairn.DatanodeInfo
	NewGenStamp cairn.GenStamp
}

// Registration is what a DataNode tells of itself when it registers.
type Registration struct {
	ID        cairn.NodeID
	ClusterID cairn.ClusterID // empty when the DataNode is not formatted yet
	Addr      string          // data-transfer address, host:port
	HTTPAddr  string
	Storage   StorageReport
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

// Heartbeat records that a DataNode is alive and how its storage is, and
// answers with its pending commands. An unknown node (or one declared
// dead) is told to register again.
func (s *Server) Heartbeat(ctx context.Context, id cairn.NodeID, st StorageReport) ([]Command, error) {
	d := s.reg.lookup(id)
	if d == nil || d.removed.Load() {
		return []Command{{Type: CommandReregister}}, nil
	}
	var cmds []Command
	if del := s.reg.heartbeat(d, st, maxDeletesPerHeartbeat); len(del) > 0 {
		cmds = append(cmds, Command{Type: CommandDeleteBlocks, Blocks: del})
	}
	cmds = append(cmds, s.ns.heal.copyCommands(d.idx)...)
	cmds = append(cmds, s.recov.commands(d.idx)...)
	return cmds, nil
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
// with its full list of finalized replicas. Replicas of deleted blocks,
// or with a stale generation stamp, are queued for deletion.
func (s *Server) BlockReport(ctx context.Context, id cairn.NodeID, blocks []cairn.Block) error {
	d, err := s.reportingNode(id)
	if err != nil {
		return err
	}
	s.ns.mu.Lock()
	s.ns.blockReport(d.idx, blocks)
	s.ns.mu.Unlock()
	s.log.Debug("block report", "node", id, "blocks", len(blocks))
	return nil
}

// IncrementalBlockReport adds the replicas a DataNode received and
// forgets those it deleted.
func (s *Server) IncrementalBlockReport(ctx context.Context, id cairn.NodeID, received, deleted []cairn.Block) error {
	d, err := s.reportingNode(id)
	if err != nil {
		return err
	}
	s.ns.mu.Lock()
	for _, b := range received {
		s.ns.reportReplica(d.idx, b)
	}
	for _, rb := range deleted {
		s.ns.clearInvalid(rb.ID, d.idx)
		if b := s.ns.blocks[rb.ID]; b != nil && (rb.GenStamp == 0 || rb.GenStamp >= b.gs) {
			// (A replica of an older generation stamp deleted
			// says nothing of the node's current one.)
			s.ns.removeReplica(b, d.idx)
		}
	}
	s.ns.mu.Unlock()
	return nil
}

package namenode

import (
	"context"
	"slices"
	"time"

	"github.com/cairn-fs/cairn"
)

// Decommissioning. The operator's choice (decommission or recommission a
// node) is a logged command (setNodeAdmin), so it survives a restart;
// the namespace keeps the set of nodes being taken out of service, and
// the registry mirrors it in each registered node's admin state. A
// decommissioning node is never chosen for new replicas; its replicas
// serve reads and are copy sources, but do not count toward a block's
// target, so the replication monitor copies every block it holds to
// other nodes. Once no committed block it holds has fewer good replicas
// elsewhere than its target (and no block being written is in its
// pipeline), it is decommissioned: this last step is not logged, and is
// found again after a restart from the block reports.

// decommissionCheckInterval bounds how often the monitor looks at the
// blocks of decommissioning nodes for their progress.
const decommissionCheckInterval = time.Second

// Decommission starts taking the DataNode named by node (its
// data-transfer address or its node ID) out of service.
func (s *Server) Decommission(ctx context.Context, node string) (cairn.DatanodeStatus, error) {
	if err := s.superOnly(ctx, "decommission"); err != nil {
		return cairn.DatanodeStatus{}, err
	}
	return s.setNodeAdmin(ctx, node, true)
}

// Recommission puts a decommissioning or decommissioned DataNode back in
// service.
func (s *Server) Recommission(ctx context.Context, node string) (cairn.DatanodeStatus, error) {
	if err := s.superOnly(ctx, "recommission"); err != nil {
		return cairn.DatanodeStatus{}, err
	}
	return s.setNodeAdmin(ctx, node, false)
}

func (s *Server) setNodeAdmin(ctx context.Context, node string, decommission bool) (cairn.DatanodeStatus, error) {
	if node == "" {
		return cairn.DatanodeStatus{}, errf(cairn.Invalid, "no datanode given")
	}
	if s.servingTerm() == 0 {
		return cairn.DatanodeStatus{}, s.notLeader()
	}
	d := s.findNode(node)
	if d == nil {
		return cairn.DatanodeStatus{}, errf(cairn.NotExist, "no datanode %s is registered (give its data-transfer address host:port or its ID, as 'cairn admin report' shows them)", node)
	}
	c := command{op: opSetNodeAdmin, targets: []cairn.NodeID{d.id}}
	if decommission {
		c.flags |= flagDecommission
	}
	if _, err := s.mutate(ctx, &c); err != nil {
		return cairn.DatanodeStatus{}, err
	}
	if decommission {
		s.log.Info("decommissioning datanode", "node", d.id, "addr", d.addr.Load().info.Addr)
	} else {
		s.log.Info("datanode back in service", "node", d.id, "addr", d.addr.Load().info.Addr)
	}
	return s.nodeStatus(d, s.now().UnixNano()), nil
}

// findNode finds a registered DataNode by ID or data-transfer address.
func (s *Server) findNode(node string) *datanode {
	if d := s.reg.lookup(cairn.NodeID(node)); d != nil {
		return d
	}
	for _, d := range s.reg.all() {
		if d.addr.Load().info.Addr == node {
			return d
		}
	}
	return nil
}

// applySetNodeAdmin records that a node is being decommissioned (flag
// set) or is back in service.
func (ns *namespace) applySetNodeAdmin(c *command) any {
	if len(c.targets) != 1 || c.targets[0] == "" {
		return errf(cairn.Invalid, "setNodeAdmin needs one node")
	}
	id := c.targets[0]
	decommission := c.flags&flagDecommission != 0
	if decommission {
		ns.decom[id] = struct{}{}
	} else {
		delete(ns.decom, id)
	}
	if d := ns.reg.lookup(id); d != nil {
		ns.syncAdmin(d)
	}
	// Every block of the node may now need copies, or have a surplus.
	ns.heal.rescan = true
	return nil
}

// syncAdmin brings d's admin state in line with the logged set. The
// caller holds ns.mu.
func (ns *namespace) syncAdmin(d *datanode) {
	_, decom := ns.decom[d.id]
	switch cur := adminState(d.admin.Load()); {
	case decom && cur == adminNormal:
		d.admin.Store(uint32(adminDecommissioning))
	case !decom && cur != adminNormal:
		d.admin.Store(uint32(adminNormal))
	}
}

// checkDecommission marks decommissioning nodes decommissioned once no
// block depends on them. The caller holds ns.mu.
func (s *Server) checkDecommission(now int64) {
	ns := s.ns
	h := &ns.heal
	var decs []*datanode
	for _, d := range s.reg.all() {
		if adminState(d.admin.Load()) == adminDecommissioning && s.reg.state(d, now) != stateDead {
			decs = append(decs, d)
		}
	}
	if len(decs) == 0 {
		return
	}
	if t := time.Unix(0, now); t.Sub(h.lastDecomCheck) < decommissionCheckInterval {
		return
	} else {
		h.lastDecomCheck = t
	}
	// Each node's own blocks, through its index: the check costs in
	// proportion to the blocks of the decommissioning nodes.
	busy := make(map[uint32]int)
	for _, d := range decs {
		for _, id := range d.blocks {
			b := ns.blocks[id]
			if b == nil || b.file == nil || !b.committed {
				continue
			}
			if c := s.countReplicas(b, now); c.live < int(b.file.repl) {
				busy[d.idx]++
				break
			}
		}
	}
	for _, u := range ns.uc {
		for _, id := range u.expected {
			if d := ns.reg.lookup(id); d != nil {
				busy[d.idx]++
			}
		}
	}
	for _, d := range decs {
		if busy[d.idx] == 0 {
			d.admin.CompareAndSwap(uint32(adminDecommissioning), uint32(adminDecommissioned))
			s.log.Info("datanode decommissioned: every block it holds has its replicas elsewhere", "node", d.id, "addr", d.addr.Load().info.Addr)
		}
	}
}

// nodeStatus describes d at time now.
func (s *Server) nodeStatus(d *datanode, now int64) cairn.DatanodeStatus {
	info := d.addr.Load().info
	ds := cairn.DatanodeStatus{
		ID:            info.ID,
		Addr:          info.Addr,
		HTTPAddr:      info.HTTPAddr,
		State:         s.reg.state(d, now).String(),
		Blocks:        d.numBlocks.Load(),
		LastHeartbeat: time.Unix(0, d.lastHeartbeat.Load()),
	}
	d.mu.Lock()
	ds.CapacityBytes = d.storage.CapacityBytes
	ds.UsedBytes = d.storage.UsedBytes
	ds.RemainingBytes = d.storage.RemainingBytes
	ds.ActiveTransfers = d.storage.ActiveTransfers
	ds.FailedVolumes = slices.Clone(d.storage.FailedVolumes)
	ds.PendingDeletion = d.pendingDeletesLocked()
	d.mu.Unlock()
	return ds
}

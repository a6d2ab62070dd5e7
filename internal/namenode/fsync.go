package namenode

import (
	"context"

	"github.com/cairn-fs/cairn"
)

// Fsync records that the writer of a file has synced blk.Len bytes of
// blk, the file's uncommitted last block (HDFS's fsync with its last
// block length): the file's size then counts them, and readers are
// given them. The length only grows; a shorter one changes nothing.
// Logged, so that the length survives a restart and a change of
// leader.
func (s *Server) Fsync(ctx context.Context, p string, fileID uint64, client string, blk cairn.Block) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkClientName(client); err != nil {
		return err
	}
	s.ns.mu.RLock()
	u, err := s.findWriter(ctx, p, fileID, client)
	if err == nil {
		fileID = u.f.id
		err = checkSynced(s.ns, u, blk)
	}
	s.ns.mu.RUnlock()
	if err != nil {
		return err
	}
	s.leases.renew(client)
	_, err = s.mutate(ctx, &command{op: opFsync, fileID: fileID, clientName: client, block: blk})
	return err
}

// checkSynced checks that blk, with the length synced, is u's last,
// uncommitted block. The caller holds ns.mu.
func checkSynced(ns *namespace, u *ucFile, blk cairn.Block) error {
	if err := checkLastBlock(ns, u, blk.ID); err != nil {
		return err
	}
	last := ns.lastBlock(u.f)
	switch {
	case last.gs != blk.GenStamp:
		return errf(cairn.Invalid, "block %d has generation stamp %d, not %d", last.id, last.gs, blk.GenStamp)
	case blk.Len < 0 || blk.Len > u.f.blkSize:
		return errf(cairn.Invalid, "block %d length %d out of range", blk.ID, blk.Len)
	}
	return nil
}

// applyFsync sets the synced length of the writer's last block, if it
// grew.
func (ns *namespace) applyFsync(c *command) any {
	u, err := ns.writer(c.fileID, c.clientName)
	if err != nil {
		return err
	}
	if err := checkSynced(ns, u, c.block); err != nil {
		return err
	}
	if last := ns.lastBlock(u.f); c.block.Len > last.len {
		last.len = c.block.Len
	}
	return nil
}

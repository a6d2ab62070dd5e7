package datanode

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The DataNode's part in pipeline recovery (TRANSFER_BLOCK), lease
// recovery (RECOVER_BLOCK, as a participant and as the primary), and
// damaged replicas. See doc.go, "Recovery".

// transferBlock runs a TRANSFER_BLOCK operation: the first block.Len
// bytes of the local replica are copied to the targets as stage
// TRANSFER_RBW with the new generation stamp. The answer comes when
// the copy is durable on the targets; a failure of a target is named
// in first_bad_link.
func (d *DataNode) transferBlock(ctx context.Context, conn *idleConn, op *protocol.OpTransferBlock) {
	d.active.Add(1)
	defer d.active.Add(-1)
	block := protocol.BlockFromProto(op.Block)
	targets := protocol.DatanodesFromProto(op.Targets)
	newGS := cairn.GenStamp(op.NewGenStamp)
	name := blockName(block)
	reply := func(err error, badLink string) {
		resp := &protocol.BlockOpResponse{}
		if err != nil {
			resp.Status = protocol.StatusFromError(err)
			resp.FirstBadLink = badLink
		}
		respond(conn, resp)
	}
	if op.Block == nil || len(targets) == 0 || len(targets) >= datatransfer.MaxPipeline || block.Len < 0 || block.Len > datatransfer.MaxBlockOffset || newGS <= block.GenStamp {
		reply(cairn.Errorf("datanode.TransferBlock", name, cairn.Invalid, "bad transfer operation"), "")
		return
	}
	src, err := d.store.openSource(block.ID, block.Len, newGS)
	if err != nil {
		d.log.Info("refusing transfer", "block", name, "err", err)
		reply(err, "")
		return
	}
	defer src.Close()
	opts := datatransfer.Options{Stage: datatransfer.StageTransferRbw, Timeout: time.Duration(op.TimeoutMs) * time.Millisecond, Transport: d.cfg.Transport, Token: op.BlockToken}
	if opts.Timeout <= 0 {
		opts.Timeout = d.cfg.socketReadTimeout()
	}
	w, err := opts.NewBlockWriter(ctx, cairn.Block{ID: block.ID, GenStamp: newGS}, targets, "datanode-"+string(d.ID()))
	if err != nil {
		reply(err, targets[0].Addr)
		return
	}
	srcErr, dstErr := sendReplica(w, src, block.Len)
	switch {
	case srcErr != nil:
		w.Abort()
		d.log.Warn("transfer failed reading the local replica", "block", name, "err", srcErr)
		reply(srcErr, "")
		return
	case dstErr != nil:
		w.Abort()
		reply(dstErr, targets[0].Addr)
		return
	}
	if err := w.Close(); err != nil {
		reply(err, targets[0].Addr)
		return
	}
	d.log.Info("transferred partial replica for pipeline recovery", "block", name, "newGenStamp", newGS, "len", block.Len, "target", targets[0].Addr)
	reply(nil, "")
}

// sendReplica streams [0, length) of a replica down w,
// checking every checksum on the way. srcErr is a failure of the local
// replica (unreadable, or corrupt: kind cairn.Corrupt), dstErr one of
// the pipeline.
//
// length may end inside a chunk the replica holds more of (a writer's
// Sync acknowledged part of a chunk it later filled): that chunk's
// checksum covers the bytes stored, so they are read and checked, and
// only those before length sent.
func sendReplica(w *datatransfer.BlockWriter, r Replica, length int64) (srcErr, dstErr error) {
	data, meta := r.Data(), r.Checksums()
	size := r.Block().Len
	if st, ok := data.(interface{ Stat() (os.FileInfo, error) }); ok {
		fi, err := st.Stat()
		if err != nil {
			return cairn.E("datanode.read", cairn.IO, err), nil
		}
		size = fi.Size()
	}
	buf := make([]byte, cairn.PacketSize+cairn.ChunkSize)
	sums := make([]byte, datatransfer.SumsLen(cairn.PacketSize+cairn.ChunkSize))
	for pos := int64(0); pos < length; {
		k := int(min(cairn.PacketSize, length-pos))
		// The bytes to check: k, or the whole stored chunk k ends in.
		vk := k
		if end := pos + int64(k); end%cairn.ChunkSize != 0 && size > end {
			vk = int(min(end-end%cairn.ChunkSize+cairn.ChunkSize, size) - pos)
		}
		if err := readFull(data, buf[:vk], pos); err != nil {
			return cairn.E("datanode.read", cairn.IO, err), nil
		}
		s := sums[:datatransfer.SumsLen(vk)]
		if err := readFull(meta, s, sumsAt(pos)); err != nil {
			return cairn.E("datanode.read", cairn.IO, err), nil
		}
		if bad := datatransfer.VerifySums(s, buf[:vk]); bad >= 0 {
			return cairn.Errorf("datanode.read", "", cairn.Corrupt, "checksum mismatch at offset %d", pos+int64(bad)*cairn.ChunkSize), nil
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return nil, err
		}
		pos += int64(k)
	}
	return nil, nil
}

// recoverReplica runs a RECOVER_BLOCK operation, one step of a block
// synchronization asked by the primary.
func (d *DataNode) recoverReplica(conn *idleConn, op *protocol.OpRecoverBlock) {
	b := protocol.BlockFromProto(op.Block)
	info, err := d.recoverLocal(b, cairn.GenStamp(op.NewGenStamp), op.NewLength)
	resp := &protocol.ReplicaRecoveryResponse{}
	if err != nil {
		resp.Status = protocol.StatusFromError(err)
	} else {
		resp.Replica = protocol.BlockToProto(info.Block)
		resp.Finalized = info.Finalized
	}
	datatransfer.WriteMessage(conn, resp)
}

// recoverLocal is one step of a block synchronization on this node:
// with newLength -1 describe the replica (stopping its writer), else
// cut, stamp and finalize it.
func (d *DataNode) recoverLocal(b cairn.Block, newGS cairn.GenStamp, newLength int64) (datatransfer.ReplicaState, error) {
	if newGS <= b.GenStamp || newLength < -1 || newLength > datatransfer.MaxBlockOffset {
		return datatransfer.ReplicaState{}, cairn.Errorf("datanode.recover", blockName(b), cairn.Invalid, "bad recovery to generation stamp %d, length %d", newGS, newLength)
	}
	if newLength < 0 {
		info, err := d.store.initRecovery(b.ID, b.GenStamp, newGS)
		return datatransfer.ReplicaState{Block: info.block, Finalized: info.finalized}, err
	}
	fb, err := d.store.finishRecovery(b.ID, newLength, newGS)
	if err != nil {
		return datatransfer.ReplicaState{}, err
	}
	d.log.Info("replica recovered", "block", blockName(fb))
	return datatransfer.ReplicaState{Block: fb, Finalized: true}, nil
}

// recoverBlock is the primary's side of lease recovery (a RECOVER_BLOCK
// command): it asks every node of the block for its replica, picks the
// length they can agree on, has each bring its replica to that length
// and the new generation stamp, finalized, and returns the outcome to
// report to the NameNode.
//
// The length: if a replica is finalized (the writer died while closing
// the block), its length; otherwise the shortest of the replicas with
// the highest generation stamp (replicas of an older pipeline may lack
// bytes acknowledged later). Every replica holds a prefix of the same
// byte stream, so the shortest of the current ones holds every byte
// the writer had acknowledged.
func (n *nnSession) recoverBlock(ctx context.Context, b cairn.Block, nodes []cairn.DatanodeInfo, newGS cairn.GenStamp) (*protocol.CommitBlockSynchronizationRequest, error) {
	d := n.d
	self := d.ID()
	opts := datatransfer.Options{Timeout: recoveryWait + 5*time.Second, Transport: d.cfg.Transport}
	step := func(node cairn.DatanodeInfo, length int64) (datatransfer.ReplicaState, error) {
		if node.ID == self {
			return d.recoverLocal(b, newGS, length)
		}
		cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		return opts.RecoverBlock(cctx, node, b, newGS, length)
	}
	type answer struct {
		node cairn.DatanodeInfo
		st   datatransfer.ReplicaState
	}
	var answers []answer
	allAbsent := true
	for _, node := range nodes {
		st, err := step(node, -1)
		if err != nil {
			if cairn.KindOf(err) != cairn.NotExist {
				allAbsent = false
			}
			d.log.Info("block recovery: replica not usable", "block", blockName(b), "node", node.Addr, "err", err)
			continue
		}
		answers = append(answers, answer{node, st})
	}
	if len(answers) == 0 {
		if !allAbsent {
			return nil, cairn.Errorf("datanode.RecoverBlock", blockName(b), cairn.Unavailable, "no node of the block answered")
		}
		d.log.Warn("block recovery: no replica left; the block is dropped", "block", blockName(b))
		return n.commitRequest(b, cairn.Block{ID: b.ID, GenStamp: newGS}, nil, true), nil
	}
	length := int64(-1)
	for _, a := range answers {
		if a.st.Finalized {
			length = a.st.Block.Len
			break
		}
	}
	var maxGS cairn.GenStamp
	if length < 0 {
		for _, a := range answers {
			maxGS = max(maxGS, a.st.Block.GenStamp)
		}
		for _, a := range answers {
			if a.st.Block.GenStamp == maxGS && (length < 0 || a.st.Block.Len < length) {
				length = a.st.Block.Len
			}
		}
	}
	var synced []cairn.NodeID
	for _, a := range answers {
		if a.st.Block.Len < length || (!a.st.Finalized && maxGS != 0 && a.st.Block.GenStamp != maxGS) {
			continue
		}
		if _, err := step(a.node, length); err != nil {
			d.log.Warn("block recovery: cannot update replica", "block", blockName(b), "node", a.node.Addr, "err", err)
			continue
		}
		synced = append(synced, a.node.ID)
	}
	if len(synced) == 0 {
		return nil, cairn.Errorf("datanode.RecoverBlock", blockName(b), cairn.Unavailable, "no replica could be updated")
	}
	nb := cairn.Block{ID: b.ID, GenStamp: newGS, Len: length}
	d.log.Info("block recovered", "block", blockName(nb), "replicas", len(synced))
	return n.commitRequest(b, nb, synced, false), nil
}

// replicaDamaged stops serving a finalized replica found damaged (by
// the scanner, or a read that found its files missing or short) and
// queues a report of it to the leader NameNode, which has it replaced
// and then deleted. inc is the incarnation of the replica that was
// read (see store.markBad).
func (d *DataNode) replicaDamaged(b cairn.Block, inc uint64, reason string) {
	if !d.store.markBad(b, inc) {
		return
	}
	d.log.Warn("replica damaged: no longer served, reported to the namenode", "block", blockName(b), "reason", reason)
	d.reportBad(b, reason)
}

// badReport is a damaged replica to tell the NameNode of.
type badReport struct {
	block  cairn.Block
	reason string
}

// badQueue holds the reports of damaged replicas not yet taken by a
// NameNode; reportBadLoop sends them.
type badQueue struct {
	mu      sync.Mutex
	pending []badReport
	wake    chan struct{} // capacity 1: a report was added
}

// reportBad queues a report of the local replica of b as damaged, for
// the leader NameNode (see reportBadLoop).
func (d *DataNode) reportBad(b cairn.Block, reason string) {
	q := &d.bad
	q.mu.Lock()
	q.pending = append(q.pending, badReport{b, reason})
	q.mu.Unlock()
	q.signal()
}

func (q *badQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *badQueue) take() []badReport {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

func (q *badQueue) putBack(bad []badReport) {
	q.mu.Lock()
	q.pending = append(bad, q.pending...)
	q.mu.Unlock()
}

// reportBadLoop sends the reports of damaged replicas as they are
// queued, to the leader NameNode (toLeader), and retries with backoff
// until a NameNode takes them or ctx ends.
func (d *DataNode) reportBadLoop(ctx context.Context) {
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.bad.wake:
		case <-time.After(time.Second):
		}
		err := d.sendBad(ctx)
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if failures == 0 {
			d.log.Warn("cannot report damaged replicas; retrying", "err", err)
		}
		failures++
		if !sleep(ctx, d.cfg.backoff(failures)) {
			return
		}
		// Try again without waiting for a new report.
		d.bad.signal()
	}
}

// sendBad reports the damaged replicas queued, in one ReportBadBlocks,
// to the leader NameNode (toLeader); they are queued again if no
// NameNode takes them.
func (d *DataNode) sendBad(ctx context.Context) error {
	bad := d.bad.take()
	if len(bad) == 0 {
		return nil
	}
	req := &protocol.ReportBadBlocksRequest{}
	for _, b := range bad {
		req.Blocks = append(req.Blocks, &protocol.BadBlock{Block: protocol.BlockToProto(b.block), NodeId: string(d.ID()), Reason: b.reason})
	}
	const op = "datanode.ReportBadBlocks"
	err := d.toLeader(ctx, op, func(ctx context.Context, s *nnSession) error {
		_, err := s.cl.ReportBadBlocks(ctx, req)
		return protocol.FromStatus(op, s.addr, err)
	})
	if err != nil {
		d.bad.putBack(bad)
	}
	return err
}

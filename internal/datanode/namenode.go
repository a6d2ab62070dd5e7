package datanode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// rpcTimeout bounds one call to the NameNode.
const rpcTimeout = 30 * time.Second

// nnSession is the DataNode's session with one NameNode (HDFS's
// BPServiceActor): its gRPC connection, its registration, its heartbeat
// loop and the commands of the replies (the ids to acknowledge), the
// full and incremental block reports sent to it, and its own queue of
// replica events not yet sent. A DataNode keeps one per NameNode
// address; the store's events reach every session's queue (see
// DataNode.notify), so each NameNode hears every change, and a
// NameNode that is down only holds back its own reports.
type nnSession struct {
	d    *DataNode
	addr string    // the NameNode's RPC address
	ibr  *ibrQueue // the replica events this NameNode has not heard of

	// dn and cl are set by run before it starts the session's
	// goroutines, and not changed after.
	dn protocol.DatanodeProtocolClient
	cl protocol.ClientProtocolClient

	// reportMu orders the block reports: a full report is built (its
	// snapshot of the replica maps taken) and sent holding it, and so
	// is each incremental one, so that a full report built before a
	// replica changed never reaches the NameNode after the incremental
	// report of that change.
	reportMu sync.Mutex

	mu    sync.Mutex       // guards the fields below
	cc    *grpc.ClientConn // while Serve runs
	state string           // "", "registering", "registered"
	cmds  commandLog       // command ids to acknowledge, and those run
}

func newSession(d *DataNode, addr string) *nnSession {
	return &nnSession{d: d, addr: addr, ibr: newIBRQueue()}
}

// notify hands a replica event to every session's queue.
func (d *DataNode) notify(ev replicaEvent) {
	for _, s := range d.sessions {
		s.ibr.add(ev)
	}
}

// nameNodeState is the DataNode's standing with its NameNodes, for
// /status and the metrics: "registered" if a session is, else
// "registering" once Serve has started, else "".
func (d *DataNode) nameNodeState() string {
	state := ""
	for _, s := range d.sessions {
		s.mu.Lock()
		st := s.state
		s.mu.Unlock()
		switch {
		case st == "registered":
			return st
		case st != "":
			state = st
		}
	}
	return state
}

// client returns the ClientProtocol of the session's NameNode, nil
// while Serve does not run.
func (s *nnSession) client() protocol.ClientProtocolClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cc == nil {
		return nil
	}
	return s.cl
}

// close closes the session's connection, once Serve's goroutines are
// done with it.
func (s *nnSession) close() {
	s.mu.Lock()
	cc := s.cc
	s.cc = nil
	s.mu.Unlock()
	if cc != nil {
		cc.Close()
	}
}

// run registers with the NameNode and keeps it informed until ctx
// ends. It returns an error only when the NameNode refuses this node
// for good. The goroutines it starts (the incremental reports, the
// commands) are counted in wg; Serve waits for them and then closes
// the connection (close).
func (s *nnSession) run(ctx context.Context, wg *sync.WaitGroup) error {
	cc, err := s.d.cfg.Transport.NewGRPCClient(s.addr)
	if err != nil {
		return cairn.E("datanode.Serve", s.addr, cairn.Invalid, err)
	}
	s.mu.Lock()
	s.cc = cc
	s.dn = protocol.NewDatanodeProtocolClient(cc)
	s.cl = protocol.NewClientProtocolClient(cc)
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.flushReports(ctx)
	}()
	for {
		if err := s.register(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		s.heartbeats(ctx, wg)
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (n *nnSession) setState(state string) {
	n.mu.Lock()
	n.state = state
	n.mu.Unlock()
}

func (n *nnSession) registered() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == "registered"
}

// backoff is the wait before retry number i (from 0).
func (n *nnSession) backoff(i int) time.Duration { return n.d.cfg.backoff(i) }

// backoff is the wait before retry number i (from 0) of a call to a
// NameNode.
func (c Config) backoff(i int) time.Duration {
	cap := min(max(c.heartbeatInterval(), 100*time.Millisecond), 3*time.Second)
	d := 100 * time.Millisecond << min(i, 10)
	return min(d, cap)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// register registers and sends a full block report, retrying until it
// succeeds or ctx ends. A cluster mismatch is returned.
func (n *nnSession) register(ctx context.Context) error {
	d := n.d
	n.setState("registering")
	// A new session: the NameNode (perhaps a restarted one) sends the
	// commands it wants run again, under ids that say nothing of the
	// earlier ones. The commands are idempotent.
	n.mu.Lock()
	n.cmds.reset()
	n.mu.Unlock()
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return nil
		}
		err := n.registerOnce(ctx)
		if err == nil {
			err = n.blockReport(ctx)
		}
		if err == nil {
			n.setState("registered")
			n.ibr.signal()
			return nil
		}
		if cairn.KindOf(err) == cairn.ClusterMismatch {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if i == 0 || i%20 == 0 {
			d.log.Warn("cannot register with the namenode; retrying", "namenode", n.addr, "err", err)
		}
		if !sleep(ctx, n.backoff(i)) {
			return nil
		}
	}
}

func (n *nnSession) registerOnce(ctx context.Context) error {
	d := n.d
	id, cluster := d.store.ids()
	d.mu.Lock()
	addr := d.addr
	d.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	resp, err := n.dn.Register(cctx, &protocol.RegisterRequest{
		NodeId:    string(id),
		ClusterId: string(cluster),
		Addr:      addr,
		HttpAddr:  d.cfg.HTTPAddr,
		Storage:   d.storageReport(),
	})
	if err != nil {
		return protocol.FromStatus("datanode.Register", n.addr, err)
	}
	got := cairn.ClusterID(resp.ClusterId)
	// Sessions with several NameNodes may register at once: the
	// first to learn the cluster ID records it, the others compare.
	d.clusterMu.Lock()
	defer d.clusterMu.Unlock()
	_, cluster = d.store.ids()
	if cluster != "" && got != "" && got != cluster {
		return cairn.Errorf("datanode.Register", n.addr, cairn.ClusterMismatch, "namenode is of cluster %s, this datanode of cluster %s", got, cluster)
	}
	if cluster == "" && got != "" {
		if err := d.store.setClusterID(got); err != nil {
			d.log.Error("cannot record the cluster ID", "err", err)
		}
	}
	d.learnBlockKeys(resp.BlockTokens, resp.BlockKeys)
	d.log.Info("registered with the namenode", "namenode", n.addr, "cluster", got, "addr", addr)
	return nil
}

// blockReport sends a full block report: the finalized replicas and
// the idle rbw ones. It is built and sent holding reportMu, so that no
// incremental report of a later change overtakes it.
func (n *nnSession) blockReport(ctx context.Context) error {
	n.reportMu.Lock()
	defer n.reportMu.Unlock()
	return n.fullReport(ctx)
}

// fullReport builds and sends a full block report; reportMu is held.
// It settles a full report owed by an overflow of the incremental
// queue (ibrQueue.full), or owes it again if it fails.
func (n *nnSession) fullReport(ctx context.Context) (err error) {
	d := n.d
	if n.ibr.takeFull() {
		defer func() {
			if err != nil {
				n.ibr.oweFull()
			}
		}()
	}
	blocks := d.store.blocks()
	rbw := d.store.idleBlocks()
	d.store.hook(StepFullReportBuilt, cairn.Block{})
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err = n.dn.BlockReport(cctx, &protocol.BlockReportRequest{
		NodeId: string(d.ID()),
		Blocks: protocol.BlocksToProto(blocks),
		Rbw:    protocol.BlocksToProto(rbw),
	})
	if err != nil {
		return protocol.FromStatus("datanode.BlockReport", n.addr, err)
	}
	d.log.Debug("block report sent", "blocks", len(blocks))
	return nil
}

// heartbeats heartbeats and sends periodic block reports until ctx ends
// or the NameNode asks for a new registration.
func (n *nnSession) heartbeats(ctx context.Context, wg *sync.WaitGroup) {
	d := n.d
	hb := time.NewTicker(d.cfg.heartbeatInterval())
	defer hb.Stop()
	br := time.NewTicker(d.cfg.blockReportInterval())
	defer br.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-br.C:
			if err := n.blockReport(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("block report failed", "err", err)
			}
			continue
		case <-hb.C:
		}
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		id, _ := d.store.ids()
		acks := n.pendingAcks()
		resp, err := n.dn.Heartbeat(cctx, &protocol.HeartbeatRequest{NodeId: string(id), Storage: d.storageReport(), AckedCommands: acks})
		cancel()
		if err == nil {
			n.acked(acks)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			err = protocol.FromStatus("datanode.Heartbeat", n.addr, err)
			switch cairn.KindOf(err) {
			case cairn.Unknown, cairn.NotExist:
				d.log.Info("namenode does not know this node; registering again", "err", err)
				return
			case cairn.ClusterMismatch:
				return
			}
			if failures == 0 {
				d.log.Warn("heartbeat failed", "namenode", n.addr, "err", err)
			}
			failures++
			continue
		}
		if failures > 0 {
			d.log.Info("heartbeat succeeded again", "after_failures", failures)
			failures = 0
		}
		d.observeReply(n, resp)
		d.learnBlockKeys(false, resp.BlockKeys)
		for _, c := range resp.Commands {
			// Registration is with each NameNode: any may ask for
			// it, leader or not.
			if c.Type == protocol.Command_REREGISTER {
				d.log.Info("namenode asks this node to register again", "namenode", n.addr)
				return
			}
			var first cairn.Block
			if len(c.Blocks) > 0 {
				first = protocol.BlockFromProto(c.Blocks[0])
			}
			if !d.acceptCommand(n, resp.Term, c) {
				// Acknowledged, so that the NameNode stops sending
				// it, but not taken as run: sent again once its
				// NameNode leads, it is run.
				n.ack(c.Id)
				d.log.Debug("command refused", "namenode", n.addr, "id", c.Id, "type", c.Type)
				d.store.hook(StepCommandRefused, first)
				continue
			}
			if !n.take(c.Id) {
				d.log.Debug("command already run", "id", c.Id, "type", c.Type)
				continue
			}
			d.store.hook(StepCommandRun, first)
			n.command(ctx, c, wg)
		}
	}
}

// copyBlock streams the local replica of b down a pipeline of targets,
// verifying its checksums on the way; a corrupt replica is reported to
// the NameNode.
func (n *nnSession) copyBlock(ctx context.Context, b cairn.Block, targets []cairn.DatanodeInfo) error {
	d := n.d
	if len(targets) == 0 {
		return nil
	}
	d.active.Add(1)
	defer d.active.Add(-1)
	rep, ok := d.store.lookup(b.ID)
	if !ok {
		return cairn.Errorf("datanode.CopyBlock", blockName(b), cairn.NotExist, "no such replica")
	}
	if b.GenStamp == 0 {
		b.GenStamp = rep.gs
	}
	r, _, err := d.store.openReplica(b)
	if err != nil {
		return err
	}
	defer r.Close()
	b.Len = r.Block().Len
	data, meta := r.Data(), r.Checksums()
	w, err := datatransfer.Options{Stage: datatransfer.StageTransfer, Timeout: d.cfg.socketReadTimeout(), Transport: d.cfg.Transport}.NewBlockWriter(ctx, b, targets, "datanode-"+string(d.ID()))
	if err != nil {
		return err
	}
	buf := make([]byte, cairn.PacketSize)
	sums := make([]byte, datatransfer.SumsLen(cairn.PacketSize))
	for pos := int64(0); pos < b.Len; {
		k := int(min(int64(len(buf)), b.Len-pos))
		if _, err := data.ReadAt(buf[:k], pos); err != nil {
			w.Abort()
			return cairn.E("datanode.CopyBlock", blockName(b), cairn.IO, err)
		}
		s := sums[:datatransfer.SumsLen(k)]
		if _, err := meta.ReadAt(s, sumsAt(pos)); err != nil && !errors.Is(err, io.EOF) {
			w.Abort()
			return cairn.E("datanode.CopyBlock", blockName(b), cairn.IO, err)
		}
		if bad := datatransfer.VerifySums(s, buf[:k]); bad >= 0 {
			w.Abort()
			at := pos + int64(bad)*cairn.ChunkSize
			d.reportBad(b, fmt.Sprintf("checksum mismatch at offset %d found while copying", at))
			return cairn.Errorf("datanode.CopyBlock", blockName(b), cairn.Corrupt, "checksum mismatch at offset %d", at)
		}
		if _, err := w.Write(buf[:k]); err != nil {
			w.Abort()
			return err
		}
		pos += int64(k)
	}
	if err := w.Close(); err != nil {
		return err
	}
	d.log.Info("copied block", "block", blockName(b), "targets", len(targets))
	return nil
}

// flushReports sends incremental block reports as events arrive,
// batching what arrives while a report is in flight.
func (n *nnSession) flushReports(ctx context.Context) {
	d := n.d
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ibr.wake:
		case <-time.After(time.Second):
		}
		if !n.registered() {
			continue
		}
		err := n.sendIncremental(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if failures == 0 {
				d.log.Warn("incremental block report failed", "err", err)
			}
			failures++
			if !sleep(ctx, n.backoff(failures)) {
				return
			}
			// Try again without waiting for a new event.
			n.ibr.signal()
			continue
		}
		failures = 0
	}
}

// sendIncremental sends the incremental block reports waiting,
// holding reportMu: a report that would list a block twice is sent as
// several, in order.
func (n *nnSession) sendIncremental(ctx context.Context) error {
	d := n.d
	if !n.reportMu.TryLock() {
		d.store.hook(StepIncrementalReportWaits, cairn.Block{})
		n.reportMu.Lock()
	}
	defer n.reportMu.Unlock()
	if n.ibr.owesFull() {
		// Events were dropped: a full report stands for them.
		if err := n.fullReport(ctx); err != nil {
			return err
		}
		d.log.Info("full block report sent in place of the incremental reports dropped when their queue overflowed", "namenode", n.addr)
	}
	for {
		evs := n.ibr.take()
		if len(evs) == 0 {
			return nil
		}
		received, receiving, deleted := split(evs)
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		_, err := n.dn.IncrementalBlockReport(cctx, &protocol.IncrementalBlockReportRequest{
			NodeId:    string(d.ID()),
			Received:  protocol.BlocksToProto(received),
			Receiving: protocol.BlocksToProto(receiving),
			Deleted:   protocol.BlocksToProto(deleted),
		})
		cancel()
		if err != nil {
			n.ibr.putBack(evs)
			return protocol.FromStatus("datanode.IncrementalBlockReport", n.addr, err)
		}
	}
}

// storageReport describes the volumes.
func (d *DataNode) storageReport() *protocol.StorageReport {
	_, used, failed := d.store.stats()
	var capacity, remaining int64
	seen := make(map[uint64]bool) // devices counted
	for _, dir := range d.store.healthyDirs() {
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				if seen[uint64(st.Dev)] {
					continue
				}
				seen[uint64(st.Dev)] = true
			}
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			continue
		}
		capacity += int64(st.Blocks) * int64(st.Bsize)
		remaining += int64(st.Bavail) * int64(st.Bsize)
	}
	if c := d.store.capacity; c > 0 {
		// The VolumeCapacity test seam: each volume holds c bytes.
		capacity, remaining = 0, 0
		for _, v := range d.store.healthyVolumes() {
			capacity += c
			remaining += max(c-v.used.Load(), 0)
		}
	}
	return protocol.StorageReportToProto(cairn.StorageReport{
		CapacityBytes:   capacity,
		UsedBytes:       used,
		RemainingBytes:  remaining,
		ActiveTransfers: int(d.active.Load()),
		FailedVolumes:   failed,
	})
}

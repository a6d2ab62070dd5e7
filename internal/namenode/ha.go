package namenode

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Leadership. Every member applies the log; only the leader serves the
// namespace, keeps leases, and orders DataNodes about. A member becomes
// a serving leader in two steps: raft elects it, then it commits a
// barrier in its term, so that every entry of earlier terms is applied
// here before it answers anything (promote). Until then, and after it
// steps down, it refuses clients with NotLeader.
//
// Its local state (the replica map, the DataNodes' registry) is kept
// current on every member: DataNodes heartbeat and report to all of
// them. A member that does not lead queues the reports it cannot judge
// yet (standby reports, below) and sends DataNodes no command.

// leadership is a member's view of its own leadership.
type leadership struct {
	// term is the Raft term in which this member was promoted; 0 while
	// it is not a serving leader.
	term atomic.Uint64
	// changes counts failovers seen: a leader known after another was
	// (the first election after a start is not one), for the metrics.
	changes atomic.Uint64

	// verify batches the leadership checks of linearizable reads.
	verify readBarrier
}

// servingTerm returns the term in which this member serves as leader,
// 0 if it does not.
func (s *Server) servingTerm() uint64 {
	t := s.lead.term.Load()
	if t == 0 || s.rn.raft.State() != raft.Leader || s.rn.raft.CurrentTerm() != t {
		return 0
	}
	return t
}

// leadershipLoop follows raft's leadership changes: it promotes this
// member when it is elected, and demotes it when it loses leadership.
func (s *Server) leadershipLoop(ctx context.Context) {
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.rn.raft.RegisterObserver(o)
	defer s.rn.raft.DeregisterObserver(o)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last raft.ServerID // the last leader observed
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-obs:
			if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" {
				if last != "" && lo.LeaderID != last {
					s.lead.changes.Add(1)
				}
				last = lo.LeaderID
			}
		case <-t.C:
		}
		// The observation says something changed; the state says what.
		if s.rn.raft.State() == raft.Leader {
			if s.lead.term.Load() != s.rn.raft.CurrentTerm() {
				s.promote(ctx)
			}
		} else if s.lead.term.Load() != 0 || s.standbyOff() {
			s.demote()
		}
	}
}

// standbyOff reports whether the namespace still judges reports as a
// leader does, on a member that no longer leads.
func (s *Server) standbyOff() bool {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	return !s.ns.standby.on
}

// promote makes a newly elected leader serve: it waits until every
// entry of earlier terms is applied, forgets what it ordered or timed
// in an earlier term of its own, judges the reports it had queued, and
// leaves safe mode if the blocks are reported.
func (s *Server) promote(ctx context.Context) {
	term := s.rn.raft.CurrentTerm()
	if err := s.barrier(ctx); err != nil {
		s.log.Warn("elected, but could not apply the log; not serving", "term", term, "err", err)
		return
	}
	if s.rn.raft.State() != raft.Leader || s.rn.raft.CurrentTerm() != term {
		return
	}
	// Leases restart: every writer gets a full soft limit from now to
	// renew with the new leader (leases.age gives a fresh time to a
	// holder it has not seen).
	s.leases.reset()
	s.recov.dropQueued()
	for _, d := range s.reg.all() {
		d.dropQueued()
	}
	s.ns.mu.Lock()
	n := s.ns.endStandby()
	s.ns.heal.rescan = true
	s.ns.mu.Unlock()
	if s.cfg.group() && time.Since(s.started) >= s.cfg.SafeModeExtension {
		// A member that has followed for that long has had the
		// DataNodes' reports the extension waits for (a NameNode alone
		// is promoted as it starts: it waits).
		s.safe.skipExtension()
	}
	s.safe.setLoaded()
	s.lead.term.Store(term)
	s.log.Info("leading the namespace", "term", term, "queued_reports", n, "safeMode", s.safe.isOn())
	s.ownRoot(ctx)
}

// ownRoot gives a new namespace's root directory to the superuser and
// the supergroup, as HDFS's format does, with a logged change (so that
// every member agrees); a root with an owner is left as it is.
func (s *Server) ownRoot(ctx context.Context) {
	s.ns.mu.RLock()
	owned := s.ns.root.owner != 0
	s.ns.mu.RUnlock()
	if owned {
		return
	}
	c := command{op: opSetOwner, path: "/", owner: s.cfg.Superuser, group: s.cfg.SuperGroup}
	if _, err := s.mutate(ctx, &c); err != nil {
		s.log.Warn("could not give the root directory to the superuser", "user", s.cfg.Superuser, "err", err)
	}
}

// barrier commits a barrier in this member's term and waits until it is
// applied, for ApplyTimeout at most or until ctx ends. (A barrier that
// raft never answers, as when a member stops leading while its barrier
// waits on a member that halted, must not hold the leadership loop, nor
// Close, which waits for it; the loop tries again while it leads.)
func (s *Server) barrier(ctx context.Context) error {
	fut := s.rn.raft.Barrier(s.cfg.ApplyTimeout)
	done := make(chan error, 1)
	go func() { done <- fut.Error() }()
	t := time.NewTimer(s.cfg.ApplyTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errf(cairn.Unavailable, "barrier not applied within %v", s.cfg.ApplyTimeout)
	}
}

// demote stops serving: the member refuses clients and sends no
// commands, and queues the reports it cannot judge.
func (s *Server) demote() {
	if t := s.lead.term.Swap(0); t != 0 {
		s.log.Info("no longer leading the namespace", "term", t)
	}
	s.ns.mu.Lock()
	s.ns.standby.on = true
	s.ns.mu.Unlock()
	for _, d := range s.reg.all() {
		d.dropQueued()
	}
	s.recov.dropQueued()
}

// readable checks that a read may be served here: this member leads
// (it is promoted, and, in a group, a quorum still follows it), so
// that the read sees every write acknowledged before it began.
func (s *Server) readable(ctx context.Context) error {
	term := s.servingTerm()
	if term == 0 {
		return s.notLeader()
	}
	if s.rn.single {
		return nil
	}
	if err := s.lead.verify.wait(ctx, s.rn.raft); err != nil {
		if cairn.KindOf(err) == cairn.NotLeader {
			return s.notLeader()
		}
		return err
	}
	if s.servingTerm() != term {
		// Leadership lost and won again meanwhile: the new term's
		// barrier may not be applied yet.
		return s.notLeader()
	}
	return nil
}

// readBarrier batches leadership checks (raft.VerifyLeader: a round of
// heartbeats answered by a quorum) for linearizable reads, as etcd's
// ReadIndex does: a read waits for a check that started after it
// arrived; all reads waiting when a check starts share it.
type readBarrier struct {
	mu      sync.Mutex
	running bool
	waiting []chan error
}

func (b *readBarrier) wait(ctx context.Context, r *raft.Raft) error {
	ch := make(chan error, 1)
	b.mu.Lock()
	b.waiting = append(b.waiting, ch)
	if !b.running {
		b.running = true
		go b.run(r)
	}
	b.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return errf(cairn.Unavailable, "leadership check: %v", ctx.Err())
	}
}

func (b *readBarrier) run(r *raft.Raft) {
	for {
		b.mu.Lock()
		batch := b.waiting
		b.waiting = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		var err error
		if e := r.VerifyLeader().Error(); e != nil {
			err = raftError(e)
		}
		for _, ch := range batch {
			ch <- err
		}
	}
}

// Standby reports. A member that does not lead judges the DataNodes'
// reports against a namespace that may lag the leader's by a few
// entries: a replica of a block it has not applied yet, or of a
// generation stamp newer than the one it knows, is not an orphan or a
// corrupt replica, only news from its future. It keeps such reports
// (the newest per replica) and judges them when the block catches up
// (sweepStandby) or when it is promoted (endStandby), as HDFS's standby
// NameNode keeps its PendingDataNodeMessages.

// maxStandbyReports bounds the queued reports; beyond it new reports
// from the future are dropped.
const maxStandbyReports = 1 << 20

type standbyKey struct {
	node uint32
	id   cairn.BlockID
}

type standbyReport struct {
	rb cairn.Block
	st replicaState
}

type standbyState struct {
	// on: the member does not lead; reports from the future are
	// queued. Guarded by namespace.mu.
	on      bool
	pending map[standbyKey]standbyReport
}

// fromFuture reports whether a report of rb must wait, and queues it
// if so. The caller holds ns.mu.
func (ns *namespace) fromFuture(node uint32, rb cairn.Block, st replicaState) bool {
	if !ns.standby.on {
		return false
	}
	k := standbyKey{node, rb.ID}
	b := ns.blocks[rb.ID]
	if b != nil && rb.GenStamp <= b.gs {
		delete(ns.standby.pending, k)
		return false
	}
	if ns.standby.pending == nil {
		ns.standby.pending = make(map[standbyKey]standbyReport)
	}
	if len(ns.standby.pending) >= maxStandbyReports {
		// Dropped, never misjudged (as corrupt or an orphan): the
		// node's next full report brings the replica back.
		return true
	}
	ns.standby.pending[k] = standbyReport{rb: rb, st: st}
	return true
}

// sweepStandby judges the queued reports whose blocks the member has
// caught up with. The caller holds ns.mu.
func (ns *namespace) sweepStandby() {
	for k, r := range ns.standby.pending {
		if b := ns.blocks[k.id]; b != nil && r.rb.GenStamp <= b.gs {
			delete(ns.standby.pending, k)
			ns.reportReplica(k.node, r.rb, r.st)
		}
	}
}

// forgetStandby drops the queued reports of node, which a full report
// supersedes. The caller holds ns.mu.
func (ns *namespace) forgetStandby(node uint32) {
	for k := range ns.standby.pending {
		if k.node == node {
			delete(ns.standby.pending, k)
		}
	}
}

// endStandby judges every queued report as the leader, and returns how
// many there were. The caller holds ns.mu.
func (ns *namespace) endStandby() int {
	ns.standby.on = false
	pending := ns.standby.pending
	ns.standby.pending = nil
	for k, r := range pending {
		ns.reportReplica(k.node, r.rb, r.st)
	}
	return len(pending)
}

// standbyLoop judges the queued reports of a member that does not lead,
// as it catches up.
func (s *Server) standbyLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.ns.mu.Lock()
		if s.ns.standby.on && len(s.ns.standby.pending) > 0 {
			s.ns.sweepStandby()
		}
		s.ns.mu.Unlock()
	}
}

// noRetryHere tells gRPC's own retry policy (the client's serviceConfig
// retries reads on Unavailable) not to ask this member again after a
// NotLeader refusal: the client's invoker goes to the leader instead
// (the trailer grpc-retry-pushback-ms: -1 stops gRPC's retries).
func noRetryHere(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil && cairn.KindOf(protocol.FromStatus(info.FullMethod, "", err)) == cairn.NotLeader {
		grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", "-1"))
	}
	return resp, err
}

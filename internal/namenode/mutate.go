package namenode

import (
	"context"
	"time"

	"github.com/cairn-fs/cairn"
)

// mutate is the one path of every replicated change to the namespace:
// the client operations (ops.go), pipeline and lease recovery
// (recovery.go, lease.go) and decommissioning (decommission.go) build a
// command, with the leader's choices (times, targets, defaults) in it,
// and hand it here. mutate appends it to the replicated log and waits
// until it is committed (fsync'd on a quorum) and applied on this
// member; it returns the result of applying it (a value, or the
// *cairn.Error the state machine gave). On a member that is not the
// leader it fails with cairn.NotLeader and logs nothing.
//
// Nothing here is serialized: concurrent mutations are batched by raft
// into one log write and applied under one lock (fsm.ApplyBatch). The
// checks a caller makes before (writable, its own preconditions) are
// advisory; the state machine re-checks every condition at apply time.
// What every change must carry or pass later (the caller's identity in
// the command, a permission check at apply time, an audit record) goes
// here, once.
func (s *Server) mutate(ctx context.Context, c *command) (any, error) {
	if s.servingTerm() == 0 {
		return nil, s.notLeader()
	}
	if who, ok := CallerFrom(ctx); ok {
		c.caller, c.callerGroups = who.User, who.Groups
	}
	s.markChecks(ctx, c)
	for {
		if v, done := s.answered(ctx, c); done {
			// A retry of a call this group carried out already: its
			// first answer, and nothing proposed.
			return result(v)
		}
		if c.rpcCall == 0 {
			break
		}
		// A retry of a call still being proposed here waits for it,
		// then finds its answer above (or, if it failed to commit,
		// proposes itself): applied twice, a delete retried while its
		// first attempt was in flight would remove a file created
		// meanwhile at the path.
		k := callKey(c)
		wait, first := s.calls.begin(k)
		if first {
			defer s.calls.end(k)
			break
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, cairn.E("namenode", c.path, cairn.Unavailable, ctx.Err())
		}
	}
	buf := c.encode(make([]byte, 0, 32+len(c.path)+len(c.path2)+len(c.clientName)+len(c.owner)+len(c.group)+len(c.caller)+len(c.rpcClient)))
	start := time.Now()
	f := s.rn.raft.Apply(buf, s.cfg.ApplyTimeout)
	err := f.Error()
	s.metrics.observePropose(c.op, time.Since(start), err)
	if err != nil {
		err = raftError(err)
		if cairn.KindOf(err) == cairn.NotLeader {
			// Leadership lost meanwhile: name the new leader.
			return nil, s.notLeader()
		}
		return nil, err
	}
	return result(f.Response())
}

// answered names c with the call of ctx, for the retry cache, and
// returns that call's first result if this group applied it already.
// mutate asks it before proposing; an operation whose own checks
// before proposing would fail on a retry (its first attempt changed
// what they look at, as concat removes its sources) asks it before
// them.
func (s *Server) answered(ctx context.Context, c *command) (any, bool) {
	if !cachedOp(c.op) {
		return nil, false
	}
	client, call, ok := rpcCallFrom(ctx)
	if !ok {
		return nil, false
	}
	c.rpcClient, c.rpcCall = client, call
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	return s.ns.retries.lookup(c)
}

package namenode

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
)

// safeMode is the NameNode's read-only state. The automatic safe mode
// is on from start until the namespace is loaded and enough of its
// blocks have a reported replica (then the extension passes); a manual
// one is entered and left only by the operator. State transitions are
// evaluated when asked, so no timer is needed.
type safeMode struct {
	active atomic.Bool // fast path: false once neither mode is on

	mu        sync.Mutex
	manual    bool
	auto      bool
	loaded    bool      // the namespace is fully replayed
	reachedAt time.Time // when the threshold was reached; zero: not yet

	threshold float64
	extension time.Duration
	ns        *namespace
	now       func() time.Time
	log       *slog.Logger
}

func newSafeMode(cfg *Config, ns *namespace, now func() time.Time, log *slog.Logger) *safeMode {
	sm := &safeMode{auto: true, threshold: cfg.SafeModeThreshold, extension: cfg.SafeModeExtension, ns: ns, now: now, log: log}
	sm.active.Store(true)
	return sm
}

// setLoaded says the namespace is complete, so the automatic safe mode
// can judge the block counts.
func (sm *safeMode) setLoaded() {
	sm.mu.Lock()
	sm.loaded = true
	sm.mu.Unlock()
	sm.isOn()
}

// skipExtension drops the extension: a member promoted long after it
// started has given the DataNodes the time the extension is for (they
// report to every member), so it leaves as soon as the threshold is
// met.
func (sm *safeMode) skipExtension() {
	sm.mu.Lock()
	sm.extension = 0
	sm.mu.Unlock()
}

// isOn evaluates and reports whether safe mode is on.
func (sm *safeMode) isOn() bool {
	if !sm.active.Load() {
		return false
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	on, _ := sm.evalLocked()
	return on
}

// evalLocked advances the automatic safe mode and says whether safe
// mode is on, and why.
func (sm *safeMode) evalLocked() (bool, string) {
	total, reported := sm.ns.completeBlocks.Load(), sm.ns.reportedBlocks.Load()
	counts := fmt.Sprintf("%d of %d blocks reported, threshold %g", reported, total, sm.threshold)
	if sm.auto {
		switch {
		case !sm.loaded:
			return true, "safe mode is ON: loading the namespace"
		case total == 0:
			// An empty namespace has nothing to wait for.
			sm.auto = false
			sm.log.Info("leaving safe mode: the namespace has no blocks")
		case float64(reported) >= sm.threshold*float64(total):
			now := sm.now()
			if sm.reachedAt.IsZero() {
				sm.reachedAt = now
			}
			if left := sm.extension - now.Sub(sm.reachedAt); left > 0 {
				return true, fmt.Sprintf("safe mode is ON: %s; threshold reached, leaving in %v", counts, left.Round(time.Millisecond))
			}
			sm.auto = false
			sm.log.Info("leaving safe mode", "reported", reported, "blocks", total)
		default:
			sm.reachedAt = time.Time{}
			return true, "safe mode is ON: " + counts
		}
	}
	if sm.manual {
		return true, "safe mode is ON (entered manually): " + counts
	}
	sm.active.Store(false)
	return false, "safe mode is OFF: " + counts
}

// SafeMode gets, enters or leaves safe mode (action "get", "enter",
// "leave"). Leaving also ends the automatic safe mode of a restart.
func (s *Server) SafeMode(ctx context.Context, action string) (cairn.SafeModeStatus, error) {
	if action != "get" {
		if err := s.superOnly(ctx, "safemode "+action); err != nil {
			return cairn.SafeModeStatus{}, err
		}
	}
	// Safe mode is the leader's: a member that does not lead refuses, so
	// that 'cairn admin safemode' reads and changes the state that
	// matters.
	if s.servingTerm() == 0 {
		return cairn.SafeModeStatus{}, s.notLeader()
	}
	return s.safe.act(action)
}

// status is the safe mode of this member, as its web pages show it
// (a follower's own, which only matters once it leads).
func (sm *safeMode) status() cairn.SafeModeStatus {
	st, _ := sm.act("get")
	return st
}

// act gets, enters or leaves safe mode.
func (sm *safeMode) act(action string) (cairn.SafeModeStatus, error) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	switch action {
	case "", "get":
	case "enter":
		if !sm.manual {
			sm.log.Info("entering safe mode manually")
		}
		sm.manual = true
		sm.active.Store(true)
	case "leave":
		if sm.manual || sm.auto {
			sm.log.Info("leaving safe mode manually")
		}
		sm.manual = false
		sm.auto = false
	default:
		return cairn.SafeModeStatus{}, errf(cairn.Invalid, "unknown safe mode action %q (want get, enter or leave)", action)
	}
	on, reason := sm.evalLocked()
	return cairn.SafeModeStatus{On: on, Manual: sm.manual, Reason: reason}, nil
}

package namenode

import (
	"context"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
)

// leases records when each writer last renewed its lease. Which files a
// holder has open is the namespace's (the files under construction);
// only the renewal times live here, in memory on the leader. A holder
// seen without a renewal time (after a restart, or a snapshot load) is
// given a fresh one.
type leases struct {
	mu      sync.Mutex
	renewed map[string]time.Time
	now     func() time.Time
}

func newLeases(now func() time.Time) *leases {
	return &leases{renewed: make(map[string]time.Time), now: now}
}

func (l *leases) renew(holder string) {
	if holder == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	l.renewed[holder] = now
	l.mu.Unlock()
}

// age is how long ago holder last renewed.
func (l *leases) age(holder string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.renewed[holder]
	if !ok {
		l.renewed[holder] = now
		return 0
	}
	return now.Sub(t)
}

// forgetExcept drops the holders not in keep that are older than
// limit, so the table does not grow with every client ever seen.
func (l *leases) forgetExcept(keep map[string]struct{}, limit time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for h, t := range l.renewed {
		if _, ok := keep[h]; !ok && now.Sub(t) > limit {
			delete(l.renewed, h)
		}
	}
}

// RenewLease renews every lease of a client.
func (s *Server) RenewLease(ctx context.Context, clientName string) error {
	if clientName == "" {
		return errf(cairn.Invalid, "empty client name")
	}
	s.leases.renew(clientName)
	return nil
}

// recovery is what it takes to close one file whose writer went away.
type recovery struct {
	fileID uint64
	holder string
	path   string
	cmd    command
}

// recoveryFor works out how to close u: committed blocks stay; an
// uncommitted last block keeps the shortest length its replicas
// reported, or is dropped if none did. The caller holds ns.mu.
func (s *Server) recoveryFor(u *ucFile, mtime int64) recovery {
	c := command{op: opCloseFile, fileID: u.f.id, clientName: u.holder, mtime: mtime}
	if last := s.ns.lastBlock(u.f); last != nil && !last.committed {
		c.flags |= flagHasBlock
		c.block = last.block()
		length := int64(-1)
		for _, r := range last.replicas {
			if !r.corrupt && (length < 0 || r.len < length) {
				length = r.len
			}
		}
		if length < 0 {
			c.flags |= flagDropLast
		} else {
			c.block.Len = length
		}
	}
	return recovery{fileID: u.f.id, holder: u.holder, path: u.f.path(), cmd: c}
}

// recoverLease closes a file whose writer's lease expired, through the
// log.
func (s *Server) recoverLease(ctx context.Context, r recovery) error {
	_, err := s.propose(ctx, &r.cmd)
	if err != nil {
		return err
	}
	s.log.Info("lease recovered: file closed", "path", r.path, "holder", r.holder,
		"lastBlockDropped", r.cmd.flags&flagDropLast != 0)
	return nil
}

// leaseMonitor closes the files whose writers have not renewed their
// lease within the hard limit. It stops with ctx.
func (s *Server) leaseMonitor(ctx context.Context) {
	interval := min(max(s.cfg.LeaseHardLimit/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.isLeader() || s.safe.isOn() {
			continue
		}
		for _, r := range s.expiredLeases() {
			if s.startBlockRecovery(ctx, r) {
				continue
			}
			if err := s.recoverLease(ctx, r); err != nil && ctx.Err() == nil {
				s.log.Warn("lease recovery failed", "path", r.path, "holder", r.holder, "err", err)
			}
		}
	}
}

// expiredLeases lists the files to close for leases past the hard limit.
func (s *Server) expiredLeases() []recovery {
	mtime := s.now().UnixNano()
	holders := make(map[string]struct{})
	var out []recovery
	s.ns.mu.RLock()
	for _, u := range s.ns.uc {
		holders[u.holder] = struct{}{}
		if s.leases.age(u.holder) > s.cfg.LeaseHardLimit {
			out = append(out, s.recoveryFor(u, mtime))
		}
	}
	s.ns.mu.RUnlock()
	s.leases.forgetExcept(holders, s.cfg.LeaseHardLimit)
	return out
}

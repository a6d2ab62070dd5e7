package namenode

import (
	"context"
	"strings"
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

// reset forgets every renewal time: each holder is given a fresh one
// when next seen (a new leader's grace).
func (l *leases) reset() {
	l.mu.Lock()
	l.renewed = make(map[string]time.Time)
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

// RenewLease renews every lease of a client. Only the leader keeps
// leases: a member that does not lead refuses with cairn.NotLeader,
// naming the leader, so the client renews there.
func (s *Server) RenewLease(ctx context.Context, clientName string) error {
	if err := checkClientName(clientName); err != nil {
		return err
	}
	if s.servingTerm() == 0 {
		return s.notLeader()
	}
	s.leases.renew(clientName)
	return nil
}

// leaseRecoveryHolder holds the lease of a file under lease recovery:
// the first generation stamp of its block synchronization is logged
// with flagLeaseRecovery, which passes the lease to it (as HDFS's
// reassignLease), so that the old writer, back from a pause, can no
// longer add to, complete or abandon the file while its replicas are
// being synchronized. No client may use the name.
const leaseRecoveryHolder = "cairn-namenode-lease-recovery"

// checkClientName refuses the client names no client may use.
func checkClientName(client string) error {
	switch client {
	case "":
		return errf(cairn.Invalid, "empty client name")
	case leaseRecoveryHolder:
		return errf(cairn.Invalid, "client name %q is reserved", client)
	}
	return nil
}

// recovery is what it takes to recover the lease of one file whose
// writer went away.
type recovery struct {
	fileID uint64
	holder string
	path   string
	// temp says the file is a put's temporary (isTemporary): once
	// closed it is removed.
	temp bool
	// close, if set, closes the file now: it has no uncommitted last
	// block, or none that any node could hold bytes of.
	close *command
	// block is the uncommitted last block to synchronize (recovery.go)
	// before the file is closed, when close is nil.
	block cairn.Block
}

// recoveryFor works out how to recover the lease of u. A file is
// closed at once (the "simple close") only when that cannot lose an
// acknowledged byte: its blocks are all committed, or its uncommitted
// last block has no node that could hold any of its bytes (no pipeline
// node, no replica reported in any state). Otherwise the last block is
// synchronized first. The caller holds ns.mu.
func (s *Server) recoveryFor(u *ucFile, mtime int64) recovery {
	r := recovery{fileID: u.f.id, holder: u.holder, path: u.f.path(), temp: isTemporary(u.f.name)}
	c := &command{op: opCloseFile, fileID: u.f.id, clientName: u.holder, mtime: mtime}
	if r.temp {
		c.flags |= flagRemoveFile
	}
	last := s.ns.lastBlock(u.f)
	switch {
	case last == nil || last.committed:
		r.close = c
	case len(u.expected) == 0 && len(last.replicas) == 0 && len(s.ns.unfinal[last.id]) == 0:
		// Allocated, and no node ever took it.
		c.flags |= flagHasBlock | flagDropLast
		c.block = last.block()
		r.close = c
	default:
		r.block = last.block()
	}
	return r
}

// isTemporary says whether name is that of the temporary file 'cairn
// fs put' writes before renaming it onto its target:
// ".<name>._COPYING_.<8 lowercase hex digits>" (see internal/cli,
// fs_put.go). A put that was interrupted and whose client is gone
// leaves it open; lease recovery closes it and then removes it.
func isTemporary(name string) bool {
	const marker = "._COPYING_."
	i := strings.LastIndex(name, marker)
	if i < 0 || !strings.HasPrefix(name, ".") {
		return false
	}
	suffix := name[i+len(marker):]
	if len(suffix) != 8 {
		return false
	}
	for _, c := range suffix {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// closeNow closes a file whose lease expired through the log, without
// block synchronization (r.close is set): a put's temporary is removed
// with it.
func (s *Server) closeNow(ctx context.Context, r recovery) error {
	_, err := s.mutate(ctx, r.close)
	if err != nil {
		return err
	}
	s.log.Info("lease recovered: file closed", "path", r.path, "holder", r.holder,
		"emptyLastBlockDropped", r.close.flags&flagDropLast != 0, "temporaryRemoved", r.temp)
	return nil
}

// leaseMonitor recovers the leases of files whose writers have not
// renewed within the hard limit (and carries on the recoveries that a
// Create past the soft limit started). It stops with ctx.
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
		if s.servingTerm() == 0 || s.safe.isOn() {
			continue
		}
		s.recoverLeases(ctx)
	}
}

// recoverLeases is one pass of the lease monitor.
func (s *Server) recoverLeases(ctx context.Context) {
	for _, r := range s.expiredLeases() {
		if r.close != nil {
			if err := s.closeNow(ctx, r); err != nil && ctx.Err() == nil && cairn.KindOf(err) != cairn.LeaseConflict {
				s.log.Warn("lease recovery failed", "path", r.path, "holder", r.holder, "err", err)
			}
			continue
		}
		s.driveRecovery(ctx, r)
	}
}

// expiredLeases lists the files whose lease to recover: those of
// holders past the hard limit, and those already under recovery.
func (s *Server) expiredLeases() []recovery {
	mtime := s.now().UnixNano()
	holders := make(map[string]struct{})
	var out []recovery
	s.ns.mu.RLock()
	recovering := s.recov.prune(s.ns)
	for _, u := range s.ns.uc {
		holders[u.holder] = struct{}{}
		_, underway := recovering[u.f.id]
		if underway || u.holder == leaseRecoveryHolder || s.leases.age(u.holder) > s.cfg.LeaseHardLimit {
			out = append(out, s.recoveryFor(u, mtime))
		}
	}
	s.ns.mu.RUnlock()
	s.leases.forgetExcept(holders, s.cfg.LeaseHardLimit)
	return out
}

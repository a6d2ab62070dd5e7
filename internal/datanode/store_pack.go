package datanode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// The replica map's side of the container store (pack.go): loading the
// containers, finalizing a small replica into one, removing, recovering
// and compacting the replicas they hold.

// memReplica is the data of a small replica being received, held in
// memory until it is finalized into a container or, if it grows past
// the store's small-block size, is synced, or its pipeline fails,
// written to rbw/ files as any replica (spill).
type memReplica struct {
	sums, data []byte
}

// loadPack opens v's containers and puts their live replicas in the
// replica map, after its files (scan): of two replicas of a block the
// newer generation stamp is kept, and the other removed.
func (s *store) loadPack(v *volume) error {
	type found struct {
		r   packRecord
		loc packLoc
	}
	var recs []found
	p, err := openPack(v.packDir(), s.log, func(r packRecord, c *container, off int64) {
		recs = append(recs, found{r: r, loc: packLoc{c: c, off: off}})
	})
	if err != nil {
		return err
	}
	v.pack = p
	// Tombstones name their victim by container and offset.
	type key struct {
		seq uint32
		off int64
	}
	// A tombstone kills the record at its container and offset only if
	// that record is of its block and generation stamp.
	killed := make(map[key]cairn.Block)
	for _, f := range recs {
		if f.r.kind == recTombstone {
			killed[key{f.r.tseq, f.r.toff}] = cairn.Block{ID: f.r.id, GenStamp: f.r.gs}
		}
	}
	best := make(map[cairn.BlockID]found)
	var drop []found
	for _, f := range recs {
		if f.r.kind != recReplica {
			continue
		}
		if k, ok := killed[key{f.loc.c.seq, f.loc.off}]; ok && k.ID == f.r.id && k.GenStamp == f.r.gs {
			continue
		}
		old, ok := best[f.r.id]
		switch {
		case !ok:
			best[f.r.id] = f
		case f.r.gs >= old.r.gs:
			// Equal stamps: a compaction's copy, or a copy of a block
			// stored again; the later one stands.
			drop = append(drop, old)
			best[f.r.id] = f
		default:
			drop = append(drop, f)
		}
	}
	n := 0
	for id, f := range best {
		b := cairn.Block{ID: id, GenStamp: f.r.gs, Len: f.r.len}
		loc := f.loc
		f.loc.c.live += f.r.size()
		if rb := s.rbws[id]; rb != nil {
			// An unfinalize copied the replica to rbw/ and crashed
			// before killing the record: the copy, if whole, stands.
			if rb.block.GenStamp > b.GenStamp || (rb.block.GenStamp == b.GenStamp && rb.block.Len >= b.Len) {
				drop = append(drop, f)
				continue
			}
			s.log.Warn("removing an rbw replica older than the finalized one in a container", "block", blockName(rb.block))
			delete(s.rbws, id)
			rb.removeFiles()
		}
		if old, ok := s.replicas[id]; ok {
			if old.gs > b.GenStamp {
				drop = append(drop, f)
				continue
			}
			delete(s.replicas, id)
			s.used -= old.len + metaLen(old.len)
			old.vol.used.Add(-old.len)
			dd, dm := old.files(id)
			if old.pk != nil {
				old.vol.pack.kill(cairn.Block{ID: id, GenStamp: old.gs, Len: old.len}, *old.pk)
			} else {
				os.Remove(dd)
				os.Remove(dm)
			}
		}
		s.replicas[id] = replica{vol: v, gs: b.GenStamp, len: b.Len, inc: s.nextInc(), pk: &loc}
		s.used += b.Len + metaLen(b.Len)
		v.used.Add(b.Len)
		n++
	}
	for _, f := range drop {
		// Counted live above or never: kill subtracts, so count first.
		if _, isBest := best[f.r.id]; !isBest || best[f.r.id].loc != f.loc {
			f.loc.c.live += f.r.size()
		}
		p.kill(cairn.Block{ID: f.r.id, GenStamp: f.r.gs, Len: f.r.len}, f.loc)
	}
	if n > 0 || len(p.conts) > 0 {
		s.log.Info("containers loaded", "dir", v.dir, "containers", len(p.conts), "replicas", n)
	}
	return nil
}

// small reports whether a replica of n bytes fits the container store.
func (s *store) small(n int64) bool { return s.smallMax > 0 && n <= s.smallMax }

// spill writes a replica held in memory to rbw/ files, as if it had
// been received there: it is then an rbw replica like any other (it
// grew too big, a writer synced it, or its pipeline failed and it is
// kept for recovery). The replica must be claimed.
func (r *rbwReplica) spill() error {
	m := r.mem
	if m == nil {
		return nil
	}
	r.s.mu.Lock()
	r.mem = nil
	r.s.mu.Unlock()
	nr, err := r.s.openRbw(r.vol, r.block)
	if err != nil {
		return err
	}
	r.data, r.meta = nr.data, nr.meta
	if _, err := r.data.Write(m.data); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	if _, err := r.meta.Write(m.sums); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	return nil
}

// writeMem appends a packet to a replica held in memory.
func (r *rbwReplica) writeMem(sums, data []byte) error {
	if c := r.s.capacity; c > 0 && r.vol.used.Load()+int64(len(data)) > c {
		return r.s.ioErr("datanode.write", r.vol, r.block, fmt.Errorf("volume capacity of %d bytes reached: %w", c, syscall.ENOSPC))
	}
	r.mem.data = append(r.mem.data, data...)
	r.mem.sums = append(r.mem.sums, sums...)
	r.block.Len += int64(len(data))
	r.vol.used.Add(int64(len(data)))
	return nil
}

// finalizeSmall finalizes a replica held in memory into its volume's
// container store: durable once the group commit that takes it has
// fsync'd, then in the replica map, replacing any older replica of the
// block. On failure the replica stays claimed, in memory, for the
// caller to detach (which spills it to rbw/) or abort.
func (r *rbwReplica) finalizeSmall() (cairn.Block, error) {
	const op = "datanode.finalize"
	s := r.s
	id := r.block.ID
	if err := r.mayFinalize(); err != nil {
		return cairn.Block{}, err
	}
	if err := s.hook(StepPackAppend, r.block); err != nil {
		return cairn.Block{}, s.ioErr(op, r.vol, r.block, err)
	}
	p := r.vol.pack
	loc, err := p.appendReplica(r.block, r.mem.sums, r.mem.data)
	if err != nil {
		if errors.Is(err, errPackClosed) {
			return cairn.Block{}, cairn.E(op, blockName(r.block), cairn.Unavailable, err)
		}
		return cairn.Block{}, s.ioErr(op, r.vol, r.block, err)
	}
	defer p.landed(loc)
	if err := s.hook(StepPackAppended, r.block); err != nil {
		p.kill(r.block, loc)
		return cairn.Block{}, s.ioErr(op, r.vol, r.block, err)
	}
	unlock := s.lockBlock(id)
	defer unlock()
	if err := r.mayFinalize(); err != nil {
		p.kill(r.block, loc)
		return cairn.Block{}, err
	}
	s.mu.Lock()
	if failed := r.vol.failed; failed != nil {
		// Failed since mayFinalize: its replicas were dropped.
		s.mu.Unlock()
		return cairn.Block{}, cairn.E(op, blockName(r.block), cairn.IO, failed)
	}
	old, hadOld := s.replicas[id]
	bad, hadBad := s.bad[id]
	if hadOld {
		delete(s.replicas, id)
		s.used -= old.len + metaLen(old.len)
		old.vol.used.Add(-old.len)
	}
	if hadBad {
		delete(s.bad, id)
	}
	s.replicas[id] = replica{vol: r.vol, gs: r.block.GenStamp, len: r.block.Len, inc: s.nextInc(), pk: &loc}
	s.used += r.block.Len + metaLen(r.block.Len)
	if s.rbws[id] == r {
		delete(s.rbws, id)
	}
	r.reported = false
	r.mem = nil
	r.dataPath, r.metaPath = "", ""
	s.mu.Unlock()
	// The new replica is durable: what it replaces may go without a
	// sync, since a restart keeps the newer of two.
	if hadOld {
		s.discard(id, old)
		s.emit(evDeleted, cairn.Block{ID: id, GenStamp: old.gs, Len: old.len})
	}
	if hadBad {
		s.discard(id, bad)
	}
	s.emit(evReceived, r.block)
	return r.block, nil
}

// mayFinalize checks that the replica may still be finalized: its
// volume works, and no replica of its block with the same or a newer
// generation stamp was finalized meanwhile.
func (r *rbwReplica) mayFinalize() error {
	const op = "datanode.finalize"
	s := r.s
	s.mu.Lock()
	old, hadOld := s.replicas[r.block.ID]
	failed := r.vol.failed
	s.mu.Unlock()
	switch {
	case failed != nil:
		return cairn.E(op, blockName(r.block), cairn.IO, failed)
	case hadOld && old.gs >= r.block.GenStamp:
		return cairn.Errorf(op, blockName(r.block), cairn.Exist, "a replica with generation stamp %d was finalized meanwhile", old.gs)
	}
	return nil
}

// discard removes the storage of a replica already out of the maps:
// its files, or a tombstone for its record.
func (s *store) discard(id cairn.BlockID, rep replica) {
	if rep.pk != nil {
		rep.vol.pack.kill(cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}, *rep.pk)
		return
	}
	dp, mp := rep.files(id)
	for _, p := range []string{mp, dp} {
		if err := os.Remove(p); err != nil && !missing(err) {
			s.log.Warn("cannot delete replica file", "file", p, "err", err)
		}
	}
}

// unfinalizePacked copies the finalized replica rep of id out of its
// container into rbw/ files, fsync'd, then kills its record: the
// replica r (its rbw paths set) is then a replica of rbw/ like any
// other. A crash between the two leaves both, and the load keeps the
// rbw copy if it is whole (loadPack).
func (s *store) unfinalizePacked(id cairn.BlockID, rep replica, r *rbwReplica) error {
	sums, data, err := s.readPacked(id, rep)
	if err != nil {
		return err
	}
	r.mem = &memReplica{sums: sums, data: data}
	r.block.Len = int64(len(data))
	// Written out and made durable as an idle replica is (settle).
	err = r.settle()
	if err == nil {
		err = s.hook(StepUnfinalizeDataMoved, r.block)
	}
	if err != nil {
		r.closeFiles()
		os.Remove(r.dataPath)
		os.Remove(r.metaPath)
		return err
	}
	rep.vol.pack.kill(cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}, *rep.pk)
	if err := rep.vol.pack.sync(); err != nil {
		return err
	}
	return s.hook(StepUnfinalizeDone, r.block)
}

// stampPacked gives the replica rep of id, in a container, generation
// stamp gs: a copy of its record with the new stamp is appended, then
// the old one killed. A crash between the two leaves both, and the load
// keeps the newer stamp. The block must be claimed; rep is out of the
// map.
func (s *store) stampPacked(id cairn.BlockID, rep replica, gs cairn.GenStamp) (*packLoc, error) {
	sums, data, err := s.readPacked(id, rep)
	if err != nil {
		return nil, err
	}
	if bad := datatransfer.VerifySums(sums, data); bad >= 0 {
		return nil, errDamaged{fmt.Sprintf("checksum mismatch at chunk %d", bad)}
	}
	loc, err := rep.vol.pack.appendReplica(cairn.Block{ID: id, GenStamp: gs}, sums, data)
	if err != nil {
		return nil, err
	}
	// The caller puts it in the map, then says it landed.
	if err := s.hook(StepRecoveryStamped, cairn.Block{ID: id, GenStamp: gs, Len: rep.len}); err != nil {
		rep.vol.pack.kill(cairn.Block{ID: id, GenStamp: gs, Len: rep.len}, loc)
		rep.vol.pack.landed(loc)
		return nil, err
	}
	rep.vol.pack.kill(cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}, *rep.pk)
	return &loc, nil
}

// errDamaged is a replica found damaged by a store operation: the
// replica's problem, not the disk's.
type errDamaged struct{ reason string }

func (e errDamaged) Error() string { return e.reason }

// compactLoop compacts the containers of every volume every interval,
// until ctx ends.
func (s *store) compactLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.compact(ctx)
	}
}

// compact rewrites the sealed containers that are at least half dead:
// their live records are appended anew (to the active container) and
// moved in the replica map, the tombstones that still matter copied,
// and the old container removed.
func (s *store) compact(ctx context.Context) {
	for _, v := range s.healthyVolumes() {
		if v.pack == nil {
			continue
		}
		for _, c := range v.pack.candidates() {
			if ctx.Err() != nil {
				return
			}
			if err := s.compactContainer(v, c); err != nil {
				s.log.Warn("compaction failed", "container", c.path, "err", err)
				break
			}
		}
	}
}

func (s *store) compactContainer(v *volume, c *container) error {
	p := v.pack
	if !p.acquire(c) {
		return nil
	}
	defer p.release(c)
	type rec struct {
		r   packRecord
		off int64
	}
	var recs []rec
	end := c.size.Load()
	var h [packHeaderLen]byte
	for off := int64(fileHeaderLen); off < end; {
		if _, err := c.f.ReadAt(h[:], off); err != nil {
			return err
		}
		r, err := parsePackHeader(h[:], c, off)
		if err != nil {
			p.markDamaged(c)
			return fmt.Errorf("offset %d: %v", off, err)
		}
		recs = append(recs, rec{r, off})
		off += r.size()
	}
	// A damaged replica here waits for its deletion (the NameNode's,
	// once a good copy exists): compact later.
	s.mu.Lock()
	for _, x := range recs {
		if br, isBad := s.bad[x.r.id]; isBad && br.pk.at(c, x.off) {
			s.mu.Unlock()
			return nil
		}
	}
	s.mu.Unlock()
	moved, kept := 0, 0
	for _, x := range recs {
		if x.r.kind == recTombstone {
			if x.r.tseq != c.seq && p.exists(x.r.tseq) {
				t := x.r
				p.submit(&packReq{rec: &t})
				kept++
			}
			continue
		}
		if err := s.moveRecord(p, c, x.r, x.off); err != nil {
			return err
		}
		moved++
	}
	if err := p.sync(); err != nil {
		return err
	}
	if err := p.remove(c); err != nil {
		return err
	}
	s.log.Info("container compacted", "container", c.path, "bytes", end, "records seen", moved, "tombstones kept", kept)
	return nil
}

// moveRecord appends anew the replica record r at off in c, if it is
// still the live replica of its block, and moves the replica map's
// entry to the copy. The block is claimed throughout, so that no
// unfinalize, stamp or delete takes the replica out of the map between
// the decision and the move.
func (s *store) moveRecord(p *pack, c *container, r packRecord, off int64) error {
	unlock := s.lockBlock(r.id)
	defer unlock()
	s.mu.Lock()
	rep, ok := s.replicas[r.id]
	s.mu.Unlock()
	if !ok || !rep.pk.at(c, off) {
		return nil
	}
	sums, data, err := s.readPacked(r.id, rep)
	if err != nil {
		return err
	}
	if bad := datatransfer.VerifySums(sums, data); bad >= 0 {
		// Left where it is, for the scanner to find and report.
		p.markDamaged(c)
		return fmt.Errorf("block %d: checksum mismatch at chunk %d; not compacting this container", r.id, bad)
	}
	loc, err := p.appendReplica(cairn.Block{ID: r.id, GenStamp: rep.gs}, sums, data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	rep.pk = &loc
	s.replicas[r.id] = rep
	s.mu.Unlock()
	p.mu.Lock()
	c.live -= r.size()
	p.mu.Unlock()
	p.landed(loc)
	return nil
}

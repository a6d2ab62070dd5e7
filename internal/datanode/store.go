package datanode

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
)

// replica is a finalized replica in the replica map.
type replica struct {
	vol *volume
	gs  cairn.GenStamp
	len int64
	// inc tells apart the successive replicas of a block that the map
	// held: it is new each time the map's entry is replaced, so that a
	// reader that found damage reports the replica it read and not a
	// later one (markBad).
	inc uint64
	// pk is where the replica is in its volume's container store;
	// nil for a replica in its own files.
	pk *packLoc
}

func (r replica) files(id cairn.BlockID) (data, meta string) {
	dir := r.vol.finalizedDir(id)
	return filepath.Join(dir, dataName(id)), filepath.Join(dir, metaName(id, r.gs))
}

// store is the block store: the volumes and the replica map.
//
// Every change of a replica's state (see doc.go, "Replica states")
// runs with its block claimed (lockBlock), so that two changes of the
// same block never interleave; within one, the maps change before
// files are removed and after files are in place, so that nothing
// lists a replica in a state its files are not in.
type store struct {
	log  *slog.Logger
	vols []*volume

	// notify is told of every change of a replica's state that the
	// NameNode must hear of (incremental block reports). It is called
	// with the block claimed and must not block.
	notify func(replicaEvent)
	// capacity, if positive, is the bytes of replica data a volume
	// takes before writes to it fail with ENOSPC: a test seam
	// (Config.VolumeCapacity).
	capacity int64
	// stepHook is Config.StepHook.
	stepHook func(Step, cairn.Block) error
	// smallMax is the largest replica finalized into a container
	// (Config.SmallBlockSize); 0: none.
	smallMax int64

	mu        sync.Mutex // guards the fields below and volume.failed
	replicas  map[cairn.BlockID]replica
	rbws      map[cairn.BlockID]*rbwReplica   // replicas not finalized; see rbw.go
	bad       map[cairn.BlockID]replica       // finalized replicas found damaged, no longer served
	busy      map[cairn.BlockID]chan struct{} // claimed blocks (lockBlock); closed when let go
	inc       uint64                          // the last replica.inc given
	used      int64                           // bytes of finalized data and meta files
	next      int                             // round-robin position for new replicas
	nodeID    cairn.NodeID
	clusterID cairn.ClusterID
}

// lockBlock claims block id for a change of its replica's state,
// waiting while another change holds it. The caller must not hold
// s.mu, nor already hold the block.
func (s *store) lockBlock(id cairn.BlockID) (unlock func()) {
	s.mu.Lock()
	for {
		ch := s.busy[id]
		if ch == nil {
			break
		}
		s.mu.Unlock()
		s.hook(StepBlockWait, cairn.Block{ID: id})
		<-ch
		s.mu.Lock()
	}
	ch := make(chan struct{})
	s.busy[id] = ch
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.busy, id)
		s.mu.Unlock()
		close(ch)
	}
}

// nextInc returns a new replica.inc; s.mu must be held.
func (s *store) nextInc() uint64 {
	s.inc++
	return s.inc
}

// emit tells the NameNode side of a replica's new state, at once.
func (s *store) emit(kind eventKind, b cairn.Block) {
	s.emitEvent(replicaEvent{kind: kind, block: b})
}

func (s *store) emitEvent(ev replicaEvent) {
	if s.notify != nil {
		s.notify(ev)
	}
}

// openStore opens, and formats where needed, the volumes in dirs, then
// scans them.
func openStore(dirs []string, log *slog.Logger, hook func(Step, cairn.Block) error) (*store, error) {
	const op = "datanode.New"
	if len(dirs) == 0 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "no data directories")
	}
	s := &store{
		log:      log,
		stepHook: hook,
		replicas: make(map[cairn.BlockID]replica),
		rbws:     make(map[cairn.BlockID]*rbwReplica),
		bad:      make(map[cairn.BlockID]replica),
		busy:     make(map[cairn.BlockID]chan struct{}),
	}
	seen := make(map[string]bool)
	var versions []map[string]string
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, cairn.E(op, d, cairn.Invalid, err)
		}
		if seen[abs] {
			return nil, cairn.Errorf(op, d, cairn.Invalid, "data directory listed twice")
		}
		seen[abs] = true
		v := &volume{
			dir:       abs,
			finalized: filepath.Join(abs, "current", "finalized"),
			rbw:       filepath.Join(abs, "current", "rbw"),
		}
		s.vols = append(s.vols, v)
		kv, err := v.init()
		if err != nil {
			log.Error("data directory failed", "dir", abs, "err", err)
			v.failed = err
		}
		versions = append(versions, kv)
	}
	if s.healthy() == 0 {
		return nil, cairn.Errorf(op, strings.Join(dirs, ","), cairn.IO, "no usable data directory")
	}
	// Agree on the node and cluster IDs.
	for i, kv := range versions {
		if kv == nil {
			continue
		}
		if lv := kv["layoutVersion"]; !slices.Contains(layoutVersions, lv) {
			return nil, cairn.Errorf(op, s.vols[i].dir, cairn.Invalid, "layout version %q, want at most %d", lv, layoutVersion)
		}
		if id := cairn.NodeID(kv["nodeID"]); id != "" {
			if s.nodeID != "" && s.nodeID != id {
				return nil, cairn.Errorf(op, s.vols[i].dir, cairn.Invalid, "node ID %s differs from %s in another data directory", id, s.nodeID)
			}
			s.nodeID = id
		}
		if c := cairn.ClusterID(kv["clusterID"]); c != "" {
			if s.clusterID != "" && s.clusterID != c {
				return nil, cairn.Errorf(op, s.vols[i].dir, cairn.ClusterMismatch, "cluster ID %s differs from %s in another data directory", c, s.clusterID)
			}
			s.clusterID = c
		}
	}
	if s.nodeID == "" {
		var b [16]byte
		rand.Read(b[:])
		s.nodeID = cairn.NodeID("dn-" + hex.EncodeToString(b[:]))
	}
	for i, v := range s.vols {
		kv := versions[i]
		if v.failed != nil || (kv != nil && kv["nodeID"] == string(s.nodeID) && kv["clusterID"] == string(s.clusterID) && kv["layoutVersion"] == strconv.Itoa(layoutVersion)) {
			continue
		}
		if err := v.writeVersion(s.nodeID, s.clusterID); err != nil {
			log.Error("data directory failed", "dir", v.dir, "err", err)
			v.failed = err
		}
	}
	if s.healthy() == 0 {
		return nil, cairn.Errorf(op, strings.Join(dirs, ","), cairn.IO, "no usable data directory")
	}
	for _, v := range s.vols {
		if v.failed == nil {
			s.scan(v)
		}
	}
	if s.healthy() == 0 {
		s.close()
		return nil, cairn.Errorf(op, strings.Join(dirs, ","), cairn.IO, "no usable data directory")
	}
	return s, nil
}

// close stops the volumes' container stores.
func (s *store) close() {
	for _, v := range s.vols {
		if v.pack != nil {
			v.pack.close()
		}
	}
}

func (s *store) healthy() int {
	n := 0
	for _, v := range s.vols {
		if v.failed == nil {
			n++
		}
	}
	return n
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// setClusterID records the cluster ID in every healthy volume. The
// VERSION files are written without holding the store's lock.
func (s *store) setClusterID(c cairn.ClusterID) error {
	s.mu.Lock()
	if s.clusterID == c {
		s.mu.Unlock()
		return nil
	}
	id := s.nodeID
	var vols []*volume
	for _, v := range s.vols {
		if v.failed == nil {
			vols = append(vols, v)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, v := range vols {
		if err := v.writeVersion(id, c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.dir, err))
		}
	}
	s.mu.Lock()
	s.clusterID = c
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *store) ids() (cairn.NodeID, cairn.ClusterID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodeID, s.clusterID
}

// scan loads the volume's finalized replicas, and its rbw ones as
// replicas waiting for recovery (loadRbw), after repairing any move
// between the two that a crash interrupted (repairMoves).
func (s *store) scan(v *volume) {
	s.repairMoves(v)
	s.loadRbw(v)
	type found struct {
		data  string
		size  int64
		metas []string
	}
	// Walk finalized/subdirA/subdirB/ directory by directory.
	n := 0
	filepath.WalkDir(v.finalized, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			s.log.Warn("scan", "path", path, "err", err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			s.log.Warn("scan", "dir", path, "err", err)
			return nil
		}
		blocks := make(map[cairn.BlockID]*found)
		get := func(id cairn.BlockID) *found {
			f := blocks[id]
			if f == nil {
				f = &found{}
				blocks[id] = f
			}
			return f
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasPrefix(name, "blk_") {
				continue
			}
			rest := name[len("blk_"):]
			if strings.HasSuffix(rest, ".meta") {
				idStr, _, ok := strings.Cut(strings.TrimSuffix(rest, ".meta"), "_")
				id, err := strconv.ParseUint(idStr, 10, 64)
				if !ok || err != nil {
					continue
				}
				f := get(cairn.BlockID(id))
				f.metas = append(f.metas, name)
				continue
			}
			id, err := strconv.ParseUint(rest, 10, 64)
			if err != nil {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			f := get(cairn.BlockID(id))
			f.data = name
			f.size = info.Size()
		}
		for id, f := range blocks {
			if f.data == "" || len(f.metas) == 0 {
				for _, m := range f.metas {
					os.Remove(filepath.Join(path, m))
				}
				if f.data != "" {
					os.Remove(filepath.Join(path, f.data))
				}
				s.log.Warn("removed replica missing its data or meta file", "block", id, "dir", path)
				continue
			}
			// Keep the meta of the highest generation stamp.
			best, bestGS := "", cairn.GenStamp(0)
			for _, m := range f.metas {
				gsStr, _ := strings.CutSuffix(m[strings.LastIndexByte(m, '_')+1:], ".meta")
				gs, err := strconv.ParseUint(gsStr, 10, 64)
				if err != nil {
					continue
				}
				if best == "" || cairn.GenStamp(gs) > bestGS {
					best, bestGS = m, cairn.GenStamp(gs)
				}
			}
			for _, m := range f.metas {
				if m != best {
					os.Remove(filepath.Join(path, m))
				}
			}
			if best == "" {
				continue
			}
			if err := checkMetaFile(filepath.Join(path, best), f.size); err != nil {
				s.log.Warn("replica not loaded", "block", id, "dir", path, "err", err)
				continue
			}
			r := replica{vol: v, gs: bestGS, len: f.size, inc: s.nextInc()}
			if r.vol.finalizedDir(id) != path {
				s.log.Warn("replica in the wrong directory", "block", id, "dir", path)
				continue
			}
			if old, ok := s.replicas[id]; ok {
				// The same block on two volumes: keep the newer.
				drop := r
				if r.gs > old.gs {
					drop = old
					s.replicas[id] = r
					s.used += r.len + metaLen(r.len) - old.len - metaLen(old.len)
				}
				s.discard(id, drop)
				continue
			}
			s.replicas[id] = r
			s.used += r.len + metaLen(r.len)
			v.used.Add(r.len)
			n++
		}
		return nil
	})
	s.log.Info("volume scanned", "dir", v.dir, "replicas", n)
	if err := s.loadPack(v); err != nil {
		s.log.Error("data directory failed: its containers cannot be read", "dir", v.dir, "err", err)
		s.failVolume(v, err)
	}
}

// lookup returns the finalized replica of id.
func (s *store) lookup(id cairn.BlockID) (replica, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.replicas[id]
	return r, ok
}

// blocks returns every finalized replica.
func (s *store) blocks() []cairn.Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]cairn.Block, 0, len(s.replicas))
	for id, r := range s.replicas {
		out = append(out, cairn.Block{ID: id, GenStamp: r.gs, Len: r.len})
	}
	slices.SortFunc(out, func(a, b cairn.Block) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// stats returns the number of replicas, the bytes they use and the
// failed volumes.
func (s *store) stats() (n int, used int64, failed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vols {
		if v.failed != nil {
			failed = append(failed, v.dir)
		}
	}
	return len(s.replicas), s.used, failed
}

// volumeState is a volume as of a moment: its directory and whether it
// failed.
type volumeState struct {
	dir    string
	failed bool
}

// volumes returns the state of every volume, in the order configured.
func (s *store) volumes() []volumeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]volumeState, len(s.vols))
	for i, v := range s.vols {
		out[i] = volumeState{dir: v.dir, failed: v.failed != nil}
	}
	return out
}

// healthyVolumes returns the volumes that work.
func (s *store) healthyVolumes() []*volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*volume
	for _, v := range s.vols {
		if v.failed == nil {
			out = append(out, v)
		}
	}
	return out
}

// healthyDirs returns the directories of the volumes that work.
func (s *store) healthyDirs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.vols {
		if v.failed == nil {
			out = append(out, v.dir)
		}
	}
	return out
}

// diskError reports whether err means the volume's disk is failing, as
// opposed to being full or a file missing (removed behind the
// DataNode's back: the volume checker finds out if a whole directory
// went).
func diskError(err error) bool {
	return err != nil && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) && !errors.Is(err, fs.ErrNotExist)
}

// failVolume marks v failed after err and drops its finalized and idle
// rbw replicas from the maps; the NameNode is told they are gone.
// Replicas being written there fail with their writes. It only changes
// the maps, so it may run within a claimed step (and does not claim).
func (s *store) failVolume(v *volume, err error) {
	s.mu.Lock()
	if v.failed != nil {
		s.mu.Unlock()
		return
	}
	v.failed = err
	var gone []cairn.Block
	for id, r := range s.replicas {
		if r.vol == v {
			gone = append(gone, cairn.Block{ID: id, GenStamp: r.gs, Len: r.len})
			delete(s.replicas, id)
			s.used -= r.len + metaLen(r.len)
		}
	}
	for id, r := range s.rbws {
		if r.vol == v && !r.active {
			delete(s.rbws, id)
			gone = append(gone, r.block)
		}
	}
	s.mu.Unlock()
	if v.pack != nil {
		// Its writer and container files go (appends waiting fail).
		go v.pack.close()
	}
	s.log.Error("data directory failed; its replicas are dropped", "dir", v.dir, "replicas", len(gone), "err", err)
	for _, b := range gone {
		s.emit(evDeleted, b)
	}
}

// ioErr wraps a disk error, marking the volume failed if the disk is to
// blame.
func (s *store) ioErr(op string, v *volume, b cairn.Block, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return cairn.E(op, blockName(b), cairn.NoSpace, err)
	}
	if diskError(err) {
		s.failVolume(v, err)
	}
	return cairn.E(op, blockName(b), cairn.IO, err)
}

func blockName(b cairn.Block) string { return fmt.Sprintf("blk_%d_%d", b.ID, b.GenStamp) }

// markBad stops serving the finalized replica of b found damaged: it
// leaves the replica map, so reads and block reports no longer see it,
// and its files stay until the NameNode has it deleted. The replica
// must still be the one the finder looked at (generation stamp, and
// incarnation inc unless 0): one replaced meanwhile, for example by a
// recovery that renamed its files under a reader, is not marked. It
// reports whether the replica was still being served.
func (s *store) markBad(b cairn.Block, inc uint64) bool {
	unlock := s.lockBlock(b.ID)
	defer unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, ok := s.replicas[b.ID]
	if !ok || rep.gs != b.GenStamp || (inc != 0 && rep.inc != inc) {
		return false
	}
	delete(s.replicas, b.ID)
	s.used -= rep.len + metaLen(rep.len)
	s.bad[b.ID] = rep
	return true
}

// readErr wraps an error reading a replica. A file gone missing is the
// replica's problem, not the disk's.
func (s *store) readErr(op string, rep replica, b cairn.Block, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return cairn.E(op, blockName(b), cairn.NotExist, err)
	}
	return cairn.E(op, blockName(b), cairn.IO, err)
}

// remove deletes the replica of b if it has b's generation stamp (any,
// if b's is 0): a finalized one, a damaged one, or an idle rbw one (a
// replica left by a failed pipeline, now stale). It reports whether
// there was one, and whether one of the block is here but busy (being
// written or recovered), which is left alone. A removed replica is
// reported deleted.
func (s *store) remove(b cairn.Block) (gone cairn.Block, ok, busy bool) {
	unlock := s.lockBlock(b.ID)
	defer unlock()
	match := func(gs cairn.GenStamp) bool { return b.GenStamp == 0 || gs == b.GenStamp }
	s.mu.Lock()
	var files []string
	var packed replica
	if rep, found := s.replicas[b.ID]; found && match(rep.gs) {
		delete(s.replicas, b.ID)
		s.used -= rep.len + metaLen(rep.len)
		rep.vol.used.Add(-rep.len)
		gone, ok, packed = cairn.Block{ID: b.ID, GenStamp: rep.gs, Len: rep.len}, true, rep
		if rep.pk == nil {
			dp, mp := rep.files(b.ID)
			files = []string{dp, mp}
		}
	} else if br, found := s.bad[b.ID]; found && match(br.gs) {
		delete(s.bad, b.ID)
		gone, ok, packed = cairn.Block{ID: b.ID, GenStamp: br.gs, Len: br.len}, true, br
		if br.pk == nil {
			dp, mp := br.files(b.ID)
			files = []string{dp, mp}
		}
	} else if r := s.rbws[b.ID]; r != nil && match(r.block.GenStamp) {
		if r.active {
			s.mu.Unlock()
			return cairn.Block{}, false, true
		}
		delete(s.rbws, b.ID)
		gone, ok = r.block, true
		s.mu.Unlock()
		r.removeFiles()
		s.emit(evDeleted, gone)
		return gone, true, false
	}
	s.mu.Unlock()
	if !ok {
		return cairn.Block{}, false, false
	}
	if packed.pk != nil {
		packed.vol.pack.kill(gone, *packed.pk)
	}
	for _, p := range files {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot delete replica file", "file", p, "err", err)
		}
	}
	s.emit(evDeleted, gone)
	return gone, true, false
}

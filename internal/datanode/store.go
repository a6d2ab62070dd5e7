package datanode

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
)

const layoutVersion = 1

// volume is one data directory.
type volume struct {
	dir       string
	finalized string
	rbw       string

	// failed is set once an operation on the volume's disk failed;
	// guarded by store.mu.
	failed error
	// used approximates the bytes of replica data on the volume, for
	// the Config.VolumeCapacity test seam.
	used atomic.Int64
}

func (v *volume) finalizedDir(id cairn.BlockID) string {
	return filepath.Join(v.finalized, fmt.Sprintf("subdir%d", (id>>16)&0x1f), fmt.Sprintf("subdir%d", (id>>8)&0x1f))
}

func dataName(id cairn.BlockID) string { return fmt.Sprintf("blk_%d", id) }

func metaName(id cairn.BlockID, gs cairn.GenStamp) string {
	return fmt.Sprintf("blk_%d_%d.meta", id, gs)
}

// replica is a finalized replica in the replica map.
type replica struct {
	vol *volume
	gs  cairn.GenStamp
	len int64
}

func (r replica) files(id cairn.BlockID) (data, meta string) {
	dir := r.vol.finalizedDir(id)
	return filepath.Join(dir, dataName(id)), filepath.Join(dir, metaName(id, r.gs))
}

// store is the block store: the volumes and the replica map.
type store struct {
	log  *slog.Logger
	vols []*volume

	// removed is told of replicas dropped because their volume failed.
	removed func([]cairn.Block)
	// capacity, if positive, is the bytes of replica data a volume
	// takes before writes to it fail with ENOSPC: a test seam
	// (Config.VolumeCapacity).
	capacity int64

	mu        sync.Mutex // guards the fields below and volume.failed
	replicas  map[cairn.BlockID]replica
	rbws      map[cairn.BlockID]*rbwReplica // replicas not finalized; see rbw.go
	bad       map[cairn.BlockID]replica     // finalized replicas found damaged, no longer served
	used      int64                         // bytes of finalized data and meta files
	next      int                           // round-robin position for new replicas
	nodeID    cairn.NodeID
	clusterID cairn.ClusterID
}

// openStore opens, and formats where needed, the volumes in dirs, then
// scans them.
func openStore(dirs []string, log *slog.Logger) (*store, error) {
	const op = "datanode.New"
	if len(dirs) == 0 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "no data directories")
	}
	s := &store{log: log, replicas: make(map[cairn.BlockID]replica), rbws: make(map[cairn.BlockID]*rbwReplica), bad: make(map[cairn.BlockID]replica)}
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
		if lv := kv["layoutVersion"]; lv != strconv.Itoa(layoutVersion) {
			return nil, cairn.Errorf(op, s.vols[i].dir, cairn.Invalid, "layout version %q, want %d", lv, layoutVersion)
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
		if v.failed != nil || (kv != nil && kv["nodeID"] == string(s.nodeID) && kv["clusterID"] == string(s.clusterID)) {
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
	return s, nil
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

// init creates the volume's directories and reads its VERSION file,
// which may not exist yet (nil map).
func (v *volume) init() (map[string]string, error) {
	for _, d := range []string{v.finalized, v.rbw} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(filepath.Join(v.dir, "VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kv := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("VERSION: bad line %q", line)
		}
		kv[k] = val
	}
	return kv, nil
}

// writeVersion replaces the VERSION file atomically.
func (v *volume) writeVersion(id cairn.NodeID, cluster cairn.ClusterID) error {
	content := fmt.Sprintf("layoutVersion=%d\nnodeID=%s\nclusterID=%s\n", layoutVersion, id, cluster)
	return atomicfile.Write(filepath.Join(v.dir, "VERSION"), []byte(content), 0o644)
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
// replicas waiting for recovery (loadRbw).
func (s *store) scan(v *volume) {
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
			r := replica{vol: v, gs: bestGS, len: f.size}
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
				dd, dm := drop.files(id)
				os.Remove(dd)
				os.Remove(dm)
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
}

func checkMetaFile(path string, dataLen int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [metaHeaderLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("meta header: %w", err)
	}
	if _, err := parseMetaHeader(h[:]); err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() != metaLen(dataLen) {
		return fmt.Errorf("meta file of %d bytes for %d bytes of data", info.Size(), dataLen)
	}
	return nil
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
// opposed to being full or a file missing because of a race.
func diskError(err error) bool {
	return err != nil && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT)
}

// failVolume marks v failed after err and drops its replicas from the
// map; the NameNode is told they are gone.
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
		}
	}
	s.mu.Unlock()
	s.log.Error("data directory failed; its replicas are dropped", "dir", v.dir, "replicas", len(gone), "err", err)
	if s.removed != nil && len(gone) > 0 {
		s.removed(gone)
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

// rbwReplica is a replica being written.
type rbwReplica struct {
	s        *store
	vol      *volume
	block    cairn.Block // Len counts the bytes written
	dataPath string
	metaPath string
	data     *os.File
	meta     *os.File
	metaW    *bufio.Writer
	synced   int64 // bytes of data whose writeback was started

	// Guarded by store.mu:
	active    bool   // a receiver is writing it (else it is idle, files closed)
	temp      bool   // received by TRANSFER_RBW: discarded if that fails
	interrupt func() // stops the receiver writing it; nil when idle
}

// syncBehindBytes is how much data a replica being written accumulates
// before its writeback is started.
const syncBehindBytes = 8 << 20

// create starts writing a replica of b in rbw/. A finalized replica of
// the same ID with the same or a newer generation stamp, or one being
// written, is refused with Exist; an idle rbw replica with an older
// generation stamp is replaced. A temporary replica (stage
// TRANSFER_RBW) is discarded if the write fails, and kept unfinalized
// if it succeeds.
func (s *store) create(b cairn.Block, temporary bool) (*rbwReplica, error) {
	const op = "datanode.create"
	b.Len = 0
	s.mu.Lock()
	if old, ok := s.replicas[b.ID]; ok && old.gs >= b.GenStamp {
		s.mu.Unlock()
		return nil, cairn.Errorf(op, blockName(b), cairn.Exist, "replica already finalized with generation stamp %d", old.gs)
	}
	var stale *rbwReplica
	if old := s.rbws[b.ID]; old != nil {
		if old.active || old.block.GenStamp >= b.GenStamp {
			s.mu.Unlock()
			return nil, cairn.Errorf(op, blockName(b), cairn.Exist, "replica is being written or waits for recovery")
		}
		stale = old
	}
	placeholder := &rbwReplica{s: s, block: b, active: true, temp: temporary}
	s.rbws[b.ID] = placeholder
	s.mu.Unlock()
	if stale != nil {
		stale.removeFiles()
	}
	// Try the volumes in turn: one whose disk fails is marked failed
	// and the next one is tried; a full one is skipped.
	tried := make(map[*volume]bool)
	var lastErr error
	for {
		v := s.pickVolume(tried)
		if v == nil {
			s.mu.Lock()
			if s.rbws[b.ID] == placeholder {
				delete(s.rbws, b.ID)
			}
			s.mu.Unlock()
			if lastErr == nil {
				lastErr = cairn.Errorf(op, blockName(b), cairn.IO, "every data directory has failed")
			}
			return nil, lastErr
		}
		tried[v] = true
		r, err := s.openRbw(v, b)
		if err == nil {
			r.temp = temporary
			s.mu.Lock()
			s.rbws[b.ID] = r
			s.mu.Unlock()
			return r, nil
		}
		s.log.Warn("cannot create replica", "block", blockName(b), "dir", v.dir, "err", err)
		lastErr = err
	}
}

// pickVolume returns the next healthy volume not yet tried, round
// robin, or nil.
func (s *store) pickVolume(tried map[*volume]bool) *volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.vols {
		c := s.vols[(s.next+i)%len(s.vols)]
		if c.failed == nil && !tried[c] {
			s.next = (s.next + i + 1) % len(s.vols)
			return c
		}
	}
	return nil
}

// openRbw creates the rbw files of b in v.
func (s *store) openRbw(v *volume, b cairn.Block) (*rbwReplica, error) {
	const op = "datanode.create"
	r := &rbwReplica{
		s:        s,
		vol:      v,
		block:    b,
		dataPath: filepath.Join(v.rbw, dataName(b.ID)),
		metaPath: filepath.Join(v.rbw, metaName(b.ID, b.GenStamp)),
		active:   true,
	}
	fail := func(err error) (*rbwReplica, error) {
		if r.data != nil {
			r.data.Close()
		}
		os.Remove(r.dataPath)
		os.Remove(r.metaPath)
		return nil, s.ioErr(op, v, b, err)
	}
	var err error
	if r.data, err = os.OpenFile(r.dataPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
		return fail(err)
	}
	if r.meta, err = os.OpenFile(r.metaPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
		return fail(err)
	}
	r.metaW = bufio.NewWriterSize(r.meta, 4096)
	r.metaW.Write(appendMetaHeader(nil))
	return r, nil
}

// write appends a packet's data and its checksums. The data must start
// at a chunk boundary (the receiver checks it).
func (r *rbwReplica) write(sums, data []byte) error {
	if c := r.s.capacity; c > 0 && r.vol.used.Load()+int64(len(data)) > c {
		return r.s.ioErr("datanode.write", r.vol, r.block, fmt.Errorf("volume capacity of %d bytes reached: %w", c, syscall.ENOSPC))
	}
	if _, err := r.data.Write(data); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	if _, err := r.metaW.Write(sums); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	r.block.Len += int64(len(data))
	r.vol.used.Add(int64(len(data)))
	if r.block.Len-r.synced >= syncBehindBytes {
		syncBehind(r.data, r.synced, r.block.Len-r.synced)
		r.synced = r.block.Len
	}
	return nil
}

// finalize makes the replica durable and moves it to finalized/.
func (r *rbwReplica) finalize() (cairn.Block, error) {
	const op = "datanode.finalize"
	fail := func(err error) (cairn.Block, error) {
		return cairn.Block{}, r.s.ioErr(op, r.vol, r.block, err)
	}
	if err := r.metaW.Flush(); err != nil {
		return fail(err)
	}
	for _, f := range []*os.File{r.data, r.meta} {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	err := r.data.Close()
	r.data = nil
	if cerr := r.meta.Close(); err == nil {
		err = cerr
	}
	r.meta = nil
	if err != nil {
		return fail(err)
	}
	dir := r.vol.finalizedDir(r.block.ID)
	if err := mkdirSynced(dir, r.vol.finalized); err != nil {
		return fail(err)
	}
	if err := os.Rename(r.metaPath, filepath.Join(dir, metaName(r.block.ID, r.block.GenStamp))); err != nil {
		return fail(err)
	}
	if err := os.Rename(r.dataPath, filepath.Join(dir, dataName(r.block.ID))); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	s := r.s
	s.mu.Lock()
	old, had := s.replicas[r.block.ID]
	s.replicas[r.block.ID] = replica{vol: r.vol, gs: r.block.GenStamp, len: r.block.Len}
	s.used += r.block.Len + metaLen(r.block.Len)
	if had {
		s.used -= old.len + metaLen(old.len)
	}
	if s.rbws[r.block.ID] == r {
		delete(s.rbws, r.block.ID)
	}
	badRep, hadBad := s.bad[r.block.ID]
	delete(s.bad, r.block.ID)
	s.mu.Unlock()
	if hadBad {
		// A damaged replica this one replaces: its data file was
		// overwritten by the rename; its meta may have another name.
		od, om := badRep.files(r.block.ID)
		nd, nm := replica{vol: r.vol, gs: r.block.GenStamp}.files(r.block.ID)
		if od != nd {
			os.Remove(od)
		}
		if om != nm {
			os.Remove(om)
		}
	}
	if had {
		r.vol.used.Add(-old.len)
		// An older generation of the block: remove its files, unless
		// they are the ones just written.
		od, om := old.files(r.block.ID)
		nd, nm := replica{vol: r.vol, gs: r.block.GenStamp}.files(r.block.ID)
		if od != nd {
			os.Remove(od)
		}
		if om != nm {
			os.Remove(om)
		}
	}
	r.dataPath, r.metaPath = "", ""
	return r.block, nil
}

// mkdirSynced creates dir and any missing parents up to root, fsyncing
// each parent in which a directory was created.
func mkdirSynced(dir, root string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != root && parent != dir {
		if err := mkdirSynced(parent, root); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// abort discards the replica being written.
func (r *rbwReplica) abort() {
	if r.data != nil {
		r.data.Close()
		r.data = nil
	}
	if r.meta != nil {
		r.meta.Close()
		r.meta = nil
	}
	r.removeFiles()
	r.s.mu.Lock()
	if r.s.rbws[r.block.ID] == r {
		delete(r.s.rbws, r.block.ID)
	}
	r.s.mu.Unlock()
}

// removeFiles deletes the replica's rbw files.
func (r *rbwReplica) removeFiles() {
	if r.dataPath != "" {
		os.Remove(r.dataPath)
		os.Remove(r.metaPath)
		r.dataPath, r.metaPath = "", ""
		r.vol.used.Add(-r.block.Len)
	}
}

// openReplica opens the data and meta files of the finalized replica of
// b, which must have b's generation stamp.
func (s *store) openReplica(b cairn.Block) (rep replica, data, meta *os.File, err error) {
	const op = "datanode.read"
	rep, ok := s.lookup(b.ID)
	if !ok {
		return rep, nil, nil, cairn.Errorf(op, blockName(b), cairn.NotExist, "no such replica")
	}
	if rep.gs != b.GenStamp {
		return rep, nil, nil, cairn.Errorf(op, blockName(b), cairn.NotExist, "replica has generation stamp %d", rep.gs)
	}
	dp, mp := rep.files(b.ID)
	if data, err = os.Open(dp); err != nil {
		return rep, nil, nil, s.readErr(op, rep, b, err)
	}
	if meta, err = os.Open(mp); err != nil {
		data.Close()
		return rep, nil, nil, s.readErr(op, rep, b, err)
	}
	return rep, data, meta, nil
}

// markBad stops serving the finalized replica of b (which must have
// b's generation stamp): it leaves the replica map, so reads and block
// reports no longer see it, and its files stay until the NameNode has
// it deleted. It reports whether the replica was still being served.
func (s *store) markBad(b cairn.Block) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, ok := s.replicas[b.ID]
	if !ok || rep.gs != b.GenStamp {
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

// remove deletes the finalized replica of b if it has b's generation
// stamp (any, if b's is 0). It reports whether there was one.
func (s *store) remove(b cairn.Block) (cairn.Block, bool) {
	s.mu.Lock()
	rep, ok := s.replicas[b.ID]
	if !ok || (b.GenStamp != 0 && rep.gs != b.GenStamp) {
		if br, ok := s.bad[b.ID]; ok && (b.GenStamp == 0 || br.gs == b.GenStamp) {
			delete(s.bad, b.ID)
			s.mu.Unlock()
			dp, mp := br.files(b.ID)
			os.Remove(dp)
			os.Remove(mp)
			return cairn.Block{ID: b.ID, GenStamp: br.gs, Len: br.len}, true
		}
		if r := s.rbws[b.ID]; r != nil && !r.active && (b.GenStamp == 0 || r.block.GenStamp == b.GenStamp) {
			// A replica left by a failed pipeline, now stale.
			delete(s.rbws, b.ID)
			s.mu.Unlock()
			gone := r.block
			r.removeFiles()
			return gone, true
		}
		s.mu.Unlock()
		return cairn.Block{}, false
	}
	delete(s.replicas, b.ID)
	s.used -= rep.len + metaLen(rep.len)
	s.mu.Unlock()
	rep.vol.used.Add(-rep.len)
	dp, mp := rep.files(b.ID)
	for _, p := range []string{dp, mp} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot delete replica file", "file", p, "err", err)
		}
	}
	return cairn.Block{ID: b.ID, GenStamp: rep.gs, Len: rep.len}, true
}

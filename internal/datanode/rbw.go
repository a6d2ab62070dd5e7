package datanode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// Replicas not finalized (rbw/), their life from creation to
// finalization, and what pipeline and lease recovery do with them; see
// doc.go, "Replica states" and "Recovery".

// recoveryWait bounds how long a recovery waits for the receiver of a
// replica to let go of it after being interrupted.
const recoveryWait = 10 * time.Second

// loadRbw loads the volume's rbw replicas as idle replicas waiting for
// recovery. Each is cut to its longest prefix whose chunks all have a
// checksum and whose last chunk matches it; one without a usable meta
// file is removed.
func (s *store) loadRbw(v *volume) {
	entries, err := os.ReadDir(v.rbw)
	if err != nil {
		s.log.Warn("cannot list rbw", "dir", v.rbw, "err", err)
		return
	}
	datas := make(map[cairn.BlockID]bool)
	metas := make(map[cairn.BlockID][]string)
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "blk_")
		if e.IsDir() || !ok {
			os.RemoveAll(filepath.Join(v.rbw, name))
			continue
		}
		if m, ok := strings.CutSuffix(rest, ".meta"); ok {
			idStr, _, _ := strings.Cut(m, "_")
			if id, err := strconv.ParseUint(idStr, 10, 64); err == nil {
				metas[cairn.BlockID(id)] = append(metas[cairn.BlockID(id)], name)
				continue
			}
		} else if id, err := strconv.ParseUint(rest, 10, 64); err == nil {
			datas[cairn.BlockID(id)] = true
			continue
		}
		os.Remove(filepath.Join(v.rbw, name))
	}
	n := 0
	for id := range datas {
		ms := metas[id]
		delete(metas, id)
		var gs cairn.GenStamp
		best := ""
		for _, m := range ms {
			g, err := strconv.ParseUint(strings.TrimSuffix(m[strings.LastIndexByte(m, '_')+1:], ".meta"), 10, 64)
			if err == nil && (best == "" || cairn.GenStamp(g) > gs) {
				best, gs = m, cairn.GenStamp(g)
			}
		}
		for _, m := range ms {
			if m != best {
				os.Remove(filepath.Join(v.rbw, m))
			}
		}
		r := &rbwReplica{
			s:        s,
			vol:      v,
			block:    cairn.Block{ID: id, GenStamp: gs},
			dataPath: filepath.Join(v.rbw, dataName(id)),
			metaPath: filepath.Join(v.rbw, best),
			reported: true, // in every full block report
		}
		length, err := validRbwLength(r.dataPath, r.metaPath)
		if best == "" || err != nil {
			s.log.Warn("removed unusable incomplete replica", "block", id, "err", err)
			os.Remove(r.dataPath)
			if best != "" {
				os.Remove(r.metaPath)
			}
			continue
		}
		if err := truncatePair(r.dataPath, r.metaPath, length); err != nil {
			s.log.Warn("removed unusable incomplete replica", "block", id, "err", err)
			os.Remove(r.dataPath)
			os.Remove(r.metaPath)
			continue
		}
		r.block.Len = length
		if old := s.rbws[id]; old != nil {
			// On two volumes: keep the newer.
			if old.block.GenStamp >= gs {
				os.Remove(r.dataPath)
				os.Remove(r.metaPath)
				continue
			}
			old.removeFiles()
		}
		s.rbws[id] = r
		v.used.Add(length)
		n++
	}
	for _, ms := range metas {
		for _, m := range ms {
			os.Remove(filepath.Join(v.rbw, m))
		}
	}
	if n > 0 {
		s.log.Info("kept incomplete replicas for recovery", "dir", v.rbw, "replicas", n)
	}
}

// validRbwLength returns the length of the longest prefix of the data
// file that the meta file covers, with the last chunk's checksum
// matching.
func validRbwLength(dataPath, metaPath string) (int64, error) {
	meta, err := os.ReadFile(metaPath)
	if err != nil {
		return 0, err
	}
	if _, err := parseMetaHeader(meta); err != nil {
		return 0, err
	}
	fi, err := os.Stat(dataPath)
	if err != nil {
		return 0, err
	}
	sums := (int64(len(meta)) - metaHeaderLen) / 4
	length := min(fi.Size(), sums*cairn.ChunkSize)
	if length == 0 {
		return 0, nil
	}
	f, err := os.Open(dataPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	last := (length - 1) / cairn.ChunkSize * cairn.ChunkSize
	buf := make([]byte, length-last)
	if _, err := f.ReadAt(buf, last); err != nil {
		return 0, err
	}
	off := sumOffset(last)
	if checksum.CRC32C(buf) != binary.BigEndian.Uint32(meta[off:off+4]) {
		// The last chunk was written but not its checksum, or the
		// reverse: drop it.
		length = last
	}
	return length, nil
}

// truncatePair cuts an rbw data file to length and its meta file to
// match, recomputing the checksum of a last partial chunk.
func truncatePair(dataPath, metaPath string, length int64) error {
	if err := os.Truncate(dataPath, length); err != nil {
		return err
	}
	if err := os.Truncate(metaPath, metaLen(length)); err != nil {
		return err
	}
	if length%cairn.ChunkSize == 0 {
		return nil
	}
	last := length / cairn.ChunkSize * cairn.ChunkSize
	d, err := os.Open(dataPath)
	if err != nil {
		return err
	}
	buf := make([]byte, length-last)
	_, err = d.ReadAt(buf, last)
	d.Close()
	if err != nil {
		return err
	}
	m, err := os.OpenFile(metaPath, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], checksum.CRC32C(buf))
	_, err = m.WriteAt(sum[:], sumOffset(last))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// rbwReplica is a replica not finalized, in rbw/: being written by a
// receiver or claimed by a recovery (active), or idle, waiting for a
// pipeline or lease recovery.
type rbwReplica struct {
	s        *store
	vol      *volume
	block    cairn.Block // Len counts the bytes written
	dataPath string      // "" once the files are no longer this replica's
	metaPath string
	// mem holds a small replica's bytes until it is finalized into a
	// container, or written to its files (spill); nil once on disk.
	mem    *memReplica
	data   *os.File // open while being written
	meta   *os.File
	synced int64 // bytes of data whose writeback was started
	// dirSynced: rbw/ was fsync'd since the files were created (sync).
	dirSynced bool
	// io is held by the receiver while it changes the files (a packet
	// written, a partial chunk rewound) and by a reader taking the
	// length and the last partial chunk (openForRead), so that the
	// reader sees them whole.
	io sync.Mutex

	// Guarded by store.mu:
	active    bool   // claimed: a receiver writes it or a recovery works on it (else idle, files closed)
	temp      bool   // received by TRANSFER_RBW: discarded if that fails
	reported  bool   // the NameNode was told of it (receiving), so its removal is reported too
	interrupt func() // stops the receiver writing it; nil when idle
}

// syncBehindBytes is how much data a replica being written accumulates
// before its writeback is started.
const syncBehindBytes = 8 << 20

// create starts writing a replica of b in rbw/, claimed by the caller.
// A finalized replica of the same ID with the same or a newer
// generation stamp, or an rbw one being written, is refused with Exist;
// an idle rbw replica with an older generation stamp is replaced. A
// temporary replica (stage TRANSFER_RBW) is discarded if the write
// fails, and kept unfinalized if it succeeds. If report is set (a
// client's new block) the replica is reported receiving. If held is
// set and the store keeps small replicas in containers, the replica's
// bytes are held in memory until they are known to be few (see
// finalizeSmall) or not (spill): the receiver then acks its packets
// only once they are stored.
func (s *store) create(b cairn.Block, temporary, report, held bool) (*rbwReplica, error) {
	const op = "datanode.create"
	b.Len = 0
	unlock := s.lockBlock(b.ID)
	defer unlock()
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
		delete(s.rbws, b.ID)
	}
	s.mu.Unlock()
	if stale != nil {
		stale.removeFiles()
		s.emit(evDeleted, stale.block)
	}
	// Try the volumes in turn: one whose disk fails is marked failed
	// and the next one is tried; a full one is skipped.
	tried := make(map[*volume]bool)
	var lastErr error
	for {
		v := s.pickVolume(tried)
		if v == nil {
			if lastErr == nil {
				lastErr = cairn.Errorf(op, blockName(b), cairn.IO, "every data directory has failed")
			}
			return nil, lastErr
		}
		tried[v] = true
		var r *rbwReplica
		var err error
		if held && !temporary && s.smallMax > 0 && v.pack != nil {
			// Held in memory until it is known to be small (finalized
			// into a container) or not (spilled to rbw/).
			r = newRbw(s, v, b)
			r.mem = &memReplica{}
		} else {
			r, err = s.openRbw(v, b)
		}
		if err == nil {
			s.mu.Lock()
			r.temp = temporary
			r.reported = report
			s.rbws[b.ID] = r
			s.mu.Unlock()
			if report {
				s.emitEvent(replicaEvent{kind: evReceiving, block: b, lazy: true})
			}
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

// newRbw returns a claimed replica of b in v's rbw/, its files not
// yet made.
func newRbw(s *store, v *volume, b cairn.Block) *rbwReplica {
	return &rbwReplica{
		s:        s,
		vol:      v,
		block:    b,
		dataPath: filepath.Join(v.rbw, dataName(b.ID)),
		metaPath: filepath.Join(v.rbw, metaName(b.ID, b.GenStamp)),
		active:   true,
	}
}

// openRbw creates the rbw files of b in v, the meta file with its
// header.
func (s *store) openRbw(v *volume, b cairn.Block) (*rbwReplica, error) {
	const op = "datanode.create"
	r := newRbw(s, v, b)
	fail := func(err error) (*rbwReplica, error) {
		r.closeFiles()
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
	if _, err := r.meta.Write(appendMetaHeader(nil)); err != nil {
		return fail(err)
	}
	return r, nil
}

// write appends a packet's data and its checksums. The data must start
// at a chunk boundary (the receiver checks it). Both are written to
// their files before it returns (no user-space buffer), so that an
// acknowledged packet survives the DataNode process being killed.
func (r *rbwReplica) write(sums, data []byte) error {
	if r.mem != nil {
		if r.s.small(r.block.Len + int64(len(data))) {
			return r.writeMem(sums, data)
		}
		if err := r.spill(); err != nil {
			return err
		}
	}
	if c := r.s.capacity; c > 0 && r.vol.used.Load()+int64(len(data)) > c {
		return r.s.ioErr("datanode.write", r.vol, r.block, fmt.Errorf("volume capacity of %d bytes reached: %w", c, syscall.ENOSPC))
	}
	if _, err := r.data.Write(data); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	if _, err := r.meta.Write(sums); err != nil {
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

// sync fsyncs the replica's data and checksum files, and the first
// time the rbw directory that names them: the bytes written so far
// survive a crash of the machine (a writer's Sync).
func (r *rbwReplica) sync() error {
	const op = "datanode.sync"
	r.io.Lock() // a reader opening the files sees them whole
	err := r.spill()
	r.io.Unlock()
	if err != nil {
		return err
	}
	if r.data == nil {
		return r.s.ioErr(op, r.vol, r.block, fmt.Errorf("replica files not open"))
	}
	err = r.data.Sync()
	if err == nil {
		err = r.meta.Sync()
	}
	if err == nil && !r.dirSynced {
		if err = syncDir(r.vol.rbw); err == nil {
			r.dirSynced = true
		}
	}
	if err != nil {
		return r.s.ioErr(op, r.vol, r.block, err)
	}
	return nil
}

// writeAt writes a packet's data, at block offset off, and its
// checksums: at the end of the replica, or at the chunk boundary
// before its partial last chunk, which the packet holds again (after a
// Sync) and which is rewritten (rewind).
func (r *rbwReplica) writeAt(off int64, sums, data []byte) error {
	r.io.Lock()
	defer r.io.Unlock()
	if off != r.block.Len {
		if err := r.spill(); err != nil {
			return err
		}
		if err := r.rewind(off); err != nil {
			return err
		}
	}
	return r.write(sums, data)
}

// rewind cuts the replica back to off, the chunk boundary before its
// partial last chunk, dropping that chunk and its checksum, so that a
// writer that synced it can send it again, whole, with more bytes.
func (r *rbwReplica) rewind(off int64) error {
	const op = "datanode.write"
	n := r.block.Len
	if off%cairn.ChunkSize != 0 || off > n || n-off >= cairn.ChunkSize {
		return cairn.Errorf(op, blockName(r.block), cairn.Invalid, "cannot rewind a replica of %d bytes to %d", n, off)
	}
	err := r.data.Truncate(off)
	if err == nil {
		err = r.meta.Truncate(metaLen(off))
	}
	if err == nil {
		_, err = r.data.Seek(off, io.SeekStart)
	}
	if err == nil {
		_, err = r.meta.Seek(metaLen(off), io.SeekStart)
	}
	if err != nil {
		return r.s.ioErr(op, r.vol, r.block, err)
	}
	r.vol.used.Add(off - n)
	r.s.mu.Lock()
	r.block.Len = off
	r.s.mu.Unlock()
	r.synced = min(r.synced, off)
	return nil
}

// openForRead opens the replica of b being written (or idle in rbw/),
// of b's generation stamp, for a reader: a writer's Sync made its
// bytes visible before the block is finalized. The handle reads the
// length written whole as of opening. The chunks before the partial
// last one no longer change (a writer only ever rewrites the partial
// last chunk), so they are read from the files with their checksums;
// the partial one is copied under the writer's lock and given with a
// fresh checksum.
func (s *store) openForRead(b cairn.Block) (Replica, error) {
	const op = "datanode.read"
	s.mu.Lock()
	r := s.rbws[b.ID]
	if r == nil || r.block.GenStamp != b.GenStamp || r.dataPath == "" || r.temp || r.mem != nil {
		s.mu.Unlock()
		return nil, cairn.Errorf(op, blockName(b), cairn.NotExist, "no such replica")
	}
	dp, mp := r.dataPath, r.metaPath
	s.mu.Unlock()
	data, meta, err := openFiles(dp, mp)
	if err != nil {
		return nil, cairn.E(op, blockName(b), cairn.NotExist, err)
	}
	var tail []byte
	r.io.Lock()
	length := r.block.Len
	if t := length % cairn.ChunkSize; t != 0 {
		tail = make([]byte, t)
		err = readFull(data, tail, length-t)
	}
	r.io.Unlock()
	if err != nil {
		data.Close()
		meta.Close()
		return nil, cairn.E(op, blockName(b), cairn.IO, err)
	}
	fr := &fileReplica{
		block: cairn.Block{ID: b.ID, GenStamp: b.GenStamp, Len: length},
		state: BeingWritten,
		vol:   r.vol,
		data:  data,
		meta:  meta,
		sums:  sectionAt{meta, metaHeaderLen},
	}
	if len(tail) == 0 {
		return fr, nil
	}
	from := length - int64(len(tail))
	tr := &tailReplica{fileReplica: fr, data: tailAt{base: data, from: from, tail: tail}}
	var sum [4]byte
	datatransfer.ComputeSums(sum[:], tail)
	tr.sums = tailAt{base: fr.sums, from: sumsAt(from), tail: sum[:]}
	return tr, nil
}

// tailReplica is a replica being written read with its partial last
// chunk (and that chunk's checksum) taken from memory.
type tailReplica struct {
	*fileReplica
	data, sums tailAt
}

func (r *tailReplica) Data() io.ReaderAt      { return r.data }
func (r *tailReplica) Checksums() io.ReaderAt { return r.sums }

// tailAt reads base before from, and tail from there on.
type tailAt struct {
	base io.ReaderAt
	from int64
	tail []byte
}

func (t tailAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < t.from {
		k := min(int64(len(p)), t.from-off)
		m, err := t.base.ReadAt(p[:k], off)
		n = m
		if int64(m) < k {
			return n, err
		}
	}
	for n < len(p) {
		o := off + int64(n) - t.from
		if o >= int64(len(t.tail)) {
			return n, io.EOF
		}
		n += copy(p[n:], t.tail[o:])
	}
	return n, nil
}

// closeFiles closes the replica's open files, if any.
func (r *rbwReplica) closeFiles() error {
	var err error
	if r.data != nil {
		err = r.data.Close()
		r.data = nil
	}
	if r.meta != nil {
		if cerr := r.meta.Close(); err == nil {
			err = cerr
		}
		r.meta = nil
	}
	return err
}

// finalize makes the replica, claimed by the caller and written whole,
// durable and finalized: its files are fsync'd, closed and moved into
// finalized/ in one step as a restart sees it (see move.go), replacing
// any older finalized or damaged replica of the block, which is removed
// first. The replica is then reported received.
//
// On failure before the move the replica stays claimed in rbw/, its
// files closed, for the caller to detach or abort; a failure in the
// middle of the move fails the volume and leaves the files to the
// start-up repair.
func (r *rbwReplica) finalize() (cairn.Block, error) {
	if r.mem != nil {
		return r.finalizeSmall()
	}
	const op = "datanode.finalize"
	s := r.s
	id := r.block.ID
	fail := func(err error) (cairn.Block, error) {
		return cairn.Block{}, s.ioErr(op, r.vol, r.block, err)
	}
	var err error
	if r.data == nil {
		err = fmt.Errorf("replica files not open")
	}
	for _, f := range []*os.File{r.data, r.meta} {
		if err == nil {
			err = f.Sync()
		}
	}
	if cerr := r.closeFiles(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	unlock := s.lockBlock(id)
	defer unlock()
	if err := r.mayFinalize(); err != nil {
		return cairn.Block{}, err
	}
	s.mu.Lock()
	old, hadOld := s.replicas[id]
	bad, hadBad := s.bad[id]
	s.mu.Unlock()
	if err := s.hook(StepFinalizeSynced, r.block); err != nil {
		return fail(err)
	}
	dir := r.vol.finalizedDir(id)
	if err := mkdirSynced(dir, r.vol.finalized); err != nil {
		return fail(err)
	}
	// A superseded replica leaves first, so that finalized/ never holds
	// the files of two replicas of the block (which a restart could
	// not pair). Should a crash follow, the new one is still whole in
	// rbw/.
	if hadOld || hadBad {
		var superseded []replica
		s.mu.Lock()
		if hadOld {
			delete(s.replicas, id)
			s.used -= old.len + metaLen(old.len)
			old.vol.used.Add(-old.len)
			superseded = append(superseded, old)
		}
		if hadBad {
			delete(s.bad, id)
			superseded = append(superseded, bad)
		}
		s.mu.Unlock()
		if hadOld {
			s.emit(evDeleted, cairn.Block{ID: id, GenStamp: old.gs, Len: old.len})
		}
		for _, o := range superseded {
			if o.pk != nil {
				s.discard(id, o)
				continue
			}
			od, om := o.files(id)
			for _, p := range []string{om, od} {
				if err := os.Remove(p); err != nil && !missing(err) {
					return cairn.Block{}, s.ioErr(op, o.vol, r.block, err)
				}
			}
			if err := syncDir(filepath.Dir(od)); err != nil {
				return cairn.Block{}, s.ioErr(op, o.vol, r.block, err)
			}
		}
		if err := s.hook(StepFinalizeOldRemoved, r.block); err != nil {
			return fail(err)
		}
	}
	nd, nm := filepath.Join(dir, dataName(id)), filepath.Join(dir, metaName(id, r.block.GenStamp))
	if moved, err := s.movePair(r.block, r.dataPath, r.metaPath, nd, nm, finalizeSteps); err != nil {
		if moved {
			r.lost(err)
		}
		return fail(err)
	}
	s.mu.Lock()
	if r.vol.failed != nil {
		// Failed meanwhile: its replicas were dropped, this one too.
		if s.rbws[id] == r {
			delete(s.rbws, id)
		}
		s.mu.Unlock()
		r.dataPath, r.metaPath = "", ""
		return cairn.Block{}, cairn.E(op, blockName(r.block), cairn.IO, r.vol.failed)
	}
	s.replicas[id] = replica{vol: r.vol, gs: r.block.GenStamp, len: r.block.Len, inc: s.nextInc()}
	s.used += r.block.Len + metaLen(r.block.Len)
	if s.rbws[id] == r {
		delete(s.rbws, id)
	}
	r.reported = false
	s.mu.Unlock()
	r.dataPath, r.metaPath = "", ""
	s.emit(evReceived, r.block)
	return r.block, nil
}

// lost forgets a claimed replica whose files a failed move left half
// moved: its volume is failed, and the files are left to the start-up
// repair, which puts them back together.
func (r *rbwReplica) lost(err error) {
	s := r.s
	s.log.Error("a replica move failed half-way; leaving it to the start-up repair", "block", blockName(r.block), "err", err)
	s.failVolume(r.vol, err)
	s.mu.Lock()
	if s.rbws[r.block.ID] == r {
		delete(s.rbws, r.block.ID)
	}
	s.mu.Unlock()
	r.dataPath, r.metaPath = "", ""
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

// settle cuts the claimed replica's files to the bytes written whole
// (data and checksums agreeing), fsyncs and closes them and fsyncs
// rbw/. Files already closed (by a finalize that failed after
// fsyncing them) are left as they are.
func (r *rbwReplica) settle() error {
	r.io.Lock()
	err := r.spill()
	r.io.Unlock()
	if err != nil {
		r.closeFiles()
		return err
	}
	if r.data == nil {
		return nil
	}
	err = r.s.hook(StepSettle, r.block)
	if err == nil {
		err = r.data.Truncate(r.block.Len)
	}
	if err == nil {
		err = r.meta.Truncate(metaLen(r.block.Len))
	}
	if err == nil {
		err = r.data.Sync()
	}
	if err == nil {
		err = r.meta.Sync()
	}
	if cerr := r.closeFiles(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(r.vol.rbw)
	}
	if err != nil {
		return r.s.ioErr("datanode.settle", r.vol, r.block, err)
	}
	return nil
}

// detach ends the receiver's hold on the replica after a failed
// pipeline: settled, it stays in rbw/, idle, for a pipeline or lease
// recovery, and the NameNode, if told of it, hears its length. A
// replica that cannot be settled is discarded (abort), and the error
// returned: it is never listed idle with files that are not whole.
func (r *rbwReplica) detach() error {
	if err := r.settle(); err != nil {
		r.abort()
		return err
	}
	s := r.s
	unlock := s.lockBlock(r.block.ID)
	defer unlock()
	s.mu.Lock()
	report := s.rbws[r.block.ID] == r && r.reported
	r.active = false
	r.interrupt = nil
	b := r.block
	s.mu.Unlock()
	if report {
		s.emit(evReceiving, b)
	}
	return nil
}

// keep makes a replica received whole by TRANSFER_RBW durable and idle,
// in rbw/, for the pipeline it is to join, and reports it receiving.
// If it cannot be made durable it is discarded and the error returned,
// so that the transfer fails.
func (r *rbwReplica) keep() error {
	if err := r.settle(); err != nil {
		r.abort()
		return err
	}
	s := r.s
	unlock := s.lockBlock(r.block.ID)
	defer unlock()
	s.mu.Lock()
	if s.rbws[r.block.ID] != r {
		s.mu.Unlock()
		return cairn.Errorf("datanode.write", blockName(r.block), cairn.IO, "replica dropped: its data directory failed")
	}
	r.temp = false
	r.active = false
	r.interrupt = nil
	r.reported = true
	b := r.block
	s.mu.Unlock()
	s.emit(evReceiving, b)
	return nil
}

// abort discards the replica, claimed by the caller: it leaves the map
// (reported deleted if the NameNode was told of it), then its files
// are removed. It may be called more than once.
func (r *rbwReplica) abort() {
	r.closeFiles()
	s := r.s
	unlock := s.lockBlock(r.block.ID)
	defer unlock()
	s.mu.Lock()
	r.mem = nil
	mine := s.rbws[r.block.ID] == r
	if mine {
		delete(s.rbws, r.block.ID)
	}
	report := mine && r.reported
	r.reported = false
	s.mu.Unlock()
	r.removeFiles()
	if report {
		s.emit(evDeleted, r.block)
	}
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

// setInterrupt records how to stop the receiver writing r.
func (r *rbwReplica) setInterrupt(f func()) {
	r.s.mu.Lock()
	r.interrupt = f
	r.s.mu.Unlock()
}

// idleRbw returns the rbw replica of id once no receiver writes it:
// a receiver still at work (the remains of a broken pipeline) is
// interrupted and waited for. It returns nil if there is none.
func (s *store) idleRbw(id cairn.BlockID) (*rbwReplica, error) {
	deadline := time.Now().Add(recoveryWait)
	for {
		s.mu.Lock()
		r := s.rbws[id]
		if r == nil || !r.active {
			s.mu.Unlock()
			return r, nil
		}
		stop := r.interrupt
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		if time.Now().After(deadline) {
			return nil, cairn.Errorf("datanode.recover", fmt.Sprintf("blk_%d", id), cairn.Unavailable, "the replica's writer does not let go")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// claim marks an idle replica active, for the caller alone; it fails
// if another got there first.
func (s *store) claim(r *rbwReplica) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rbws[r.block.ID] != r || r.active {
		return false
	}
	r.active = true
	return true
}

// release makes a claimed replica idle again; its files must be
// closed.
func (s *store) release(r *rbwReplica) {
	s.mu.Lock()
	r.active = false
	r.interrupt = nil
	s.mu.Unlock()
}

// unfinalize moves the finalized replica of id back to rbw/, for a
// pipeline recovery that reopens it (some nodes finalized the block as
// the pipeline failed at its close). Only a replica with a generation
// stamp below below and at least minLen bytes is moved. The move is one
// step as a restart sees it (see move.go). It returns the replica
// claimed for the caller and reported receiving, or nil if there is
// none to move.
func (s *store) unfinalize(id cairn.BlockID, below cairn.GenStamp, minLen int64) (*rbwReplica, error) {
	const op = "datanode.recover"
	unlock := s.lockBlock(id)
	defer unlock()
	s.mu.Lock()
	rep, ok := s.replicas[id]
	if !ok || rep.gs >= below || s.rbws[id] != nil || rep.vol.failed != nil {
		s.mu.Unlock()
		return nil, nil
	}
	b := cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}
	if rep.len < minLen {
		s.mu.Unlock()
		return nil, cairn.Errorf(op, blockName(b), cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", rep.len, minLen)
	}
	delete(s.replicas, id)
	s.used -= rep.len + metaLen(rep.len)
	s.mu.Unlock()
	restore := func() { s.putBack(id, rep) }
	r := &rbwReplica{
		s:        s,
		vol:      rep.vol,
		block:    b,
		dataPath: filepath.Join(rep.vol.rbw, dataName(id)),
		metaPath: filepath.Join(rep.vol.rbw, metaName(id, rep.gs)),
		active:   true,
		reported: true,
	}
	if err := s.hook(StepUnfinalizeStart, b); err != nil {
		restore()
		return nil, s.ioErr(op, rep.vol, b, err)
	}
	// Leftovers in rbw/ of no replica in the map would be overwritten,
	// or confuse a restart.
	removeBlockFiles(rep.vol.rbw, id)
	if err := s.moveOut(id, rep, r, b); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if rep.vol.failed != nil {
		s.mu.Unlock()
		return nil, cairn.E(op, blockName(b), cairn.IO, rep.vol.failed)
	}
	s.rbws[id] = r
	s.mu.Unlock()
	s.emit(evReceiving, b)
	s.log.Info("finalized replica reopened for recovery", "block", blockName(b))
	return r, nil
}

// putBack returns rep, taken out of the map for a change that failed,
// to the map, unless its volume failed meanwhile.
func (s *store) putBack(id cairn.BlockID, rep replica) {
	s.mu.Lock()
	if rep.vol.failed == nil {
		s.replicas[id] = rep
		s.used += rep.len + metaLen(rep.len)
	}
	s.mu.Unlock()
}

// moveOut moves the finalized replica rep of id (block b) to the rbw
// files of r, out of its files or its container, for unfinalize; on
// failure the replica is back in the map, unless its volume failed.
func (s *store) moveOut(id cairn.BlockID, rep replica, r *rbwReplica, b cairn.Block) error {
	const op = "datanode.recover"
	restore := func() { s.putBack(id, rep) }
	if rep.pk != nil {
		if err := s.unfinalizePacked(id, rep, r); err != nil {
			restore()
			return s.ioErr(op, rep.vol, b, err)
		}
		return nil
	}
	fd, fm := rep.files(id)
	if moved, err := s.movePair(b, fd, fm, r.dataPath, r.metaPath, unfinalizeSteps); err != nil {
		if moved {
			r.lost(err)
			return cairn.E(op, blockName(b), cairn.IO, err)
		}
		restore()
		return s.ioErr(op, rep.vol, b, err)
	}
	return nil
}

// reopen prepares a claimed, idle replica for appending: it is cut to
// length, given generation stamp gs (its meta file renamed), its files
// are opened at the end, and it is reported receiving.
func (r *rbwReplica) reopen(length int64, gs cairn.GenStamp) error {
	const op = "datanode.recover"
	s := r.s
	switch {
	case r.block.Len < length:
		return cairn.Errorf(op, blockName(r.block), cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", r.block.Len, length)
	case gs < r.block.GenStamp:
		return cairn.Errorf(op, blockName(r.block), cairn.Invalid, "replica has the newer generation stamp %d", r.block.GenStamp)
	}
	unlock := s.lockBlock(r.block.ID)
	defer unlock()
	// Under io, as a receiver's writes: a reader (openForRead) takes
	// the length and the partial last chunk whole.
	r.io.Lock()
	if err := truncatePair(r.dataPath, r.metaPath, length); err != nil {
		r.io.Unlock()
		return s.ioErr(op, r.vol, r.block, err)
	}
	r.vol.used.Add(length - r.block.Len)
	s.mu.Lock()
	r.block.Len = length
	s.mu.Unlock()
	r.io.Unlock()
	r.synced = 0
	if gs != r.block.GenStamp {
		np := filepath.Join(r.vol.rbw, metaName(r.block.ID, gs))
		if err := os.Rename(r.metaPath, np); err != nil {
			return s.ioErr(op, r.vol, r.block, err)
		}
		r.metaPath = np
		s.mu.Lock()
		r.block.GenStamp = gs
		s.mu.Unlock()
		if err := syncDir(r.vol.rbw); err != nil {
			return s.ioErr(op, r.vol, r.block, err)
		}
	}
	var err error
	if r.data, err = os.OpenFile(r.dataPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return s.ioErr(op, r.vol, r.block, err)
	}
	if r.meta, err = os.OpenFile(r.metaPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		r.closeFiles()
		return s.ioErr(op, r.vol, r.block, err)
	}
	s.mu.Lock()
	r.reported = true
	b := r.block
	s.mu.Unlock()
	s.emit(evReceiving, b)
	return nil
}

// reopenForRecovery returns the replica of b.ID ready to append at
// b.Len with generation stamp b.GenStamp, for a pipeline recovery
// (stage RECOVERY): an rbw replica (its old writer stopped first), or a
// finalized one with an older generation stamp moved back to rbw/.
func (s *store) reopenForRecovery(b cairn.Block) (*rbwReplica, error) {
	const op = "datanode.recover"
	r, err := s.idleRbw(b.ID)
	if err != nil {
		return nil, err
	}
	if r != nil {
		if !s.claim(r) {
			return nil, cairn.Errorf(op, blockName(b), cairn.Exist, "replica is being recovered")
		}
	} else {
		if r, err = s.unfinalize(b.ID, b.GenStamp, b.Len); err != nil {
			return nil, err
		}
		if r == nil {
			return nil, cairn.Errorf(op, blockName(b), cairn.NotExist, "no replica to recover")
		}
	}
	if err := r.reopen(b.Len, b.GenStamp); err != nil {
		s.release(r)
		return nil, err
	}
	return r, nil
}

// openSource opens the first length bytes of the local replica of id,
// finalized or not, as the source of a TRANSFER_RBW copy. Its
// generation stamp must be below newGS. The replica must be closed when
// done; an rbw one stays claimed until then.
func (s *store) openSource(id cairn.BlockID, length int64, newGS cairn.GenStamp) (Replica, error) {
	const op = "datanode.transfer"
	name := fmt.Sprintf("blk_%d", id)
	if rep, ok := s.lookup(id); ok && rep.gs < newGS {
		if rep.len < length {
			return nil, cairn.Errorf(op, name, cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", rep.len, length)
		}
		fr, _, err := s.openReplica(cairn.Block{ID: id, GenStamp: rep.gs})
		return fr, err
	}
	r, err := s.idleRbw(id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, cairn.Errorf(op, name, cairn.NotExist, "no replica to copy")
	}
	if !s.claim(r) {
		return nil, cairn.Errorf(op, name, cairn.Exist, "replica is being recovered")
	}
	if r.block.GenStamp >= newGS {
		s.release(r)
		return nil, cairn.Errorf(op, name, cairn.NotExist, "no replica to copy: it has generation stamp %d", r.block.GenStamp)
	}
	if r.block.Len < length {
		s.release(r)
		return nil, cairn.Errorf(op, name, cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", r.block.Len, length)
	}
	data, meta, err := openFiles(r.dataPath, r.metaPath)
	if err != nil {
		s.release(r)
		return nil, s.readErr(op, replica{vol: r.vol}, r.block, err)
	}
	return &fileReplica{
		block:   r.block,
		state:   BeingWritten,
		vol:     r.vol,
		data:    data,
		meta:    meta,
		sums:    sectionAt{meta, metaHeaderLen},
		release: func() { s.release(r) },
	}, nil
}

// idleBlocks returns the idle rbw replicas, for block reports.
func (s *store) idleBlocks() []cairn.Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cairn.Block
	for _, r := range s.rbws {
		if !r.active {
			out = append(out, r.block)
		}
	}
	slices.SortFunc(out, func(a, b cairn.Block) int { return cmpID(a.ID, b.ID) })
	return out
}

func cmpID(a, b cairn.BlockID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recoveryInfo is what a node tells the primary of a block
// synchronization about its replica.
type recoveryInfo struct {
	block     cairn.Block
	finalized bool
}

// initRecovery stops any writer of the replica of id and describes it:
// a finalized replica, or an idle rbw one. A replica with a generation
// stamp below nnGS (left behind by an earlier pipeline) is not part of
// the recovery (NotExist); one above recoveryGS means this recovery is
// out of date, and is refused (Invalid), never taken for absent.
func (s *store) initRecovery(id cairn.BlockID, nnGS, recoveryGS cairn.GenStamp) (recoveryInfo, error) {
	const op = "datanode.recover"
	name := fmt.Sprintf("blk_%d", id)
	check := func(gs cairn.GenStamp, what string) error {
		switch {
		case gs < nnGS:
			return cairn.Errorf(op, name, cairn.NotExist, "%s has the older generation stamp %d", what, gs)
		case gs > recoveryGS:
			return cairn.Errorf(op, name, cairn.Invalid, "%s has generation stamp %d, newer than the recovery's %d", what, gs, recoveryGS)
		}
		return nil
	}
	// Stop a writer first: it may yet finalize the replica.
	if _, err := s.idleRbw(id); err != nil {
		return recoveryInfo{}, err
	}
	unlock := s.lockBlock(id)
	s.mu.Lock()
	rep, fin := s.replicas[id]
	r := s.rbws[id]
	var b cairn.Block
	var temp, active bool
	if r != nil {
		b, temp, active = r.block, r.temp, r.active
	}
	s.mu.Unlock()
	switch {
	case fin:
		unlock()
		if err := check(rep.gs, "finalized replica"); err != nil {
			return recoveryInfo{}, err
		}
		return recoveryInfo{block: cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}, finalized: true}, nil
	case r == nil:
		unlock()
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "no replica")
	case active:
		unlock()
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.Unavailable, "replica is being written or recovered")
	case temp:
		claimed := s.claim(r)
		unlock()
		if claimed {
			r.abort()
		}
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "only a partial copy")
	}
	unlock()
	if err := check(b.GenStamp, "replica"); err != nil {
		return recoveryInfo{}, err
	}
	return recoveryInfo{block: b}, nil
}

// finishRecovery brings the replica of id to length and generation
// stamp gs and finalizes it: an idle rbw replica is claimed, cut,
// stamped and finalized; a finalized one of that length is given the
// new generation stamp in place (stamp). Each state change runs with
// the block claimed, so a replica finalized meanwhile by another path
// is seen as finalized, and never cut, resurrected or doubled.
func (s *store) finishRecovery(id cairn.BlockID, length int64, gs cairn.GenStamp) (cairn.Block, error) {
	const op = "datanode.recover"
	name := fmt.Sprintf("blk_%d", id)
	if _, err := s.idleRbw(id); err != nil {
		return cairn.Block{}, err
	}
	unlock := s.lockBlock(id)
	s.mu.Lock()
	rep, fin := s.replicas[id]
	r := s.rbws[id]
	s.mu.Unlock()
	if fin {
		defer unlock()
		return s.stamp(id, rep, length, gs)
	}
	if r == nil {
		unlock()
		return cairn.Block{}, cairn.Errorf(op, name, cairn.NotExist, "no replica")
	}
	claimed := s.claim(r)
	unlock()
	if !claimed {
		return cairn.Block{}, cairn.Errorf(op, name, cairn.Exist, "replica is being written or recovered")
	}
	if err := r.reopen(length, gs); err != nil {
		s.release(r)
		return cairn.Block{}, err
	}
	b, err := r.finalize()
	if err != nil {
		// Kept idle, if it still can be, for another attempt.
		r.detach()
		return cairn.Block{}, err
	}
	return b, nil
}

// stamp gives rep, the finalized replica of id, generation stamp gs by
// renaming its meta file, for a block synchronization that agreed on
// its length. The block must be claimed. While the file is renamed the
// replica is in no map, so nothing lists it under either stamp.
func (s *store) stamp(id cairn.BlockID, rep replica, length int64, gs cairn.GenStamp) (cairn.Block, error) {
	const op = "datanode.recover"
	b := cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}
	nb := cairn.Block{ID: id, GenStamp: gs, Len: length}
	switch {
	case rep.gs == gs && rep.len == length:
		return b, nil // done already
	case rep.gs > gs:
		return cairn.Block{}, cairn.Errorf(op, blockName(b), cairn.Invalid, "replica has the newer generation stamp %d", rep.gs)
	case rep.len != length:
		return cairn.Block{}, cairn.Errorf(op, blockName(b), cairn.Invalid, "finalized replica has %d bytes, not %d", rep.len, length)
	}
	if err := s.hook(StepRecoveryStamp, b); err != nil {
		return cairn.Block{}, s.ioErr(op, rep.vol, b, err)
	}
	s.mu.Lock()
	delete(s.replicas, id)
	s.used -= rep.len + metaLen(rep.len)
	s.mu.Unlock()
	if rep.pk != nil {
		loc, err := s.stampPacked(id, rep, gs)
		s.mu.Lock()
		failed := rep.vol.failed
		if err == nil && failed == nil {
			s.replicas[id] = replica{vol: rep.vol, gs: gs, len: length, inc: s.nextInc(), pk: loc}
			s.used += length + metaLen(length)
			s.mu.Unlock()
			rep.vol.pack.landed(*loc)
			s.emit(evReceived, nb)
			return nb, nil
		}
		if loc != nil {
			defer rep.vol.pack.landed(*loc)
		}
		var damaged errDamaged
		if errors.As(err, &damaged) && failed == nil {
			// Not served any more; its deletion is the NameNode's.
			s.bad[id] = rep
			s.mu.Unlock()
			s.emit(evDeleted, b)
			return cairn.Block{}, cairn.Errorf(op, blockName(b), cairn.Corrupt, "%s", damaged.reason)
		}
		if failed == nil {
			s.replicas[id] = rep
			s.used += rep.len + metaLen(rep.len)
		}
		s.mu.Unlock()
		if failed != nil {
			// Out of the map when its volume failed: not yet told.
			s.emit(evDeleted, b)
			if err == nil {
				err = failed
			}
		}
		return cairn.Block{}, s.ioErr(op, rep.vol, b, err)
	}
	_, om := rep.files(id)
	nm := filepath.Join(filepath.Dir(om), metaName(id, gs))
	if err := os.Rename(om, nm); err != nil {
		if missing(err) {
			// Its files went behind our back: it is gone.
			s.emit(evDeleted, b)
		} else {
			s.mu.Lock()
			if rep.vol.failed == nil {
				s.replicas[id] = rep
				s.used += rep.len + metaLen(rep.len)
			}
			s.mu.Unlock()
		}
		return cairn.Block{}, s.ioErr(op, rep.vol, b, err)
	}
	err := s.hook(StepRecoveryStamped, nb)
	if err == nil {
		err = syncDir(filepath.Dir(om))
	}
	if err != nil {
		// The rename may not be durable: leave the replica to a
		// restart, which finds it under one stamp or the other.
		s.failVolume(rep.vol, err)
		s.emit(evDeleted, b)
		return cairn.Block{}, cairn.E(op, blockName(b), cairn.IO, err)
	}
	s.mu.Lock()
	if rep.vol.failed != nil {
		s.mu.Unlock()
		s.emit(evDeleted, b)
		return cairn.Block{}, cairn.E(op, blockName(b), cairn.IO, rep.vol.failed)
	}
	s.replicas[id] = replica{vol: rep.vol, gs: gs, len: length, inc: s.nextInc()}
	s.used += length + metaLen(length)
	s.mu.Unlock()
	s.emit(evReceived, nb)
	return nb, nil
}

// missing reports whether err says a file is gone.
func missing(err error) bool { return errors.Is(err, fs.ErrNotExist) }

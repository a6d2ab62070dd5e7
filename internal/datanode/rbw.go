package datanode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
)

// Replicas not finalized (rbw/), and what pipeline and lease recovery
// do with them; see doc.go, "Recovery".

// recoveryWait bounds how long a recovery waits for the receiver of a
// replica to let go of it after being interrupted.
const recoveryWait = 10 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(meta[off:off+4]) {
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
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(buf, castagnoli))
	_, err = m.WriteAt(sum[:], sumOffset(last))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// detach ends the receiver's hold on the replica after a failed
// pipeline: the files are cut to what was written whole (data and
// checksums), fsync'd and closed, and the replica stays in rbw/, idle,
// for a pipeline or lease recovery. A replica that cannot be kept so is
// discarded.
func (r *rbwReplica) detach() {
	err := r.metaW.Flush()
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
	if err != nil {
		r.s.log.Warn("cannot keep a partial replica; discarding it", "block", blockName(r.block), "err", err)
		r.abort()
		return
	}
	r.data.Close()
	r.meta.Close()
	r.data, r.meta, r.metaW = nil, nil, nil
	r.s.mu.Lock()
	r.active = false
	r.interrupt = nil
	r.s.mu.Unlock()
}

// keep makes a replica received whole by TRANSFER_RBW durable and idle,
// in rbw/, for the pipeline it is to join.
func (r *rbwReplica) keep() error {
	r.s.mu.Lock()
	r.temp = false
	r.s.mu.Unlock()
	if err := r.metaW.Flush(); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	r.detach()
	if err := syncDir(r.vol.rbw); err != nil {
		return r.s.ioErr("datanode.write", r.vol, r.block, err)
	}
	return nil
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

// release makes a claimed replica idle again.
func (s *store) release(r *rbwReplica) {
	s.mu.Lock()
	r.active = false
	r.interrupt = nil
	s.mu.Unlock()
}

// unfinalize moves the finalized replica of id back to rbw/ as an idle
// replica, for a pipeline recovery that failed as the block was being
// closed (some nodes finalized it, not all acknowledged it).
func (s *store) unfinalize(id cairn.BlockID, below cairn.GenStamp) (*rbwReplica, error) {
	s.mu.Lock()
	rep, ok := s.replicas[id]
	if !ok || rep.gs >= below || s.rbws[id] != nil {
		s.mu.Unlock()
		return nil, nil
	}
	delete(s.replicas, id)
	s.used -= rep.len + metaLen(rep.len)
	r := &rbwReplica{
		s:        s,
		vol:      rep.vol,
		block:    cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len},
		dataPath: filepath.Join(rep.vol.rbw, dataName(id)),
		metaPath: filepath.Join(rep.vol.rbw, metaName(id, rep.gs)),
		active:   true,
	}
	s.rbws[id] = r
	s.mu.Unlock()
	fd, fm := rep.files(id)
	err := os.Rename(fm, r.metaPath)
	if err == nil {
		err = os.Rename(fd, r.dataPath)
	}
	if err == nil {
		err = syncDir(rep.vol.rbw)
	}
	if err != nil {
		r.abort()
		return nil, s.ioErr("datanode.recover", rep.vol, r.block, err)
	}
	s.release(r)
	s.log.Info("finalized replica reopened for recovery", "block", blockName(r.block))
	return r, nil
}

// reopen prepares a claimed, idle replica for appending: it is cut to
// length, given generation stamp gs (its meta file renamed), and its
// files are opened at the end.
func (r *rbwReplica) reopen(length int64, gs cairn.GenStamp) error {
	const op = "datanode.recover"
	if r.block.Len < length {
		return cairn.Errorf(op, blockName(r.block), cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", r.block.Len, length)
	}
	if err := truncatePair(r.dataPath, r.metaPath, length); err != nil {
		return r.s.ioErr(op, r.vol, r.block, err)
	}
	r.vol.used.Add(length - r.block.Len)
	r.s.mu.Lock()
	r.block.Len = length
	r.s.mu.Unlock()
	r.synced = 0
	if gs != r.block.GenStamp {
		np := filepath.Join(r.vol.rbw, metaName(r.block.ID, gs))
		if err := os.Rename(r.metaPath, np); err != nil {
			return r.s.ioErr(op, r.vol, r.block, err)
		}
		r.metaPath = np
		r.s.mu.Lock()
		r.block.GenStamp = gs
		r.s.mu.Unlock()
		if err := syncDir(r.vol.rbw); err != nil {
			return r.s.ioErr(op, r.vol, r.block, err)
		}
	}
	var err error
	if r.data, err = os.OpenFile(r.dataPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return r.s.ioErr(op, r.vol, r.block, err)
	}
	if r.meta, err = os.OpenFile(r.metaPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		r.data.Close()
		r.data = nil
		return r.s.ioErr(op, r.vol, r.block, err)
	}
	r.metaW = bufio.NewWriterSize(r.meta, 4096)
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
	if r == nil {
		if r, err = s.unfinalize(b.ID, b.GenStamp); err != nil {
			return nil, err
		}
	}
	if r == nil {
		return nil, cairn.Errorf(op, blockName(b), cairn.NotExist, "no replica to recover")
	}
	if !s.claim(r) {
		return nil, cairn.Errorf(op, blockName(b), cairn.Exist, "replica is being recovered")
	}
	if r.block.GenStamp > b.GenStamp {
		s.release(r)
		return nil, cairn.Errorf(op, blockName(b), cairn.Invalid, "replica has the newer generation stamp %d", r.block.GenStamp)
	}
	if err := r.reopen(b.Len, b.GenStamp); err != nil {
		s.release(r)
		return nil, err
	}
	return r, nil
}

// openSource opens the first length bytes of the local replica of id,
// finalized or not, as the source of a TRANSFER_RBW copy. Its
// generation stamp must be below newGS. release must be called when
// done.
func (s *store) openSource(id cairn.BlockID, length int64, newGS cairn.GenStamp) (data, meta *os.File, release func(), err error) {
	const op = "datanode.transfer"
	name := fmt.Sprintf("blk_%d", id)
	if rep, ok := s.lookup(id); ok && rep.gs < newGS {
		if rep.len < length {
			return nil, nil, nil, cairn.Errorf(op, name, cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", rep.len, length)
		}
		_, data, meta, err := s.openReplica(cairn.Block{ID: id, GenStamp: rep.gs})
		return data, meta, func() {}, err
	}
	r, err := s.idleRbw(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if r == nil {
		return nil, nil, nil, cairn.Errorf(op, name, cairn.NotExist, "no replica to copy")
	}
	if !s.claim(r) {
		return nil, nil, nil, cairn.Errorf(op, name, cairn.Exist, "replica is being recovered")
	}
	if r.block.GenStamp >= newGS {
		s.release(r)
		return nil, nil, nil, cairn.Errorf(op, name, cairn.NotExist, "no replica to copy: it has generation stamp %d", r.block.GenStamp)
	}
	if r.block.Len < length {
		s.release(r)
		return nil, nil, nil, cairn.Errorf(op, name, cairn.Invalid, "replica has %d bytes, fewer than the %d asked for", r.block.Len, length)
	}
	if data, err = os.Open(r.dataPath); err == nil {
		if meta, err = os.Open(r.metaPath); err != nil {
			data.Close()
		}
	}
	if err != nil {
		s.release(r)
		return nil, nil, nil, s.readErr(op, replica{vol: r.vol}, r.block, err)
	}
	return data, meta, func() { s.release(r) }, nil
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
// a finalized replica, or an idle rbw one. Replicas with a generation
// stamp below nnGS (left behind by an earlier pipeline) or above
// recoveryGS are not part of the recovery.
func (s *store) initRecovery(id cairn.BlockID, nnGS, recoveryGS cairn.GenStamp) (recoveryInfo, error) {
	const op = "datanode.recover"
	name := fmt.Sprintf("blk_%d", id)
	if rep, ok := s.lookup(id); ok {
		if rep.gs < nnGS || rep.gs > recoveryGS {
			return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "finalized replica has generation stamp %d", rep.gs)
		}
		return recoveryInfo{block: cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}, finalized: true}, nil
	}
	r, err := s.idleRbw(id)
	if err != nil {
		return recoveryInfo{}, err
	}
	if r == nil {
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "no replica")
	}
	s.mu.Lock()
	temp, b := r.temp, r.block
	s.mu.Unlock()
	if temp {
		r.abort()
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "only a partial copy")
	}
	if b.GenStamp < nnGS || b.GenStamp > recoveryGS {
		return recoveryInfo{}, cairn.Errorf(op, name, cairn.NotExist, "replica has generation stamp %d", b.GenStamp)
	}
	return recoveryInfo{block: b}, nil
}

// finishRecovery brings the replica of id to length and generation
// stamp gs and finalizes it. A finalized replica of that length is
// given the new generation stamp in place.
func (s *store) finishRecovery(id cairn.BlockID, length int64, gs cairn.GenStamp) (cairn.Block, error) {
	const op = "datanode.recover"
	name := fmt.Sprintf("blk_%d", id)
	s.mu.Lock()
	rep, ok := s.replicas[id]
	s.mu.Unlock()
	if ok {
		b := cairn.Block{ID: id, GenStamp: rep.gs, Len: rep.len}
		switch {
		case rep.gs == gs && rep.len == length:
			return b, nil
		case rep.gs > gs:
			return cairn.Block{}, cairn.Errorf(op, name, cairn.Invalid, "replica has the newer generation stamp %d", rep.gs)
		case rep.len != length:
			return cairn.Block{}, cairn.Errorf(op, name, cairn.Invalid, "finalized replica has %d bytes, not %d", rep.len, length)
		}
		_, om := rep.files(id)
		nm := filepath.Join(filepath.Dir(om), metaName(id, gs))
		if err := os.Rename(om, nm); err != nil {
			return cairn.Block{}, s.ioErr(op, rep.vol, b, err)
		}
		if err := syncDir(filepath.Dir(om)); err != nil {
			return cairn.Block{}, s.ioErr(op, rep.vol, b, err)
		}
		s.mu.Lock()
		if cur, ok := s.replicas[id]; ok && cur.gs == rep.gs {
			cur.gs = gs
			s.replicas[id] = cur
		}
		s.mu.Unlock()
		return cairn.Block{ID: id, GenStamp: gs, Len: length}, nil
	}
	r, err := s.idleRbw(id)
	if err != nil {
		return cairn.Block{}, err
	}
	if r == nil {
		return cairn.Block{}, cairn.Errorf(op, name, cairn.NotExist, "no replica")
	}
	if !s.claim(r) {
		return cairn.Block{}, cairn.Errorf(op, name, cairn.Exist, "replica is being recovered")
	}
	if r.block.GenStamp > gs {
		s.release(r)
		return cairn.Block{}, cairn.Errorf(op, name, cairn.Invalid, "replica has the newer generation stamp %d", r.block.GenStamp)
	}
	if err := r.reopen(length, gs); err != nil {
		s.release(r)
		return cairn.Block{}, err
	}
	b, err := r.finalize()
	if err != nil {
		r.abort()
		return cairn.Block{}, err
	}
	return b, nil
}

// readFull reads len(p) bytes at off, treating a short file as
// io.ErrUnexpectedEOF.
func readFull(f *os.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// missing reports whether err says a file is gone.
func missing(err error) bool { return errors.Is(err, fs.ErrNotExist) }

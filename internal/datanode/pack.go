package datanode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// The container store ("pack") of a volume: finalized replicas of small
// blocks appended, with their checksums, into a few large container
// files, so that storing one costs a share of one fsync rather than two
// new files, two fsyncs, two renames and a directory fsync. See doc.go,
// "Containers", for the format.

const (
	packMagic     = 0x43504b31 // "CPK1"
	packHeaderLen = 44
	// A container starts with a file header: fileMagic, version 1 and
	// a random nonce that every record header's CRC covers, with the
	// container's seq and the record's offset, so that bytes copied
	// from elsewhere (a replica's data holding a record) never pass
	// for a record.
	fileMagic     = 0x43504b43 // "CPKC"
	fileHeaderLen = 16
	recReplica    = 1
	recTombstone  = 2
	// containerSize is the size past which a container is sealed and a
	// new one started.
	containerSize = 256 << 20
	// packBatch bounds the requests one fsync covers.
	packBatch = 512
)

// errPackClosed fails appends to a pack that was closed.
var errPackClosed = errors.New("container store closed")

// packRecord is a record's header: a replica (its block, its data
// length; the checksums and data follow) or a tombstone (the container
// and offset of the replica record it kills).
type packRecord struct {
	kind uint8
	id   cairn.BlockID
	gs   cairn.GenStamp
	len  int64  // recReplica: bytes of data
	tseq uint32 // recTombstone: the container of the record killed
	toff int64  // recTombstone: its offset there
}

// size is the record's length in its container.
func (r packRecord) size() int64 {
	if r.kind == recTombstone {
		return packHeaderLen
	}
	return packHeaderLen + int64(datatransfer.SumsLen(int(r.len))) + r.len
}

// headerCRC is the CRC of a record header's first 40 bytes, bound to
// its container's nonce and seq and its offset.
func headerCRC(h []byte, nonce uint64, seq uint32, off int64) uint32 {
	var k [20]byte
	binary.BigEndian.PutUint64(k[0:], nonce)
	binary.BigEndian.PutUint32(k[8:], seq)
	binary.BigEndian.PutUint64(k[12:], uint64(off))
	return checksum.Update(checksum.CRC32C(k[:]), h[:40])
}

// appendPackHeader appends the header of r, to be written at offset
// off of container c.
func appendPackHeader(b []byte, r packRecord, c *container, off int64) []byte {
	var h [packHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:], packMagic)
	h[4] = r.kind
	binary.BigEndian.PutUint64(h[8:], uint64(r.id))
	binary.BigEndian.PutUint64(h[16:], uint64(r.gs))
	if r.kind == recTombstone {
		binary.BigEndian.PutUint64(h[24:], uint64(r.tseq))
		binary.BigEndian.PutUint64(h[32:], uint64(r.toff))
	} else {
		binary.BigEndian.PutUint64(h[24:], uint64(r.len))
	}
	binary.BigEndian.PutUint32(h[40:], headerCRC(h[:], c.nonce, c.seq, off))
	return append(b, h[:]...)
}

// parsePackHeader parses the record header h found at offset off of
// container c.
func parsePackHeader(h []byte, c *container, off int64) (packRecord, error) {
	if len(h) < packHeaderLen {
		return packRecord{}, fmt.Errorf("record header of %d bytes", len(h))
	}
	if m := binary.BigEndian.Uint32(h[0:]); m != packMagic {
		return packRecord{}, fmt.Errorf("bad record magic %#x", m)
	}
	if got, want := binary.BigEndian.Uint32(h[40:]), headerCRC(h, c.nonce, c.seq, off); got != want {
		return packRecord{}, fmt.Errorf("record header checksum %#x, want %#x", got, want)
	}
	r := packRecord{
		kind: h[4],
		id:   cairn.BlockID(binary.BigEndian.Uint64(h[8:])),
		gs:   cairn.GenStamp(binary.BigEndian.Uint64(h[16:])),
	}
	switch r.kind {
	case recReplica:
		n := binary.BigEndian.Uint64(h[24:])
		if n > datatransfer.MaxBlockOffset {
			return packRecord{}, fmt.Errorf("record of %d bytes", n)
		}
		r.len = int64(n)
	case recTombstone:
		r.tseq = uint32(binary.BigEndian.Uint64(h[24:]))
		r.toff = int64(binary.BigEndian.Uint64(h[32:]))
	default:
		return packRecord{}, fmt.Errorf("bad record kind %d", r.kind)
	}
	return r, nil
}

// container is one container file.
type container struct {
	seq   uint32
	nonce uint64
	path  string
	f     *os.File
	// size is the bytes of whole records; only the pack's writer
	// appends (and a load truncates).
	size atomic.Int64

	// damaged: a bad header ended its load; never compacted (its
	// records past the damage are unknown).
	damaged bool

	// Guarded by pack.mu:
	// inflight counts replica records written here whose appender has
	// not yet put them in the replica map (or killed them): until it
	// is 0, a record missing from the map may be one about to enter
	// it, so the container is not compacted.
	inflight int
	live     int64 // bytes of the records of replicas in the maps
	refs     int   // open handles (packReplica)
	removed  bool  // compacted away: closed once refs is 0
}

// recordLen is the length of the record of a replica of n bytes.
func (c *container) recordLen(n int64) int64 {
	return packRecord{kind: recReplica, len: n}.size()
}

// packLoc is where a replica's record is.
type packLoc struct {
	c   *container
	off int64
}

func (l *packLoc) at(c *container, off int64) bool { return l != nil && l.c == c && l.off == off }

// pack is a volume's container store. Appends go through one writer
// goroutine, which writes every request waiting and then fsyncs once
// for all of them (group commit).
type pack struct {
	dir     string
	maxSize int64
	log     *slog.Logger

	reqs chan *packReq
	quit chan struct{}
	done chan struct{}

	// The writer's own:
	buf   []byte
	dirty bool // written since the active container's last fsync

	mu     sync.Mutex
	conts  map[uint32]*container
	active *container
	next   uint32 // the next container's sequence number
	failed error
	// skipped are the records the load skipped, for openPack to kill.
	skipped []skippedRec
	// cmu orders submit against close: submitters hold it shared.
	cmu       sync.RWMutex
	closed    bool
	closeOnce sync.Once
	syncs     atomic.Int64 // fsyncs, for the metrics
	recs      atomic.Int64 // replica records those covered
}

type skippedRec struct {
	r   packRecord
	c   *container
	off int64
}

// packReq is one append: a header and, for a replica, its checksums and
// data. done, if not nil, is told once it is durable (or failed); a
// request with no header only waits for an fsync of what was written.
type packReq struct {
	rec        *packRecord // nil: only wait for an fsync
	sums, data []byte
	done       chan error
	loc        packLoc
}

// openPack opens (creating it if needed) the container directory dir
// and loads its containers, handing every record to fn in order:
// container by container, offset by offset. The last container is the
// one appended to when the process stopped: its records are checked
// against their checksums, those that fail skipped (a write torn by a
// crash was never acknowledged) and a torn tail cut off.
func openPack(dir string, log *slog.Logger, fn func(r packRecord, c *container, off int64)) (*pack, error) {
	if err := mkdirSynced(dir, filepath.Dir(dir)); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	p := &pack{
		dir:     dir,
		maxSize: containerSize,
		log:     log,
		conts:   make(map[uint32]*container),
		reqs:    make(chan *packReq, packBatch),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		next:    1,
	}
	var seqs []uint32
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), "c_")
		if !ok || e.IsDir() {
			continue
		}
		seq, err := strconv.ParseUint(n, 10, 32)
		if err != nil || seq == 0 {
			continue
		}
		seqs = append(seqs, uint32(seq))
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		path := filepath.Join(dir, containerName(seq))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			p.closeFiles()
			return nil, err
		}
		p.next = seq + 1
		c := &container{seq: seq, path: path, f: f}
		last := i == len(seqs)-1
		if fi, err := f.Stat(); err == nil && fi.Size() < fileHeaderLen && last {
			// Created, its header not yet durable: it never held a
			// record.
			f.Close()
			os.Remove(path)
			continue
		}
		var fh [fileHeaderLen]byte
		if _, err := f.ReadAt(fh[:], 0); err != nil || binary.BigEndian.Uint32(fh[0:]) != fileMagic || binary.BigEndian.Uint32(fh[4:]) != 1 {
			log.Error("container has no valid header: none of its records are loaded", "container", path, "err", err)
			c.damaged = true
			c.size.Store(fileHeaderLen)
			p.conts[seq] = c
			continue
		}
		c.nonce = binary.BigEndian.Uint64(fh[8:])
		p.conts[seq] = c
		if err := p.load(c, last, fn); err != nil {
			p.closeFiles()
			return nil, err
		}
		if last && !c.damaged {
			p.active = c // else a new one is started
		}
	}
	go p.run()
	// Records the load skipped (torn by a crash: never acknowledged)
	// are killed, so that a later load, which does not check their
	// checksums once their container is sealed, does not take them.
	for _, sk := range p.skipped {
		p.submit(&packReq{rec: &packRecord{kind: recTombstone, id: sk.r.id, gs: sk.r.gs, tseq: sk.c.seq, toff: sk.off}})
	}
	p.skipped = nil
	return p, nil
}

func containerName(seq uint32) string { return fmt.Sprintf("c_%010d", seq) }

// load reads the records of c. In the last container (verify) a
// replica whose checksums fail is skipped (and killed by openPack) and
// a torn tail cut off. A bad header with a valid record after it is
// damage: the load skips to that record and marks c damaged.
func (p *pack) load(c *container, verify bool, fn func(packRecord, *container, int64)) error {
	fi, err := c.f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	var h [packHeaderLen]byte
	var body []byte
	off := int64(fileHeaderLen)
	cut := func(why string) error {
		if !verify {
			p.log.Error("container damaged: the records past this point are not loaded", "container", c.path, "offset", off, "reason", why)
			c.size.Store(end) // never appended to: sealed
			c.damaged = true
			return nil
		}
		p.log.Warn("cutting a torn tail off the container", "container", c.path, "offset", off, "bytes", end-off, "reason", why)
		if err := c.f.Truncate(off); err != nil {
			return err
		}
		if err := c.f.Sync(); err != nil {
			return err
		}
		c.size.Store(off)
		return nil
	}
	for off < end {
		if end-off < packHeaderLen {
			return cut("short header")
		}
		if _, err := c.f.ReadAt(h[:], off); err != nil {
			return err
		}
		r, err := parsePackHeader(h[:], c, off)
		if err == nil && off+r.size() > end {
			err = fmt.Errorf("record of %d bytes past the end", r.size())
		}
		if err != nil {
			// Damage in the middle (a valid record further on), or
			// a torn tail (none).
			if next := p.resync(c, off+1, end); next > 0 {
				p.log.Error("container damaged: skipping to the next whole record", "container", c.path, "from", off, "to", next, "reason", err)
				c.damaged = true
				off = next
				continue
			}
			return cut(err.Error())
		}
		n := r.size()
		if verify && r.kind == recReplica {
			body = slices.Grow(body[:0], int(n-packHeaderLen))[:n-packHeaderLen]
			if _, err := c.f.ReadAt(body, off+packHeaderLen); err != nil {
				return err
			}
			sl := datatransfer.SumsLen(int(r.len))
			if bad := datatransfer.VerifySums(body[:sl], body[sl:]); bad >= 0 {
				p.log.Warn("skipping a replica record whose checksums fail", "container", c.path, "offset", off, "block", blockName(cairn.Block{ID: r.id, GenStamp: r.gs}))
				p.skipped = append(p.skipped, skippedRec{r: r, c: c, off: off})
				off += n
				continue
			}
		}
		fn(r, c, off)
		off += n
	}
	c.size.Store(off)
	return nil
}

// resync returns the offset of the first valid record header of c in
// [from, end) whose record ends by end, or 0 if there is none.
func (p *pack) resync(c *container, from, end int64) int64 {
	const step = 1 << 20
	magic := binary.BigEndian.AppendUint32(nil, packMagic)
	buf := make([]byte, step+packHeaderLen)
	for pos := from; pos+packHeaderLen <= end; pos += step {
		n, _ := c.f.ReadAt(buf[:min(int64(len(buf)), end-pos)], pos)
		b := buf[:n]
		for i := 0; i < step && i+packHeaderLen <= len(b); i++ {
			j := bytes.Index(b[i:], magic)
			if j < 0 {
				break
			}
			i += j
			if i+packHeaderLen > len(b) {
				break
			}
			if r, err := parsePackHeader(b[i:i+packHeaderLen], c, pos+int64(i)); err == nil && pos+int64(i)+r.size() <= end {
				return pos + int64(i)
			}
		}
	}
	return 0
}

// run is the writer goroutine.
func (p *pack) run() {
	defer close(p.done)
	batch := make([]*packReq, 0, packBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-p.reqs:
			batch = append(batch, r)
		case <-p.quit:
			// What is queued (tombstones, most likely) is written
			// and made durable before the store closes.
			for more := true; more; {
				select {
				case r := <-p.reqs:
					batch = append(batch, r)
				default:
					more = false
				}
			}
			err := p.commit(append(batch, &packReq{done: make(chan error, 1)}))
			for _, r := range batch {
				if r.done != nil {
					r.done <- err
				}
			}
			return
		}
	more:
		for len(batch) < packBatch {
			select {
			case r := <-p.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := p.commit(batch)
		for _, r := range batch {
			if r.done != nil {
				r.done <- err
			}
		}
	}
}

// drain fails every request still queued.
func (p *pack) drain(err error) {
	for {
		select {
		case r := <-p.reqs:
			if r.done != nil {
				r.done <- err
			}
		default:
			return
		}
	}
}

// commit writes the batch and, if anyone waits, fsyncs it.
func (p *pack) commit(batch []*packReq) error {
	p.mu.Lock()
	err := p.failed
	p.mu.Unlock()
	if err != nil {
		return err
	}
	wait := false
	recs := int64(0)
	for _, r := range batch {
		if r.done != nil {
			wait = true
		}
		if r.rec == nil {
			continue
		}
		n := r.rec.size()
		c := p.active
		if c == nil || (c.size.Load() > fileHeaderLen && c.size.Load()+n > p.maxSize) {
			if c, err = p.rotate(); err != nil {
				if noSpace(err) {
					fail(r, err) // no room for a new container, yet
					continue
				}
				return p.fail(err)
			}
		}
		off := c.size.Load()
		p.buf = appendPackHeader(p.buf[:0], *r.rec, c, off)
		p.buf = append(append(p.buf, r.sums...), r.data...)
		if _, err := c.f.WriteAt(p.buf, off); err != nil {
			if noSpace(err) {
				// Full, not failing: what was written of it past
				// the last record is cut off (or cut at the next
				// load), and later appends may fit.
				c.f.Truncate(off)
				fail(r, err)
				continue
			}
			return p.fail(err)
		}
		if cap(p.buf) > 4<<20 {
			p.buf = nil
		}
		c.size.Store(off + n)
		r.loc = packLoc{c: c, off: off}
		p.dirty = true
		if r.rec.kind == recReplica {
			recs++
			p.mu.Lock()
			c.inflight++
			p.mu.Unlock()
		}
	}
	if wait && p.dirty {
		if err := p.active.f.Sync(); err != nil {
			return p.fail(err)
		}
		p.dirty = false
		p.syncs.Add(1)
		p.recs.Add(recs)
	}
	return nil
}

// noSpace reports whether err says the disk is full: the append fails,
// the store does not.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// fail answers r alone with err, now (its batch goes on).
func fail(r *packReq, err error) {
	if r.done != nil {
		r.done <- err
		r.done = nil
	}
}

// rotate seals the active container (fsyncing what it holds) and
// starts a new one.
func (p *pack) rotate() (*container, error) {
	if c := p.active; c != nil && p.dirty {
		if err := c.f.Sync(); err != nil {
			return nil, err
		}
		p.dirty = false
	}
	p.mu.Lock()
	seq := p.next
	p.mu.Unlock()
	path := filepath.Join(p.dir, containerName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	var fh [fileHeaderLen]byte
	binary.BigEndian.PutUint32(fh[0:], fileMagic)
	binary.BigEndian.PutUint32(fh[4:], 1)
	binary.BigEndian.PutUint64(fh[8:], mrand.Uint64())
	_, err = f.Write(fh[:])
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(p.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	c := &container{seq: seq, nonce: binary.BigEndian.Uint64(fh[8:]), path: path, f: f}
	c.size.Store(fileHeaderLen)
	p.mu.Lock()
	p.next = seq + 1
	p.conts[seq] = c
	p.active = c
	p.mu.Unlock()
	return c, nil
}

func (p *pack) fail(err error) error {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.mu.Unlock()
	return err
}

// submit queues r, failing if the pack is closed.
func (p *pack) submit(r *packReq) error {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	if p.closed {
		return errPackClosed
	}
	select {
	case p.reqs <- r:
		return nil
	case <-p.quit:
		return errPackClosed
	}
}

// appendReplica appends a replica record of b with its checksums and
// data and returns where, once it is durable.
func (p *pack) appendReplica(b cairn.Block, sums, data []byte) (packLoc, error) {
	r := &packReq{
		rec:  &packRecord{kind: recReplica, id: b.ID, gs: b.GenStamp, len: int64(len(data))},
		sums: sums,
		data: data,
		done: make(chan error, 1),
	}
	if err := p.submit(r); err != nil {
		return packLoc{}, err
	}
	if err := <-r.done; err != nil {
		return packLoc{}, err
	}
	p.mu.Lock()
	r.loc.c.live += r.rec.size()
	p.mu.Unlock()
	return r.loc, nil
}

// landed says the record appended at loc (appendReplica) is now in the
// replica map, or killed: the container may be compacted.
func (p *pack) landed(loc packLoc) {
	p.mu.Lock()
	loc.c.inflight--
	p.mu.Unlock()
}

// kill appends a tombstone for the replica record of b at loc, without
// waiting for it to be durable: a tombstone lost to a crash brings the
// replica back, and the NameNode has it deleted again.
func (p *pack) kill(b cairn.Block, loc packLoc) {
	p.mu.Lock()
	loc.c.live -= packRecord{kind: recReplica, len: b.Len}.size()
	p.mu.Unlock()
	p.submit(&packReq{rec: &packRecord{kind: recTombstone, id: b.ID, gs: b.GenStamp, tseq: loc.c.seq, toff: loc.off}})
}

// sync waits until everything appended so far is durable.
func (p *pack) sync() error {
	r := &packReq{done: make(chan error, 1)}
	if err := p.submit(r); err != nil {
		return err
	}
	return <-r.done
}

// acquire opens a handle on c, or fails if it was compacted away.
func (p *pack) acquire(c *container) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.removed {
		return false
	}
	c.refs++
	return true
}

func (p *pack) release(c *container) {
	p.mu.Lock()
	c.refs--
	closeIt := c.removed && c.refs == 0
	p.mu.Unlock()
	if closeIt {
		c.f.Close()
	}
}

// close stops the writer, failing appends still queued, and closes the
// containers.
func (p *pack) close() {
	p.closeOnce.Do(p.shut)
}

func (p *pack) shut() {
	close(p.quit)
	p.cmu.Lock() // no submitter left in the middle of a send
	p.closed = true
	p.cmu.Unlock()
	<-p.done
	p.drain(errPackClosed)
	p.closeFiles()
}

func (p *pack) closeFiles() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conts {
		c.removed = true
		if c.refs == 0 {
			c.f.Close()
		}
	}
}

// candidates returns the sealed containers whose live records fill at
// most half of them, the emptiest first.
func (p *pack) candidates() []*container {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*container
	for _, c := range p.conts {
		if c != p.active && !c.removed && !c.damaged && c.inflight == 0 && c.live*2 <= c.size.Load() {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *container) int {
		return int(a.live - b.live)
	})
	return out
}

// remove deletes c, once compacted: it is no longer found by seq, and
// its file is closed when the last handle lets go.
func (p *pack) remove(c *container) error {
	p.mu.Lock()
	delete(p.conts, c.seq)
	c.removed = true
	closeIt := c.refs == 0
	p.mu.Unlock()
	if closeIt {
		c.f.Close()
	}
	if err := os.Remove(c.path); err != nil {
		return err
	}
	return syncDir(p.dir)
}

// markDamaged stops compacting c.
func (p *pack) markDamaged(c *container) {
	p.mu.Lock()
	c.damaged = true
	p.mu.Unlock()
}

// exists reports whether container seq is still there.
func (p *pack) exists(seq uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conts[seq] != nil
}

// packReplica is a Replica in a container.
type packReplica struct {
	block cairn.Block
	inc   uint64
	vol   *volume
	c     *container
	data  *io.SectionReader
	sums  *io.SectionReader
	once  sync.Once
}

var _ Replica = (*packReplica)(nil)

func (r *packReplica) Block() cairn.Block     { return r.block }
func (r *packReplica) State() ReplicaState    { return Finalized }
func (r *packReplica) Data() io.ReaderAt      { return r.data }
func (r *packReplica) Checksums() io.ReaderAt { return r.sums }

func (r *packReplica) Close() error {
	r.once.Do(func() { r.vol.pack.release(r.c) })
	return nil
}

// openPacked opens the replica rep of b, which is in a container.
func (s *store) openPacked(b cairn.Block, rep replica) (*packReplica, error) {
	loc := rep.pk
	if !rep.vol.pack.acquire(loc.c) {
		return nil, cairn.Errorf("datanode.read", blockName(b), cairn.NotExist, "replica moved: its container was compacted")
	}
	sl := int64(datatransfer.SumsLen(int(rep.len)))
	return &packReplica{
		block: cairn.Block{ID: b.ID, GenStamp: rep.gs, Len: rep.len},
		inc:   rep.inc,
		vol:   rep.vol,
		c:     loc.c,
		sums:  io.NewSectionReader(loc.c.f, loc.off+packHeaderLen, sl),
		data:  io.NewSectionReader(loc.c.f, loc.off+packHeaderLen+sl, rep.len),
	}, nil
}

// readPacked reads the checksums and data of the replica rep of id.
func (s *store) readPacked(id cairn.BlockID, rep replica) (sums, data []byte, err error) {
	pr, err := s.openPacked(cairn.Block{ID: id, GenStamp: rep.gs}, rep)
	if err != nil {
		return nil, nil, err
	}
	defer pr.Close()
	sums = make([]byte, pr.sums.Size())
	data = make([]byte, rep.len)
	if err := readFull(pr.sums, sums, 0); err != nil {
		return nil, nil, err
	}
	if err := readFull(pr.data, data, 0); err != nil {
		return nil, nil, err
	}
	return sums, data, nil
}

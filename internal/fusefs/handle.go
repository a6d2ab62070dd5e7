package fusefs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// handle is an open file: a Reader for reads, a Writer for writes.
// The kernel sends one handle's WRITEs one at a time and in the order
// of write(2); its READs one at a time in order of offset (SyncRead).
type handle struct {
	n     *node
	fsys  *fsys
	flags uint32
	write bool // opened for writing

	// size is the number of bytes written through w, read without mu
	// by Getattr.
	size atomic.Int64

	mu sync.Mutex // guards the fields below
	r  *client.Reader
	// rpos is the offset the next sequential READ asks for; roff is
	// the Reader's own offset, -1 when unknown (a read-ahead moved it).
	rpos, roff int64
	// seq is set after a READ at rpos; ra reads ahead of a run of
	// them.
	seq bool
	ra  *readAhead
	// w writes the file; nil until the file is created or replaced
	// (an existing file opened without O_TRUNC has none).
	w *client.Writer
	// synced is size at the last Sync.
	synced int64
	// existing is the size of the file opened without O_TRUNC, -1
	// once w writes a new file.
	existing int64
	// mode is the permission of a file replaced by a truncation.
	mode iofs.FileMode
	// err is the first write failure: every later write, flush and
	// fsync fails with it, and release removes the file.
	err error
	// orphan is set once the file is found removed or replaced while
	// open: writes are taken and dropped (see failed).
	orphan bool
	done   bool // finished: nothing more is done through it
}

var (
	_ fs.FileReader   = (*handle)(nil)
	_ fs.FileWriter   = (*handle)(nil)
	_ fs.FileFlusher  = (*handle)(nil)
	_ fs.FileFsyncer  = (*handle)(nil)
	_ fs.FileReleaser = (*handle)(nil)
)

// writing reports whether h has a file being written.
func (h *handle) writing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.w != nil && !h.done && h.err == nil && !h.orphan
}

// startWriter creates the file anew (replacing what is there) and
// makes h write it. The caller holds mu or owns h alone.
func (h *handle) startWriter() syscall.Errno {
	f := h.fsys
	w, err := f.c.Create(f.ctx, h.n.path(), &client.CreateOptions{Overwrite: true, Mode: h.mode})
	if err != nil {
		return toErrno(err)
	}
	old := h.w
	h.w = w
	h.existing = -1
	h.synced = 0
	h.size.Store(0)
	h.err = nil
	if old != nil {
		// The new file replaced the one old wrote: Abort only tears
		// the pipeline down (it removes a file only if it is still
		// old's).
		old.Abort()
	}
	return 0
}

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return nil, syscall.EBADF
	}
	if h.r == nil {
		// A file opened for writing and reading: read what the
		// NameNode shows of it now.
		r, err := h.fsys.c.Open(h.fsys.ctx, h.n.path())
		if err != nil {
			return nil, toErrno(err)
		}
		h.r = r
		h.rpos, h.roff = 0, 0
	}
	var n int
	var err error
	if off == h.rpos {
		// Sequential: the Reader's stream, and from the second
		// READ in a row the read-ahead over it.
		if h.ra == nil && h.roff != off {
			if _, err := h.r.Seek(off, io.SeekStart); err != nil {
				return nil, toErrno(err)
			}
			h.roff = off
		}
		if h.ra == nil && h.seq {
			h.ra = startReadAhead(h.r, off, h.r.Stat().Size)
			h.roff = -1 // the read-ahead moves it
		}
		if h.ra != nil {
			if b, buf, ok := h.ra.takeChunk(len(dest)); ok {
				h.rpos = off + int64(len(b))
				return &chunkResult{b: b, buf: buf}, 0
			}
			n, err = h.ra.take(dest)
		} else {
			n, err = io.ReadFull(h.r, dest)
			h.roff += int64(n)
		}
		h.seq = true
	} else {
		// A jump: ReadAt, which serves small reads near each
		// other from the Reader's window, and leaves its stream.
		if h.ra != nil {
			h.ra.stop()
			h.ra = nil
		}
		h.seq = false
		n, err = h.r.ReadAt(dest, off)
	}
	h.rpos = off + int64(n)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		h.fsys.log.Debug("read failed", "path", h.n.path(), "off", off, "err", err)
		if h.ra != nil {
			h.ra.stop()
			h.ra = nil
		}
		h.roff = -1
		if n == 0 {
			return nil, toErrno(err)
		}
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return 0, syscall.EBADF
	}
	if h.err != nil {
		return 0, toErrno(h.err)
	}
	if h.orphan {
		h.size.Add(int64(len(data)))
		return uint32(len(data)), 0
	}
	if h.w == nil {
		if h.existing != 0 || off != 0 {
			// cairn writes a file once: an existing file is
			// written only after O_TRUNC.
			h.fsys.log.Debug("write to an existing file not truncated", "path", h.n.path(), "size", h.existing)
			return 0, syscall.EOPNOTSUPP
		}
		// An empty file: writing it from the start is writing
		// a new one.
		if e := h.startWriter(); e != 0 {
			return 0, e
		}
	}
	size := h.size.Load()
	if off < size {
		h.fsys.log.Debug("write before the end", "path", h.n.path(), "off", off, "size", size)
		return 0, syscall.EOPNOTSUPP
	}
	if off > size {
		// A hole (a seek past the end): its bytes are zeros.
		if e := h.zeros(off - size); e != 0 {
			return 0, e
		}
	}
	n, err := h.w.Write(data)
	h.size.Add(int64(n))
	if err != nil {
		if e := h.failed(err); e != 0 {
			return uint32(n), e
		}
		h.size.Add(int64(len(data) - n))
		return uint32(len(data)), 0
	}
	return uint32(n), 0
}

// zeros writes n zero bytes. The caller holds mu.
func (h *handle) zeros(n int64) syscall.Errno {
	buf := make([]byte, min(n, maxIO))
	for n > 0 {
		m, err := h.w.Write(buf[:min(n, int64(len(buf)))])
		h.size.Add(int64(m))
		n -= int64(m)
		if err != nil {
			return h.failed(err)
		}
	}
	return 0
}

// failed records the first write failure, unless the file is gone:
// removed (or replaced) while open, which the Writer learns as a lost
// lease. Then, as with an unlinked local file, writing goes on without
// error, into nothing: no one can open that file any more. The caller
// holds mu.
func (h *handle) failed(err error) syscall.Errno {
	if h.orphan {
		return 0
	}
	if h.err == nil && h.gone(err) {
		h.orphan = true
		h.fsys.log.Debug("file removed or replaced while open for writing", "path", h.n.path())
		return 0
	}
	if h.err == nil {
		h.err = err
		h.fsys.log.Warn("write failed", "path", h.n.path(), "err", err)
	}
	return toErrno(h.err)
}

// gone reports whether err says that the file h writes is no longer
// at its path. The caller holds mu.
func (h *handle) gone(err error) bool {
	switch cairn.KindOf(err) {
	case cairn.LeaseConflict, cairn.NotExist:
	default:
		return false
	}
	ctx, cancel := context.WithTimeout(h.fsys.ctx, h.fsys.cfg.OpTimeout)
	defer cancel()
	fi, serr := h.fsys.c.Stat(ctx, h.n.path())
	if cairn.KindOf(serr) == cairn.NotExist {
		return true
	}
	return serr == nil && fi.FileID != h.w.FileID()
}

// truncate changes the size of the file h writes (see node.truncate).
func (h *handle) truncate(size int64) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return syscall.EBADF
	}
	if h.w == nil {
		switch {
		case size == h.existing:
			return 0
		case size == 0:
			return h.startWriter()
		}
		return syscall.EOPNOTSUPP
	}
	cur := h.size.Load()
	switch {
	case size == cur:
		return 0
	case size == 0:
		return h.startWriter()
	case size > cur && h.err == nil:
		return h.zeros(size - cur)
	}
	return syscall.EOPNOTSUPP
}

// Flush comes with every close(2) of a descriptor of h, including one
// of several duplicates, and before anything may be written through
// another. It makes the bytes written so far durable on the DataNodes
// and visible to every reader (Writer.Sync); the file is completed by
// Release, when the last descriptor is gone.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	return h.sync(false)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.sync(true)
}

func (h *handle) sync(always bool) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return toErrno(h.err)
	}
	if h.done || h.w == nil || h.orphan {
		return 0
	}
	size := h.size.Load()
	if size == h.synced && !always {
		return 0
	}
	if err := h.w.Sync(); err != nil {
		return h.failed(err)
	}
	h.synced = size
	return 0
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.finish()
	return 0
}

// finish closes h: its Writer is closed, which completes the file (or
// aborted after a failure, which removes it), its Reader closed.
func (h *handle) finish() {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	h.done = true
	w, r, failed := h.w, h.r, h.err != nil || h.orphan
	if h.ra != nil {
		h.ra.stop()
		h.ra = nil
	}
	h.mu.Unlock()
	f := h.fsys
	if h.write {
		h.n.fin.Lock()
		defer h.n.fin.Unlock()
	}
	if r != nil {
		r.Close()
	}
	if w != nil {
		if failed {
			w.Abort()
		} else if err := w.Close(); err != nil {
			switch cairn.KindOf(err) {
			case cairn.LeaseConflict, cairn.NotExist:
				// Replaced or removed while open.
				f.log.Debug("close of a file replaced or removed while open", "path", h.n.path(), "err", err)
			default:
				f.log.Warn("close failed", "path", h.n.path(), "err", err)
			}
		}
	}
	if h.write {
		if mt := h.n.removeWriter(h); !mt.IsZero() {
			ctx, cancel := context.WithTimeout(f.ctx, f.cfg.OpTimeout)
			if err := f.c.SetTimes(ctx, h.n.path(), mt); err != nil {
				f.log.Debug("set mtime after close", "path", h.n.path(), "err", err)
			}
			cancel()
			h.n.doneMtime()
		}
	}
	f.removeHandle(h)
}

package fusefs

import (
	"errors"
	"io"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairn-fs/cairn/client"
)

// Read-ahead of a sequential reader: while the kernel copies one READ
// to the caller, the next chunks are already coming from the DataNodes.
const (
	raChunk  = maxIO // bytes one read-ahead step fetches
	raChunks = 2     // chunks fetched ahead of the one being taken
)

// readAhead reads a Reader sequentially from an offset in a goroutine
// of its own, a few chunks ahead of its taker. Nothing else may use the
// Reader until stop returns.
type readAhead struct {
	pos   int64 // file offset of the next byte take gives
	cur   []byte
	buf   *[]byte // cur's buffer
	err   error   // the fetcher's last error (io.EOF at the end)
	ch    chan raChunkOf
	quit  chan struct{}
	done  sync.WaitGroup
	close sync.Once
}

type raChunkOf struct {
	b   []byte
	buf *[]byte // b's buffer, back to chunkPool once taken; nil if none
	err error
}

// chunkPool holds read-ahead buffers of raChunk bytes: a sequential
// read of a large file would otherwise allocate (and zero) a fresh MiB
// per READ and keep the garbage collector busy.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, raChunk)
	return &b
}}

// startReadAhead starts reading r from off, where r's offset is; the
// file is size bytes long.
func startReadAhead(r *client.Reader, off, size int64) *readAhead {
	ra := &readAhead{pos: off, ch: make(chan raChunkOf, raChunks), quit: make(chan struct{})}
	ra.done.Add(1)
	go func() {
		defer ra.done.Done()
		defer close(ra.ch)
		for {
			n := min(int64(raChunk), size-off)
			if n <= 0 {
				ra.send(raChunkOf{err: io.EOF})
				return
			}
			buf := chunkPool.Get().(*[]byte)
			m, err := io.ReadFull(r, (*buf)[:n])
			off += int64(m)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			if !ra.send(raChunkOf{b: (*buf)[:m], buf: buf, err: err}) {
				chunkPool.Put(buf)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) send(c raChunkOf) bool {
	select {
	case ra.ch <- c:
		return true
	case <-ra.quit:
		return false
	}
}

// take fills p with the next bytes, as io.ReadFull would; it returns
// fewer only at the end of the file or on an error.
func (ra *readAhead) take(p []byte) (int, error) {
	n := 0
	for n < len(p) && ra.next() {
		m := copy(p[n:], ra.cur)
		ra.cur = ra.cur[m:]
		n += m
	}
	ra.pos += int64(n)
	if n == len(p) {
		return n, nil
	}
	return n, ra.err
}

// next makes cur the next chunk if cur is used up; false at the end or
// after an error.
func (ra *readAhead) next() bool {
	if len(ra.cur) > 0 {
		return true
	}
	if ra.buf != nil {
		chunkPool.Put(ra.buf)
		ra.buf = nil
	}
	if ra.err != nil {
		return false
	}
	c, ok := <-ra.ch
	if !ok {
		ra.err = io.EOF
		return false
	}
	ra.cur, ra.buf, ra.err = c.b, c.buf, c.err
	return len(ra.cur) > 0
}

// takeChunk hands over the next chunk whole, without a copy, when a
// READ of n bytes asks for exactly it: the chunk starts there and is n
// bytes long, or shorter at the end of the file. The caller gives the
// buffer back to chunkPool once it is sent.
func (ra *readAhead) takeChunk(n int) ([]byte, *[]byte, bool) {
	if !ra.next() || ra.buf == nil || cap(ra.cur) != cap(*ra.buf) {
		return nil, nil, false
	}
	if len(ra.cur) != n && !(len(ra.cur) < n && ra.err != nil) {
		return nil, nil, false
	}
	b, buf := ra.cur, ra.buf
	ra.cur, ra.buf = nil, nil
	ra.pos += int64(len(b))
	return b, buf, true
}

// chunkResult answers a READ with a read-ahead chunk as it is, and
// gives its buffer back once go-fuse has sent it.
type chunkResult struct {
	b   []byte
	buf *[]byte
}

func (r *chunkResult) Bytes([]byte) ([]byte, fuse.Status) { return r.b, fuse.OK }
func (r *chunkResult) Size() int                          { return len(r.b) }
func (r *chunkResult) Done()                              { chunkPool.Put(r.buf) }

// stop ends the fetcher and waits for it: the Reader is free again, at
// an offset at or past pos.
func (ra *readAhead) stop() {
	ra.close.Do(func() { close(ra.quit) })
	ra.done.Wait()
	for c := range ra.ch {
		if c.buf != nil {
			chunkPool.Put(c.buf)
		}
	}
	if ra.buf != nil {
		chunkPool.Put(ra.buf)
		ra.buf, ra.cur = nil, nil
	}
}

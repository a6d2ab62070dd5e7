package fusefs

import (
	"errors"
	"io"
	"sync"

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
	err   error // the fetcher's last error (io.EOF at the end)
	ch    chan raChunkOf
	quit  chan struct{}
	done  sync.WaitGroup
	close sync.Once
}

type raChunkOf struct {
	b   []byte
	err error
}

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
			b := make([]byte, n)
			m, err := io.ReadFull(r, b)
			off += int64(m)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			if !ra.send(raChunkOf{b: b[:m], err: err}) || err != nil {
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
	for n < len(p) {
		if len(ra.cur) == 0 {
			if ra.err != nil {
				break
			}
			c, ok := <-ra.ch
			if !ok {
				ra.err = io.EOF
				break
			}
			ra.cur, ra.err = c.b, c.err
			continue
		}
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

// stop ends the fetcher and waits for it: the Reader is free again, at
// an offset at or past pos.
func (ra *readAhead) stop() {
	ra.close.Do(func() { close(ra.quit) })
	ra.done.Wait()
}

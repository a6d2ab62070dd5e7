package client

import (
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// Test seams for the external tests of package client_test.

// WithAbandonBlockFault makes the Client call f before each
// AbandonBlock; an error from f fails that call without sending it.
func WithAbandonBlockFault(f func(cairn.Block) error) Option {
	return func(o *options) { o.faults.abandonBlock = f }
}

// WithoutFirstBlock makes the Client's Create ask for no first block,
// as clients did before CreateRequest.allocate_block: every block
// comes from AddBlock.
func WithoutFirstBlock() Option {
	return func(o *options) { o.faults.noFirstBlock = true }
}

// FirstBlockForTest returns the block w's Create was given with the
// file and has not used yet; false if there is none.
func FirstBlockForTest(w *Writer) (cairn.LocatedBlock, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == nil {
		return cairn.LocatedBlock{}, false
	}
	return *w.first, true
}

// AgeFirstBlockForTest makes w's unused first block look given d
// earlier than it was.
func AgeFirstBlockForTest(w *Writer, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.firstAt = w.firstAt.Add(-d)
}

// FirstBlockMaxAge is firstBlockMaxAge, for the external tests.
const FirstBlockMaxAge = firstBlockMaxAge

// KillForTest makes c behave as if its process died with w open: w's
// pipeline is torn down (the DataNodes keep their partial replicas), the
// lease is no longer renewed and the connection to the NameNode is
// closed. It returns the file offset up to which w's data was
// acknowledged by its whole pipeline.
func KillForTest(c *Client, w *Writer) int64 {
	w.mu.Lock()
	acked := w.block.Offset
	if w.cur != nil {
		w.cur.Abort()
		acked += w.cur.Acked()
	} else {
		acked += w.block.Block.Len
	}
	w.state = writerAborted
	w.mu.Unlock()
	c.stop()
	c.renewers.Wait()
	c.nn.close()
	return acked
}

// DeadAddr returns a loopback address where connections are refused
// (deadAddr, for the external tests).
func DeadAddr(t *testing.T) string { return deadAddr(t) }

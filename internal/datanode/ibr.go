package datanode

import (
	"sync"

	"github.com/cairn-fs/cairn"
)

// Incremental block reports: the changes of replica states the
// NameNode has not heard of yet.

// eventKind is what a replica became.
type eventKind int

const (
	evReceived  eventKind = iota // finalized
	evReceiving                  // unfinalized: being written, idle in rbw/, or moved back there
	evDeleted                    // gone
)

// replicaEvent is a change of a replica's state, for the NameNode.
type replicaEvent struct {
	kind  eventKind
	block cairn.Block
	// lazy: no need to send it at once (a new replica being written);
	// it goes with the next report, at most a second later, as HDFS's
	// RECEIVING_BLOCK.
	lazy bool
}

// maxIBREvents bounds the events an ibrQueue holds: a NameNode
// unreachable for long would otherwise cost the DataNode memory for
// every replica change meanwhile. Past it the events are dropped and a
// full block report, which supersedes them, is sent instead.
const maxIBREvents = 100_000

// ibrQueue holds the incremental block report not yet sent, in the
// order the changes happened.
//
// An event makes the earlier ones of its block with the same or an
// older generation stamp obsolete: they are dropped, since only the
// replica's last state matters to the NameNode. take hands out a
// prefix in which no block appears twice, so that the NameNode, which
// applies a report's lists one after the other, never sees two states
// of a block out of order.
//
// The queue holds at most max events (maxIBREvents). One more, and it
// drops them all and owes a full block report instead (full), which
// its session sends before the next incremental one.
type ibrQueue struct {
	mu      sync.Mutex
	pending []replicaEvent
	max     int           // the bound of pending; 0: maxIBREvents
	full    bool          // events were dropped: a full block report is owed
	wake    chan struct{} // capacity 1: something to send at once was added
}

func newIBRQueue() *ibrQueue { return &ibrQueue{wake: make(chan struct{}, 1)} }

// add queues an event, waking the sender unless it is lazy (or the
// queue overflowed).
func (q *ibrQueue) add(ev replicaEvent) {
	q.mu.Lock()
	q.pending = append(supersede(q.pending, ev), ev)
	overflow := q.overflowed()
	q.mu.Unlock()
	if !ev.lazy || overflow {
		q.signal()
	}
}

// overflowed drops the events if there are more than the bound, owing
// a full report instead, and reports whether it did; q.mu is held.
func (q *ibrQueue) overflowed() bool {
	limit := q.max
	if limit <= 0 {
		limit = maxIBREvents
	}
	if len(q.pending) <= limit {
		return false
	}
	q.pending = nil
	q.full = true
	return true
}

// takeFull reports whether a full report is owed, and clears it: the
// full report about to be built settles it.
func (q *ibrQueue) takeFull() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	full := q.full
	q.full = false
	return full
}

// oweFull records a full report owed again, one that was to settle it
// having failed.
func (q *ibrQueue) oweFull() {
	q.mu.Lock()
	q.full = true
	q.mu.Unlock()
}

// owesFull reports whether a full report is owed.
func (q *ibrQueue) owesFull() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.full
}

func (q *ibrQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// supersede drops from evs the events ev makes obsolete.
func supersede(evs []replicaEvent, ev replicaEvent) []replicaEvent {
	out := evs[:0]
	for _, e := range evs {
		if e.block.ID == ev.block.ID && e.block.GenStamp <= ev.block.GenStamp {
			continue
		}
		out = append(out, e)
	}
	return out
}

// take removes and returns the longest prefix of the queue in which no
// block appears twice.
func (q *ibrQueue) take() []replicaEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := make(map[cairn.BlockID]bool, len(q.pending))
	n := 0
	for n < len(q.pending) && !seen[q.pending[n].block.ID] {
		seen[q.pending[n].block.ID] = true
		n++
	}
	out := append([]replicaEvent(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	return out
}

// putBack returns events that could not be sent to the front of the
// queue, except those that events queued meanwhile made obsolete.
func (q *ibrQueue) putBack(evs []replicaEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var keep []replicaEvent
	for _, e := range evs {
		obsolete := false
		for _, p := range q.pending {
			if p.block.ID == e.block.ID && e.block.GenStamp <= p.block.GenStamp {
				obsolete = true
				break
			}
		}
		if !obsolete {
			keep = append(keep, e)
		}
	}
	q.pending = append(keep, q.pending...)
	q.overflowed()
}

// len returns the number of events waiting.
func (q *ibrQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// split sorts events into the lists of an incremental report.
func split(evs []replicaEvent) (received, receiving, deleted []cairn.Block) {
	for _, e := range evs {
		switch e.kind {
		case evReceived:
			received = append(received, e.block)
		case evReceiving:
			receiving = append(receiving, e.block)
		case evDeleted:
			deleted = append(deleted, e.block)
		}
	}
	return received, receiving, deleted
}

package datanode

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// stepCounter is a StepHook counting the steps reached, per step and
// block ID; an optional next hook runs after.
type stepCounter struct {
	mu   sync.Mutex
	n    map[Step]map[cairn.BlockID]int
	next func(Step, cairn.Block) error
}

func newStepCounter(next func(Step, cairn.Block) error) *stepCounter {
	return &stepCounter{n: make(map[Step]map[cairn.BlockID]int), next: next}
}

func (c *stepCounter) hook(step Step, b cairn.Block) error {
	c.mu.Lock()
	if c.n[step] == nil {
		c.n[step] = make(map[cairn.BlockID]int)
	}
	c.n[step][b.ID]++
	c.mu.Unlock()
	if c.next != nil {
		return c.next(step, b)
	}
	return nil
}

func (c *stepCounter) count(step Step, id cairn.BlockID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[step][id]
}

// heardOf reports whether the fake got b (ID and generation stamp) in
// list.
func heardOf(list []cairn.Block, id cairn.BlockID, gs cairn.GenStamp) bool {
	for _, b := range list {
		if b.ID == id && b.GenStamp == gs {
			return true
		}
	}
	return false
}

func TestUnfinalizedReplicasAreReportedReceiving(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	n := startNode(t, nil, nn.addr)
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	ctx := context.Background()

	t.Run("a finalized replica reopened by a pipeline recovery", func(t *testing.T) {
		data := randomBytes(cairn.PacketSize+10, 60)
		b := cairn.Block{ID: 600, GenStamp: 1, Len: int64(len(data))}
		writeBlock(t, b, pipelineOf(n), data)
		waitFor(t, nn.check(func() bool { return hasBlock(nn.received, b) }), "%v reported received", b)
		// The writer's pipeline failed as it closed the block: it
		// reopens the replica at generation stamp 2 and, for now,
		// sends nothing.
		w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: b.Len, Recoverable: true}.NewBlockWriter(ctx, cairn.Block{ID: b.ID, GenStamp: 2}, pipelineOf(n), "test-client")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, nn.check(func() bool { return heardOf(nn.receiving, b.ID, 1) || heardOf(nn.receiving, b.ID, 2) }), "the reopened replica reported receiving")
		if v := nn.view(); v[b.ID] == b {
			t.Errorf("the NameNode still counts %v finalized on the node", b)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		nb := cairn.Block{ID: b.ID, GenStamp: 2, Len: b.Len}
		waitFor(t, nn.check(func() bool { return hasBlock(nn.received, nb) }), "%v reported received", nb)
		if v := nn.view(); v[b.ID] != nb {
			t.Errorf("NameNode's view of block %d = %v, want %v", b.ID, v[b.ID], nb)
		}
	})

	t.Run("a replica being written, kept after its pipeline failed", func(t *testing.T) {
		b := cairn.Block{ID: 601, GenStamp: 1}
		acked := partialWrite(t, b, pipelineOf(n), randomBytes(2*cairn.PacketSize, 61), cairn.PacketSize)
		kept := idle(t, n, b.ID)
		if kept.Len < acked {
			t.Fatalf("kept %v, fewer than the %d bytes acknowledged", kept, acked)
		}
		waitFor(t, nn.check(func() bool { return hasBlock(nn.receiving, kept) }), "%v reported receiving", kept)
	})

	t.Run("a replica being written, then discarded", func(t *testing.T) {
		b := cairn.Block{ID: 602, GenStamp: 1}
		w, err := datatransfer.NewBlockWriter(ctx, b, pipelineOf(n), "test-client")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(randomBytes(cairn.PacketSize, 62))
		waitFor(t, nn.check(func() bool { return heardOf(nn.receiving, b.ID, 1) }), "the new replica reported receiving")
		w.Abort()
		waitFor(t, nn.check(func() bool { return heardOf(nn.deleted, b.ID, 1) }), "the discarded replica reported deleted")
	})
}

func TestCommandsAreAcknowledgedAndRunOnce(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	nn.withIDs()
	// A NameNode that sends each command once more after the node took
	// it (it builds a reply before reading the acks of its request),
	// and loses the first heartbeat carrying acks.
	nn.mu.Lock()
	nn.ackLate = true
	nn.dropAcks = 1
	nn.mu.Unlock()
	steps := newStepCounter(nil)
	n := startNodeWith(t, Config{NameNode: nn.addr, StepHook: steps.hook})
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	b := cairn.Block{ID: 610, GenStamp: 1, Len: 5}
	writeBlock(t, b, pipelineOf(n), []byte("hello"))
	nn.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{b})})
	// The command was sent again, and acknowledged again after that.
	waitFor(t, nn.check(func() bool { return nn.resent[1] >= 1 && nn.acked[1] >= 2 }), "the command sent twice and acknowledged after both")
	if got := steps.count(StepCommandRun, b.ID); got != 1 {
		t.Errorf("DELETE_BLOCKS delivered twice was run %d times, want once", got)
	}
	waitFor(t, nn.check(func() bool { return hasBlock(nn.deleted, b) }), "%v reported deleted", b)
	if _, _, ok := n.dn.BlockFiles(b.ID); ok {
		t.Errorf("replica %v still there", b)
	}
	// Once acknowledged, the command is not sent any more.
	nn.mu.Lock()
	left := len(nn.commands[string(n.dn.ID())])
	nn.mu.Unlock()
	if left != 0 {
		t.Errorf("%d commands still unacknowledged", left)
	}
	// A command for a replica no longer here still gets its answer.
	nn.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{{ID: 611, GenStamp: 4}})})
	waitFor(t, nn.check(func() bool { return heardOf(nn.deleted, 611, 4) }), "an absent replica reported deleted")
}

func TestLostHeartbeatAcksAreSentAgain(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	nn.withIDs()
	nn.mu.Lock()
	nn.dropAcks = 3 // the first three heartbeats carrying the ack are lost
	nn.mu.Unlock()
	n := startNode(t, nil, nn.addr)
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	nn.queue(n.dn.ID(), &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{{ID: 612, GenStamp: 1}})})
	waitFor(t, nn.check(func() bool { return nn.acked[1] == 1 }), "the command acknowledged by a heartbeat that got through")
	nn.mu.Lock()
	dropped := nn.dropAcks
	nn.mu.Unlock()
	if dropped != 0 {
		t.Errorf("acknowledged before the lost heartbeats were used up (%d left)", dropped)
	}
}

func TestCopyBlocksNotStartedTwice(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	nn.withIDs()
	steps := newStepCounter(nil)
	src := startNodeWith(t, Config{NameNode: nn.addr, StepHook: steps.hook})
	dst := startNode(t, nil, nn.addr)
	waitFor(t, nn.check(func() bool { return len(nn.reports) >= 2 }), "registrations")
	data := randomBytes(4*cairn.PacketSize, 63)
	b := cairn.Block{ID: 620, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(src), data)
	// The NameNode asks twice (as after re-deriving a command it thinks
	// lost): the same block to the same target, under two ids, in one
	// reply.
	copyCmd := func() *protocol.Command {
		return &protocol.Command{Type: protocol.Command_COPY_BLOCKS, Blocks: protocol.BlocksToProto([]cairn.Block{b}), Targets: protocol.DatanodesToProto(pipelineOf(dst))}
	}
	nn.mu.Lock()
	id := string(src.dn.ID())
	nn.commands[id] = append(nn.commands[id], copyCmd(), copyCmd())
	nn.mu.Unlock()
	waitFor(t, nn.check(func() bool { return nn.acked[1] >= 1 && nn.acked[2] >= 1 }), "both commands acknowledged")
	if got := steps.count(StepCommandRun, b.ID); got != 2 {
		t.Errorf("%d COPY_BLOCKS commands run, want 2 (two ids)", got)
	}
	if got := steps.count(StepCopyStart, b.ID); got != 1 {
		t.Errorf("%d copies of %v started, want 1", got, b)
	}
	waitFor(t, func() bool { _, _, ok := dst.dn.BlockFiles(b.ID); return ok }, "the copy on the target")
}

func TestRecoverBlockRunOnce(t *testing.T) {
	nn := startFakeNameNode(t, "c")
	nn.withIDs()
	const id = cairn.BlockID(630)
	hold := newPauser(StepRecoveryStamp, id)
	steps := newStepCounter(hold.hook)
	n := startNodeWith(t, Config{NameNode: nn.addr, StepHook: steps.hook})
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	data := randomBytes(cairn.PacketSize+7, 64)
	b := cairn.Block{ID: id, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b, pipelineOf(n), data)
	recover := func(gs cairn.GenStamp) {
		nn.queue(n.dn.ID(), &protocol.Command{
			Type:        protocol.Command_RECOVER_BLOCK,
			Blocks:      protocol.BlocksToProto([]cairn.Block{b}),
			Targets:     protocol.DatanodesToProto(pipelineOf(n)),
			NewGenStamp: uint64(gs),
		})
	}
	commits := func() int {
		nn.mu.Lock()
		defer nn.mu.Unlock()
		return len(nn.commits)
	}
	recover(3)
	awaitStep(t, hold.reached, "the recovery to stamp the replica")
	// Asked again while it runs: not started twice.
	recover(3)
	waitFor(t, nn.check(func() bool { return nn.acked[2] >= 1 }), "the second command acknowledged")
	if got := steps.count(StepRecoveryStart, id); got != 1 {
		t.Errorf("%d recoveries started while one runs, want 1", got)
	}
	close(hold.release)
	waitFor(t, func() bool { return commits() == 1 }, "the outcome reported")
	nn.mu.Lock()
	first := nn.commits[0]
	nn.mu.Unlock()
	if got := protocol.BlockFromProto(first.Block); got != (cairn.Block{ID: id, GenStamp: 3, Len: b.Len}) || first.DeleteBlock || len(first.Nodes) != 1 {
		t.Errorf("CommitBlockSynchronization = %v, want %v on one node", first, cairn.Block{ID: id, GenStamp: 3, Len: b.Len})
	}
	// Asked again once done: the outcome is sent again, the recovery
	// not run again.
	recover(3)
	waitFor(t, func() bool { return commits() == 2 }, "the outcome sent again")
	nn.mu.Lock()
	again := nn.commits[1]
	nn.mu.Unlock()
	if got, want := protocol.BlockFromProto(again.Block), protocol.BlockFromProto(first.Block); got != want || again.OldGenStamp != first.OldGenStamp {
		t.Errorf("outcome sent again = %v, want %v", again, first)
	}
	if got := steps.count(StepRecoveryStart, id); got != 1 {
		t.Errorf("%d recoveries started, want 1", got)
	}
	// A newer recovery runs.
	recover(4)
	waitFor(t, func() bool { return commits() == 3 }, "the newer recovery reported")
	if got := steps.count(StepRecoveryStart, id); got != 2 {
		t.Errorf("%d recoveries started after a newer one was asked, want 2", got)
	}
	if blocks := n.dn.Blocks(); len(blocks) != 1 || blocks[0] != (cairn.Block{ID: id, GenStamp: 4, Len: b.Len}) {
		t.Errorf("Blocks() = %v, want the replica at generation stamp 4", blocks)
	}
}

func TestFullReportNeverOvertakesIncremental(t *testing.T) {
	// A full block report built before a replica is finalized must
	// reach the NameNode before the incremental report of that
	// replica: else the NameNode, applying them in the order they come,
	// forgets the replica.
	nn := startFakeNameNode(t, "c")
	hold := newPauser(StepFullReportBuilt, 0)
	var waits sync.Once
	waiting := make(chan struct{})
	var armed bool
	var mu sync.Mutex
	hook := func(step Step, b cairn.Block) error {
		mu.Lock()
		on := armed
		mu.Unlock()
		if !on {
			return nil
		}
		if step == StepIncrementalReportWaits {
			waits.Do(func() { close(waiting) })
		}
		return hold.hook(step, b)
	}
	// Periodic full reports; the first one after arming is built and
	// held before it is sent, while the incremental sender runs.
	n := startNodeWith(t, Config{NameNode: nn.addr, StepHook: hook, BlockReportInterval: 200 * time.Millisecond})
	waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "registration")
	var release sync.Once
	free := func() { release.Do(func() { close(hold.release) }) }
	t.Cleanup(free) // a failed test must not leave the node stuck in its report
	mu.Lock()
	armed = true
	mu.Unlock()
	awaitStep(t, hold.reached, "a full report to be built")
	b := cairn.Block{ID: 640, GenStamp: 1, Len: 5}
	writeBlock(t, b, pipelineOf(n), []byte("fresh"))
	// The replica is finalized: its incremental report either waits
	// for the held full report or (the defect) overtakes it.
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		if !nn.check(func() bool { return hasBlock(nn.received, b) })() {
			t.Fatal("the incremental report neither came nor waited")
		}
	}
	free()
	waitFor(t, nn.check(func() bool { return len(nn.reports) >= 2 && hasBlock(nn.received, b) }), "the full report and the incremental one")
	// Applied in the order they came, no full report may forget the
	// replica after its incremental report told of it.
	nn.mu.Lock()
	defer nn.mu.Unlock()
	told := false
	for k, e := range nn.log {
		if !e.full {
			told = told || hasBlock(e.received, b)
			continue
		}
		if told && !hasBlock(e.blocks, b) {
			t.Fatalf("report %d: a full report without block %v came after the incremental report of it: the NameNode forgets the replica", k, b)
		}
	}
}

func TestIBRQueueBound(t *testing.T) {
	q := newIBRQueue()
	q.max = 3
	ev := func(id cairn.BlockID) replicaEvent {
		return replicaEvent{kind: evReceived, block: cairn.Block{ID: id, GenStamp: 1}}
	}
	for id := range cairn.BlockID(3) {
		q.add(ev(id))
	}
	if q.len() != 3 || q.owesFull() {
		t.Fatalf("queue at its bound: %d events, owes a full report %v; want 3, false", q.len(), q.owesFull())
	}
	q.add(ev(1)) // supersedes, does not grow
	if q.len() != 3 || q.owesFull() {
		t.Fatalf("after an event superseding one: %d events, owes a full report %v; want 3, false", q.len(), q.owesFull())
	}
	q.add(ev(3))
	if q.len() != 0 || !q.owesFull() {
		t.Fatalf("past its bound: %d events, owes a full report %v; want 0, true", q.len(), q.owesFull())
	}
	if !q.takeFull() || q.takeFull() {
		t.Errorf("takeFull does not report the full report owed once")
	}
	// Events put back after a failed send count too.
	q.add(ev(10))
	q.add(ev(11))
	evs := q.take()
	q.add(ev(12))
	q.add(ev(13))
	q.putBack(evs)
	if q.len() != 0 || !q.owesFull() {
		t.Errorf("put back past its bound: %d events, owes a full report %v; want 0, true", q.len(), q.owesFull())
	}
}

// A NameNode unreachable while more replicas change than its queue
// holds gets a full block report once back, in place of the events
// dropped.
func TestIBRQueueOverflowSendsAFullReport(t *testing.T) {
	nn1 := startFakeNameNode(t, "c")
	nn2 := &fakeNameNode{cluster: "c", commands: make(map[string][]*protocol.Command)}
	var stop2 func()
	nn2.addr, stop2 = serveFake(t, nn2, "")
	n := startNodeWith(t, Config{NameNode: nn1.addr + "," + nn2.addr})
	waitFor(t, nn2.check(func() bool { return len(nn2.reports) > 0 && len(nn2.heartbeats) > 0 }), "registration with NameNode 2")
	s2 := n.dn.sessions[1]
	s2.ibr.mu.Lock()
	s2.ibr.max = 2
	s2.ibr.mu.Unlock()

	stop2()
	nn2.mu.Lock()
	reports := len(nn2.reports)
	nn2.mu.Unlock()
	var written []cairn.Block
	for i := range 4 {
		b := cairn.Block{ID: cairn.BlockID(970 + i), GenStamp: 1, Len: 4}
		writeBlock(t, b, pipelineOf(n), []byte("data"))
		written = append(written, b)
	}
	waitFor(t, nn1.check(func() bool {
		for _, b := range written {
			if !hasBlock(nn1.received, b) {
				return false
			}
		}
		return true
	}), "NameNode 1 told of every replica")
	if !s2.ibr.owesFull() {
		t.Fatalf("the queue of NameNode 2 holds %d events past its bound of 2, owes no full report", s2.ibr.len())
	}

	serveFake(t, nn2, nn2.addr)
	waitFor(t, nn2.check(func() bool { return len(nn2.reports) > reports }), "a full report to NameNode 2 once back")
	held := blockSet(n.dn.Blocks())
	waitFor(t, func() bool { return sameView(nn2.view(), held) }, "NameNode 2 knows what the node holds")
	// Each write queues one event (received supersedes receiving): the
	// third write's overflows the bound of 2 and drops the first two,
	// which NameNode 2 learns of from the full report alone.
	nn2.mu.Lock()
	defer nn2.mu.Unlock()
	for _, b := range written[:2] {
		if hasBlock(nn2.received, b) {
			t.Errorf("NameNode 2 was sent %v incrementally, dropped from the queue", b)
		}
	}
	if len(nn2.registers) != 1 {
		t.Errorf("NameNode 2 saw %d registrations; the full report came from a new one, not the overflow", len(nn2.registers))
	}
}

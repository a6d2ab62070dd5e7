package datanode

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

func TestLeadership(t *testing.T) {
	// reply is a heartbeat reply of session from; cmd a command of
	// session from, of term cmdTerm, in a reply of term replyTerm.
	type reply struct {
		from   int
		term   uint64
		leader bool
	}
	type cmd struct {
		from               int
		cmdTerm, replyTerm uint64
	}
	for _, tc := range []struct {
		name       string
		sessions   int
		replies    []reply
		cmd        cmd
		want       bool
		wantLeader int // the session current names; -1: none
	}{
		{"a single namenode that sends no term is obeyed", 1,
			[]reply{{0, 0, false}}, cmd{0, 0, 0}, true, -1},
		{"a single namenode that leads is obeyed", 1,
			[]reply{{0, 3, true}}, cmd{0, 0, 3}, true, 0},
		{"a single namenode that does not lead is not", 1,
			[]reply{{0, 3, false}}, cmd{0, 0, 3}, false, -1},
		{"a single namenode's command of a term older than its reply's is not", 1,
			[]reply{{0, 3, true}}, cmd{0, 2, 3}, false, 0},
		{"a single namenode that stops sending terms is obeyed again", 1,
			[]reply{{0, 4, true}, {0, 0, false}}, cmd{0, 0, 0}, true, -1},
		{"of two namenodes that send no term, neither is obeyed", 2,
			[]reply{{0, 0, false}, {1, 0, false}}, cmd{0, 0, 0}, false, -1},
		{"the leader of two is obeyed", 2,
			[]reply{{0, 4, true}, {1, 4, false}}, cmd{0, 4, 4}, true, 0},
		{"the follower is not", 2,
			[]reply{{0, 4, true}, {1, 4, false}}, cmd{1, 4, 4}, false, 0},
		{"a command without a term takes its reply's", 2,
			[]reply{{0, 5, true}}, cmd{0, 0, 5}, true, 0},
		{"a command of an older term than the leader's is not run", 2,
			[]reply{{0, 5, true}}, cmd{0, 4, 5}, false, 0},
		{"the claim of a newer term wins", 2,
			[]reply{{0, 3, true}, {1, 5, true}}, cmd{1, 5, 5}, true, 1},
		{"the leader of an older term is not obeyed", 2,
			[]reply{{0, 3, true}, {1, 5, true}}, cmd{0, 3, 3}, false, 1},
		{"a claim of an older term after a newer one is not taken", 2,
			[]reply{{1, 5, true}, {0, 3, true}}, cmd{0, 3, 3}, false, 1},
		{"a leader whose term a follower has passed is not obeyed", 2,
			[]reply{{0, 3, true}, {1, 4, false}}, cmd{0, 3, 3}, false, -1},
		{"a leader elected again in a newer term is obeyed again", 2,
			[]reply{{0, 3, true}, {1, 4, false}, {0, 5, true}}, cmd{0, 5, 5}, true, 0},
		{"of two claims of one term the first stands", 2,
			[]reply{{0, 4, true}, {1, 4, true}}, cmd{0, 4, 4}, true, 0},
		{"of two claims of one term the second is not obeyed", 2,
			[]reply{{0, 4, true}, {1, 4, true}}, cmd{1, 4, 4}, false, 0},
		{"a leader that says it no longer leads is not obeyed", 2,
			[]reply{{0, 4, true}, {0, 4, false}}, cmd{0, 4, 4}, false, -1},
		{"a leader that stepped down cannot claim the same term again", 2,
			[]reply{{0, 4, true}, {0, 4, false}, {0, 4, true}}, cmd{0, 4, 4}, false, -1},
		{"a claim of term 0 is no claim", 2,
			[]reply{{0, 0, true}}, cmd{0, 0, 0}, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := make([]*nnSession, tc.sessions)
			for i := range ss {
				ss[i] = &nnSession{addr: fmt.Sprintf("nn%d:8020", i)}
			}
			l := leadership{single: tc.sessions == 1}
			for _, r := range tc.replies {
				l.observe(ss[r.from], r.term, r.leader)
			}
			if got := l.accept(ss[tc.cmd.from], tc.cmd.cmdTerm, tc.cmd.replyTerm); got != tc.want {
				t.Errorf("after %v: accept(nn%d, command term %d, reply term %d) = %v, want %v", tc.replies, tc.cmd.from, tc.cmd.cmdTerm, tc.cmd.replyTerm, got, tc.want)
			}
			var want *nnSession
			if tc.wantLeader >= 0 {
				want = ss[tc.wantLeader]
			}
			if got, _ := l.current(); got != want {
				t.Errorf("after %v: current() = %v, want %v", tc.replies, got, want)
			}
		})
	}
}

func TestRefusalsAreLoggedOncePerTerm(t *testing.T) {
	a, b := &nnSession{addr: "a"}, &nnSession{addr: "b"}
	var l leadership
	for _, tc := range []struct {
		s    *nnSession
		term uint64
		want bool
	}{
		{a, 3, true}, {a, 3, false}, {b, 3, true}, {a, 4, true}, {b, 3, false}, {a, 4, false},
	} {
		if got := l.refusalToLog(tc.s, tc.term); got != tc.want {
			t.Errorf("refusalToLog(%s, %d) = %v, want %v", tc.s.addr, tc.term, got, tc.want)
		}
	}
}

// blockSteps records, per step, the blocks the step hook was called
// with.
type blockSteps struct {
	mu    sync.Mutex
	steps map[Step][]cairn.BlockID
}

func (s *blockSteps) hook(step Step, b cairn.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.steps == nil {
		s.steps = make(map[Step][]cairn.BlockID)
	}
	s.steps[step] = append(s.steps[step], b.ID)
	return nil
}

func (s *blockSteps) saw(step Step, id cairn.BlockID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.steps[step] {
		if x == id {
			return true
		}
	}
	return false
}

func deleteCmd(term uint64, blocks ...cairn.Block) *protocol.Command {
	return &protocol.Command{Type: protocol.Command_DELETE_BLOCKS, Blocks: protocol.BlocksToProto(blocks), Term: term}
}

// Two NameNodes that each claim leadership (as two single NameNodes,
// each the leader of its own group, would): the DataNode runs the
// commands of the one of the newer term only, acknowledges the
// other's, and follows a claim of a newer term still.
func TestCommandsOfTheNewestLeaderOnly(t *testing.T) {
	nn1 := startFakeNameNode(t, "c")
	nn2 := startFakeNameNode(t, "c")
	nn1.withIDs()
	nn2.withIDs()
	nn2.mu.Lock()
	nn2.nextID = 100
	nn2.mu.Unlock()
	nn1.lead(3, true)
	nn2.lead(5, true)
	var steps blockSteps
	n := startNodeWith(t, Config{NameNode: nn1.addr + "," + nn2.addr, StepHook: steps.hook})
	var blocks []cairn.Block
	for i := range 4 {
		b := cairn.Block{ID: cairn.BlockID(900 + i), GenStamp: 1, Len: 4}
		writeBlock(t, b, pipelineOf(n), []byte("data"))
		blocks = append(blocks, b)
	}
	waitFor(t, func() bool { addr, term := n.dn.NameNodeLeader(); return addr == nn2.addr && term == 5 }, "NameNode 2 (term 5) taken as the leader")
	held := func(b cairn.Block) bool { _, _, ok := n.dn.BlockFiles(b.ID); return ok }

	// NameNode 1 leads an older term: its command is acknowledged, not
	// run. NameNode 2's is run.
	nn1.queue(n.dn.ID(), deleteCmd(3, blocks[0]))
	nn2.queue(n.dn.ID(), deleteCmd(5, blocks[1]))
	waitFor(t, nn1.check(func() bool { return nn1.acked[1] > 0 }), "NameNode 1's command acknowledged")
	waitFor(t, nn2.check(func() bool { return hasBlock(nn2.deleted, blocks[1]) }), "NameNode 2's deletion of %v run and reported", blocks[1])
	if !held(blocks[0]) || !steps.saw(StepCommandRefused, blocks[0].ID) || steps.saw(StepCommandRun, blocks[0].ID) {
		t.Errorf("the command of NameNode 1 (term 3) was run, or not refused, while NameNode 2 leads term 5")
	}
	// A command of the leader's session but of an older term is not run
	// either.
	nn2.queue(n.dn.ID(), deleteCmd(4, blocks[2]))
	waitFor(t, nn2.check(func() bool { return nn2.acked[102] > 0 }), "NameNode 2's command of term 4 acknowledged")
	if !held(blocks[2]) {
		t.Errorf("a command of term 4 was run after term 5 was seen")
	}

	// /status and the metrics name the leader and the term.
	var st struct {
		Leader string `json:"namenodeLeader"`
		Term   uint64 `json:"namenodeTerm"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, n.dn.HTTPHandler(), "/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Leader != nn2.addr || st.Term != 5 {
		t.Errorf("/status names leader %q of term %d, want %q of term 5", st.Leader, st.Term, nn2.addr)
	}
	metrics := httpGet(t, n.dn.HTTPHandler(), "/metrics")
	for _, want := range []string{
		fmt.Sprintf("cairn_datanode_namenode_leader{namenode=%q} 1", nn2.addr),
		fmt.Sprintf("cairn_datanode_namenode_leader{namenode=%q} 0", nn1.addr),
		"cairn_datanode_namenode_term 5",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// NameNode 1 is elected in a newer term; NameNode 2, cut off, still
	// believes it leads term 5. NameNode 1's commands are run now, and
	// NameNode 2's are not.
	nn1.lead(7, true)
	waitFor(t, func() bool { addr, term := n.dn.NameNodeLeader(); return addr == nn1.addr && term == 7 }, "NameNode 1 (term 7) taken as the leader")
	nn1.queue(n.dn.ID(), deleteCmd(7, blocks[0]))
	nn2.queue(n.dn.ID(), deleteCmd(5, blocks[3]))
	waitFor(t, nn1.check(func() bool { return hasBlock(nn1.deleted, blocks[0]) }), "NameNode 1's deletion of %v run", blocks[0])
	waitFor(t, nn2.check(func() bool { return nn2.acked[103] > 0 }), "NameNode 2's last command acknowledged")
	if !held(blocks[3]) {
		t.Errorf("the command of NameNode 2 (term 5) was run after NameNode 1 claimed term 7")
	}
}

// The damaged replicas found and the outcome of a block recovery go to
// the leader; while none is known, to each NameNode in turn until one
// takes them, past those that answer NotLeader.
func TestReportsGoToTheLeader(t *testing.T) {
	nn1 := startFakeNameNode(t, "c")
	nn2 := startFakeNameNode(t, "c")
	nn2.withIDs()
	nn1.refuse(true) // NameNode 1 is asked first, and refuses
	n := startNodeWith(t, Config{NameNode: nn1.addr + "," + nn2.addr, ScanInterval: 100 * time.Millisecond})
	damage := func(b cairn.Block) {
		t.Helper()
		data := []byte("0123456789")
		writeBlock(t, b, pipelineOf(n), data)
		path, _, _ := n.dn.BlockFiles(b.ID)
		if err := os.WriteFile(path, []byte("0123x56789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reported := func(nn *fakeNameNode, b cairn.Block) func() bool {
		return nn.check(func() bool {
			for _, bb := range nn.bad {
				if protocol.BlockFromProto(bb.Block) == b {
					return true
				}
			}
			return false
		})
	}

	// No leader known (neither NameNode says a term): NameNode 1
	// refuses, NameNode 2 takes the report.
	b1 := cairn.Block{ID: 950, GenStamp: 1, Len: 10}
	damage(b1)
	waitFor(t, reported(nn2, b1), "%v reported to NameNode 2", b1)
	nn1.mu.Lock()
	refused := nn1.refused
	nn1.mu.Unlock()
	if refused == 0 {
		t.Errorf("NameNode 1, first of the configuration, was not asked first")
	}

	// NameNode 2 leads: reports go to it first.
	nn2.lead(2, true)
	nn1.lead(2, false)
	waitFor(t, func() bool { addr, _ := n.dn.NameNodeLeader(); return addr == nn2.addr }, "NameNode 2 taken as the leader")
	b2 := cairn.Block{ID: 951, GenStamp: 1, Len: 10}
	damage(b2)
	waitFor(t, reported(nn2, b2), "%v reported to NameNode 2", b2)
	nn1.mu.Lock()
	if nn1.refused != refused {
		t.Errorf("NameNode 1 was asked to take a report while NameNode 2 leads")
	}
	nn1.mu.Unlock()

	// The outcome of a recovery NameNode 2 asked for, when NameNode 2
	// has just lost leadership (it refuses) and NameNode 1 leads: it
	// goes on to NameNode 1.
	nn1.refuse(false)
	nn2.refuse(true)
	data := randomBytes(100, 3)
	b3 := cairn.Block{ID: 952, GenStamp: 1, Len: int64(len(data))}
	writeBlock(t, b3, pipelineOf(n), data)
	nn2.queue(n.dn.ID(), &protocol.Command{
		Type:        protocol.Command_RECOVER_BLOCK,
		Blocks:      protocol.BlocksToProto([]cairn.Block{b3}),
		Targets:     protocol.DatanodesToProto(pipelineOf(n)),
		NewGenStamp: 2,
		Term:        2,
	})
	waitFor(t, nn1.check(func() bool { return len(nn1.commits) == 1 }), "the recovery's outcome taken by NameNode 1")
	nn2.mu.Lock()
	if nn2.refused == 0 || len(nn2.commits) != 0 {
		t.Errorf("NameNode 2, the leader known, was not asked first (refused %d, took %d)", nn2.refused, len(nn2.commits))
	}
	nn2.mu.Unlock()
}

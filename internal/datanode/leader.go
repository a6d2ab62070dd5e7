package datanode

import (
	"context"
	"sync"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Which NameNode leads, as the heartbeat replies tell it, and the
// calls that go to the leader alone. See doc.go, "Commands and the
// leader".

// leadership is what the DataNode knows of the leadership of its
// NameNodes (HDFS's BPOfferService: bpServiceToActive and
// lastActiveClaimTxId, with the Raft term in place of the transaction
// id). Every heartbeat reply is observed before its commands are
// judged by accept.
type leadership struct {
	// single: the DataNode has one NameNode. Its replies without a
	// term (term 0: a NameNode of an older version) are obeyed, as
	// before NameNode groups.
	single bool

	mu sync.Mutex // guards the fields below
	// term is the highest Raft term of any heartbeat reply.
	term uint64
	// leader is the session whose latest reply claimed leadership, in
	// claimTerm; nil: none (none claimed yet, or it said since that it
	// no longer leads). claimTerm stays when leader is cleared: a
	// claim is taken only for a newer term, as at most one NameNode
	// leads in a term.
	leader    *nnSession
	claimTerm uint64
	// refusals is, per session, the term of the last refusal of its
	// commands that was logged, so that each is logged once.
	refusals map[*nnSession]uint64
	// conflict is the last term in which two sessions were seen to
	// claim leadership, logged once.
	conflict uint64
}

// observe takes in a heartbeat reply of session s: the answering
// NameNode's term, and whether it says it leads in it. It returns what
// changed, for the log: took is true when s became the leader, lost
// when s was the leader and says it no longer is, rival is true when s
// claims a term in which another session already claimed leadership.
func (l *leadership) observe(s *nnSession, term uint64, leader bool) (took, lost, rival bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term = max(l.term, term)
	switch {
	case leader && term > 0 && term > l.claimTerm:
		took = l.leader != s
		l.leader, l.claimTerm = s, term
	case leader && term > 0 && term == l.claimTerm && l.leader != s:
		// Two NameNodes cannot lead the same term; the first claim
		// stands (HDFS keeps it too).
		if l.conflict != term {
			l.conflict = term
			rival = true
		}
	case !leader && l.leader == s:
		l.leader = nil
		lost = true
	}
	return took, lost, rival
}

// accept decides whether a command of session s is run: cmdTerm is the
// command's term (0: not said) and replyTerm the term of the reply
// that carried it. The command is run only if s is the leader and the
// command's term (the reply's, if it says none) is not older than the
// highest term seen. A DataNode with a single NameNode that sends no
// term runs every command.
func (l *leadership) accept(s *nnSession, cmdTerm, replyTerm uint64) bool {
	if l.single && replyTerm == 0 {
		return true
	}
	t := cmdTerm
	if t == 0 {
		t = replyTerm
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader == s && t >= l.term
}

// refusalToLog records that a command of session s of term t was
// refused, and reports whether that is the first refusal of s in term
// t (to be logged).
func (l *leadership) refusalToLog(s *nnSession, t uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.refusals[s]; ok && last == t {
		return false
	}
	if l.refusals == nil {
		l.refusals = make(map[*nnSession]uint64)
	}
	l.refusals[s] = t
	return true
}

// current returns the leader's session, if it leads in the highest
// term seen (nil otherwise), and that term.
func (l *leadership) current() (*nnSession, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader == nil || l.claimTerm < l.term {
		return nil, l.term
	}
	return l.leader, l.term
}

// NameNodeLeader returns the address of the NameNode whose commands
// the DataNode runs, the leader of the highest Raft term its heartbeat
// replies have told (empty if none is known: no reply claimed
// leadership of that term yet, or the NameNodes send no term), and
// that term.
func (d *DataNode) NameNodeLeader() (addr string, term uint64) {
	s, term := d.lead.current()
	if s != nil {
		addr = s.addr
	}
	return addr, term
}

// observeReply takes in the term and leadership of a heartbeat reply
// of session s, logging changes of leader.
func (d *DataNode) observeReply(s *nnSession, resp *protocol.HeartbeatResponse) {
	took, lost, rival := d.lead.observe(s, resp.Term, resp.Leader)
	switch {
	case took:
		d.log.Info("namenode leads; running its commands", "namenode", s.addr, "term", resp.Term)
	case lost:
		d.log.Info("namenode no longer leads", "namenode", s.addr, "term", resp.Term)
	case rival:
		leader, _ := d.lead.current()
		addr := ""
		if leader != nil {
			addr = leader.addr
		}
		d.log.Warn("two namenodes claim leadership of the same term; keeping the first", "namenode", s.addr, "leader", addr, "term", resp.Term)
	}
}

// acceptCommand reports whether the DataNode runs command c of a
// heartbeat reply of session s of term replyTerm (see
// leadership.accept); a command not run is still acknowledged. A
// refusal is logged once per session and term.
func (d *DataNode) acceptCommand(s *nnSession, replyTerm uint64, c *protocol.Command) bool {
	if d.lead.accept(s, c.Term, replyTerm) {
		return true
	}
	d.metrics.commandsRefused.Inc()
	t := c.Term
	if t == 0 {
		t = replyTerm
	}
	if d.lead.refusalToLog(s, t) {
		leader, highest := d.NameNodeLeader()
		d.log.Info("refusing the commands of a namenode that does not lead", "namenode", s.addr, "command_term", c.Term, "reply_term", replyTerm, "highest_term", highest, "leader", leader)
	}
	return false
}

// leaderFirst returns the sessions registered with their NameNodes,
// the leader's first (if it is registered), the others in the order of
// the configuration.
func (d *DataNode) leaderFirst() []*nnSession {
	leader, _ := d.lead.current()
	var out []*nnSession
	if leader != nil && leader.registered() {
		out = append(out, leader)
	}
	for _, s := range d.sessions {
		if s != leader && s.registered() {
			out = append(out, s)
		}
	}
	return out
}

// toLeader makes a call that only the leader NameNode takes (a report
// of damaged replicas, the outcome of a block recovery): with the
// leader's session, or, if none is known or it refuses, with each
// other registered session in turn until one takes it. A NameNode that
// cannot be reached or does not lead (Unavailable, NotLeader) leaves
// it to the next; any other answer is the answer. Leadership is
// learned from heartbeat replies only; a refusal here does not change
// it.
func (d *DataNode) toLeader(ctx context.Context, op string, call func(context.Context, *nnSession) error) error {
	err := cairn.Errorf(op, "", cairn.Unavailable, "not registered with a namenode")
	for _, s := range d.leaderFirst() {
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		err = call(cctx, s)
		cancel()
		if err == nil {
			return nil
		}
		if k := cairn.KindOf(err); (k != cairn.Unavailable && k != cairn.NotLeader) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

package namenode

import (
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/webui"
)

// Administration of a NameNode group (cairn admin ha): its status as a
// member sees it, membership changes, leadership transfer, and the
// group's metrics.
//
// Any member answers a status. Raft tells it the configuration (the
// members and whether they vote), the leader and the term, and its own
// log position; of the other members it knows nothing more, so it asks
// each for its own entry (HAStatus with self_only, over the member's
// RPC address, within haProbeTimeout, all at once). A member that does
// not answer is unreachable. Only the leader changes the membership or
// hands leadership over; a NameNode alone refuses both.

const (
	// haProbeTimeout bounds the question to one member for its own
	// state.
	haProbeTimeout = time.Second
	// haLeaderWait bounds how long a leadership transfer waits to learn
	// the new leader, and how long a removal of the leader itself waits
	// for the new leader to take the removal.
	haLeaderWait = 5 * time.Second
	// haChangeTimeout bounds how long a membership change or a transfer
	// waits to be taken up by raft.
	haChangeTimeout = 10 * time.Second
)

// HAStatus returns the state of the NameNode group as this member sees
// it: the leader, the term, and each member of the Raft configuration
// with its state and log position as the member itself reports them
// (unreachable when it does not answer within a second). A NameNode
// alone answers a group of one that it leads.
func (s *Server) HAStatus(ctx context.Context) (cairn.HAStatus, error) {
	st, servers, err := s.haBase(ctx)
	if err != nil {
		return cairn.HAStatus{}, err
	}
	if !s.cfg.group() {
		return st, nil
	}
	members := make([]cairn.HAMember, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		m := cairn.HAMember{Address: string(srv.ID), ID: string(srv.ID), Voter: srv.Suffrage == raft.Voter}
		if srv.ID == raft.ServerID(s.cfg.RaftID) {
			members[i] = s.haSelfMember(m)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			members[i] = s.probeMember(ctx, m)
		}()
	}
	wg.Wait()
	if !inConfiguration(servers, raft.ServerID(s.cfg.RaftID)) {
		// A member started to join, not added yet (or removed).
		members = append(members, s.haSelfMember(cairn.HAMember{Address: s.cfg.RPCAddr, ID: s.cfg.RaftID}))
	}
	st.Members = members
	return st, nil
}

// haSelfStatus is what a member answers a peer assembling a status
// (HAStatus with self_only): the status with its own entry alone.
func (s *Server) haSelfStatus(ctx context.Context) (cairn.HAStatus, error) {
	st, servers, err := s.haBase(ctx)
	if err != nil || !s.cfg.group() {
		return st, err
	}
	m := cairn.HAMember{Address: s.cfg.RPCAddr, ID: s.cfg.RaftID}
	for _, srv := range servers {
		if srv.ID == raft.ServerID(s.cfg.RaftID) {
			m.Voter = srv.Suffrage == raft.Voter
		}
	}
	st.Members = []cairn.HAMember{s.haSelfMember(m)}
	return st, nil
}

// haBase returns the status without the members of a group (a
// NameNode alone gets its one member), and the Raft configuration.
func (s *Server) haBase(ctx context.Context) (cairn.HAStatus, []raft.Server, error) {
	r := s.rn.raft
	fut := r.GetConfiguration()
	if err := fut.Error(); err != nil {
		return cairn.HAStatus{}, nil, raftError(err)
	}
	_, leader := r.LeaderWithID()
	st := cairn.HAStatus{Leader: string(leader), Term: r.CurrentTerm(), Self: s.cfg.RPCAddr, Failovers: s.lead.changes.Load()}
	if !s.cfg.group() {
		// Its Raft ID is a name of its own ("nn1"), not an address: the
		// address it answers at is the one the caller reached.
		st.Self = s.cfg.RaftID
		if p, ok := peer.FromContext(ctx); ok && p.LocalAddr != nil {
			st.Self = p.LocalAddr.String()
		}
		if st.Leader == s.cfg.RaftID {
			st.Leader = st.Self
		}
		st.Members = []cairn.HAMember{s.haSelfMember(cairn.HAMember{Address: st.Self, ID: s.cfg.RaftID, Voter: true})}
	}
	return st, fut.Configuration().Servers, nil
}

// haSelfMember fills m with this member's own state and log position.
func (s *Server) haSelfMember(m cairn.HAMember) cairn.HAMember {
	r := s.rn.raft
	state := r.State()
	m.State = strings.ToLower(state.String())
	m.LastIndex = r.LastIndex()
	m.AppliedIndex = r.AppliedIndex()
	m.HTTPAddr = s.cfg.HTTPAddr
	m.LastContactMs = -1
	if state == raft.Leader {
		m.LastContactMs = 0
	} else if t := r.LastContact(); !t.IsZero() {
		m.LastContactMs = time.Since(t).Milliseconds()
	}
	return m
}

// probeMember asks the member m (its address, ID and suffrage filled)
// for its own state, and returns m with it, or unreachable.
func (s *Server) probeMember(ctx context.Context, m cairn.HAMember) cairn.HAMember {
	m.State, m.LastContactMs = cairn.HAUnreachable, -1
	ctx, cancel := context.WithTimeout(ctx, haProbeTimeout)
	defer cancel()
	resp, err := s.peerHAStatus(ctx, m.Address)
	if err != nil {
		s.log.Debug("group member does not answer", "member", m.Address, "err", err)
		return m
	}
	for _, pm := range resp.GetMembers() {
		if pm.GetId() == m.ID {
			m.State = pm.GetState()
			m.LastIndex, m.AppliedIndex = pm.GetLastIndex(), pm.GetAppliedIndex()
			m.LastContactMs = pm.GetLastContactMs()
			m.HTTPAddr = pm.GetHttpAddress()
		}
	}
	return m
}

// peerHAStatus asks the member at addr for its own entry.
func (s *Server) peerHAStatus(ctx context.Context, addr string) (*pb.HAStatusResponse, error) {
	cc, done, err := s.peerConn(addr)
	if err != nil {
		return nil, err
	}
	defer done()
	return pb.NewAdminProtocolClient(cc).HAStatus(forwardToken(ctx), &pb.HAStatusRequest{SelfOnly: true})
}

// peerConn returns a gRPC connection to the member at addr, and what
// to call when done with it. A member whose Raft rides its gRPC server
// shares Raft's connection to the peer; otherwise (a test's in-memory
// Raft transport) the connection is made for the call.
func (s *Server) peerConn(addr string) (grpc.ClientConnInterface, func(), error) {
	if s.rn.layer != nil {
		cc, err := s.rn.layer.peer(addr)
		if err != nil {
			return nil, nil, err
		}
		return cc, func() {}, nil
	}
	cc, err := s.cfg.Transport.NewGRPCClient(addr)
	if err != nil {
		return nil, nil, err
	}
	return cc, func() { cc.Close() }, nil
}

// HAAddMember adds the NameNode at addr (its RPC address, which names
// it in the group) to the group, as a voter or, with nonvoter, as a
// member that follows the log without voting. It must answer at addr,
// started to join (Config.Join). Adding a nonvoter again as a voter
// promotes it; adding a member again as it is changes nothing. Only the
// leader changes the membership.
func (s *Server) HAAddMember(ctx context.Context, addr string, nonvoter bool) error {
	if err := s.superOnly(ctx, "ha add"); err != nil {
		return err
	}
	if err := s.haCanChange(); err != nil {
		return err
	}
	if err := checkMemberAddr(addr); err != nil {
		return err
	}
	servers, err := s.haConfiguration()
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(servers, func(srv raft.Server) bool { return srv.ID == raft.ServerID(addr) }); i >= 0 {
		switch voter := servers[i].Suffrage == raft.Voter; {
		case voter && nonvoter:
			return errf(cairn.Invalid, "%s is a voter of the group already; remove it first to add it back as a nonvoter", addr)
		case voter || nonvoter:
			return nil // a member already, as asked
		}
		// A nonvoter to promote: AddVoter does it.
	} else if err := s.checkJoiner(ctx, addr); err != nil {
		return err
	}
	var fut raft.IndexFuture
	if nonvoter {
		fut = s.rn.raft.AddNonvoter(raft.ServerID(addr), raft.ServerAddress(addr), 0, haChangeTimeout)
	} else {
		fut = s.rn.raft.AddVoter(raft.ServerID(addr), raft.ServerAddress(addr), 0, haChangeTimeout)
	}
	if err := s.haWait(ctx, fut); err != nil {
		return err
	}
	s.log.Info("group member added", "member", addr, "voter", !nonvoter)
	return nil
}

// checkJoiner checks that the NameNode at addr may join: it answers
// there as a group member named addr, belongs to no group yet, and has
// this group's cluster ID (DataNodes refuse a NameNode of another), so
// that a mistyped address does not become a voter that never votes.
func (s *Server) checkJoiner(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, haProbeTimeout)
	defer cancel()
	cc, done, err := s.peerConn(addr)
	if err != nil {
		return errf(cairn.Unavailable, "cannot reach %s: %v", addr, err)
	}
	defer done()
	st, err := pb.NewAdminProtocolClient(cc).HAStatus(forwardToken(ctx), &pb.HAStatusRequest{SelfOnly: true})
	if err != nil {
		return errf(cairn.Unavailable, "no NameNode answers at %s (start it with --join first): %v", addr, status.Convert(err).Message())
	}
	switch ms := st.GetMembers(); {
	case st.GetSelf() != addr:
		return errf(cairn.Invalid, "the NameNode at %s is not started as a group member named %s (it calls itself %q); start it with --rpc-addr %s --join", addr, addr, st.GetSelf(), addr)
	case st.GetLeader() != "" || len(ms) > 0 && ms[0].GetVoter():
		return errf(cairn.Invalid, "the NameNode at %s is a member of a group already (its leader is %q); start it with --join on a fresh directory", addr, st.GetLeader())
	}
	// (Any member answers the DataNode report, which names its cluster;
	// only a leader answers GetServerDefaults.)
	d, err := pb.NewAdminProtocolClient(cc).GetDatanodeReport(forwardToken(ctx), &pb.GetDatanodeReportRequest{})
	if err != nil {
		return errf(cairn.Unavailable, "ask %s for its cluster ID: %v", addr, status.Convert(err).Message())
	}
	if id := cairn.ClusterID(d.GetClusterId()); id != s.clusterID {
		return errf(cairn.Invalid, "the NameNode at %s was formatted for cluster %s, this group is cluster %s; start it on a fresh directory with --cluster-id %s", addr, id, s.clusterID, s.clusterID)
	}
	return nil
}

// HARemoveMember removes the member at addr (its RPC address) from the
// group. Only the leader changes the membership; the leader removing
// itself first hands leadership to another voter, which then removes
// it. The removed NameNode should then be stopped: it serves nothing.
func (s *Server) HARemoveMember(ctx context.Context, addr string) error {
	if err := s.superOnly(ctx, "ha remove"); err != nil {
		return err
	}
	if err := s.haCanChange(); err != nil {
		return err
	}
	servers, err := s.haConfiguration()
	if err != nil {
		return err
	}
	if !inConfiguration(servers, raft.ServerID(addr)) {
		return errf(cairn.Invalid, "%q is not a member of the group (its members are %s)", addr, memberList(servers))
	}
	if addr == s.cfg.RaftID {
		// Raft shuts a leader that removes itself down; hand over first.
		voters := 0
		for _, srv := range servers {
			if srv.Suffrage == raft.Voter {
				voters++
			}
		}
		if voters < 2 {
			return errf(cairn.Invalid, "%s is the only voter of the group: it cannot be removed", addr)
		}
		leader, err := s.HATransferLeadership(ctx, "")
		if err != nil {
			return err
		}
		if leader == "" || leader == s.cfg.RaftID {
			return errf(cairn.Unavailable, "handed leadership over to remove %s, but no other leader is known yet; try again", addr)
		}
		return s.removeAt(ctx, leader, addr)
	}
	if err := s.haWait(ctx, s.rn.raft.RemoveServer(raft.ServerID(addr), 0, haChangeTimeout)); err != nil {
		return err
	}
	s.log.Info("group member removed", "member", addr)
	return nil
}

// removeAt asks the new leader at leader to remove addr, until it
// leads (it becomes a serving leader a moment after it is elected).
func (s *Server) removeAt(ctx context.Context, leader, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, haLeaderWait)
	defer cancel()
	for {
		cc, done, err := s.peerConn(leader)
		if err == nil {
			_, err = pb.NewAdminProtocolClient(cc).HARemoveMember(forwardToken(ctx), &pb.HARemoveMemberRequest{Address: addr})
			done()
			err = pb.FromStatus("ha remove", addr, err)
		}
		if err == nil {
			s.log.Info("removed from the group by the new leader", "leader", leader)
			return nil
		}
		if k := cairn.KindOf(err); k != cairn.NotLeader && k != cairn.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return errf(cairn.Unavailable, "handed leadership to %s, which did not remove %s: %v", leader, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// HATransferLeadership hands leadership to the voter at addr (its RPC
// address), or to the most up-to-date other voter when addr is empty,
// and returns the new leader's RPC address once it is known (within a
// few seconds; empty if not known by then). Only the leader hands over.
func (s *Server) HATransferLeadership(ctx context.Context, addr string) (string, error) {
	if err := s.superOnly(ctx, "ha transfer"); err != nil {
		return "", err
	}
	if err := s.haCanChange(); err != nil {
		return "", err
	}
	r := s.rn.raft
	var fut raft.Future
	if addr == "" {
		fut = r.LeadershipTransfer()
	} else {
		servers, err := s.haConfiguration()
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(servers, func(srv raft.Server) bool { return srv.ID == raft.ServerID(addr) })
		switch {
		case i < 0:
			return "", errf(cairn.Invalid, "%q is not a member of the group (its members are %s)", addr, memberList(servers))
		case servers[i].Suffrage != raft.Voter:
			return "", errf(cairn.Invalid, "%s is a nonvoter: it cannot lead (add it as a voter first)", addr)
		case addr == s.cfg.RaftID:
			return addr, nil // it leads already
		}
		fut = r.LeadershipTransferToServer(servers[i].ID, servers[i].Address)
	}
	if err := s.haWait(ctx, fut); err != nil {
		return "", err
	}
	s.log.Info("handed leadership over", "to", addr)
	ctx, cancel := context.WithTimeout(ctx, haLeaderWait)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if _, id := r.LeaderWithID(); id != "" && string(id) != s.cfg.RaftID {
			return string(id), nil
		}
		select {
		case <-ctx.Done():
			return "", nil
		case <-t.C:
		}
	}
}

// haCanChange checks that this NameNode may change the group: it is a
// group member and leads it.
func (s *Server) haCanChange() error {
	if !s.cfg.group() {
		return errf(cairn.Invalid, "this NameNode runs alone (no --peers): it has no group to change")
	}
	if s.servingTerm() == 0 {
		return s.notLeader()
	}
	return nil
}

// haConfiguration returns the members of the Raft configuration.
func (s *Server) haConfiguration() ([]raft.Server, error) {
	fut := s.rn.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, s.haRaftError(err)
	}
	return fut.Configuration().Servers, nil
}

// haWait waits for a membership change or a transfer to finish, or for
// ctx to end.
func (s *Server) haWait(ctx context.Context, fut raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- fut.Error() }()
	select {
	case err := <-done:
		return s.haRaftError(err)
	case <-ctx.Done():
		return errf(cairn.Unavailable, "gave up waiting for raft (the change may still take effect): %v", ctx.Err())
	}
}

// haRaftError maps an error of a membership change or a transfer to a
// cairn error: a lost leadership is NotLeader; the rest (timeouts, a
// transfer in progress or failed) is Unavailable, worth a retry.
func (s *Server) haRaftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		return s.notLeader()
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return errf(cairn.Unavailable, "a leadership transfer is in progress; try again")
	case errors.Is(err, raft.ErrRaftShutdown):
		return raftError(err)
	}
	return errf(cairn.Unavailable, "raft: %v", err)
}

// checkMemberAddr checks the RPC address of a member to add: a
// host:port that peers can dial, as Config.checkPeers wants of
// RPCAddr.
func checkMemberAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errf(cairn.Invalid, "bad member address %q: want host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return errf(cairn.Invalid, "bad member address %q: want a fixed port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return errf(cairn.Invalid, "bad member address %q: want a host its peers can reach", addr)
	}
	return nil
}

// Leadership says, for the web UI's banner, whether this NameNode is a
// group member that does not lead, and who does.
func (w webSource) Leadership() webui.Leadership {
	s := w.s
	state := s.rn.raft.State()
	if !s.cfg.group() || state == raft.Leader {
		return webui.Leadership{}
	}
	_, id := s.rn.raft.LeaderWithID()
	return webui.Leadership{Follower: true, State: strings.ToLower(state.String()), Leader: string(id), LeaderHTTP: s.peerHTTP(string(id))}
}

// peerHTTP returns the web address of the member at addr (its RPC
// address): from Config.PeerHTTPAddrs, else as the member says of
// itself (asked once, then remembered); "" when unknown.
func (s *Server) peerHTTP(addr string) string {
	if addr == "" {
		return ""
	}
	if h := s.cfg.PeerHTTPAddrs[addr]; h != "" {
		return h
	}
	if addr == s.cfg.RPCAddr {
		return s.cfg.HTTPAddr
	}
	if h, ok := s.webAddrs.Load(addr); ok {
		return h.(string)
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Second)
	defer cancel()
	resp, err := s.peerHAStatus(ctx, addr)
	if err != nil {
		return ""
	}
	for _, pm := range resp.GetMembers() {
		if pm.GetAddress() == addr && pm.GetHttpAddress() != "" {
			s.webAddrs.Store(addr, pm.GetHttpAddress())
			return pm.GetHttpAddress()
		}
	}
	return ""
}

// webGroup is the group for the web UI's overview: HAStatus, with each
// member's web address and lag; nil for a NameNode alone, or when the
// status cannot be had.
func (s *Server) webGroup(ctx context.Context) *webui.Group {
	if !s.cfg.group() {
		return nil
	}
	st, err := s.HAStatus(ctx)
	if err != nil {
		s.log.Debug("web overview: no group status", "err", err)
		return nil
	}
	g := &webui.Group{Leader: st.Leader, Term: st.Term, Self: st.Self, Failovers: st.Failovers, Members: []webui.GroupMember{}}
	var leaderLast uint64
	leaderKnown := false
	for _, m := range st.Members {
		if m.Address == st.Leader && m.State == cairn.HALeader {
			leaderLast, leaderKnown = m.LastIndex, true
		}
	}
	for _, m := range st.Members {
		gm := webui.GroupMember{
			Address:       m.Address,
			HTTPAddr:      cmp.Or(s.cfg.PeerHTTPAddrs[m.Address], m.HTTPAddr),
			State:         m.State,
			Voter:         m.Voter,
			LastIndex:     m.LastIndex,
			AppliedIndex:  m.AppliedIndex,
			Lag:           -1,
			LastContactMs: m.LastContactMs,
		}
		if leaderKnown && m.State != cairn.HAUnreachable {
			// The members answered at slightly different moments: a
			// follower may have applied past what the leader's answer
			// said it had.
			gm.Lag = max(0, int64(leaderLast)-int64(m.AppliedIndex))
		}
		g.Members = append(g.Members, gm)
	}
	return g
}

// The group's metrics, read at each scrape from raft (nothing crosses
// the network).
var (
	descRaftState = prometheus.NewDesc("cairn_namenode_raft_state",
		"1 for this NameNode's Raft state (leader, follower, candidate, shutdown), 0 for the others.", []string{"state"}, nil)
	descRaftTerm = prometheus.NewDesc("cairn_namenode_raft_term",
		"The current Raft term.", nil, nil)
	descRaftLastIndex = prometheus.NewDesc("cairn_namenode_raft_last_index",
		"The index of the last entry of this NameNode's Raft log.", nil, nil)
	descRaftCommitIndex = prometheus.NewDesc("cairn_namenode_raft_commit_index",
		"The index of the last Raft log entry known to be committed.", nil, nil)
	descRaftAppliedIndex = prometheus.NewDesc("cairn_namenode_raft_applied_index",
		"The index of the last Raft log entry applied to the namespace.", nil, nil)
	descRaftLastContact = prometheus.NewDesc("cairn_namenode_raft_last_contact_seconds",
		"Time since this NameNode last heard from the leader: 0 on the leader, absent on a member that never has.", nil, nil)
	descRaftLeaderChanges = prometheus.NewDesc("cairn_namenode_raft_leader_changes_total",
		"Failovers this NameNode has seen since it started: a new leader after another (the first election is not counted).", nil, nil)
	descRaftMembers = prometheus.NewDesc("cairn_namenode_raft_members",
		"Members of the NameNode group in this NameNode's Raft configuration, by suffrage (voter, nonvoter).", []string{"suffrage"}, nil)
)

var raftStates = []raft.RaftState{raft.Leader, raft.Follower, raft.Candidate, raft.Shutdown}

// haCollector reads the group's metrics at scrape time.
type haCollector struct{ s *Server }

func (c *haCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descRaftLastIndex, descRaftCommitIndex,
		descRaftAppliedIndex, descRaftLastContact, descRaftLeaderChanges, descRaftMembers} {
		ch <- d
	}
}

func (c *haCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.s.rn.raft
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	state := r.State()
	for _, st := range raftStates {
		gauge(descRaftState, b2f(st == state), strings.ToLower(st.String()))
	}
	gauge(descRaftTerm, float64(r.CurrentTerm()))
	gauge(descRaftLastIndex, float64(r.LastIndex()))
	gauge(descRaftCommitIndex, float64(r.CommitIndex()))
	gauge(descRaftAppliedIndex, float64(r.AppliedIndex()))
	if state == raft.Leader {
		gauge(descRaftLastContact, 0)
	} else if t := r.LastContact(); !t.IsZero() {
		gauge(descRaftLastContact, time.Since(t).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descRaftLeaderChanges, prometheus.CounterValue, float64(c.s.lead.changes.Load()))
	if fut := r.GetConfiguration(); fut.Error() == nil {
		var voters, nonvoters int
		for _, srv := range fut.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				voters++
			} else {
				nonvoters++
			}
		}
		gauge(descRaftMembers, float64(voters), "voter")
		gauge(descRaftMembers, float64(nonvoters), "nonvoter")
	}
}

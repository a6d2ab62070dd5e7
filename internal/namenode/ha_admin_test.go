package namenode

import (
	"bufio"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// join starts a new member with a fresh directory that waits to be
// added to the group (Config.Join), and returns its index. adjust, if
// not nil, changes its Config.
func (g *testGroup) join(adjust func(*Config)) int {
	g.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		g.t.Fatal(err)
	}
	i := len(g.srv)
	dir := g.t.TempDir()
	cfg := testConfig(dir)
	cfg.RPCAddr = l.Addr().String()
	cfg.Join = true
	// A joiner without Peers formats its directory with a random
	// cluster ID; give it the group's.
	cfg.ClusterID = g.cfgs[0].ClusterID
	for _, s := range g.srv {
		if s != nil {
			cfg.ClusterID = s.ClusterID()
			break
		}
	}
	cfg.HeartbeatTimeout = groupRaftTimeout
	cfg.ElectionTimeout = groupRaftTimeout
	if adjust != nil {
		adjust(&cfg)
	}
	g.addrs = append(g.addrs, cfg.RPCAddr)
	g.dirs = append(g.dirs, dir)
	g.cfgs = append(g.cfgs, cfg)
	g.srv = append(g.srv, nil)
	g.stop = append(g.stop, nil)
	g.startOn(i, l)
	return i
}

// haStatus returns member i's status, failing the test on an error.
func (g *testGroup) haStatus(i int) cairn.HAStatus {
	g.t.Helper()
	st, err := g.srv[i].HAStatus(bg)
	if err != nil {
		g.t.Fatalf("HAStatus on member %d = %v", i, err)
	}
	return st
}

// waitStatus polls member i's status until ok accepts it.
func (g *testGroup) waitStatus(i int, what string, ok func(cairn.HAStatus) bool) cairn.HAStatus {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := g.haStatus(i)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("member %d: %s: not within 20s; status %+v", i, what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func member(st cairn.HAStatus, addr string) (cairn.HAMember, bool) {
	i := slices.IndexFunc(st.Members, func(m cairn.HAMember) bool { return m.Address == addr })
	if i < 0 {
		return cairn.HAMember{}, false
	}
	return st.Members[i], true
}

func addresses(st cairn.HAStatus) []string {
	var a []string
	for _, m := range st.Members {
		a = append(a, m.Address)
	}
	slices.Sort(a)
	return a
}

func TestHAStatusAgreesOnEveryMember(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	if _, err := g.srv[l].Mkdirs(bg, "/a", 0o755, true, "", ""); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(g.addrs))
	var term uint64
	for i := range g.srv {
		// Every follower applies /a, and says so.
		st := g.waitStatus(i, "every member follows and has applied /a", func(st cairn.HAStatus) bool {
			lm, ok := member(st, g.addrs[l])
			if !ok {
				return false
			}
			for _, m := range st.Members {
				if m.AppliedIndex < lm.AppliedIndex-1 || (m.Address != g.addrs[l] && m.State != cairn.HAFollower) {
					return false
				}
			}
			return true
		})
		if st.Leader != g.addrs[l] || st.Self != g.addrs[i] {
			t.Errorf("member %d: leader %q, self %q; want leader %q, self %q", i, st.Leader, st.Self, g.addrs[l], g.addrs[i])
		}
		if i > 0 && st.Term != term {
			t.Errorf("member %d: term %d, member 0 said %d", i, st.Term, term)
		}
		term = st.Term
		if got := addresses(st); !slices.Equal(got, want) {
			t.Errorf("member %d lists members %v, want %v", i, got, want)
		}
		for _, m := range st.Members {
			wantState := cairn.HAFollower
			if m.Address == g.addrs[l] {
				wantState = cairn.HALeader
			}
			if !m.Voter || m.ID != m.Address || m.State != wantState || m.LastIndex == 0 || m.LastContactMs < 0 {
				t.Errorf("member %d says of %s: %+v; want a voter in state %s with a log and a last contact", i, m.Address, m, wantState)
			}
		}
	}
	// A member that is down is unreachable to the others.
	f := (l + 1) % 3
	g.kill(f)
	st := g.haStatus(l)
	if m, _ := member(st, g.addrs[f]); m.State != cairn.HAUnreachable || m.LastContactMs != -1 {
		t.Errorf("the leader says of the stopped member: %+v, want unreachable with last contact -1", m)
	}
}

func TestHATransferLeadership(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	to := (l + 1) % 3
	f := (l + 2) % 3

	_, err := g.srv[f].HATransferLeadership(bg, g.addrs[to])
	wantKind(t, "HATransferLeadership on a follower", err, cairn.NotLeader)
	_, err = g.srv[l].HATransferLeadership(bg, "127.0.0.1:1")
	wantKind(t, "HATransferLeadership to a non-member", err, cairn.Invalid)
	if got, err := g.srv[l].HATransferLeadership(bg, g.addrs[l]); err != nil || got != g.addrs[l] {
		t.Errorf("HATransferLeadership to the leader itself = %q, %v; want %q", got, err, g.addrs[l])
	}

	got, err := g.srv[l].HATransferLeadership(bg, g.addrs[to])
	if err != nil || got != g.addrs[to] {
		t.Fatalf("HATransferLeadership(%s) = %q, %v; want the new leader %q", g.addrs[to], got, err, g.addrs[to])
	}
	if nl := g.leader(); nl != to {
		t.Fatalf("member %d leads after the transfer, want member %d", nl, to)
	}
	if _, err := g.srv[to].Mkdirs(bg, "/after", 0o755, true, "", ""); err != nil {
		t.Errorf("Mkdirs on the new leader = %v", err)
	}
	// To any other member.
	got, err = g.srv[to].HATransferLeadership(bg, "")
	if err != nil || got == "" || got == g.addrs[to] {
		t.Fatalf("HATransferLeadership(\"\") = %q, %v; want another leader", got, err)
	}
	if nl := g.leader(); g.addrs[nl] != got {
		t.Errorf("member %s leads, the transfer said %s", g.addrs[nl], got)
	}
}

func TestHARemoveAndAddMembers(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	if _, err := g.srv[l].Mkdirs(bg, "/before", 0o755, true, "", ""); err != nil {
		t.Fatal(err)
	}
	f := (l + 1) % 3

	wantKind(t, "HARemoveMember on a follower", g.srv[f].HARemoveMember(bg, g.addrs[l]), cairn.NotLeader)
	wantKind(t, "HARemoveMember of a non-member", g.srv[l].HARemoveMember(bg, "127.0.0.1:1"), cairn.Invalid)
	wantKind(t, "HAAddMember of a bad address", g.srv[l].HAAddMember(bg, "no-port", false), cairn.Invalid)
	wantKind(t, "HAAddMember of port 0", g.srv[l].HAAddMember(bg, "127.0.0.1:0", false), cairn.Invalid)
	wantKind(t, "HAAddMember with nobody there", g.srv[l].HAAddMember(bg, "127.0.0.1:1", false), cairn.Unavailable)
	if err := g.srv[l].HAAddMember(bg, g.addrs[f], false); err != nil {
		t.Errorf("HAAddMember of a voter already there = %v, want nothing done", err)
	}
	wantKind(t, "HAAddMember of a voter as a nonvoter", g.srv[l].HAAddMember(bg, g.addrs[f], true), cairn.Invalid)

	if err := g.srv[l].HARemoveMember(bg, g.addrs[f]); err != nil {
		t.Fatalf("HARemoveMember(%s) = %v", g.addrs[f], err)
	}
	g.kill(f)
	st := g.haStatus(l)
	if _, ok := member(st, g.addrs[f]); ok || len(st.Members) != 2 {
		t.Errorf("status after removing %s lists %v", g.addrs[f], addresses(st))
	}
	if _, err := g.srv[l].Mkdirs(bg, "/two", 0o755, true, "", ""); err != nil {
		t.Fatalf("Mkdirs with two members = %v", err)
	}

	// Not any NameNode may join: one of another cluster, or of another
	// group, is refused.
	other := g.join(func(cfg *Config) { cfg.ClusterID = "CID-other" })
	if err := g.srv[l].HAAddMember(bg, g.addrs[other], false); cairn.KindOf(err) != cairn.Invalid || !strings.Contains(err.Error(), "--cluster-id") {
		t.Errorf("HAAddMember of a NameNode of another cluster = %v, want Invalid naming --cluster-id", err)
	}
	g.kill(other)
	og := startGroup(t, 1, nil)
	og.leader()
	if err := g.srv[l].HAAddMember(bg, og.addrs[0], false); cairn.KindOf(err) != cairn.Invalid || !strings.Contains(err.Error(), "member of a group already") {
		t.Errorf("HAAddMember of a member of another group = %v, want Invalid", err)
	}

	// A new member joins, first as a nonvoter, then as a voter, and
	// catches up with the namespace made before it joined.
	n := g.join(nil)
	if st := g.haStatus(n); len(st.Members) != 1 || st.Members[0].Voter || st.Leader != "" {
		t.Errorf("status of a joiner not added yet = %+v, want itself alone, not a voter, no leader", st)
	}
	if err := g.srv[l].HAAddMember(bg, g.addrs[n], true); err != nil {
		t.Fatalf("HAAddMember(%s, nonvoter) = %v", g.addrs[n], err)
	}
	g.waitStatus(l, "the nonvoter follows", func(st cairn.HAStatus) bool {
		m, ok := member(st, g.addrs[n])
		return ok && !m.Voter && m.State == cairn.HAFollower
	})
	if err := g.srv[l].HAAddMember(bg, g.addrs[n], false); err != nil {
		t.Fatalf("HAAddMember(%s) = %v", g.addrs[n], err)
	}
	st = g.waitStatus(l, "the new voter catches up", func(st cairn.HAStatus) bool {
		m, ok := member(st, g.addrs[n])
		lm, _ := member(st, g.addrs[l])
		return ok && m.Voter && m.State == cairn.HAFollower && m.AppliedIndex >= lm.AppliedIndex-1
	})
	if len(st.Members) != 3 {
		t.Errorf("status lists %v, want 3 members", addresses(st))
	}
	s := g.srv[n]
	s.ns.mu.RLock()
	_, err := s.ns.lookup("/before")
	s.ns.mu.RUnlock()
	if err != nil {
		t.Errorf("the new member lacks /before: %v", err)
	}
	// It can lead.
	if got, err := g.srv[l].HATransferLeadership(bg, g.addrs[n]); err != nil || got != g.addrs[n] {
		t.Fatalf("HATransferLeadership to the new member = %q, %v", got, err)
	}
	if nl := g.leader(); nl != n {
		t.Fatalf("member %d leads, want the new member %d", nl, n)
	}
	if _, err := g.srv[n].GetFileInfo(bg, "/two", false, ""); err != nil {
		t.Errorf("GetFileInfo(/two) on the new leader = %v", err)
	}
}

func TestHARemoveTheLeaderItself(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	if err := g.srv[l].HARemoveMember(bg, g.addrs[l]); err != nil {
		t.Fatalf("HARemoveMember of the leader itself = %v", err)
	}
	g.kill(l)
	nl := g.leader()
	st := g.waitStatus(nl, "two members", func(st cairn.HAStatus) bool { return len(st.Members) == 2 })
	if _, ok := member(st, g.addrs[l]); ok || st.Leader != g.addrs[nl] {
		t.Errorf("status after the leader removed itself: leader %q, members %v", st.Leader, addresses(st))
	}
	if _, err := g.srv[nl].Mkdirs(bg, "/x", 0o755, true, "", ""); err != nil {
		t.Errorf("Mkdirs on the new leader = %v", err)
	}
}

func TestHAAloneIsAGroupOfOne(t *testing.T) {
	s := newServer(t)
	st, err := s.HAStatus(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 1 || st.Leader == "" || st.Leader != st.Members[0].Address || st.Members[0].State != cairn.HALeader ||
		!st.Members[0].Voter || st.Term == 0 {
		t.Errorf("HAStatus of a NameNode alone = %+v, want one voter that leads", st)
	}
	const alone = "runs alone"
	for what, err := range map[string]error{
		"HAAddMember":    s.HAAddMember(bg, "127.0.0.1:9", false),
		"HARemoveMember": s.HARemoveMember(bg, "127.0.0.1:9"),
	} {
		if cairn.KindOf(err) != cairn.Invalid || !strings.Contains(err.Error(), alone) {
			t.Errorf("%s on a NameNode alone = %v, want Invalid saying it %s", what, err, alone)
		}
	}
	if _, err := s.HATransferLeadership(bg, ""); cairn.KindOf(err) != cairn.Invalid || !strings.Contains(err.Error(), alone) {
		t.Errorf("HATransferLeadership on a NameNode alone = %v, want Invalid saying it %s", err, alone)
	}
}

func TestHAMetrics(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	f := (l + 1) % 3
	g.waitStatus(l, "every member follows", func(st cairn.HAStatus) bool {
		for _, m := range st.Members {
			if m.State == cairn.HAUnreachable || m.State == cairn.HACandidate {
				return false
			}
		}
		return true
	})
	for i, want := range map[int][]string{
		l: {`cairn_namenode_raft_state{state="leader"} 1`, `cairn_namenode_raft_state{state="follower"} 0`,
			`cairn_namenode_raft_last_contact_seconds 0`, `cairn_namenode_raft_leader 1`},
		f: {`cairn_namenode_raft_state{state="follower"} 1`, `cairn_namenode_raft_state{state="leader"} 0`,
			`cairn_namenode_raft_last_contact_seconds `, `cairn_namenode_raft_leader 0`},
	} {
		body := scrapeMetrics(t, g.srv[i])
		want = append(want, `cairn_namenode_raft_members{suffrage="voter"} 3`, `cairn_namenode_raft_members{suffrage="nonvoter"} 0`,
			"cairn_namenode_raft_term ", "cairn_namenode_raft_commit_index ", "cairn_namenode_raft_applied_index ",
			"cairn_namenode_raft_last_index ", "cairn_namenode_raft_leader_changes_total ", "cairn_namenode_files ")
		for _, w := range want {
			if !slices.ContainsFunc(body, func(line string) bool { return strings.HasPrefix(line, w) }) {
				t.Errorf("member %d: /metrics lacks %q", i, w)
			}
		}
	}
}

// scrapeMetrics returns the sample lines of s's /metrics.
func scrapeMetrics(t *testing.T, s *Server) []string {
	t.Helper()
	w := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	var lines []string
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestHAWebPages(t *testing.T) {
	web := func(addr string) string { return "web." + addr }
	// Each member tells its own web address; the others learn it from
	// the group's status (no PeerHTTPAddrs given).
	g := startGroup(t, 3, func(cfg *Config) {
		cfg.HTTPAddr = web(cfg.RPCAddr)
	})
	l := g.leader()
	f := (l + 1) % 3
	page := func(i int, url string) (int, string) {
		w := httptest.NewRecorder()
		g.srv[i].HTTPHandler().ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		return w.Code, w.Body.String()
	}
	banner := `This NameNode is a follower; the leader is <a class="mono" href="//` + web(g.addrs[l]) + `/">` + g.addrs[l] + `</a>.`
	code, body := page(f, "/")
	if code != 200 || !strings.Contains(body, banner) {
		t.Errorf("the overview of a follower = %d, lacks %q:\n%s", code, banner, body)
	}
	for _, a := range g.addrs {
		if !strings.Contains(body, `data-member="`+a+`"`) || !strings.Contains(body, `href="//`+web(a)+`/">`+a+`</a>`) {
			t.Errorf("the overview of a follower does not list member %s with a link to its web address", a)
		}
	}
	if code, body := page(f, "/browse?path=%2F"); code != 503 || !strings.Contains(body, banner) {
		t.Errorf("browse on a follower = %d, want 503 with the banner:\n%s", code, body)
	}
	if code, body := page(l, "/"); code != 200 || strings.Contains(body, "lead-banner") || !strings.Contains(body, `id="group"`) {
		t.Errorf("the overview of the leader = %d: want the group, no banner:\n%s", code, body)
	}
}

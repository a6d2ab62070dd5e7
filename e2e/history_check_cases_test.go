package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// hh builds a hand-made history: operations with invocation and
// completion times, sorted into events.
type hh struct {
	ev []event
}

type opt func(*event, *event)

func val(id uint64) opt {
	return func(inv, _ *event) { inv.Value, inv.Size = id, testSize(id) }
}

func dest(d string) opt { return func(inv, _ *event) { inv.Dest = d } }

func sees(r readResult) opt { return func(_, cmp *event) { cmp.Read = &r } }

func seesValue(id uint64) opt {
	return sees(readResult{Kind: readValue, Value: id, Size: testSize(id)})
}

// testSize is the size of value id in the hand-made histories.
func testSize(id uint64) int64 { return 100 + int64(id) }

// op adds an operation of process p invoked at start and completed at
// end with status; an unknown operation has no completion time (end is
// ignored) unless end >= 0, when an "unknown" line is written at end.
func (b *hh) op(p int, f, path string, start, end int64, status string, opts ...opt) *hh {
	inv := event{Type: evInvoke, Process: p, F: f, Path: path, Time: start}
	cmp := event{Type: status, Process: p, Time: end}
	for _, o := range opts {
		o(&inv, &cmp)
	}
	b.ev = append(b.ev, inv)
	if end >= 0 {
		b.ev = append(b.ev, cmp)
	}
	return b
}

func (b *hh) events() []event {
	ev := append([]event(nil), b.ev...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Time < ev[j].Time })
	for i := range ev {
		ev[i].Index = i
	}
	return ev
}

// fin is a healthy final state with the given values at paths (0: a
// directory).
func fin(entries map[string]uint64) finalState {
	f := finalState{Entries: make(map[string]finalEntry), Fsck: "HEALTHY", Settled: true}
	for p, id := range entries {
		if id == 0 {
			f.Entries[p] = finalEntry{Dir: true}
			continue
		}
		f.Entries[p] = finalEntry{Read: readResult{Kind: readValue, Value: id, Size: testSize(id)}}
	}
	return f
}

func with(f finalState, change func(*finalState)) finalState {
	change(&f)
	return f
}

// converged is a group of three at the end as it should be: member 1
// leads in term 4, every member names it, holds 12 files and has
// applied the leader's log.
func converged() *finalGroup {
	g := &finalGroup{Serving: []int{1}}
	for i := range 3 {
		m := finalMember{Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i), Files: 12, Live: 4, Status: true,
			Leader: "127.0.0.1:20001", Term: 4, State: "follower", LastIndex: 310, AppliedIndex: 310}
		if i == 1 {
			m.State = "leader"
		}
		g.Members = append(g.Members, m)
	}
	return g
}

// inGroup is f with the group g.
func inGroup(f finalState, g *finalGroup) finalState {
	f.Group = g
	return f
}

// changed is converged() changed by change.
func changed(change func(*finalGroup)) *finalGroup {
	g := converged()
	change(g)
	return g
}

const (
	ka = "/h/d0/k0"
	kb = "/h/d0/k1"
)

func TestHistoryCheckerAccepts(t *testing.T) {
	for _, tt := range []struct {
		name  string
		h     *hh
		final finalState
	}{
		{"a put read back and kept",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fGet, ka, 20, 30, evOK, seesValue(1)),
			fin(map[string]uint64{ka: 1})},
		{"overlapping puts may end in either order (first)",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 5, 15, evOK, val(2)),
			fin(map[string]uint64{ka: 1})},
		{"overlapping puts may end in either order (second)",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 5, 15, evOK, val(2)),
			fin(map[string]uint64{ka: 2})},
		{"an unknown put may have taken effect",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 20, -1, evUnknown, val(2)),
			fin(map[string]uint64{ka: 2})},
		{"an unknown put may not have taken effect",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 20, 25, evUnknown, val(2)),
			fin(map[string]uint64{ka: 1})},
		{"an unknown put may take effect after a later put",
			new(hh).op(0, fPut, ka, 0, 10, evUnknown, val(1)).op(1, fPut, ka, 20, 30, evOK, val(2)),
			fin(map[string]uint64{ka: 1})},
		{"a delete explains a missing value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fDelete, ka, 20, 30, evOK),
			fin(nil)},
		{"an unknown delete explains a missing value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fDelete, ka, 20, -1, evUnknown),
			fin(nil)},
		{"removing the directory explains a missing value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRmr, "/h/d0", 20, 30, evOK).op(1, fMkdir, "/h/d0", 31, 32, evOK),
			fin(map[string]uint64{"/h/d0": 0})},
		{"a rename moves a value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRename, ka, 20, 30, evOK, dest(kb)).op(1, fGet, kb, 40, 50, evOK, seesValue(1)),
			fin(map[string]uint64{kb: 1})},
		{"a read during a delete may see the value or nothing",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fDelete, ka, 20, 40, evOK).
				op(2, fGet, ka, 25, 35, evOK, seesValue(1)).op(3, fGet, ka, 25, 35, evOK, sees(readResult{Kind: readAbsent})),
			fin(nil)},
		{"a failed put leaves nothing",
			new(hh).op(0, fPut, ka, 0, 10, evFail, val(1)).op(1, fGet, ka, 20, 30, evOK, sees(readResult{Kind: readAbsent})),
			fin(nil)},
		{"a rename onto a directory moves the value into it",
			new(hh).op(0, fMkdir, kb, 0, 5, evOK).op(0, fPut, ka, 6, 10, evOK, val(1)).op(1, fRename, ka, 20, 30, evOK, dest(kb)),
			fin(map[string]uint64{kb: 0, kb + "/k0": 1})},
		{"a rename onto itself changes nothing",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRename, ka, 20, 30, evOK, dest(ka)).op(1, fGet, ka, 40, 50, evOK, seesValue(1)),
			fin(map[string]uint64{ka: 1})},
		{"a file taken over keeps what its writer sent",
			new(hh).op(11, fInspect, "/h/d0/.lease._COPYING_.0a1b2c3d", 0, 10, evOK, func(inv, cmp *event) {
				inv.Value, inv.Size = 1, 1<<20+1
				cmp.Read = &readResult{Kind: readPrefix, Value: 1, Size: 1<<20 + 4096}
			}),
			fin(nil)},
		{"a failed read tells nothing",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fGet, ka, 20, 30, evFail),
			fin(map[string]uint64{ka: 1})},
		{"a group whose members converged on one leader",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)),
			inGroup(fin(map[string]uint64{ka: 1}), converged())},
		{"a group member a barrier behind the leader's last entry",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Members[2].AppliedIndex = 310 - groupMaxLag }))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if vs := checkHistory(tt.h.events(), tt.final); len(vs) != 0 {
				t.Errorf("checkHistory = %v, want no violation", vs)
			}
		})
	}
}

func TestHistoryCheckerRejects(t *testing.T) {
	partial := readResult{Kind: readPartial, Value: 1, Size: 50, Detail: "50 of the 101 bytes of value 1"}
	for _, tt := range []struct {
		name  string
		h     *hh
		final finalState
		want  []string // violation kinds that must be among those found
	}{
		{"an acknowledged put is lost",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)),
			fin(nil), []string{vLost}},
		{"an acknowledged put ends truncated (a last block dropped)",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)),
			with(fin(nil), func(f *finalState) { f.Entries[ka] = finalEntry{Read: partial} }),
			[]string{vPartial, vLost}},
		{"a later acknowledged put is lost to an earlier one",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 20, 30, evOK, val(2)),
			fin(map[string]uint64{ka: 1}), []string{vStale, vLost}},
		{"an acknowledged delete is lost",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fDelete, ka, 20, 30, evOK),
			fin(map[string]uint64{ka: 1}), []string{vStale}},
		{"a read returns a prefix",
			new(hh).op(0, fPut, ka, 0, -1, evUnknown, val(1)).op(1, fGet, ka, 20, 30, evOK, sees(partial)),
			fin(nil), []string{vPartial}},
		{"a read returns mixed values",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fGet, ka, 20, 30, evOK,
				sees(readResult{Kind: readPartial, Value: 1, Size: 101, Detail: "wrong from byte 40"})),
			fin(map[string]uint64{ka: 1}), []string{vPartial}},
		{"a failed put's value is read",
			new(hh).op(0, fPut, ka, 0, 10, evFail, val(1)).op(1, fGet, ka, 20, 30, evOK, seesValue(1)),
			fin(nil), []string{vFailedPut}},
		{"a failed put's value is there at the end",
			new(hh).op(0, fPut, ka, 0, 10, evFail, val(1)),
			fin(map[string]uint64{ka: 1}), []string{vFailedPut}},
		{"a failed rename moved the value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRename, ka, 20, 30, evFail, dest(kb)),
			fin(map[string]uint64{kb: 1}), []string{vWrongPath, vLost}},
		{"a failed delete removed the value",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fDelete, ka, 20, 30, evFail),
			fin(nil), []string{vLost}},
		{"an unknown rename half done: the value in both places",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRename, ka, 20, -1, evUnknown, dest(kb)),
			fin(map[string]uint64{ka: 1, kb: 1}), []string{vDuplicate}},
		{"an unknown put half visible",
			new(hh).op(0, fPut, ka, 0, -1, evUnknown, val(1)),
			with(fin(nil), func(f *finalState) { f.Entries[ka] = finalEntry{Read: partial} }),
			[]string{vPartial}},
		{"a stale read after an acknowledged overwrite",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fPut, ka, 20, 30, evOK, val(2)).op(2, fGet, ka, 40, 50, evOK, seesValue(1)),
			fin(map[string]uint64{ka: 2}), []string{vStale}},
		{"a read finds nothing after an acknowledged put",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fGet, ka, 20, 30, evOK, sees(readResult{Kind: readAbsent})),
			fin(map[string]uint64{ka: 1}), []string{vLost}},
		{"a read finds nothing after an acknowledged rename",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)).op(1, fRename, ka, 20, 30, evOK, dest(kb)).op(2, fGet, kb, 40, 50, evOK, sees(readResult{Kind: readAbsent})),
			fin(map[string]uint64{kb: 1}), []string{vLost}},
		{"an acknowledged rename's destination ends empty",
			new(hh).op(1, fRename, ka, 20, 30, evOK, dest(kb)),
			fin(nil), []string{vLost}},
		{"a read from the future",
			new(hh).op(1, fGet, ka, 0, 10, evOK, seesValue(1)).op(0, fPut, ka, 20, 30, evOK, val(1)),
			fin(map[string]uint64{ka: 1}), []string{vFuture}},
		{"a value no put wrote",
			new(hh).op(0, fPut, ka, 0, 10, evOK, val(1)),
			fin(map[string]uint64{ka: 1, kb: 7}), []string{vUnknownVal}},
		{"a temporary is left behind",
			new(hh).op(0, fPut, ka, 0, 10, evFail, val(1)),
			fin(map[string]uint64{"/h/d0/.k0._COPYING_.0a1b2c3d": 1}), []string{vTemporary}},
		{"a directory nothing made",
			new(hh),
			fin(map[string]uint64{kb: 0}), []string{vStrayDir}},
		{"a file still open and fsck not healthy",
			new(hh),
			with(fin(nil), func(f *finalState) {
				f.OpenFiles = []string{ka}
				f.Fsck, f.Missing = "CORRUPT", 1
			}), []string{vOpenAtEnd, vUnhealthy}},
		{"the final state never settled",
			new(hh),
			with(fin(nil), func(f *finalState) { f.Settled, f.Detail = false, "temporaries [x]" }), []string{vUnsettledFS}},
		{"a lease takeover dropped the writer's last block",
			new(hh).op(11, fInspect, "/h/d0/.lease._COPYING_.0a1b2c3d", 0, 10, evOK, func(inv, cmp *event) {
				inv.Value, inv.Size = 1, 1<<20+1
				cmp.Read = &readResult{Kind: readPrefix, Value: 1, Size: 1 << 20}
			}),
			fin(nil), []string{vTakeover}},
		{"a file taken over is not a prefix of its writer's value",
			new(hh).op(11, fInspect, "/h/d0/.lease._COPYING_.0a1b2c3d", 0, 10, evOK, func(inv, cmp *event) {
				inv.Value, inv.Size = 1, 1<<20+1
				cmp.Read = &readResult{Kind: readPartial, Size: 2 << 20, Detail: "not a prefix"}
			}),
			fin(nil), []string{vTakeover}},
		{"two members of a group serve at the end",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Serving = []int{0, 1} })), []string{vLeaders}},
		{"no member of a group serves at the end",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Serving = nil })), []string{vLeaders}},
		{"a group member names another leader",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Members[0].Leader, g.Members[0].Term = "127.0.0.1:20000", 3 })), []string{vLeaders}},
		{"a group member does not answer its status",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) {
				g.Members[2] = finalMember{Addr: "127.0.0.1:20002", Files: -1, Live: -1, Err: "refused"}
			})),
			[]string{vLeaders, vDiverged}},
		{"a group member holds fewer files than the leader",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Members[0].Files = 11 })), []string{vDiverged}},
		{"a group member has not applied the leader's log",
			new(hh),
			inGroup(fin(nil), changed(func(g *finalGroup) { g.Members[2].AppliedIndex = 300 })), []string{vDiverged}},
		{"a put acknowledged though its key had become a directory",
			new(hh).op(1, fMkdir, kb, 0, 5, evOK).op(0, fPut, kb, 10, 20, evOK, val(1)),
			fin(map[string]uint64{kb: 0, "/h/d0/k1/.k1._COPYING_.00000001": 1}), []string{vLost, vTemporary}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs := checkHistory(tt.h.events(), tt.final)
			got := map[string]bool{}
			for _, v := range vs {
				got[v.Kind] = true
			}
			for _, k := range tt.want {
				if !got[k] {
					t.Errorf("checkHistory = %v, want a violation %q", vs, k)
				}
			}
		})
	}
}

func TestHistoryCheckerBadHistory(t *testing.T) {
	h := []event{
		{Index: 0, Type: evInvoke, Process: 0, F: fPut, Path: ka, Value: 1, Size: 101},
		{Index: 1, Type: evInvoke, Process: 0, F: fGet, Path: ka},
	}
	if vs := checkHistory(h, fin(nil)); len(vs) != 1 || vs[0].Kind != vBadHistory {
		t.Errorf("checkHistory of two open operations of one process = %v, want %q", vs, vBadHistory)
	}
}

func TestHistoryValueIdentify(t *testing.T) {
	const mib = 1 << 20
	a := valueBytes(7, 2*mib+5)
	b := valueBytes(8, 2*mib+5)
	mixed := append(append([]byte(nil), a[:mib]...), b[mib:]...)
	for _, tt := range []struct {
		name string
		data []byte
		kind string
		want string // in Detail
	}{
		{"a whole value", a, readValue, ""},
		{"the smallest value", valueBytes(9, valueHeader), readValue, ""},
		{"an empty file", nil, readPartial, "shorter than a value's header"},
		{"a prefix of whole blocks", a[:mib], readPartial, "1048576 of the 2097157 bytes of value 7"},
		{"a value with its last block dropped", a[:2*mib], readPartial, "2097152 of the 2097157 bytes"},
		{"two values mixed at a block boundary", mixed, readPartial, "wrong from byte 1048576 on (block 1)"},
		{"bytes that are no value", make([]byte, 100), readPartial, "do not start with a value header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := identify(tt.data)
			if r.Kind != tt.kind || !strings.Contains(r.Detail, tt.want) {
				t.Errorf("identify = %+v, want kind %s with %q", r, tt.kind, tt.want)
			}
		})
	}
	if r := identify(a); r.Value != 7 || r.Size != 2*mib+5 {
		t.Errorf("identify(value 7) = %+v, want value 7 of %d bytes", r, 2*mib+5)
	}
}

func TestHistorySchedule(t *testing.T) {
	for _, group := range []bool{false, true} {
		a, b := schedule(42, 20e9, group), schedule(42, 20e9, group)
		if len(a) != len(b) {
			t.Fatalf("schedule(42, group %v) has %d then %d steps", group, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("schedule(42, group %v) step %d: %v then %v", group, i, a[i], b[i])
			}
		}
	}
	for _, seed := range []int64{1, 2, 3, 42, 1234567} {
		has := map[string]bool{}
		for _, s := range schedule(seed, 20e9, false) {
			has[s.Fault] = true
			if slices.Contains(groupFaults, s.Fault) {
				t.Errorf("schedule(%d) of a NameNode alone has %q", seed, s.Fault)
			}
		}
		for _, f := range []string{nLeaseSteal, nDropReplies, nKillNN} {
			if !has[f] {
				t.Errorf("schedule(%d) has no %q", seed, f)
			}
		}
	}
	// A group's schedule begins with the leader killed or cut off,
	// then the other; every other step is a fault among the members,
	// and the NameNode-alone faults are not drawn.
	for _, seed := range []int64{1, 2, 3, 42, 1234567} {
		steps := schedule(seed, 20e9, true)
		if len(steps) < 4 {
			t.Fatalf("schedule(%d, group) has %d steps, want at least 4", seed, len(steps))
		}
		if first := []string{steps[0].Fault, steps[2].Fault}; !slices.Contains(first, nKillLeader) || !slices.Contains(first, nIsolateLeader) {
			t.Errorf("schedule(%d, group) begins with %v, want the leader killed and cut off", seed, first)
		}
		for i, s := range steps {
			if nn := slices.Contains(groupFaults, s.Fault); nn != (i%2 == 0) {
				t.Errorf("schedule(%d, group) step %d is %q", seed, i, s.Fault)
			}
			if s.Fault == nKillNN || s.Fault == nStopNN {
				t.Errorf("schedule(%d, group) step %d is %q, a fault of a NameNode alone", seed, i, s.Fault)
			}
			if s.Fault == nStopLeader && s.Dur < 1500*time.Millisecond {
				t.Errorf("schedule(%d, group) step %d stops the leader for %v, not thrice its heartbeat timeout", seed, i, s.Dur)
			}
		}
	}
	// Over a long run every fault among the members comes.
	has := map[string]bool{}
	for _, s := range schedule(7, 90e9, true) {
		has[s.Fault] = true
	}
	for _, f := range groupFaults {
		if !has[f] {
			t.Errorf("schedule(7, 90s, group) has no %q", f)
		}
	}
}

func TestHistoryCLIOutcome(t *testing.T) {
	for _, tt := range []struct {
		code   int
		stderr string
		want   string
	}{
		{0, "", evOK},
		{1, "cairn: put /h/d0/k0: file already exists\n", evFail},
		{1, "cairn: mv /h/d0/k0: destination /h/d0/k1 exists\n", evFail},
		{1, "cairn: put /h/d0/k0: file is not open for writing (closed, deleted or recovered)\n", evFail},
		{1, "cairn: put /h/d1/k0: is a directory (name the file to write standard input to)\n", evFail},
		{1, "cairn: put /h/d0/k0: name node is in safe mode\n", evFail},
		{1, "cairn: put /h/d0/k0: namenode 127.0.0.1:1 unreachable: connection refused\n", evUnknown},
		{1, `cairn: put /h/d0/k0: connection error: desc = "transport: Error while dialing"` + "\n", evUnknown},
		{1, "cairn: rename /h/d0/k0: error reading from server: EOF\n", evUnknown},
		{1, "cairn: put /h/d0/k0: something new\n", evUnknown},
		{-1, "signal: killed", evUnknown},
	} {
		if got := cliOutcome(tt.code, tt.stderr); got != tt.want {
			t.Errorf("cliOutcome(%d, %q) = %s, want %s", tt.code, tt.stderr, got, tt.want)
		}
	}
}

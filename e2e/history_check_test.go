package e2e

// The history checker of TestHistory: a pure function from a recorded
// history of operations and the final state of the file system to the
// violations it proves. See history_test.go for how the history is
// made.
//
// The model. Every put writes a value that names itself (valueBytes):
// its first 32 bytes carry a magic, the value's id, its size and a
// check of those; the rest is a stream generated from the id. A read
// therefore tells exactly which put it came from and whether it is
// whole. A value is written by one put only, so at any moment it is in
// at most one place; renames move it, deletes and overwrites end it.
//
// Every operation has an invocation time and, unless its outcome is
// unknown, a completion time, on one monotonic clock. An operation
// whose outcome is unknown (a timeout, a lost connection, a killed
// client) may take effect at any time after its invocation, even after
// the history ends, or never: its completion is taken as +infinity.
// An operation A precedes B in real time iff A completed before B was
// invoked; operations that overlap may take effect in either order.
//
// The checks are per path and per value, and each is a necessary
// condition of a linearizable history, so a violation is a real one
// (the checker is sound, not complete):
//
//   - whole: every read and every file of the final state is one whole
//     written value (or, for a read, not-found): never a prefix, never
//     a mix, never bytes no put wrote;
//   - failed puts have no effect: their values are never seen;
//   - no reads from the future: a value is seen only after its put was
//     invoked;
//   - a value is seen at a path only if its put or a rename that had not
//     failed could have put it there;
//   - no stale reads: a value seen at a path was not certainly replaced
//     or removed before the read began by an acknowledged operation,
//     unless an operation that had not failed could have brought it back;
//   - nothing acknowledged lost: a path read as missing after an
//     acknowledged put or rename to it, or ending without the
//     acknowledged put's value, is explained by an operation that had
//     not failed and may have taken effect after the put;
//   - an operation of unknown outcome took effect wholly or not at all:
//     its value is whole, and no value is in two places at the end;
//   - a file read after another client took over its paused writer's
//     lease is a prefix of the writer's value at least as long as what
//     the writer had sent to the DataNodes (fInspect);
//   - at the end: no `._COPYING_` temporaries, no open files, fsck
//     HEALTHY with no under-replicated, missing or corrupt block;
//   - at the end, for a NameNode group: exactly one member serves,
//     every member names it as the leader in the same term, every
//     member holds as many files as it, and has applied the leader's
//     log to within groupMaxLag entries of its last.
//
// In a group reads are linearizable (the leader checks with a quorum
// that it still leads before it answers one), so the rules above hold
// as they are: a stale read from a deposed leader is a violation.

import (
	"bytes"
	byteorder "encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"time"
)

// Event types of a history.
const (
	evInvoke  = "invoke"
	evOK      = "ok"
	evFail    = "fail"
	evUnknown = "unknown"
	// evNemesis is a line of the nemesis's log (in Err), kept in the
	// history for reading; the checker skips it.
	evNemesis = "nemesis"
)

// Operations of a history.
const (
	fPut    = "put"    // write Value to Path (temporary + rename, overwriting)
	fGet    = "get"    // read Path whole
	fDelete = "delete" // remove Path
	fRename = "rename" // move Path to Dest (mv semantics: into Dest if it is a directory)
	fMkdir  = "mkdir"  // make the directory Path (and its parents)
	fRmr    = "rmr"    // remove the directory Path and everything below it
	fCreate = "create" // another client's Create of a writer's temporary (lease takeover); no value
	// fInspect reads a paused writer's file after another client took
	// its lease over: it must be a prefix of Value at least Size long.
	fInspect = "inspect"
)

// Kinds of what a read found.
const (
	readValue   = "value"   // one whole value
	readAbsent  = "absent"  // no such file
	readDir     = "dir"     // a directory
	readPartial = "partial" // bytes that are not one whole value
	readError   = "error"   // the read failed (final state only)
	readPrefix  = "prefix"  // the first Size bytes of Value (fInspect only)
)

// readResult is what a read found.
type readResult struct {
	Kind   string `json:"kind"`
	Value  uint64 `json:"value,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// event is one line of a history: an invocation, or the completion of
// the operation the same process invoked last.
type event struct {
	Index     int         `json:"i"`
	Type      string      `json:"type"`
	Process   int         `json:"process"`
	F         string      `json:"f"`
	Path      string      `json:"path,omitempty"`
	Dest      string      `json:"dest,omitempty"`
	Value     uint64      `json:"value,omitempty"`
	Size      int64       `json:"size,omitempty"`
	Overwrite bool        `json:"overwrite,omitempty"`
	Read      *readResult `json:"read,omitempty"`
	Err       string      `json:"err,omitempty"`
	Time      int64       `json:"t"` // nanoseconds since the history began
}

// hop is an operation of a history: an invocation paired with its
// completion.
type hop struct {
	event
	Status   string // evOK, evFail or evUnknown
	Invoke   int64
	Complete int64 // math.MaxInt64 when the outcome is unknown
	Inv, Cmp int   // indices of the two events
}

func (o *hop) String() string {
	s := fmt.Sprintf("[%d..%d] p%d %s %s", o.Inv, o.Cmp, o.Process, o.F, o.Path)
	if o.Dest != "" {
		s += " -> " + o.Dest
	}
	if o.Value != 0 {
		s += fmt.Sprintf(" v%x(%d B)", o.Value, o.Size)
	}
	s += " " + o.Status
	if o.Read != nil {
		s += " read=" + o.Read.Kind
		if o.Read.Value != 0 {
			s += fmt.Sprintf(" v%x", o.Read.Value)
		}
	}
	if o.Err != "" {
		s += " err=" + o.Err
	}
	return s
}

// pair turns a history into operations. An invocation without a
// completion (the history was cut short) counts as unknown.
func pair(h []event) ([]*hop, error) {
	open := make(map[int]*hop)
	var ops []*hop
	for i, e := range h {
		switch e.Type {
		case evInvoke:
			if o := open[e.Process]; o != nil {
				return nil, fmt.Errorf("event %d: process %d invokes %s while %s is open", i, e.Process, e.F, o.F)
			}
			o := &hop{event: e, Invoke: e.Time, Inv: e.Index, Complete: math.MaxInt64, Cmp: -1, Status: evUnknown}
			open[e.Process] = o
			ops = append(ops, o)
		case evNemesis:
		case evOK, evFail, evUnknown:
			o := open[e.Process]
			if o == nil {
				return nil, fmt.Errorf("event %d: process %d completes an operation it did not invoke", i, e.Process)
			}
			delete(open, e.Process)
			o.Status, o.Cmp, o.Err, o.Read = e.Type, e.Index, e.Err, e.Read
			if e.Type != evUnknown {
				o.Complete = e.Time
			}
		default:
			return nil, fmt.Errorf("event %d: unknown type %q", i, e.Type)
		}
	}
	return ops, nil
}

// finalEntry is one path of the final state.
type finalEntry struct {
	Dir  bool       `json:"dir,omitempty"`
	Read readResult `json:"read"` // for a file
}

// finalState is the file system read after every fault was healed and
// the lease hard limit passed.
type finalState struct {
	// Entries are every file and directory below the test's root.
	Entries map[string]finalEntry `json:"entries"`
	// OpenFiles are the files fsck still lists as being written.
	OpenFiles []string `json:"openFiles"`
	// Fsck is fsck's status; the counts are its block counts.
	Fsck            string `json:"fsck"`
	UnderReplicated int64  `json:"underReplicated"`
	Missing         int64  `json:"missing"`
	Corrupt         int64  `json:"corrupt"`
	// Settled is false when the final checks did not all hold before
	// the deadline; Detail says what was last seen.
	Settled bool   `json:"settled"`
	Detail  string `json:"detail,omitempty"`
	// Group is the NameNode group at the end; nil for a NameNode
	// alone.
	Group *finalGroup `json:"group,omitempty"`
}

// finalGroup is a NameNode group at the end.
type finalGroup struct {
	// Serving are the members whose /readyz answered 200: they lead
	// and serve.
	Serving []int `json:"serving"`
	// Members are what each member says of itself, in the order of
	// the members' list.
	Members []finalMember `json:"members"`
}

// finalMember is one member of a group at the end.
type finalMember struct {
	Addr string `json:"addr"` // its RPC address
	// Files and Live are the files in its namespace and the DataNodes
	// it counts live, from its /metrics; -1 when it did not answer.
	Files int `json:"files"`
	Live  int `json:"live"`
	// SafeMode is its cairn_namenode_safe_mode (1: on; a follower's
	// is), -1 when it did not answer.
	SafeMode int `json:"safeMode"`
	// From its `cairn admin ha status --json`: the leader it names and
	// the term, its own state and log position. Status is false when
	// it did not answer.
	Status       bool   `json:"status"`
	Leader       string `json:"leader,omitempty"`
	Term         uint64 `json:"term,omitempty"`
	State        string `json:"state,omitempty"`
	LastIndex    uint64 `json:"lastIndex,omitempty"`
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	Err          string `json:"err,omitempty"` // what it failed to answer
}

// groupMaxLag bounds how many entries of the leader's log a member may
// not have applied at the end: with no client left, only a no-op or
// barrier of the leader may be in flight while the members are asked
// one after another.
const groupMaxLag = 2

// leaderProblems says how g fails to have exactly one leader that every
// member names, in the same term; convergeProblems how its members'
// namespaces differ from the leader's. Nothing when all is well.
func (g *finalGroup) leaderProblems() []string {
	if len(g.Serving) != 1 {
		return []string{fmt.Sprintf("members %v serve (answer /readyz 200), want exactly one", g.Serving)}
	}
	l := g.Serving[0]
	if l < 0 || l >= len(g.Members) {
		return []string{fmt.Sprintf("member %d serves, but there are %d", l, len(g.Members))}
	}
	lm := g.Members[l]
	var ps []string
	if !lm.Status || lm.State != "leader" {
		ps = append(ps, fmt.Sprintf("member %d serves, but says it is %q (%s)", l, lm.State, lm.Err))
	}
	for i, m := range g.Members {
		switch {
		case !m.Status:
			ps = append(ps, fmt.Sprintf("member %d did not answer its status: %s", i, m.Err))
		case m.Leader != lm.Addr || m.Term != lm.Term:
			ps = append(ps, fmt.Sprintf("member %d names leader %q in term %d; member %d (%s) serves in term %d", i, m.Leader, m.Term, l, lm.Addr, lm.Term))
		}
	}
	return ps
}

func (g *finalGroup) convergeProblems() []string {
	if len(g.Serving) != 1 || g.Serving[0] < 0 || g.Serving[0] >= len(g.Members) {
		return nil // leaderProblems says it
	}
	l := g.Serving[0]
	lm := g.Members[l]
	var ps []string
	for i, m := range g.Members {
		if m.Files != lm.Files || m.Files < 0 {
			ps = append(ps, fmt.Sprintf("member %d holds %d files, the leader (member %d) %d", i, m.Files, l, lm.Files))
		}
		if m.Status && lm.Status && m.AppliedIndex+groupMaxLag < lm.LastIndex {
			ps = append(ps, fmt.Sprintf("member %d applied the log to entry %d, the leader's last is %d", i, m.AppliedIndex, lm.LastIndex))
		}
	}
	return ps
}

// violation is one thing the checker proved wrong.
type violation struct {
	Kind string
	Msg  string
	Ops  []*hop
}

func (v violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", v.Kind, v.Msg)
	for _, o := range v.Ops {
		fmt.Fprintf(&b, "\n      %s", o)
	}
	return b.String()
}

// Violation kinds.
const (
	vBadHistory  = "bad history"
	vPartial     = "partial or foreign bytes"
	vUnknownVal  = "value no put wrote"
	vFailedPut   = "effect of a failed put"
	vFuture      = "read from the future"
	vWrongPath   = "value where no operation could have put it"
	vStale       = "stale value"
	vLost        = "acknowledged operation lost"
	vDuplicate   = "value in two places"
	vTemporary   = "temporary left behind"
	vStrayDir    = "directory no operation made"
	vUnhealthy   = "cluster not healthy at the end"
	vOpenAtEnd   = "file still open at the end"
	vUnsettledFS = "final state did not settle"
	vTakeover    = "lease takeover lost bytes"
	vLeaders     = "not exactly one leader at the end"
	vDiverged    = "group members differ at the end"
)

// live reports whether o may have taken effect.
func live(o *hop) bool { return o.Status == evOK || o.Status == evUnknown }

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// removes reports whether o, if it took effect, removed what was at p.
func removes(o *hop, p string) bool {
	switch o.F {
	case fDelete, fRmr:
		return under(p, o.Path)
	case fRename:
		// A rename whose destination covers p (a rename onto itself,
		// or of a directory into itself) may have put something back
		// there: it is a placer, not a certain remover.
		return under(p, o.Path) && !under(p, o.Dest)
	}
	return false
}

// movesInto reports whether o, a rename, may have put something at p:
// at its destination, or below it (a move into a directory, or of a
// directory).
func movesInto(o *hop, p string) bool {
	return o.F == fRename && under(p, o.Dest)
}

// affects reports whether o, if it took effect, may have changed what
// is at p.
func affects(o *hop, p string) bool {
	return removes(o, p) || movesInto(o, p) || (o.F == fPut && o.Path == p)
}

// replaces reports whether o, acknowledged, certainly replaced or
// removed value v at p had v been there when o took effect: a put of
// another value, a delete, or a rename away. A rename to p is not
// counted, since it may have brought v itself.
func replaces(o *hop, p string, v uint64) bool {
	if o.Status != evOK {
		return false
	}
	return (o.F == fPut && o.Path == p && o.Value != v) || removes(o, p)
}

// places reports whether o may have put value v at p (o not failed).
func places(o *hop, p string, v uint64) bool {
	if !live(o) {
		return false
	}
	return (o.F == fPut && o.Path == p && o.Value == v) || movesInto(o, p)
}

// checkHistory returns the violations that the history h and the final
// state prove. Both are data; nothing else is consulted.
func checkHistory(h []event, final finalState) []violation {
	ops, err := pair(h)
	if err != nil {
		return []violation{{Kind: vBadHistory, Msg: err.Error()}}
	}
	var vs []violation
	add := func(kind, format string, args ...any) func(ops ...*hop) {
		return func(ops ...*hop) {
			vs = append(vs, violation{Kind: kind, Msg: fmt.Sprintf(format, args...), Ops: ops})
		}
	}
	puts := make(map[uint64]*hop)
	for _, o := range ops {
		if o.F == fPut {
			if p := puts[o.Value]; p != nil {
				add(vBadHistory, "value %x put twice", o.Value)(p, o)
			}
			puts[o.Value] = o
		}
	}

	// seen checks a whole value v of size n found at path p by a read
	// that ended at end (math.MaxInt64 for the final state): which put
	// wrote it, and whether it may be there.
	seen := func(by *hop, p string, r readResult, end int64) {
		what := "the final state"
		if by != nil {
			what = "a read"
		}
		w := puts[r.Value]
		if w == nil || w.Size != r.Size {
			add(vUnknownVal, "%s of %s found value %x of %d bytes, which no put wrote", what, p, r.Value, r.Size)(nonNil(by)...)
			return
		}
		if w.Status == evFail {
			add(vFailedPut, "%s of %s found value %x of a put that failed", what, p, r.Value)(nonNil(by, w)...)
		}
		if by != nil && w.Invoke > end {
			add(vFuture, "a read of %s found value %x before its put began", p, r.Value)(by, w)
		}
		start := int64(math.MaxInt64)
		if by != nil {
			start = by.Invoke
		}
		// Which operations may have put it at p, before the read ended
		// and not certainly before the put began.
		var placers []*hop
		for _, o := range ops {
			if o == w || (places(o, p, r.Value) && o.Invoke < end && o.Complete > w.Invoke) {
				if o == w && w.Path != p {
					continue
				}
				placers = append(placers, o)
			}
		}
		if len(placers) == 0 {
			add(vWrongPath, "%s found value %x at %s, where neither its put nor any rename that had not failed could have put it", what, r.Value, p)(nonNil(by, w)...)
			return
		}
		// Stale: an acknowledged operation that replaced or removed p
		// completed before the read began, and no placer may have
		// taken effect after that operation.
		for _, t := range ops {
			if !replaces(t, p, r.Value) || t.Complete >= start {
				continue
			}
			ok := false
			for _, s := range placers {
				if s != t && s.Complete > t.Invoke {
					ok = true
					break
				}
			}
			if !ok {
				add(vStale, "%s found value %x at %s, though an acknowledged %s replaced or removed it after every operation that could have put it there", what, r.Value, p, t.F)(nonNil(by, t, w)...)
				break
			}
		}
	}

	// missing checks that p, found without a file by a read spanning
	// [start, end] (or by the final state: start = end = MaxInt64), had
	// no acknowledged put or rename to it certainly in effect.
	missing := func(by *hop, p string, found string, start, end int64) {
		for _, s := range ops {
			if s.Status != evOK || s.Complete >= start {
				continue
			}
			if !((s.F == fPut && s.Path == p) || (s.F == fRename && s.Dest == p && found == readAbsent)) {
				continue
			}
			ok := false
			for _, t := range ops {
				if t == s || !live(t) || t.Complete <= s.Invoke || t.Invoke >= end {
					continue
				}
				if removes(t, p) || (found != readAbsent && affects(t, p)) {
					ok = true
					break
				}
			}
			if !ok {
				what := "the final state"
				if by != nil {
					what = "a read"
				}
				// The mkdirs of p that may have raced with s, for
				// the reader of the report.
				ctx := nonNil(by, s)
				for _, m := range ops {
					if m.F == fMkdir && m.Path == p && live(m) && m.Invoke < end && m.Complete > s.Invoke-int64(time.Second) {
						ctx = append(ctx, m)
					}
				}
				add(vLost, "%s found %s at %s after an acknowledged %s to it, and no operation that had not failed can explain it", what, found, p, s.F)(ctx...)
			}
		}
	}

	// The reads of the history.
	for _, o := range ops {
		if o.F != fGet || o.Status != evOK || o.Read == nil {
			continue
		}
		switch o.Read.Kind {
		case readPartial:
			add(vPartial, "a read of %s returned %s", o.Path, o.Read.Detail)(o)
		case readValue:
			seen(o, o.Path, *o.Read, o.Complete)
		case readAbsent, readDir:
			missing(o, o.Path, o.Read.Kind, o.Invoke, o.Complete)
		}
	}

	// Files read after a lease takeover.
	for _, o := range ops {
		if o.F != fInspect {
			continue
		}
		switch {
		case o.Status != evOK:
			add(vTakeover, "%s could not be read after the takeover: %s", o.Path, o.Err)(o)
		case o.Read == nil || o.Read.Kind != readPrefix:
			add(vTakeover, "%s after the takeover: %s", o.Path, readDetail(o.Read))(o)
		case o.Read.Size < o.Size:
			add(vTakeover, "%s after the takeover has %d bytes of value %x, fewer than the %d its writer had sent to the DataNodes (a block dropped or truncated)", o.Path, o.Read.Size, o.Value, o.Size)(o)
		}
	}

	// The final state.
	const end = math.MaxInt64
	paths := make([]string, 0, len(final.Entries))
	for p := range final.Entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	where := make(map[uint64][]string)
	for _, p := range paths {
		e := final.Entries[p]
		if strings.Contains(p, tempMarker) {
			add(vTemporary, "%s is still there at the end", p)()
			continue
		}
		if e.Dir {
			made := false
			for _, o := range ops {
				if live(o) && ((o.F == fMkdir && under(o.Path, p)) || movesInto(o, p)) {
					made = true
					break
				}
			}
			if !made {
				add(vStrayDir, "%s is a directory at the end, but no mkdir or rename that had not failed could have made it", p)()
			}
			continue
		}
		switch e.Read.Kind {
		case readValue:
			where[e.Read.Value] = append(where[e.Read.Value], p)
			seen(nil, p, e.Read, end)
		default:
			add(vPartial, "the final state of %s is %s: %s", p, e.Read.Kind, e.Read.Detail)()
		}
	}
	for v, ps := range where {
		if len(ps) > 1 {
			add(vDuplicate, "value %x is at %v at the end", v, ps)(nonNil(puts[v])...)
		}
	}
	// Every acknowledged put's value is where it was put, or something
	// that may have come after it explains why not.
	for _, w := range ops {
		if w.F != fPut || w.Status != evOK {
			continue
		}
		e, ok := final.Entries[w.Path]
		if ok && !e.Dir && e.Read.Kind == readValue && e.Read.Value == w.Value {
			continue
		}
		found := readAbsent
		if ok {
			found = "another value"
			if e.Dir {
				found = readDir
			}
		}
		explained := false
		for _, t := range ops {
			if t == w || !live(t) || t.Complete <= w.Invoke {
				continue
			}
			if removes(t, w.Path) || (found != readAbsent && affects(t, w.Path)) {
				explained = true
				break
			}
		}
		if !explained {
			add(vLost, "acknowledged put of value %x to %s: the final state has %s there, and no operation that had not failed can explain it", w.Value, w.Path, found)(w)
		}
	}
	// Acknowledged renames whose destination ends empty: something
	// that may have come after must have removed what they moved.
	for _, s := range ops {
		if s.F != fRename || s.Status != evOK {
			continue
		}
		if _, ok := final.Entries[s.Dest]; ok {
			continue
		}
		explained := false
		for _, t := range ops {
			if t != s && live(t) && t.Complete > s.Invoke && removes(t, s.Dest) {
				explained = true
				break
			}
		}
		if !explained {
			add(vLost, "acknowledged rename to %s: nothing is there at the end, and no operation that had not failed can explain it", s.Dest)(s)
		}
	}
	if !final.Settled {
		add(vUnsettledFS, "the cluster did not reach its final state before the deadline: %s", final.Detail)()
	}
	for _, f := range final.OpenFiles {
		add(vOpenAtEnd, "%s is still open after the lease hard limit", f)()
	}
	if final.Fsck != "HEALTHY" || final.UnderReplicated != 0 || final.Missing != 0 || final.Corrupt != 0 {
		add(vUnhealthy, "fsck %s with %d under-replicated, %d missing, %d corrupt blocks", final.Fsck, final.UnderReplicated, final.Missing, final.Corrupt)()
	}
	if g := final.Group; g != nil {
		for _, p := range g.leaderProblems() {
			add(vLeaders, "%s", p)()
		}
		for _, p := range g.convergeProblems() {
			add(vDiverged, "%s", p)()
		}
	}
	return dedupe(vs)
}

// dedupe drops repeated violations (the rename pass may repeat what the
// read pass found).
func dedupe(vs []violation) []violation {
	seen := make(map[string]bool)
	out := vs[:0]
	for _, v := range vs {
		k := v.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func readDetail(r *readResult) string {
	if r == nil {
		return "nothing read"
	}
	return r.Kind + " " + r.Detail
}

func nonNil(ops ...*hop) []*hop {
	out := ops[:0:0]
	for _, o := range ops {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// Values. A value of size n (at least valueHeader bytes) is:
//
//	"cairnHV1" | id (8 bytes, big endian) | n (8 bytes) | FNV-64a of the 24 bytes before | stream(id)
//
// where stream(id) is splitmix64 seeded with the id, little endian.
const (
	valueMagic  = "cairnHV1"
	valueHeader = 32
	// tempMarker marks the CLI's temporary files (internal/cli).
	tempMarker = "._COPYING_"
)

// valueBytes returns the value with the given id and size.
func valueBytes(id uint64, size int64) []byte {
	if size < valueHeader {
		panic(fmt.Sprintf("value size %d below %d", size, valueHeader))
	}
	b := make([]byte, size)
	copy(b, valueMagic)
	byteorder.BigEndian.PutUint64(b[8:], id)
	byteorder.BigEndian.PutUint64(b[16:], uint64(size))
	h := fnv.New64a()
	h.Write(b[:24])
	byteorder.BigEndian.PutUint64(b[24:], h.Sum64())
	fillStream(b[valueHeader:], id)
	return b
}

func fillStream(b []byte, seed uint64) {
	x := seed
	var w [8]byte
	for i := 0; i < len(b); i += 8 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		byteorder.LittleEndian.PutUint64(w[:], z)
		copy(b[i:], w[:])
	}
}

// identify tells which value data is, and whether it is that whole
// value.
func identify(data []byte) readResult {
	if len(data) < valueHeader {
		return readResult{Kind: readPartial, Size: int64(len(data)), Detail: fmt.Sprintf("%d bytes, shorter than a value's header", len(data))}
	}
	if string(data[:8]) != valueMagic {
		return readResult{Kind: readPartial, Size: int64(len(data)), Detail: fmt.Sprintf("%d bytes that do not start with a value header (%x)", len(data), data[:8])}
	}
	h := fnv.New64a()
	h.Write(data[:24])
	if byteorder.BigEndian.Uint64(data[24:]) != h.Sum64() {
		return readResult{Kind: readPartial, Size: int64(len(data)), Detail: fmt.Sprintf("%d bytes with a damaged value header", len(data))}
	}
	id := byteorder.BigEndian.Uint64(data[8:])
	size := int64(byteorder.BigEndian.Uint64(data[16:]))
	if int64(len(data)) != size {
		return readResult{Kind: readPartial, Value: id, Size: int64(len(data)),
			Detail: fmt.Sprintf("%d of the %d bytes of value %x", len(data), size, id)}
	}
	want := valueBytes(id, size)
	if i := firstDiff(data, want); i >= 0 {
		return readResult{Kind: readPartial, Value: id, Size: size,
			Detail: fmt.Sprintf("value %x of %d bytes, wrong from byte %d on (block %d)", id, size, i, i/(1<<20))}
	}
	return readResult{Kind: readValue, Value: id, Size: size}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

package namenode

import (
	"context"
	"strconv"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// callCtx is the context of a gRPC call named (client, call), as the
// client's invoker sends it.
func callCtx(client string, call uint64) context.Context {
	return metadata.NewIncomingContext(bg, metadata.Pairs(
		protocol.MetadataClientID, client, protocol.MetadataCallID, strconv.FormatUint(call, 10)))
}

// A retry of a call that changed the namespace gets the first answer;
// another call doing the same gets the answer its own application
// gives.
func TestRetryCacheAnswersRetries(t *testing.T) {
	s := newServer(t)
	first := callCtx("c1", 1)
	if _, err := s.Mkdirs(first, "/d", 0o755, false, "", ""); err != nil {
		t.Fatalf("Mkdirs = %v", err)
	}
	if _, err := s.Mkdirs(first, "/d", 0o755, false, "", ""); err != nil {
		t.Errorf("retried Mkdirs = %v, want the first answer (success)", err)
	}
	_, err := s.Mkdirs(callCtx("c1", 2), "/d", 0o755, false, "", "")
	wantKind(t, "a new Mkdirs of an existing directory", err, cairn.Exist)
	_, err = s.Mkdirs(callCtx("c2", 1), "/d", 0o755, false, "", "")
	wantKind(t, "another client's Mkdirs with the same call number", err, cairn.Exist)

	del := callCtx("c1", 3)
	if err := s.Delete(del, "/d", false); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if err := s.Delete(del, "/d", false); err != nil {
		t.Errorf("retried Delete = %v, want the first answer (success)", err)
	}
	wantKind(t, "a new Delete of a missing file", s.Delete(callCtx("c1", 4), "/d", false), cairn.NotExist)

	cr := callCtx("c1", 5)
	st, err := s.Create(cr, "/f", CreateOptions{Touch: true})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	st2, err := s.Create(cr, "/f", CreateOptions{Touch: true})
	if err != nil || st2.ID != st.ID {
		t.Errorf("retried Create = %+v, %v; want the first answer (file %d)", st2, err, st.ID)
	}
	ren := callCtx("c1", 6)
	if _, err := s.Rename(ren, "/f", "/g", RenameOptions{}); err != nil {
		t.Fatalf("Rename = %v", err)
	}
	if got, err := s.Rename(ren, "/f", "/g", RenameOptions{}); err != nil || got != "/g" {
		t.Errorf("retried Rename = %q, %v; want /g", got, err)
	}
	// A call without a name is applied each time.
	if _, err := s.Mkdirs(bg, "/e", 0o755, false, "", ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.Mkdirs(bg, "/e", 0o755, false, "", "")
	wantKind(t, "an unnamed second Mkdirs", err, cairn.Exist)
}

// The cache is made by applying the log: a new leader answers the retry
// of a call its predecessor committed.
func TestRetryCacheSurvivesFailover(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	ctx := callCtx("writer", 7)
	if _, err := g.srv[l].Mkdirs(ctx, "/x", 0o755, false, "", ""); err != nil {
		t.Fatalf("Mkdirs = %v", err)
	}
	g.kill(l)
	l2 := g.leader()
	if _, err := g.srv[l2].Mkdirs(ctx, "/x", 0o755, false, "", ""); err != nil {
		t.Errorf("Mkdirs retried on the new leader = %v, want the first answer", err)
	}
	_, err := g.srv[l2].Mkdirs(callCtx("writer", 8), "/x", 0o755, false, "", "")
	wantKind(t, "a new Mkdirs on the new leader", err, cairn.Exist)
}

func TestRetryCacheExpires(t *testing.T) {
	var rc retryCache
	c := &command{op: opMkdirs, rpcClient: "c", rpcCall: 1, mtime: 1}
	rc.add(c, "first")
	if v, ok := rc.lookup(c); !ok || v != "first" {
		t.Fatalf("lookup = %v, %v", v, ok)
	}
	rc.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 2, mtime: 1 + retryCacheExpiry + 1}, "second")
	if _, ok := rc.lookup(c); ok {
		t.Error("an entry older than the expiry is still answered")
	}
	if _, ok := rc.lookup(&command{op: opSetTimes, rpcClient: "c", rpcCall: 2}); ok {
		t.Error("an operation that is not cached was answered")
	}
}

// A pipeline recovery's two calls, retried, get their first answers:
// the same new generation stamp, and no "not allocated" error for an
// update already made.
func TestRetryCacheAnswersPipelineRecoveryRetries(t *testing.T) {
	s := newServer(t)
	nodes := registerNodes(t, s, 3)
	st, err := s.Create(bg, "/f", CreateOptions{ClientName: "w"})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.AddBlock(bg, "/f", st.ID, "w", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	newGS := callCtx("w-client", 1)
	gs, err := s.UpdateBlockForPipeline(newGS, "/f", st.ID, "w", lb.Block)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.UpdateBlockForPipeline(newGS, "/f", st.ID, "w", lb.Block); err != nil || again != gs {
		t.Errorf("retried UpdateBlockForPipeline = %d, %v; want the first stamp %d", again, err, gs)
	}
	b := lb.Block
	b.GenStamp = gs
	ids := []cairn.NodeID{nodes[0].id, nodes[1].id}
	upd := callCtx("w-client", 2)
	if err := s.UpdatePipeline(upd, "/f", st.ID, "w", b, ids); err != nil {
		t.Fatalf("UpdatePipeline = %v", err)
	}
	if err := s.UpdatePipeline(upd, "/f", st.ID, "w", b, ids); err != nil {
		t.Errorf("retried UpdatePipeline = %v, want its first answer (success)", err)
	}
}

// A command without a time (a pipeline recovery's) is kept as long as
// those around it, not taken for an ancient one.
func TestRetryCacheKeepsUntimedCalls(t *testing.T) {
	var rc retryCache
	rc.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 1, mtime: 1e18}, "a")
	untimed := &command{op: opUpdatePipeline, rpcClient: "c", rpcCall: 2}
	rc.add(untimed, "b")
	rc.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 3, mtime: 1e18 + 1}, "c")
	rc.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 4, mtime: 1e18 + retryCacheExpiry + 2}, "d")
	if _, ok := rc.lookup(untimed); ok {
		t.Error("an untimed entry outlived the expiry of its time")
	}
	// An old entry expires: the untimed one behind it, made just now,
	// stays.
	var rc2 retryCache
	rc2.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 1, mtime: 1e18}, "a")
	rc2.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 3, mtime: 1e18 + retryCacheExpiry}, "c")
	rc2.add(untimed, "b")
	rc2.add(&command{op: opMkdirs, rpcClient: "c", rpcCall: 5, mtime: 1e18 + retryCacheExpiry + 2}, "e")
	if _, ok := rc2.lookup(&command{op: opMkdirs, rpcClient: "c", rpcCall: 1}); ok {
		t.Error("the old entry did not expire: the test proves nothing")
	}
	if v, ok := rc2.lookup(untimed); !ok || v != "b" {
		t.Errorf("an untimed entry made just now was dropped: %v, %v", v, ok)
	}
}

// A retry that arrives while its first attempt is still being proposed
// waits for it and answers with its result, proposing nothing: proposed
// again, a delete would remove the file created at the path meanwhile.
func TestRetryWaitsForItsFirstAttempt(t *testing.T) {
	s := newServer(t)
	build(t, s, "f:/f")
	first := &command{op: opDelete, path: "/f", mtime: s.now().UnixNano(), rpcClient: "c1", rpcCall: 9}
	// The first attempt is in flight: registered, not yet committed.
	if _, ok := s.calls.begin(callKey(first)); !ok {
		t.Fatal("begin: the call is already in flight")
	}
	retried := make(chan error, 1)
	go func() { retried <- s.Delete(callCtx("c1", 9), "/f", false) }()

	// It commits; then another client creates /f again.
	if err := s.rn.raft.Apply(first.encode(nil), 0).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(callCtx("c2", 1), "/f", CreateOptions{Touch: true}); err != nil {
		t.Fatal(err)
	}
	applied := s.rn.raft.AppliedIndex()
	select {
	case err := <-retried:
		t.Fatalf("the retry returned (%v) before its first attempt ended", err)
	default:
	}
	s.calls.end(callKey(first))
	if err := <-retried; err != nil {
		t.Errorf("retry = %v, want the first answer (success)", err)
	}
	if got := s.rn.raft.AppliedIndex(); got != applied {
		t.Errorf("the retry proposed something: applied index %d, was %d", got, applied)
	}
	if ok, _ := exists(t, s, "/f"); !ok {
		t.Error("the retried delete removed the file created after it")
	}
}

package namenode

import (
	"context"
	"crypto/sha256"
	"strconv"
	"sync"

	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn/internal/protocol"
)

// The retry cache. A client that loses the answer to a call that
// changes the namespace (a connection cut, a leader that dies after
// committing) sends it again, perhaps to another member. Applied twice,
// a create would fail with "already exists", a delete with "not found",
// a rename with either, though the client's own first attempt
// succeeded. So, as HDFS's RetryCache, every such call names itself
// (protocol.MetadataClientID and MetadataCallID, the same on every
// attempt), mutate writes the name into the logged command, applying
// the command records its result under that name, and the leader
// answers a call whose name it has recorded with that first result
// instead of proposing it again (mutate).
//
// The cache is made by applying the log, so every member that applied
// the same entries has the same cache, and a new leader answers the
// retries of calls its predecessor committed. It is not in snapshots
// (as HDFS keeps it out of its fsimage): a member restarted from a
// snapshot knows the calls of the entries after it. Entries expire
// after retryCacheExpiry of log time (the leader's clock, in the
// commands) and beyond retryCacheMax entries, oldest first, both
// decided by the log alone. An entry costs about 300 bytes of heap (its
// key and the result kept), so the cache holds at most about 40 MB:
// ten minutes of calls at 200 a second, six seconds at 20,000 (HDFS
// sizes its cache at 3% of the heap, with the same expiry); a client
// retries within seconds of a failover.

const (
	retryCacheExpiry = 10 * 60 * 1e9 // nanoseconds: 10 minutes, as HDFS's default
	retryCacheMax    = 1 << 17
	// maxRPCClientID bounds the client id a call may name.
	maxRPCClientID = 64
)

// rpcCallKey names a call: its client id by a hash of it (fixed size,
// no pointer for the collector to follow; 128 bits make a clash between
// clients as good as impossible), its call number and the operation.
type rpcCallKey struct {
	client [16]byte
	call   uint64
	op     opcode
}

func callKey(c *command) rpcCallKey {
	sum := sha256.Sum256([]byte(c.rpcClient))
	op := c.op
	if op == opCreateWithBlock {
		// One Create call, whether it got its block or not: a retry
		// that finds no DataNode (or one that does, where the first
		// did not) still finds the first attempt's answer.
		op = opCreate
	}
	k := rpcCallKey{call: c.rpcCall, op: op}
	copy(k.client[:], sum[:16])
	return k
}

type retryEntry struct {
	key   rpcCallKey
	mtime int64
}

// retryCache maps the calls applied to their results. Guarded by
// namespace.mu.
type retryCache struct {
	results map[rpcCallKey]any
	order   []retryEntry // in the order applied; order[head:] are live
	head    int
	newest  int64 // the newest command time seen
}

// cachedOp reports whether the results of op are kept: the operations a
// retry could not simply repeat. (A pipeline recovery's new generation
// stamp and its update: repeated, the first would hand out another
// stamp, the second fail on a stamp already in place. A concat: its
// sources are gone.)
func cachedOp(op opcode) bool {
	switch op {
	case opCreate, opCreateWithBlock, opAddBlock, opComplete, opRename, opDelete, opMkdirs, opNewGenStamp, opUpdatePipeline,
		opSetXAttr, opRemoveXAttr, opConcat:
		return true
	}
	return false
}

// lookup returns the result of the call c names, if it was applied.
func (rc *retryCache) lookup(c *command) (any, bool) {
	if c.rpcCall == 0 || !cachedOp(c.op) {
		return nil, false
	}
	v, ok := rc.results[callKey(c)]
	return v, ok
}

// add records the result of applying c, and expires old entries.
func (rc *retryCache) add(c *command, result any) {
	if c.rpcCall == 0 || !cachedOp(c.op) {
		return
	}
	if rc.results == nil {
		rc.results = make(map[rpcCallKey]any)
	}
	k := callKey(c)
	if _, ok := rc.results[k]; ok {
		return // a duplicate applied again: the first answer stands
	}
	rc.results[k] = result
	// A command without a time of its own (a pipeline recovery's) is
	// as old as the newest seen: still decided by the log alone.
	t := c.mtime
	if t == 0 {
		t = rc.newest
	}
	rc.order = append(rc.order, retryEntry{key: k, mtime: t})
	rc.newest = max(rc.newest, t)
	for rc.head < len(rc.order) {
		e := rc.order[rc.head]
		if len(rc.order)-rc.head <= retryCacheMax && rc.newest-e.mtime <= retryCacheExpiry {
			break
		}
		delete(rc.results, e.key)
		rc.order[rc.head] = retryEntry{}
		rc.head++
	}
	if rc.head > 1024 && rc.head > len(rc.order)/2 {
		rc.order = append(rc.order[:0], rc.order[rc.head:]...)
		rc.head = 0
	}
}

// applyOnce applies c and records its result for its call. Applying
// never depends on the cache: a member restored from a snapshot lacks
// the entries of the calls before it, and a decision to skip a command
// taken on some members and not on others would make their namespaces
// differ. The leader answers a retry from the cache before it proposes
// anything (mutate, Server.answered); a duplicate that reaches the log anyway
// (a retry sent before its first attempt committed, or to a leader
// restored from a snapshot that covers the first) is applied like any
// command, on every member alike. The caller holds ns.mu.
func (ns *namespace) applyOnce(c *command) any {
	v := ns.apply(c)
	if first, ok := ns.retries.lookup(c); ok {
		// A duplicate of a call applied before: a retry that reached
		// the log while its first attempt was still in flight. If
		// applying it again failed (a delete, rename or concat whose
		// sources are gone) while the first succeeded, the caller gets
		// the first answer, which is the truth about its call. The
		// state is what applying it made, on every member alike; only
		// the answer, which only the leader sends, differs. A duplicate
		// that succeeded again (a create with overwrite) answers for
		// the state it made.
		if _, failed := v.(error); failed {
			if _, firstFailed := first.(error); !firstFailed {
				return first
			}
		}
		return v
	}
	ns.retries.add(c, v)
	return v
}

// rpcCallFrom reads the call's name from the incoming gRPC metadata:
// ok is false when the call names none, or names it badly (then it is
// applied without the cache's protection).
func rpcCallFrom(ctx context.Context) (client string, call uint64, ok bool) {
	md, found := metadata.FromIncomingContext(ctx)
	if !found {
		return "", 0, false
	}
	ids, calls := md.Get(protocol.MetadataClientID), md.Get(protocol.MetadataCallID)
	if len(ids) != 1 || len(calls) != 1 || ids[0] == "" || len(ids[0]) > maxRPCClientID {
		return "", 0, false
	}
	n, err := strconv.ParseUint(calls[0], 10, 64)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return ids[0], n, true
}

// inflightCalls are the named calls this member is proposing. A retry
// that arrives while its first attempt is still being committed (the
// client lost its connection, not the call) waits for that attempt
// instead of proposing the call again, as HDFS's RetryCache waits on an
// entry in progress. Only this member's proposals are tracked: a retry
// sent to a new leader while the old one's entry is still uncommitted
// can still reach the log twice (applyOnce then answers the first
// result if the duplicate fails).
type inflightCalls struct {
	mu    sync.Mutex
	calls map[rpcCallKey]chan struct{}
}

// begin registers the call k as proposed here. If it is already, begin
// returns a channel closed when that proposal ends, and false.
func (f *inflightCalls) begin(k rpcCallKey) (<-chan struct{}, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.calls[k]; ok {
		return ch, false
	}
	if f.calls == nil {
		f.calls = make(map[rpcCallKey]chan struct{})
	}
	f.calls[k] = make(chan struct{})
	return nil, true
}

// end unregisters the call k and wakes its retries.
func (f *inflightCalls) end(k rpcCallKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.calls[k]; ok {
		close(ch)
		delete(f.calls, k)
	}
}

package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The Client → NameNode seam: every call of the Client to the NameNode
// goes through one invoker, and nothing else in the package sees a
// connection to a NameNode or knows that there may be several. It is
// where the caller's identity and the call's retry-cache identity are
// attached (outgoing), and where a call follows the leader of a
// NameNode group: a call names an RPC, never an address.
//
// The invoker holds one gRPC connection per NameNode address it knows
// (the list given to Dial, then any leader a member names that is not
// in it) and the member it believes leads. A call goes there; an answer
// of kind cairn.NotLeader that names a leader sends it at once to that
// leader, and one without a hint, or a failure to reach the member
// (gRPC Unavailable), to the next member, waiting between rounds of
// members (failoverBase growing to failoverMax). The call gives up
// when its context ends, or failoverTimeout after its first failure
// when the context has no deadline, with an error naming the members
// tried and the last failure (unreachableError).
//
// A call is one logical call, however many attempts it takes: every
// attempt carries the same client id and call id (outgoing), so that
// the NameNode group's retry cache answers a retry of a call it already
// carried out (a create, a rename) with that call's first result. That
// is what lets the invoker retry any call, not only reads.
//
// With a single address nothing is tried again, as before NameNode
// groups: there is nowhere else to go, the connection keeps gRPC's own
// retries of the calls safe to repeat (serviceConfig), and Dial keeps
// trying until its deadline. A NotLeader answer that names a leader is
// still followed.

// Failover between the members of a NameNode group.
const (
	// failoverBase and failoverMax are the first and the longest wait
	// after a round in which every member failed; each wait is
	// failoverFactor times the one before, give or take
	// failoverJitter. Dial waits the same way between its attempts.
	failoverBase   = 50 * time.Millisecond
	failoverMax    = 2 * time.Second
	failoverFactor = 1.6
	failoverJitter = 0.2
	// defaultFailoverTimeout bounds the failover of a call whose
	// context has no deadline, from its first failure.
	defaultFailoverTimeout = 60 * time.Second
	// attemptTimeout bounds one attempt of a ClientProtocol call on one
	// member of a group: a member that neither answers nor fails (its
	// host vanished, its process stopped) is given up and the next one
	// tried. Every such call takes milliseconds on a live NameNode;
	// admin calls (a large fsck) are not bounded. The keepalive of the
	// connection (client.go) usually notices sooner.
	attemptTimeout = 15 * time.Second
	// dialAttemptTimeout bounds Dial's first call on one member of a
	// group, connection and handshake included, so that a Dial whose
	// list names a vanished member first still finds a live one within
	// its own timeout (10s by default).
	dialAttemptTimeout = 3 * time.Second
)

// member is one NameNode of the group, as the invoker reaches it.
type member struct {
	addr string           // its client RPC address, host:port
	conn *grpc.ClientConn // owned by the invoker: closed by close
	stub protocol.ClientProtocolClient
	// admin is the AdminProtocol stub, on the same connection.
	admin protocol.AdminProtocolClient
}

// invoker sends calls to the NameNode group.
type invoker struct {
	// list is the addresses given to Dial, comma-separated, for errors
	// about no member in particular.
	list string
	// dial opens the connection to a member: lazily, as grpc.NewClient
	// does, with the options of Dial.
	dial func(addr string) (*grpc.ClientConn, error)
	// user and groups are the identity sent with a call whose context
	// carries none (AsUser): the Client's own.
	user   string
	groups []string
	// token is the bearer token sent with every call (WithToken);
	// empty: none. A secret: never logged.
	token string
	// clientID is the client id of the retry cache: random, fixed for
	// the invoker's life.
	clientID string
	// calls numbers the logical calls; the last one taken.
	calls atomic.Uint64
	// failoverTimeout bounds the failover of a call whose context has
	// no deadline.
	failoverTimeout time.Duration

	mu      sync.Mutex // guards the fields below
	members []*member  // the list given, then leaders named by members
	leader  *member    // the member believed to lead: one of members
	closed  bool
}

// newInvoker connects (lazily) to every address of addrs, in order,
// and believes the first leads.
func newInvoker(addrs []string, dial func(string) (*grpc.ClientConn, error), user string, groups []string, failoverTimeout time.Duration) (*invoker, error) {
	var id [16]byte
	rand.Read(id[:])
	inv := &invoker{
		list:            strings.Join(addrs, ","),
		dial:            dial,
		user:            user,
		groups:          groups,
		clientID:        hex.EncodeToString(id[:]),
		failoverTimeout: failoverTimeout,
	}
	if inv.failoverTimeout <= 0 {
		inv.failoverTimeout = defaultFailoverTimeout
	}
	for _, a := range addrs {
		m, err := inv.connect(a)
		if err != nil {
			inv.close()
			return nil, err
		}
		inv.members = append(inv.members, m)
	}
	inv.leader = inv.members[0]
	return inv, nil
}

// connect opens the connection to the member at addr.
func (inv *invoker) connect(addr string) (*member, error) {
	conn, err := inv.dial(addr)
	if err != nil {
		return nil, cairn.E("dial", addr, cairn.Invalid, err)
	}
	return &member{
		addr:  addr,
		conn:  conn,
		stub:  protocol.NewClientProtocolClient(conn),
		admin: protocol.NewAdminProtocolClient(conn),
	}, nil
}

// rpcMethod is a method of the ClientProtocol stub, as a method
// expression: protocol.ClientProtocolClient.GetFileInfo.
type rpcMethod[Req, Resp any] func(protocol.ClientProtocolClient, context.Context, Req, ...grpc.CallOption) (Resp, error)

// call sends req to the NameNode with method m and returns its answer,
// or an error converted by protocol.FromStatus under op and path. It
// is the one way the Client calls the NameNode:
//
//	resp, err := call(ctx, c.nn, "stat", name, &protocol.GetFileInfoRequest{Path: name},
//		protocol.ClientProtocolClient.GetFileInfo)
func call[Req, Resp any](ctx context.Context, inv *invoker, op, path string, req Req, m rpcMethod[Req, Resp]) (Resp, error) {
	resp, err := invokeRaw(ctx, inv, req, m)
	if err != nil {
		var zero Resp
		return zero, protocol.FromStatus(op, path, err)
	}
	return resp, nil
}

// adminMethod is a method of the AdminProtocol stub, as a method
// expression: protocol.AdminProtocolClient.Fsck.
type adminMethod[Req, Resp any] func(protocol.AdminProtocolClient, context.Context, Req, ...grpc.CallOption) (Resp, error)

// callAdmin is call for the AdminProtocol service.
func callAdmin[Req, Resp any](ctx context.Context, inv *invoker, op, path string, req Req, m adminMethod[Req, Resp]) (Resp, error) {
	resp, err := invoke(ctx, inv, false, 0, func(ctx context.Context, mb *member) (Resp, error) {
		return m(mb.admin, ctx, req)
	})
	if err != nil {
		var zero Resp
		return zero, protocol.FromStatus(op, path, err)
	}
	return resp, nil
}

// invokeRaw is call without the conversion of errors: the gRPC error
// as it came (or an unreachableError, which has a gRPC status too),
// for the few callers that look at its code.
func invokeRaw[Req, Resp any](ctx context.Context, inv *invoker, req Req, m rpcMethod[Req, Resp]) (Resp, error) {
	if readOnly(req) {
		ctx = context.WithValue(ctx, readOnlyKey{}, true)
	}
	return invoke(ctx, inv, false, attemptTimeout, func(ctx context.Context, mb *member) (Resp, error) {
		return m(mb.stub, ctx, req)
	})
}

// invoke makes one logical call: send, attempt after attempt, to the
// member believed to lead, following the group's leader as the
// comment at the top of this file says. persist keeps trying a single
// member too, for Dial. With several members, an attempt that takes
// longer than bound (if not 0) fails over as an unreachable member's
// would. The error is the last attempt's gRPC error
// when a member answered (or the context ended before any failure),
// else an unreachableError.
func invoke[Resp any](ctx context.Context, inv *invoker, persist bool, bound time.Duration, send func(context.Context, *member) (Resp, error)) (Resp, error) {
	var zero Resp
	ctx = inv.outgoing(ctx)
	actx := ctx // ctx, bounded by failoverTimeout once failing over
	m := inv.current()
	var (
		tried  []string      // the members that failed, in order
		last   error         // the last failure
		failed int           // attempts that failed
		wait   time.Duration // the next wait after a round
	)
	for {
		resp, err := sendAttempt(actx, inv, m, bound, send)
		if err == nil {
			inv.answered(m)
			return resp, nil
		}
		hint, again := refusal(err)
		if hint == m.addr {
			hint = "" // a member never names itself; if one did, no hint
		}
		if !again {
			if last != nil && actx.Err() == context.DeadlineExceeded {
				return zero, &unreachableError{tried: tried, last: last}
			}
			return zero, err
		}
		if !slices.Contains(tried, m.addr) {
			tried = append(tried, m.addr)
		}
		last = err
		failed++
		if inv.size() == 1 && hint == "" && !persist {
			return zero, err // nowhere else to go: as with one NameNode
		}
		if failed == 1 {
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				actx, cancel = context.WithTimeout(ctx, inv.failoverTimeout)
				defer cancel()
			}
		}
		var next *member
		if hint != "" {
			next = inv.follow(hint)
		}
		if next == nil {
			next = inv.after(m)
		}
		if failed%inv.size() == 0 {
			// A round of members failed: wait before the next.
			if wait == 0 {
				wait = failoverBase
			}
			if !sleep(actx, jitter(wait)) {
				if ctx.Err() == context.Canceled {
					return zero, status.FromContextError(ctx.Err()).Err()
				}
				return zero, &unreachableError{tried: tried, last: last}
			}
			wait = min(time.Duration(float64(wait)*failoverFactor), failoverMax)
		}
		if actx.Err() != nil {
			if ctx.Err() == context.Canceled {
				return zero, status.FromContextError(ctx.Err()).Err()
			}
			return zero, &unreachableError{tried: tried, last: last}
		}
		m = next
	}
}

// sendAttempt sends one attempt of a call to m. In a group, an attempt
// bounded (bound > 0) that gets no answer within bound fails as one
// to an unreachable member does (gRPC Unavailable), so that the call
// goes on to the next member while its own context lasts.
func sendAttempt[Resp any](ctx context.Context, inv *invoker, m *member, bound time.Duration, send func(context.Context, *member) (Resp, error)) (Resp, error) {
	if bound <= 0 || inv.size() == 1 {
		return send(ctx, m)
	}
	actx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	resp, err := send(actx, m)
	if err != nil && ctx.Err() == nil && actx.Err() == context.DeadlineExceeded {
		err = status.Errorf(codes.Unavailable, "namenode %s did not answer within %v", m.addr, bound)
	}
	return resp, err
}

// refusal reports whether err, the failure of one attempt, sends the
// call to another member (again), and which member if the failing one
// named the leader (hint). A member not reached (gRPC Unavailable) and
// one that does not lead (cairn.NotLeader) send it on; so does a member
// shutting down or overloaded (cairn.Unavailable). Every other answer
// is the call's.
func refusal(err error) (hint string, again bool) {
	st, ok := status.FromError(err)
	if !ok {
		return "", false
	}
	for _, d := range st.Details() {
		if s, ok := d.(*protocol.Status); ok {
			switch cairn.Kind(s.Kind) {
			case cairn.NotLeader:
				return s.LeaderHint, true
			case cairn.Unavailable:
				return "", true
			}
			return "", false
		}
	}
	return "", st.Code() == codes.Unavailable
}

// current returns the member believed to lead.
func (inv *invoker) current() *member {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.leader
}

// size returns the number of members known.
func (inv *invoker) size() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return len(inv.members)
}

// answered records that m answered a call: it leads.
func (inv *invoker) answered(m *member) {
	inv.mu.Lock()
	inv.leader = m
	inv.mu.Unlock()
}

// follow returns the member at addr, named as the leader by another,
// and believes it leads. An address not in the list (the group's
// membership changed) becomes a member. It returns nil when the
// invoker is closed or addr cannot be dialed.
func (inv *invoker) follow(addr string) *member {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.closed {
		return nil
	}
	i := slices.IndexFunc(inv.members, func(m *member) bool { return m.addr == addr })
	if i < 0 {
		m, err := inv.connect(addr)
		if err != nil {
			return nil
		}
		inv.members = append(inv.members, m)
		i = len(inv.members) - 1
	}
	inv.leader = inv.members[i]
	return inv.leader
}

// after returns the member to try after m failed: the next in the
// list, which is then believed to lead; or, if another call moved that
// belief on from m meanwhile, the member it believes in now.
func (inv *invoker) after(m *member) *member {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.leader != m {
		return inv.leader
	}
	i := slices.Index(inv.members, m)
	inv.leader = inv.members[(i+1)%len(inv.members)]
	return inv.leader
}

// unreachableError is the error of a call that gave up: every member
// it tried failed, the last with last (a gRPC error).
type unreachableError struct {
	tried []string
	last  error
}

func (e *unreachableError) Error() string { return e.GRPCStatus().Message() }

// GRPCStatus makes e read as a gRPC status, so protocol.FromStatus
// converts it: of kind cairn.NotLeader if the last failure was a
// refusal of that kind (with its hint), else cairn.Unavailable.
func (e *unreachableError) GRPCStatus() *status.Status {
	last := protocol.FromStatus("", "", e.last) // its message alone
	tried := strings.Join(e.tried, ", ")
	if cairn.KindOf(last) == cairn.NotLeader {
		err := cairn.Errorf("", "", cairn.NotLeader, "no namenode leads (tried %s): %v", tried, last)
		st, _ := status.FromError(protocol.ToStatus(protocol.WithLeaderHint(err, protocol.LeaderHint(last))))
		return st
	}
	return status.Newf(codes.Unavailable, "namenode not reachable (tried %s): %v", tried, last)
}

// jitter returns d give or take failoverJitter.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + failoverJitter*(2*mrand.Float64()-1)))
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// outgoing adds to ctx's gRPC metadata what every call carries: the
// caller's identity (the one AsUser put in ctx, or the Client's own)
// and the pair that names the call for the NameNode's retry cache, the
// Client's id and a new call id. It is called once per logical call:
// every attempt of the call is sent with the context it returns.
func (inv *invoker) outgoing(ctx context.Context) context.Context {
	user, groups, tok := inv.user, inv.groups, inv.token
	if t, ok := ctx.Value(callTokenKey{}).(string); ok {
		// The caller's own token says who: no user of the Client's.
		user, groups, tok = "", nil, t
	}
	if id, ok := ctx.Value(identityKey{}).(identity); ok {
		user, groups = id.user, id.groups
	}
	kv := make([]string, 0, 8)
	if ro, _ := ctx.Value(readOnlyKey{}).(bool); !ro {
		kv = append(kv,
			protocol.MetadataClientID, inv.clientID,
			protocol.MetadataCallID, strconv.FormatUint(inv.calls.Add(1), 10))
	}
	if user != "" {
		kv = append(kv, protocol.MetadataUser, user)
	}
	if tok != "" {
		kv = append(kv, protocol.MetadataAuthorization, "Bearer "+tok)
	}
	if user != "" && len(groups) > 0 {
		kv = append(kv, protocol.MetadataGroups, strings.Join(groups, ","))
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// serverDefaults asks the NameNode group for its defaults until a
// member answers or ctx ends. Unlike other calls it keeps trying a
// single NameNode, waiting as a failover does between rounds: that is
// Dial's wait for a NameNode still starting. When ctx ends after a
// failure, the error is an unreachableError naming that failure: it
// says more than the deadline does (connection refused, a handshake
// cut off).
func (inv *invoker) serverDefaults(ctx context.Context) (*protocol.GetServerDefaultsResponse, error) {
	return invoke(ctx, inv, true, dialAttemptTimeout, func(ctx context.Context, m *member) (*protocol.GetServerDefaultsResponse, error) {
		return m.stub.GetServerDefaults(ctx, &protocol.GetServerDefaultsRequest{})
	})
}

// close closes the connections to the NameNodes.
func (inv *invoker) close() error {
	inv.mu.Lock()
	inv.closed = true
	members := inv.members
	inv.mu.Unlock()
	var errs []error
	for _, m := range members {
		if err := m.conn.Close(); err != nil {
			errs = append(errs, cairn.E("close", m.addr, err))
		}
	}
	return errors.Join(errs...)
}

// splitAddrs splits list, NameNode addresses separated by commas:
// blanks around an address are trimmed and repeats dropped. An empty
// list or an empty entry is an error naming the list.
func splitAddrs(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("empty namenode address")
	}
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("empty entry in namenode address list %q", list)
		}
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

type readOnlyKey struct{}

// readOnly reports whether a request changes nothing at the NameNode:
// it needs no name for the retry cache (a retry of a read is a new
// read), so its call goes without one, two header fields fewer to
// encode and decode. Any request not listed is named, as before.
func readOnly(req any) bool {
	switch req.(type) {
	case *protocol.GetFileInfoRequest, *protocol.ListDirRequest, *protocol.GetBlockLocationsRequest,
		*protocol.GetContentSummaryRequest, *protocol.GetXAttrsRequest, *protocol.ListXAttrsRequest,
		*protocol.GetServerDefaultsRequest:
		return true
	}
	return false
}

package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Defaults of a Client.
const (
	// defaultDialTimeout bounds Dial when its context has no deadline
	// and no WithDialTimeout is given.
	defaultDialTimeout = 10 * time.Second
	// connectTimeout bounds one attempt to connect to the NameNode: TCP
	// connect and the HTTP/2 handshake (gRPC's default). It must not be
	// short: a NameNode or a client busy with a burst of connections
	// takes well over a second to answer some of them, and an attempt
	// cut short is a failure, not a wait.
	connectTimeout = 20 * time.Second
	// keepaliveTime and keepaliveTimeout: a connection to a NameNode
	// silent for keepaliveTime while a call waits is pinged, and given
	// up keepaliveTimeout later (the NameNode permits pings this often:
	// transport.Config's server options).
	keepaliveTime    = 5 * time.Second
	keepaliveTimeout = 3 * time.Second
	// defaultLeaseSoftLimit is used when the NameNode does not say.
	defaultLeaseSoftLimit = 60 * time.Second
	// minLeaseRenewal bounds how often the lease is renewed, whatever
	// the NameNode's soft limit.
	minLeaseRenewal = 100 * time.Millisecond
	// maxRecvMsgSize bounds one NameNode answer (a large fsck report
	// or a listing of a directory with long names).
	maxRecvMsgSize = 64 << 20
)

// serviceConfig retries the NameNode calls that are safe to repeat
// (reads, and settings of a value) when the NameNode is unavailable,
// for about 3s: long enough to ride over a quick NameNode restart.
// Calls that change the namespace in ways a repeat could observe
// (create, rename, delete, add block, complete) are not retried: their
// errors go to the caller. GetServerDefaults is not retried here: Dial
// retries it itself, until its deadline, keeping the last error.
//
// It is the service config of the connection to a single NameNode
// only. The connections to the members of a group go without it: the
// invoker fails over between them (invoke.go), and gRPC retrying a
// member that is down, or one that answers NotLeader (gRPC
// Unavailable), would only delay the move to the next.
const serviceConfig = `{"methodConfig": [{
	"name": [
		{"service": "cairn.v1.ClientProtocol", "method": "GetBlockLocations"},
		{"service": "cairn.v1.ClientProtocol", "method": "GetFileInfo"},
		{"service": "cairn.v1.ClientProtocol", "method": "ListDir"},
		{"service": "cairn.v1.ClientProtocol", "method": "GetContentSummary"},
		{"service": "cairn.v1.ClientProtocol", "method": "RenewLease"},
		{"service": "cairn.v1.ClientProtocol", "method": "ReportBadBlocks"},
		{"service": "cairn.v1.ClientProtocol", "method": "Fsync"},
		{"service": "cairn.v1.ClientProtocol", "method": "SetReplication"},
		{"service": "cairn.v1.ClientProtocol", "method": "SetPermission"},
		{"service": "cairn.v1.ClientProtocol", "method": "SetOwner"},
		{"service": "cairn.v1.ClientProtocol", "method": "SetTimes"},
		{"service": "cairn.v1.AdminProtocol", "method": "GetDatanodeReport"},
		{"service": "cairn.v1.AdminProtocol", "method": "Fsck"},
		{"service": "cairn.v1.AdminProtocol", "method": "SafeMode"}
	],
	"retryPolicy": {
		"maxAttempts": 5,
		"initialBackoff": "0.2s",
		"maxBackoff": "2s",
		"backoffMultiplier": 2,
		"retryableStatusCodes": ["UNAVAILABLE"]
	}
}]}`

// Option configures a Client at Dial.
type Option func(*options)

type options struct {
	faults      faults      // test seams; zero in production
	clientName  string      // empty: generated
	owner       string      // empty: the OS user
	group       string      // empty: none asked, the parent directory's
	umask       fs.FileMode // with umaskSet; else defaultUmask
	umaskSet    bool
	dialTimeout time.Duration // 0: until ctx ends, or defaultDialTimeout if ctx has no deadline
	dataTimeout time.Duration // 0: datatransfer's default (60s)
	// failoverTimeout bounds a call's failover between NameNodes when
	// its context has no deadline; 0: defaultFailoverTimeout.
	failoverTimeout time.Duration
	tls             *tls.Config // nil: plaintext
	// token is the bearer token sent with every NameNode call
	// (WithToken); empty: none.
	token string
}

// WithClientName sets the name under which the Client holds leases on
// the files it writes. The default is
// "cairn-client-<host>-<pid>-<random>", unique per Client.
func WithClientName(name string) Option {
	return func(o *options) { o.clientName = name }
}

// WithUser sets the owner and group given to the files and directories
// the Client creates. The default is the OS user name and no group,
// which gives a new entry its parent directory's group, as HDFS does.
// An empty argument keeps its default. A NameNode that checks
// permissions makes the caller the owner whatever this says, and keeps
// the group only if the caller is a member of it.
func WithUser(owner, group string) Option {
	return func(o *options) { o.owner, o.group = owner, group }
}

// WithUmask sets the permission bits the Client clears from the mode of
// every file and directory it creates, as HDFS's
// fs.permissions.umask-mode. The default is 022: files 0644 and
// directories 0755 when no mode is given (0666 and 0777 before the
// umask).
func WithUmask(umask fs.FileMode) Option {
	return func(o *options) { o.umask, o.umaskSet = umask.Perm(), true }
}

// WithDialTimeout bounds how long Dial keeps trying to reach the
// NameNode, whatever ctx's deadline. Without it Dial tries until ctx
// ends, or for 10s if ctx has no deadline.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) { o.dialTimeout = d }
}

// WithDataTimeout bounds every wait on a DataNode: connecting, an
// answer, an acknowledgement of data written. A DataNode of a write
// pipeline silent for that long is dropped and the pipeline recovered
// without it. The default is 60s; tests use less.
func WithDataTimeout(d time.Duration) Option {
	return func(o *options) { o.dataTimeout = d }
}

// WithFailoverTimeout bounds how long a call whose context has no
// deadline keeps looking for the leader of a NameNode group, from its
// first failure: the leader went away and the next is not elected yet,
// or no member can be reached. The default is 60s. A context's deadline
// bounds its calls instead.
func WithFailoverTimeout(d time.Duration) Option {
	return func(o *options) { o.failoverTimeout = d }
}

// WithTLS secures every connection of the Client, to the NameNodes and
// to the DataNodes, with TLS configured by cfg: usually RootCAs only,
// the CA that signed the cluster's certificates. Each server is
// verified under the host of the address dialed (a name or an IP
// address, which its certificate must list) unless cfg sets
// ServerName. A cfg with a certificate presents it to the servers.
// nil: plaintext, the default.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.tls = cfg }
}

// faults are the test seams of a Client: each, if set, runs before the
// call it names and fails it by returning an error. They are set only
// by the package's tests (export_test.go); nil in production.
type faults struct {
	// abandonBlock runs before each AbandonBlock call.
	abandonBlock func(cairn.Block) error
	// noFirstBlock makes Create ask for no first block, as clients
	// before CreateRequest.allocate_block did.
	noFirstBlock bool
}

// Client is a connection to a cairn cluster. It is safe for concurrent
// use. Close it when done.
type Client struct {
	// nn is the one path of every call to the NameNode (invoke.go).
	nn    *invoker
	name  string // lease holder name
	owner string
	group string
	umask fs.FileMode // cleared from the modes of what the Client creates
	// blockSize is the NameNode's default block size, learnt at Dial;
	// it sizes the first location request of a Reader.
	blockSize int64
	// renewEvery is the lease renewal interval.
	renewEvery time.Duration
	// pool keeps the connections of finished block reads, to reuse:
	// a small file is then read without a new TCP connection.
	pool *datatransfer.ConnPool
	// dataTimeout bounds waits on DataNodes; 0: the default.
	dataTimeout time.Duration
	// transport makes the connections to the DataNodes (TLS or
	// plaintext), as to the NameNodes.
	transport transport.Config
	// faults are test seams, nil in production.
	faults faults

	stop     context.CancelFunc // stops the lease renewer
	renewers sync.WaitGroup

	mu      sync.Mutex // guards the fields below
	writers map[*Writer]struct{}
	closed  bool
}

// Dial connects to the NameNode at namenode (host:port), or to the
// NameNode group whose members' addresses namenode lists, separated by
// commas ("nn1:8020,nn2:8020,nn3:8020"; blanks around an address are
// ignored, repeats dropped), and checks that one answers.
//
// A NameNode that cannot be reached (not listening yet, restarting,
// or too busy to finish the handshake) is tried again, the next member
// of a group first, after waits that grow from 50ms to 2s with some
// jitter, until ctx ends, or for the dial timeout (WithDialTimeout;
// 10s when ctx has no deadline). If none answers by then the error is
// of kind cairn.Unavailable and names the addresses tried and the last
// failure.
//
// The Client then sends every call to the member it believes leads,
// and follows the group's leader from one call to the next: a member
// that does not lead names the leader, or the next member is tried, as
// the package documentation says ("NameNode groups").
func Dial(ctx context.Context, namenode string, opts ...Option) (*Client, error) {
	const op = "dial"
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	addrs, err := splitAddrs(namenode)
	if err != nil {
		return nil, cairn.E(op, cairn.Invalid, err)
	}
	if o.clientName == "" {
		o.clientName = defaultClientName()
	}
	// With a token and no user given, the Client names none: the
	// NameNode takes the token's.
	nameUser := o.owner != "" || o.token == ""
	if o.owner == "" {
		o.owner = osUser()
	}
	var groups []string
	if o.group != "" {
		groups = []string{o.group}
	}
	umask := defaultUmask
	if o.umaskSet {
		umask = o.umask
	}
	tc := transport.Config{TLS: o.tls} // nil TLS: plaintext
	dialOpts := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		// Reconnect to a NameNode that went away quickly at first and
		// never more than 2s apart, so a restarted one is found soon.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   2 * time.Second,
		}, MinConnectTimeout: connectTimeout}),
		// A NameNode whose host vanished (no reset, no answer) is
		// noticed while a call waits on it: pinged after
		// keepaliveTime of silence, given up keepaliveTimeout later.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
	}
	if len(addrs) == 1 {
		dialOpts = append(dialOpts, grpc.WithDefaultServiceConfig(serviceConfig))
	}
	nn, err := newInvoker(addrs, func(addr string) (*grpc.ClientConn, error) {
		return tc.NewGRPCClient(addr, dialOpts...)
	}, o.owner, groups, o.failoverTimeout)
	if err != nil {
		return nil, cairn.E(op, namenode, err)
	}
	nn.token = o.token
	if !nameUser {
		nn.user = ""
	}
	c := &Client{
		nn:      nn,
		name:    o.clientName,
		owner:   o.owner,
		group:   o.group,
		umask:   umask.Perm(),
		writers: make(map[*Writer]struct{}),
		pool:    datatransfer.NewConnPool(0, 0),

		dataTimeout: o.dataTimeout,
		transport:   tc,
		faults:      o.faults,
	}
	timeout := o.dialTimeout
	if _, ok := ctx.Deadline(); !ok && timeout <= 0 {
		timeout = defaultDialTimeout
	}
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := c.nn.serverDefaults(dctx)
	if err != nil {
		c.nn.close()
		var gaveUp *unreachableError
		if errors.As(err, &gaveUp) {
			// It names the addresses tried and the last failure.
			return nil, protocol.FromStatus(op, c.nn.list, err)
		}
		err = protocol.FromStatus(op, c.nn.list, err)
		if k := cairn.KindOf(err); k == cairn.Unavailable || k == cairn.Other {
			// The transport failed: say so with the address.
			return nil, cairn.E(op, c.nn.list, cairn.Unavailable,
				fmt.Errorf("namenode not reachable: %w", errors.Unwrap(err)))
		}
		return nil, err
	}
	c.blockSize = resp.GetBlockSize()
	if c.blockSize <= 0 {
		c.blockSize = cairn.DefaultBlockSize
	}
	soft := time.Duration(resp.GetLeaseSoftLimitMs()) * time.Millisecond
	if soft <= 0 {
		soft = defaultLeaseSoftLimit
	}
	c.renewEvery = max(soft/2, minLeaseRenewal)

	rctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	c.renewers.Add(1)
	go c.renewLeases(rctx)
	return c, nil
}

// Close closes every Writer still open (completing its file, as
// Writer.Close does), stops the lease renewer and closes the connections
// to the NameNodes. Readers of the Client fail after Close. Close is
// safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := make([]*Writer, 0, len(c.writers))
	for w := range c.writers {
		open = append(open, w)
	}
	c.mu.Unlock()

	var errs []error
	for _, w := range open {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.stop()
	c.renewers.Wait()
	c.pool.Close()
	if err := c.nn.close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isClosed reports whether Close was called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// addWriter registers an open Writer, so its lease is renewed.
func (c *Client) addWriter(w *Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return cairn.E("create", w.path, cairn.Closed, errors.New("client closed"))
	}
	c.writers[w] = struct{}{}
	return nil
}

func (c *Client) removeWriter(w *Writer) {
	c.mu.Lock()
	delete(c.writers, w)
	c.mu.Unlock()
}

// renewLeases renews the Client's lease every renewEvery while it has
// files open for writing. Failures are retried at the next tick: the
// soft limit is twice the interval.
func (c *Client) renewLeases(ctx context.Context) {
	defer c.renewers.Done()
	t := time.NewTicker(c.renewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		n := len(c.writers)
		c.mu.Unlock()
		if n == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, c.renewEvery)
		call(rctx, c.nn, "renewlease", c.name, &protocol.RenewLeaseRequest{ClientName: c.name},
			protocol.ClientProtocolClient.RenewLease)
		cancel()
	}
}

func defaultClientName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("cairn-client-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cairn"
}

// checkPath validates a path for op before anything is sent.
func checkPath(op, name string) error {
	if err := cairn.ValidatePath(name); err != nil {
		return cairn.E(op, name, cairn.Invalid, err)
	}
	return nil
}

package namenode

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Raft over the client RPC address. A member of a NameNode group
// carries its Raft traffic on the gRPC server that serves clients and
// DataNodes, so an operator opens one address per NameNode: each
// connection of raft's own network transport (its msgpack RPCs, its
// pipelining and connection pool, unchanged) is one bidirectional
// stream of the RaftTransport service, its bytes cut into RaftFrames.
// gRPC brings the TLS of Config.Transport, keepalives and flow control;
// raft brings the protocol.
//
// grpcStreamLayer is the raft.StreamLayer: Accept hands out the
// streams the gRPC server receives (Stream, registered by Serve), Dial
// opens a stream to a peer over one shared gRPC connection per peer.

// maxRaftFrame bounds the bytes of one RaftFrame, well under the gRPC
// message limits of both ends.
const maxRaftFrame = 1 << 20

var errLayerClosed = errors.New("raft stream layer closed")

type grpcStreamLayer struct {
	pb.UnimplementedRaftTransportServer
	addr   stringAddr // this member's RPC address, as peers dial it
	tc     transport.Config
	via    map[string]string // Config.PeerDialAddrs
	accept chan net.Conn
	done   chan struct{}
	once   sync.Once
	// ctx ends when the layer closes (or its streams are cut): every
	// stream it dialed ends with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex // guards peers
	peers map[string]*grpc.ClientConn
}

func newGRPCStreamLayer(addr string, tc transport.Config, via map[string]string) *grpcStreamLayer {
	ctx, cancel := context.WithCancel(context.Background())
	return &grpcStreamLayer{
		ctx:    ctx,
		cancel: cancel,
		addr:   stringAddr(addr),
		tc:     tc,
		via:    via,
		accept: make(chan net.Conn),
		done:   make(chan struct{}),
		peers:  make(map[string]*grpc.ClientConn),
	}
}

// stringAddr is a net.Addr that is a host:port string.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// Accept implements net.Listener: it returns the next stream a peer
// opened.
func (l *grpcStreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, errLayerClosed
	}
}

// Close implements net.Listener: Accept and Stream stop, and the
// connections to peers are closed (their streams with them).
func (l *grpcStreamLayer) Close() error {
	l.once.Do(func() {
		l.cancel()
		close(l.done)
		l.mu.Lock()
		for _, cc := range l.peers {
			cc.Close()
		}
		l.peers = nil
		l.mu.Unlock()
	})
	return nil
}

// Addr implements net.Listener: the address peers reach this member at.
func (l *grpcStreamLayer) Addr() net.Addr { return l.addr }

// Dial implements raft.StreamLayer: a new stream to the peer at addr,
// opened within timeout.
func (l *grpcStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	cc, err := l.peer(string(addr))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(l.ctx)
	t := time.AfterFunc(timeout, cancel)
	// A peer whose connection is being made is waited for (up to
	// timeout); one known to be down fails at once, so heartbeats to a
	// dead member do not hold raft up.
	st, err := pb.NewRaftTransportClient(cc).Stream(ctx)
	if !t.Stop() && err == nil {
		err = os.ErrDeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return newStreamConn(st, cancel, l.addr, stringAddr(addr), nil), nil
}

// cut ends every stream the layer dialed and every dial in progress,
// so that raft, shutting down, does not wait on a dead peer.
func (l *grpcStreamLayer) cut() { l.cancel() }

// peer returns the gRPC connection to the member at addr, made once.
func (l *grpcStreamLayer) peer(addr string) (*grpc.ClientConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers == nil {
		return nil, errLayerClosed
	}
	if cc, ok := l.peers[addr]; ok {
		return cc, nil
	}
	target := addr
	if v := l.via[addr]; v != "" {
		target = v
	}
	cc, err := l.tc.NewGRPCClient(target,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(4*maxRaftFrame), grpc.MaxCallSendMsgSize(4*maxRaftFrame)))
	if err != nil {
		return nil, err
	}
	l.peers[addr] = cc
	return cc, nil
}

// Stream serves the RaftTransport service: the stream becomes a
// connection for raft to Accept, and lives until raft closes it or the
// layer closes.
func (l *grpcStreamLayer) Stream(st pb.RaftTransport_StreamServer) error {
	remote := net.Addr(stringAddr(""))
	p, ok := peer.FromContext(st.Context())
	if ok {
		remote = p.Addr
	}
	if l.tc.TLS != nil && !verifiedPeer(p) {
		// The gRPC server lets clients without a certificate in (they
		// have their own services); Raft is for the members alone.
		return status.Error(codes.PermissionDenied, "raft traffic needs a member's certificate, signed by the cluster's CA")
	}
	closed := make(chan struct{})
	c := newStreamConn(st, nil, l.addr, remote, closed)
	select {
	case l.accept <- c:
	case <-l.done:
		return errLayerClosed
	case <-st.Context().Done():
		return st.Context().Err()
	}
	select {
	case <-closed:
	case <-l.done:
	case <-st.Context().Done():
	}
	return nil
}

// verifiedPeer reports whether p connected over TLS with a client
// certificate that the server verified (signed by its ClientCAs).
func verifiedPeer(p *peer.Peer) bool {
	if p == nil {
		return false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	return ok && len(info.State.VerifiedChains) > 0
}

// frameStream is what the client and server ends of a Stream have in
// common.
type frameStream interface {
	Send(*pb.RaftFrame) error
	Recv() (*pb.RaftFrame, error)
	Context() context.Context
}

// streamConn is a net.Conn over a RaftTransport stream. One goroutine
// may read while another writes, as raft's pipelining does. Deadlines
// are a net.Conn's: one that passes fails the reads and writes waiting
// then (their stream is ended: a gRPC stream cannot give up one Recv
// and stay usable, and raft drops a connection that failed anyway),
// and those that start before it is moved; a connection idle past its
// deadline (raft keeps a pool of them) is as good as new once raft sets
// the next one.
type streamConn struct {
	st            frameStream
	cancel        context.CancelFunc // client end: ends the stream; nil on the server end
	local, remote net.Addr

	rmu  sync.Mutex // guards rbuf; held by Read
	rbuf []byte

	wmu sync.Mutex // serializes Send

	mu       sync.Mutex // guards the fields below
	closed   chan struct{}
	isClosed bool
	timer    *time.Timer
	expired  bool      // a deadline ended the stream
	deadline time.Time // zero: none
	gen      uint64    // counts SetDeadline calls: a stale timer does nothing
	busy     int       // reads and writes in progress
}

func newStreamConn(st frameStream, cancel context.CancelFunc, local, remote net.Addr, closed chan struct{}) *streamConn {
	if closed == nil {
		closed = make(chan struct{})
	}
	return &streamConn{st: st, cancel: cancel, local: local, remote: remote, closed: closed}
}

// begin counts a read or write in, failing it at once if the deadline
// has passed; end counts it out.
func (c *streamConn) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return os.ErrDeadlineExceeded
	}
	if c.isClosed {
		return net.ErrClosed
	}
	if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		return os.ErrDeadlineExceeded
	}
	c.busy++
	return nil
}

func (c *streamConn) end() {
	c.mu.Lock()
	c.busy--
	c.mu.Unlock()
}

func (c *streamConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.rbuf) > 0 {
		n := copy(p, c.rbuf)
		c.rbuf = c.rbuf[n:]
		return n, nil
	}
	if err := c.begin(); err != nil {
		return 0, err
	}
	defer c.end()
	for len(c.rbuf) == 0 {
		f, err := c.st.Recv()
		if err != nil {
			return 0, c.ioErr(err)
		}
		c.rbuf = f.GetData()
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

func (c *streamConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.begin(); err != nil {
		return 0, err
	}
	defer c.end()
	n := 0
	for n < len(p) {
		k := min(len(p)-n, maxRaftFrame)
		// Send marshals the frame before it returns, so p may be
		// reused by the caller afterwards.
		if err := c.st.Send(&pb.RaftFrame{Data: p[n : n+k]}); err != nil {
			return n, c.ioErr(err)
		}
		n += k
	}
	return n, nil
}

// ioErr turns the end of a stream into what a net.Conn says: io.EOF
// for an orderly end, os.ErrDeadlineExceeded after a deadline.
func (c *streamConn) ioErr(err error) error {
	c.mu.Lock()
	expired, closed := c.expired, c.isClosed
	c.mu.Unlock()
	switch {
	case expired:
		return os.ErrDeadlineExceeded
	case closed:
		return net.ErrClosed
	case errors.Is(err, io.EOF), status.Code(err) == codes.Canceled:
		// The other end closed the stream (a connection closed, a
		// member shutting down): an orderly end, as EOF on TCP.
		return io.EOF
	}
	return err
}

func (c *streamConn) Close() error {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return nil
	}
	c.isClosed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	close(c.closed)
	c.mu.Unlock()
	c.stop()
	return nil
}

// stop ends the stream: the client end cancels its context; the server
// end returns from its handler (closed is what Stream waits on).
func (c *streamConn) stop() {
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *streamConn) LocalAddr() net.Addr  { return c.local }
func (c *streamConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the deadline of the reads and writes to come and
// of those waiting (one deadline for both); the zero time clears it.
func (c *streamConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed {
		return net.ErrClosed
	}
	c.gen++
	c.deadline = t
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if t.IsZero() {
		return nil
	}
	gen := c.gen
	c.timer = time.AfterFunc(time.Until(t), func() { c.expire(gen) })
	return nil
}

func (c *streamConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *streamConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

// expire ends the stream if the deadline of generation gen still
// stands and a read or write waits on it; an idle connection only
// remembers its deadline (begin fails the next operation until it is
// moved).
func (c *streamConn) expire(gen uint64) {
	c.mu.Lock()
	if c.isClosed || gen != c.gen || c.busy == 0 {
		c.mu.Unlock()
		return
	}
	c.expired = true
	c.isClosed = true
	close(c.closed)
	c.mu.Unlock()
	c.stop()
}

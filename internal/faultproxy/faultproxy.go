// Package faultproxy is a fault-injecting TCP proxy for tests, in the
// manner of etcd's test bridge: it listens on a loopback port and
// forwards every connection to a target address, and a test can cut
// the link, blackhole it, slow it down or reset its connections while
// the processes at both ends keep running.
//
// A test puts a Proxy between two components by giving one of them the
// proxy's Addr instead of the other's address, for example a DataNode
// started with --namenode pointing at a Proxy in front of the NameNode.
//
// The faults:
//
//   - Blackhole: every connection, open or new, carries no bytes in
//     either direction; what is sent is discarded, as by a network that
//     drops every packet. New connections are accepted but not
//     forwarded. Restore resets the connections that lost bytes (their
//     streams can no longer be trusted, as when TCP gives up after a
//     long partition), so the ends see an error and reconnect.
//   - DropReplies: a one-way blackhole: what the client end sends still
//     reaches the target, but every byte the target sends back is
//     discarded, on open and new connections alike, as when a reply is
//     lost after the server acted on the request. Restore resets the
//     connections that lost bytes.
//   - Refuse: new connections are reset as soon as they are accepted;
//     open ones are left alone.
//   - Cut: ResetConnections and Refuse together: the target is
//     unreachable until Restore.
//   - SetLatency: every chunk of bytes is delivered that much later,
//     in order, without limiting throughput.
//   - ResetConnections: every open connection is closed with a TCP
//     reset at both ends.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the connection to the target.
const dialTimeout = 5 * time.Second

// Proxy forwards TCP connections from a loopback listener to a target
// and injects faults into them. Its methods are safe for concurrent
// use.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup // accept loop and connection goroutines

	mu        sync.Mutex
	closed    bool               // guarded by mu
	blackhole bool               // guarded by mu
	dropReply bool               // guarded by mu
	refuse    bool               // guarded by mu
	latency   time.Duration      // guarded by mu
	links     map[*link]struct{} // guarded by mu
	accepted  int                // guarded by mu
}

// link is one proxied connection: the accepted client side and, once
// dialed, the target side.
type link struct {
	client net.Conn
	server net.Conn // nil while blackholed from the start

	// dropped is set when the link discarded bytes during a blackhole;
	// guarded by Proxy.mu.
	dropped bool
	once    sync.Once
}

// New starts a proxy listening on 127.0.0.1 at a free port that
// forwards to target.
func New(target string) (*Proxy, error) {
	return Listen("127.0.0.1:0", target)
}

// Listen starts a proxy listening on addr that forwards to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on, to give to the
// component that should connect through it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Blackhole makes every connection, open or new, carry no bytes: what
// either end sends is discarded.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
}

// DropReplies makes every connection, open or new, lose the bytes the
// target sends: the client's bytes are still forwarded, so the target
// acts on requests whose answers never arrive.
func (p *Proxy) DropReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropReply = true
}

// Refuse makes the proxy reset new connections as soon as it accepts
// them. Open connections are left alone.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
}

// Cut resets every open connection and refuses new ones until Restore:
// the target is unreachable through the proxy.
func (p *Proxy) Cut() {
	p.Refuse()
	p.ResetConnections()
}

// Restore ends Blackhole, DropReplies, Refuse and Cut. Connections
// that lost bytes to a blackhole or to DropReplies, and connections
// accepted during a blackhole, are reset so their ends reconnect. The
// latency is kept.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.blackhole = false
	p.dropReply = false
	p.refuse = false
	var broken []*link
	for l := range p.links {
		if l.dropped || l.server == nil {
			broken = append(broken, l)
		}
	}
	p.mu.Unlock()
	for _, l := range broken {
		p.reset(l)
	}
}

// SetLatency delays every chunk of bytes, in both directions, by d.
// Zero removes the delay.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// ResetConnections closes every open connection with a TCP reset at
// both ends. New connections are accepted as before.
func (p *Proxy) ResetConnections() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		p.reset(l)
	}
}

// Conns returns the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Accepted returns the number of connections accepted so far,
// including refused ones.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetConnections()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // listener closed
		}
		p.mu.Lock()
		p.accepted++
		refuse, blackhole, closed := p.refuse, p.blackhole, p.closed
		p.mu.Unlock()
		if refuse || closed {
			abort(c)
			continue
		}
		l := &link{client: c}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		if blackhole {
			go p.holdLink(l)
		} else {
			go p.serveLink(l)
		}
	}
}

// holdLink keeps a connection accepted during a blackhole: it reads and
// discards until the connection is reset (by Restore, Cut, Close or
// the client).
func (p *Proxy) holdLink(l *link) {
	defer p.wg.Done()
	defer p.reset(l)
	io.Copy(io.Discard, l.client)
}

func (p *Proxy) serveLink(l *link) {
	defer p.wg.Done()
	s, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		p.reset(l)
		return
	}
	p.mu.Lock()
	_, open := p.links[l]
	if open {
		l.server = s
	}
	p.mu.Unlock()
	if !open {
		abort(s)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, l.server, l.client, false) }()
	go func() { defer wg.Done(); p.pipe(l, l.client, l.server, true) }()
	wg.Wait()
	p.reset(l)
}

// chunk is a piece of a stream waiting for its delivery time.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, dropping bytes while the proxy is
// blackholed (or, for the reply direction from the target, while it
// drops replies) and delaying them by the latency. When src ends,
// dst's write side is closed so a half-close is forwarded.
func (p *Proxy) pipe(l *link, dst, src net.Conn, reply bool) {
	q := make(chan chunk, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				// One end is gone: end the other one too, and
				// drain so the reader never blocks on a dead
				// writer.
				p.reset(l)
				for range q {
				}
				return
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			blackhole, latency := p.blackhole || (reply && p.dropReply), p.latency
			if blackhole {
				l.dropped = true
			}
			p.mu.Unlock()
			if !blackhole {
				b := make([]byte, n)
				copy(b, buf[:n])
				q <- chunk{b: b, due: time.Now().Add(latency)}
			}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}

// reset closes both sides of a link with a TCP reset and forgets it.
func (p *Proxy) reset(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	s := l.server
	p.mu.Unlock()
	l.once.Do(func() {
		abort(l.client)
		if s != nil {
			abort(s)
		}
	})
}

// abort closes c so that the peer sees a reset rather than an orderly
// end of stream.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

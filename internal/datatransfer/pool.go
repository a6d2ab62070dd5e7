package datatransfer

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// Defaults of a ConnPool.
const (
	// DefaultIdleTimeout is how long a ConnPool keeps an idle
	// connection. It is below ReadIdleTimeout, the DataNode's wait for
	// the next operation, so that the DataNode is never the one that
	// hangs up first under a reader about to reuse the connection.
	DefaultIdleTimeout = 20 * time.Second
	// DefaultMaxIdlePerNode bounds the idle connections kept to one
	// DataNode.
	DefaultMaxIdlePerNode = 16
	// ReadIdleTimeout is how long a DataNode waits for the next
	// operation on a connection whose read ended cleanly.
	ReadIdleTimeout = 30 * time.Second
)

// ConnPool keeps the connections of finished block reads to reuse for
// the next reads from the same DataNodes (see "Reusing a connection"
// in the package documentation), which saves a TCP connection set-up
// and tear-down per read: most of the cost of reading a small file. It
// is safe for concurrent use. The zero value is not usable: call
// NewConnPool.
type ConnPool struct {
	idleTimeout time.Duration
	maxIdle     int

	mu     sync.Mutex // guards the fields below
	idle   map[string][]idleConn
	closed bool
}

type idleConn struct {
	conn  net.Conn
	br    *bufio.Reader
	since time.Time
}

// NewConnPool returns an empty pool that keeps up to maxIdle idle
// connections per DataNode for up to idleTimeout; zero values give
// DefaultMaxIdlePerNode and DefaultIdleTimeout.
func NewConnPool(maxIdle int, idleTimeout time.Duration) *ConnPool {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdlePerNode
	}
	if idleTimeout <= 0 || idleTimeout > ReadIdleTimeout {
		idleTimeout = DefaultIdleTimeout
	}
	return &ConnPool{idleTimeout: idleTimeout, maxIdle: maxIdle, idle: make(map[string][]idleConn)}
}

// get returns the most recently used idle connection to addr that has
// not been idle too long, closing those that have.
func (p *ConnPool) get(addr string) (net.Conn, *bufio.Reader, bool) {
	if p == nil {
		return nil, nil, false
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[addr]
	for len(list) > 0 {
		ic := list[len(list)-1]
		list[len(list)-1] = idleConn{}
		list = list[:len(list)-1]
		if now.Sub(ic.since) < p.idleTimeout {
			p.idle[addr] = list
			return ic.conn, ic.br, true
		}
		ic.conn.Close()
	}
	delete(p.idle, addr)
	return nil, nil, false
}

// put keeps conn, whose read ended cleanly, for reuse, or closes it if
// the pool is closed or full. br must hold no unread bytes.
func (p *ConnPool) put(addr string, conn net.Conn, br *bufio.Reader) {
	if p == nil || br.Buffered() != 0 {
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle[addr]) >= p.maxIdle {
		conn.Close()
		return
	}
	p.idle[addr] = append(p.idle[addr], idleConn{conn: conn, br: br, since: time.Now()})
}

// Close closes every idle connection; connections given back later are
// closed at once. It is safe to call more than once.
func (p *ConnPool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for addr, list := range p.idle {
		for _, ic := range list {
			ic.conn.Close()
		}
		delete(p.idle, addr)
	}
	return nil
}

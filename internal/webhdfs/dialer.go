package webhdfs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// dialTimeout bounds a Dialer's attempt to dial.
const dialTimeout = 10 * time.Second

// Dialer gives the handlers their client: dialed when first asked for
// (a NameNode's own RPC server may not be serving yet when its web
// handler is made), then kept for every request. A failed dial is
// tried again by the next request.
type Dialer struct {
	addrs func() string // the NameNode address(es), comma-separated
	opts  []client.Option

	mu     sync.Mutex // guards c and closed; held while dialing
	c      *client.Client
	closed bool
}

// NewDialer returns a Dialer of the NameNode (or group) addrs returns
// when the first request comes.
func NewDialer(addrs func() string, opts ...client.Option) *Dialer {
	return &Dialer{addrs: addrs, opts: append([]client.Option{client.WithDialTimeout(dialTimeout)}, opts...)}
}

// Client returns the client, dialing it if need be.
func (d *Dialer) Client(ctx context.Context) (*client.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, cairn.E("webhdfs", cairn.Closed, errors.New("server shutting down"))
	}
	if d.c != nil {
		return d.c, nil
	}
	addrs := d.addrs()
	if addrs == "" {
		return nil, cairn.E("webhdfs", cairn.Unavailable, errors.New("the namenode's address is not known yet"))
	}
	c, err := client.Dial(context.WithoutCancel(ctx), addrs, d.opts...)
	if err != nil {
		return nil, err
	}
	d.c = c
	return c, nil
}

// Close closes the client, if dialed; Client fails after it.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.c == nil {
		return nil
	}
	err := d.c.Close()
	d.c = nil
	return err
}

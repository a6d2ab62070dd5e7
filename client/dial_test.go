package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/faultproxy"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// proxyToNameNode starts a one-DataNode cluster and a fault proxy in
// front of its NameNode.
func proxyToNameNode(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1})
	p, err := faultproxy.New(c.NameNodeAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type dialResult struct {
	cl  *client.Client
	err error
}

func dialAsync(ctx context.Context, addr string, opts ...client.Option) <-chan dialResult {
	done := make(chan dialResult, 1)
	go func() {
		cl, err := client.Dial(ctx, addr, opts...)
		done <- dialResult{cl, err}
	}()
	return done
}

// TestDialRetriesUntilReachable: a NameNode that refuses connections
// for a while (restarting, or its port not open yet) is tried again
// until it answers, within the caller's context.
func TestDialRetriesUntilReachable(t *testing.T) {
	p := proxyToNameNode(t)
	p.Refuse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := dialAsync(ctx, p.Addr())

	const attempts = 3
	deadline := time.Now().Add(30 * time.Second)
	for p.Accepted() < attempts {
		select {
		case r := <-done:
			t.Fatalf("Dial while the NameNode refused = %v, %v after %d connection attempts; want it to keep trying", r.cl, r.err, p.Accepted())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dial made %d connection attempts in 30s, want %d", p.Accepted(), attempts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Restore()
	r := <-done
	if r.err != nil {
		t.Fatalf("Dial after the NameNode came back = %v", r.err)
	}
	defer r.cl.Close()
	if _, err := r.cl.Stat(ctx, "/"); err != nil {
		t.Fatalf("Stat(/) = %v", err)
	}
}

// TestDialSlowHandshake: a NameNode slow to finish the connection
// handshake, as under a burst of connections on a loaded machine, is
// waited for. (Each attempt used to be cut off after 100ms: gRPC's
// connect timeout was left at zero, which means the first backoff.)
func TestDialSlowHandshake(t *testing.T) {
	p := proxyToNameNode(t)
	p.SetLatency(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.Dial(ctx, p.Addr())
	if err != nil {
		t.Fatalf("Dial through a link with 400ms latency = %v", err)
	}
	defer cl.Close()
	if _, err := cl.Stat(ctx, "/"); err != nil {
		t.Fatalf("Stat(/) = %v", err)
	}
}

// TestDialGivesUp: a NameNode that stays unreachable gives an
// Unavailable error naming its address once the context ends, or the
// dial timeout, after more than one attempt.
func TestDialGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		opts []client.Option
	}{
		{"at the context's deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, nil},
		{"at the dial timeout", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, []client.Option{client.WithDialTimeout(time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proxyToNameNode(t)
			p.Refuse()
			ctx, cancel := tc.ctx()
			defer cancel()
			cl, err := client.Dial(ctx, p.Addr(), tc.opts...)
			if err == nil {
				cl.Close()
				t.Fatal("Dial to a NameNode refusing every connection succeeded")
			}
			wantKind(t, "Dial", err, cairn.Unavailable)
			if !strings.Contains(err.Error(), p.Addr()) || !strings.Contains(err.Error(), "not reachable") {
				t.Errorf("Dial error %q does not say that %s is not reachable", err, p.Addr())
			}
			if n := p.Accepted(); n < 2 {
				t.Errorf("Dial gave up after %d connection attempts, want several", n)
			}
		})
	}
}

package transport

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Config says how connections are opened and accepted. The zero value
// is plaintext TCP with the net package's defaults; a Config is
// copied by value and safe for concurrent use.
type Config struct {
	// TLS, if set, secures every connection: dials act as its TLS
	// client and servers as its TLS server, so one tls.Config with a
	// certificate, RootCAs and ClientCAs serves both ends of mutual
	// TLS between nodes. A dial without ServerName verifies the
	// host of the address dialed. nil: plaintext.
	TLS *tls.Config
	// DialTimeout bounds DialContext, connecting and any TLS
	// handshake, when the context has no earlier deadline; 0: only
	// the context bounds it.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period of the connections
	// DialContext makes; 0: the net package's default (15s);
	// negative: none.
	KeepAlive time.Duration
}

// DialContext connects to addr (host:port) over TCP, and with TLS
// completes the handshake before it returns.
func (c Config) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	if c.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.DialTimeout)
		defer cancel()
	}
	d := net.Dialer{KeepAlive: c.KeepAlive}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || c.TLS == nil {
		return conn, err
	}
	tc := tls.Client(conn, c.clientTLS(addr))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, &net.OpError{Op: "tls handshake", Net: "tcp", Addr: conn.RemoteAddr(), Err: err}
	}
	return tc, nil
}

// clientTLS is the TLS configuration of a dial to addr.
func (c Config) clientTLS(addr string) *tls.Config {
	if c.TLS.ServerName != "" || c.TLS.InsecureSkipVerify {
		return c.TLS
	}
	t := c.TLS.Clone()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	t.ServerName = host
	return t
}

// Listen listens on addr (host:port) over TCP. The listener is plain
// TCP: a gRPC server secures it through GRPCServerOptions, another
// server through WrapListener.
func (c Config) Listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// WrapListener returns the listener a stream server (data transfer,
// Raft) accepts from: lis itself in plaintext, otherwise one whose
// connections are TLS server connections (the handshake runs on their
// first read or write).
func (c Config) WrapListener(lis net.Listener) net.Listener {
	if c.TLS == nil {
		return lis
	}
	return tls.NewListener(lis, c.TLS)
}

// GRPCDialOptions are the options every gRPC client connection takes:
// its transport credentials.
func (c Config) GRPCDialOptions() []grpc.DialOption {
	if c.TLS == nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(c.TLS))}
}

// GRPCServerOptions are the options every gRPC server takes: the
// keepalive policy its clients need, and its transport credentials
// (none in plaintext).
func (c Config) GRPCServerOptions() []grpc.ServerOption {
	// Clients ping a connection that is silent while they wait on a
	// call, every few seconds, to notice a server whose host vanished
	// (client.Dial's keepalive): permit it. gRPC's default refuses
	// pings more often than every 5 minutes.
	opts := []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 2 * time.Second})}
	if c.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.TLS)))
	}
	return opts
}

// NewGRPCClient returns a gRPC client connection to addr (a gRPC
// target, usually host:port) with GRPCDialOptions and
// ReconnectBackoff, followed by opts, the caller's own (message sizes,
// backoff, service config). Like grpc.NewClient it does not connect
// until first used.
func (c Config) NewGRPCClient(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	base := append(c.GRPCDialOptions(), reconnectBackoff())
	return grpc.NewClient(addr, append(base, opts...)...)
}

// reconnectBackoff is how a connection between nodes is made again
// after its peer went away: soon at first and never more than 2s
// apart, so that a node back from a long outage (a NameNode group
// member, a restarted NameNode) is heard from within seconds. gRPC's
// own default waits up to two minutes.
func reconnectBackoff() grpc.DialOption {
	return grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   2 * time.Second,
		},
		MinConnectTimeout: 5 * time.Second,
	})
}

// NewGRPCServer returns a gRPC server with GRPCServerOptions followed
// by opts, the caller's own (message sizes, interceptors).
func (c Config) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(c.GRPCServerOptions(), opts...)...)
}

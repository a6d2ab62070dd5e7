package namenode

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn/internal/transport"
)

// Raft's network transport, as raft.NewTCPTransport builds it (a pool
// of 3 connections per peer, a 10s I/O timeout), over a stream layer
// whose connections come from a transport.Config.
const (
	raftMaxPool = 3
	raftTimeout = 10 * time.Second
)

var errNotAdvertisable = errors.New("local bind address is not advertisable")

// newRaftTransport listens on addr for the Raft peers and dials them,
// both through tc. Like raft's TCP transport it refuses an address
// that peers could not dial back (an unspecified host such as
// 0.0.0.0), since the listener's address is what this node advertises.
func newRaftTransport(tc transport.Config, addr string, log hclog.Logger) (*raft.NetworkTransport, error) {
	lis, err := tc.Listen(addr)
	if err != nil {
		return nil, err
	}
	if a, ok := lis.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		lis.Close()
		return nil, errNotAdvertisable
	}
	// Only members speak Raft: with TLS the listener requires a
	// client certificate signed by the CA, which the node's own
	// configuration may leave optional for its other services.
	accept := tc
	if tc.TLS != nil {
		accept.TLS = tc.TLS.Clone()
		accept.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	stream := &raftStream{Listener: accept.WrapListener(lis), tc: tc}
	return raft.NewNetworkTransportWithLogger(stream, raftMaxPool, raftTimeout, log), nil
}

// raftStream is a raft.StreamLayer: it accepts from a listener wrapped
// by the transport.Config and dials with it.
type raftStream struct {
	net.Listener
	tc transport.Config
}

// Dial implements raft.StreamLayer.
func (s *raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	tc := s.tc
	tc.DialTimeout = timeout
	return tc.DialContext(context.Background(), string(addr))
}

package transport

import (
	"context"
	"crypto/tls"
	"net"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// A node (a DataNode, or a member of a NameNode group) authenticates
// with a certificate signed by the cluster's CA, which it presents as
// the client of mutual TLS; a client or a gateway presents none and
// authenticates with a token instead. ConnNode and PeerNode tell the
// two apart on the accepting side.

// ConnNode reports whether c, accepted from a listener that
// WrapListener secured, is a TLS connection whose peer presented a
// certificate that verified against the Config's ClientCAs, and if so
// the certificate's common name. It completes the handshake if it has
// not run yet. A plaintext connection, or a TLS peer without a
// certificate, is not a node.
func ConnNode(c net.Conn) (string, bool) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return "", false
	}
	if err := tc.Handshake(); err != nil {
		return "", false
	}
	return nodeOf(tc.ConnectionState())
}

// PeerNode is ConnNode for the peer of a gRPC call, read from the
// call's context on a server made by NewGRPCServer.
func PeerNode(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", false
	}
	return nodeOf(ti.State)
}

func nodeOf(st tls.ConnectionState) (string, bool) {
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	return st.PeerCertificates[0].Subject.CommonName, true
}

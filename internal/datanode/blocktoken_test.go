package datanode

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// A DataNode told by its NameNode that the cluster runs in secure mode
// refuses a block read without a block token, with Unauthenticated and
// before any byte, and serves a node that presents its certificate.
func TestReadWithoutBlockTokenIsRefused(t *testing.T) {
	nodeTC, clientTC := secureTransports(t)
	nn, err := namenode.New(namenode.Config{
		Dir:                t.TempDir(),
		DefaultReplication: 1,
		HeartbeatInterval:  50 * time.Millisecond,
		Transport:          nodeTC,
		Security:           true,
	}, newLogger(t))
	if err != nil {
		t.Fatalf("namenode.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nn.Serve(context.Background(), lis)
	t.Cleanup(func() { nn.Close() })

	// Heartbeats far apart: the NameNode, which never allocated the
	// test's block, would order its replica deleted in the answer to
	// the next one.
	n := startNodeWith(t, Config{NameNode: lis.Addr().String(), Transport: nodeTC, HeartbeatInterval: time.Hour})
	waitFor(t, func() bool { return n.dn.tokens.secure.Load() && n.dn.tokens.keys.Len() > 0 }, "secure mode and block keys learnt at registration")

	ctx := context.Background()
	b := cairn.Block{ID: 77, GenStamp: 1}
	data := randomBytes(3000, 1)
	// A node writes it: its certificate admits it.
	nodeWrite(t, nodeTC, n, b, data)

	_, err = datatransfer.Options{Transport: clientTC}.ReadBlock(ctx, n.info, b, 0, 100, "client")
	if cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), "missing block token") {
		t.Fatalf("a client's read without a token = %v, want Unauthenticated: missing block token", err)
	}
	_, err = datatransfer.Options{Transport: clientTC}.NewBlockWriter(ctx, cairn.Block{ID: 78, GenStamp: 1}, pipelineOf(n), "client")
	if cairn.KindOf(err) != cairn.Unauthenticated {
		t.Fatalf("a client's write without a token = %v, want Unauthenticated", err)
	}
	r, err := datatransfer.Options{Transport: nodeTC}.ReadBlock(ctx, n.info, b, 0, int64(len(data)), "node")
	if err != nil {
		t.Fatalf("a node's read = %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != string(data) {
		t.Fatalf("a node's read: %v, %d bytes of %d", err, len(got), len(data))
	}
}

// A DataNode with TLS that has not heard from a NameNode yet cannot
// know whether the cluster is secured: it serves nodes only, so that a
// restart while its NameNode is unreachable opens no block to clients.
func TestUnregisteredTLSDataNodeServesNodesOnly(t *testing.T) {
	nodeTC, clientTC := secureTransports(t)
	n := startNodeWith(t, Config{Transport: nodeTC}) // its NameNode is unreachable
	ctx := context.Background()
	b := cairn.Block{ID: 99, GenStamp: 1}
	data := randomBytes(2000, 3)
	nodeWrite(t, nodeTC, n, b, data)
	_, err := datatransfer.Options{Transport: clientTC}.ReadBlock(ctx, n.info, b, 0, int64(len(data)), "client")
	if cairn.KindOf(err) != cairn.Unavailable || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("a client's read from an unregistered TLS DataNode = %v, want Unavailable: not registered", err)
	}
	r, err := datatransfer.Options{Transport: nodeTC}.ReadBlock(ctx, n.info, b, 0, int64(len(data)), "node")
	if err != nil {
		t.Fatalf("a node's read = %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != string(data) {
		t.Errorf("a node's read: %d bytes of %d", len(got), len(data))
	}
}

// secureTransports are the transports of a secured cluster's nodes (one
// certificate made for the test, presented when they dial; servers
// verify a certificate if one is given) and of its clients (trusting
// it, presenting none).
func secureTransports(t *testing.T) (node, client transport.Config) {
	cert, pool := transporttest.SelfSigned(t)
	node = transport.Config{TLS: &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}}
	return node, transport.Config{TLS: &tls.Config{RootCAs: pool}}
}

// nodeWrite writes data as block b to n as a node (with a node's
// certificate, which needs no block token), failing the test if it
// cannot.
func nodeWrite(t *testing.T, nodeTC transport.Config, n *node, b cairn.Block, data []byte) {
	t.Helper()
	w, err := datatransfer.Options{Transport: nodeTC}.NewBlockWriter(context.Background(), b, pipelineOf(n), "node")
	if err != nil {
		t.Fatalf("a node's NewBlockWriter = %v", err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatalf("a node's write: %v", err)
	}
}

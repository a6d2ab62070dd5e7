package namenode

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn/internal/certs"
	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// serveLayer serves a stream layer's RaftTransport service on a
// loopback gRPC server with the transport tc.
func serveLayer(t *testing.T, tc transport.Config) (*grpcStreamLayer, string) {
	t.Helper()
	lis, err := tc.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newGRPCStreamLayer(lis.Addr().String(), tc, nil)
	gs := tc.NewGRPCServer()
	pb.RegisterRaftTransportServer(gs, l)
	go gs.Serve(lis)
	t.Cleanup(func() {
		l.Close()
		gs.Stop()
	})
	return l, lis.Addr().String()
}

// The layer's connections carry bytes both ways, whole and in order,
// in writes larger than a frame, over plaintext and over mutual TLS.
func TestRaftStreamLayerCarriesBytes(t *testing.T) {
	for name, tc := range map[string]transport.Config{"plain": {}, "tls": transporttest.MutualTLS(t)} {
		t.Run(name, func(t *testing.T) {
			server, addr := serveLayer(t, tc)
			client := newGRPCStreamLayer("127.0.0.1:1", tc, nil)
			defer client.Close()
			c, err := client.Dial(raft.ServerAddress(addr), 5*time.Second)
			if err != nil {
				t.Fatalf("Dial = %v", err)
			}
			defer c.Close()
			s, err := server.Accept()
			if err != nil {
				t.Fatalf("Accept = %v", err)
			}
			defer s.Close()

			big := make([]byte, 3*maxRaftFrame+12345)
			rand.Read(big)
			go func() {
				c.Write(big)
			}()
			got := make([]byte, len(big))
			if _, err := io.ReadFull(s, got); err != nil {
				t.Fatalf("read on the accepted end = %v", err)
			}
			if !bytes.Equal(got, big) {
				t.Fatal("bytes changed on the way")
			}
			if _, err := s.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			reply := make([]byte, 4)
			if _, err := io.ReadFull(c, reply); err != nil || string(reply) != "pong" {
				t.Fatalf("reply = %q, %v", reply, err)
			}
			// Closing one end ends the other's reads with EOF.
			c.Close()
			if _, err := s.Read(reply); !errors.Is(err, io.EOF) {
				t.Errorf("read after the peer closed = %v, want EOF", err)
			}
		})
	}
}

// A deadline that passes ends the connection, as raft expects of a
// net.Conn it set one on; a moved or cleared deadline does not.
func TestRaftStreamLayerDeadline(t *testing.T) {
	server, addr := serveLayer(t, transport.Config{})
	client := newGRPCStreamLayer("127.0.0.1:1", transport.Config{}, nil)
	defer client.Close()
	c, err := client.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	c.SetDeadline(time.Time{}) // cleared: the connection lives on
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("write after a cleared deadline = %v", err)
	}
	// Idle past a deadline, as a connection in raft's pool is: a write
	// then fails, and once the deadline is moved the connection works.
	c.SetDeadline(time.Now().Add(20 * time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Write([]byte("y")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past an idle deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("z")); err != nil {
		t.Fatalf("write after the deadline was moved = %v: an idle connection must outlive its deadline", err)
	}
	got := make([]byte, 2)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "xz" {
		t.Fatalf("the other end read %q, %v; want \"xz\"", got, err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 1)
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

// Dial gives up within its timeout on a member that does not answer,
// and fails at once once the layer is closed.
func TestRaftStreamLayerDialFails(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	l := newGRPCStreamLayer("127.0.0.1:1", transport.Config{}, nil)
	start := time.Now()
	if _, err := l.Dial(raft.ServerAddress(addr), 2*time.Second); err == nil {
		t.Fatal("Dial of a closed port succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Dial took %v, past its 2s timeout", d)
	}
	l.Close()
	if _, err := l.Dial(raft.ServerAddress(addr), time.Second); err == nil {
		t.Fatal("Dial on a closed layer succeeded")
	}
	if _, err := l.Accept(); !errors.Is(err, errLayerClosed) {
		t.Errorf("Accept on a closed layer = %v", err)
	}
}

// Over TLS, the RaftTransport service takes streams only from peers
// that show a certificate signed by the CA: the gRPC server also lets
// clients in without one, and a client must not speak Raft.
func TestRaftStreamLayerRefusesPeersWithoutACertificate(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.Init(dir, []string{"127.0.0.1"}, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	node, err := certs.Node(dir+"/127.0.0.1.crt", dir+"/127.0.0.1.key", dir+"/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	server, addr := serveLayer(t, transport.Config{TLS: node})
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	stranger := newGRPCStreamLayer("127.0.0.1:1", transport.Config{TLS: certs.ClientOf(node)}, nil)
	defer stranger.Close()
	c, err := stranger.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err == nil {
		c.Write([]byte("vote for me"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a peer without a certificate exchanged Raft bytes")
	}
	select {
	case <-accepted:
		t.Fatal("the layer accepted a stream from a peer without a certificate")
	case <-time.After(200 * time.Millisecond):
	}

	member := newGRPCStreamLayer("127.0.0.1:1", transport.Config{TLS: node}, nil)
	defer member.Close()
	mc, err := member.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatalf("a member's Dial = %v", err)
	}
	defer mc.Close()
	mc.Write([]byte("x"))
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the layer did not accept a member's stream")
	}
}

// Raft's own port (Config.RaftAddr) requires a member's certificate
// too: a client without one is cut off at the handshake.
func TestRaftNetRefusesPeersWithoutACertificate(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.Init(dir, []string{"127.0.0.1"}, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	node, err := certs.Node(dir+"/127.0.0.1.crt", dir+"/127.0.0.1.key", dir+"/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	trans, err := newRaftTransport(transport.Config{TLS: node}, "127.0.0.1:0", newHCLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	addr := string(trans.LocalAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := transport.Config{TLS: certs.ClientOf(node)}.DialContext(ctx, addr)
	if err == nil {
		// TLS 1.3: the server's refusal arrives after the client's
		// side of the handshake, on the first read.
		conn.Write([]byte{0})
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a peer without a certificate on the Raft port: %v, want a certificate required", err)
	}
	mc, err := transport.Config{TLS: node}.DialContext(ctx, addr)
	if err != nil {
		t.Fatalf("a member's dial = %v", err)
	}
	mc.Close()
}

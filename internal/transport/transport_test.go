package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// echo serves lis, copying each line it reads back to its sender, until
// lis is closed.
func echo(t *testing.T, lis net.Listener) {
	t.Helper()
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// roundTrip sends a line over c and checks that it comes back.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("read %q, %v; want hello", line, err)
	}
}

func TestPlaintextDialListen(t *testing.T) {
	var cfg transport.Config
	lis, err := cfg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WrapListener(lis); got != lis {
		t.Fatalf("WrapListener in plaintext returned %T, want the listener itself", got)
	}
	echo(t, lis)
	c, err := cfg.DialContext(context.Background(), lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Fatalf("plaintext dial returned %T, want *net.TCPConn", c)
	}
	roundTrip(t, c)
	if opts := cfg.GRPCServerOptions(); len(opts) != 1 {
		t.Fatalf("plaintext GRPCServerOptions = %d options, want the keepalive policy alone", len(opts))
	}
}

func TestDialRefused(t *testing.T) {
	lis, err := transport.Config{}.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	if c, err := (transport.Config{DialTimeout: time.Second}).DialContext(context.Background(), addr); err == nil {
		c.Close()
		t.Fatalf("dial of a closed port succeeded")
	}
}

func TestTLSDialListen(t *testing.T) {
	cfg := transporttest.MutualTLS(t)
	lis, err := cfg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, cfg.WrapListener(lis))
	addr := lis.Addr().String()

	c, err := cfg.DialContext(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc, ok := c.(*tls.Conn)
	if !ok {
		t.Fatalf("TLS dial returned %T, want *tls.Conn", c)
	}
	if st := tc.ConnectionState(); !st.HandshakeComplete || len(st.PeerCertificates) == 0 {
		t.Fatalf("handshake not complete: %+v", st)
	}
	roundTrip(t, c)

	// A plaintext peer cannot talk to the TLS server.
	pc, err := transport.Config{}.DialContext(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(pc, "hello\n")
	if line, err := bufio.NewReader(pc).ReadString('\n'); err == nil {
		t.Fatalf("plaintext client read %q from a TLS server", line)
	}

	// A client that does not trust the server's certificate fails the
	// handshake at dial.
	other, _ := transporttest.SelfSigned(t)
	_, untrusted := transporttest.SelfSigned(t)
	bad := transport.Config{TLS: &tls.Config{Certificates: []tls.Certificate{other}, RootCAs: untrusted}}
	if c, err := bad.DialContext(context.Background(), addr); err == nil {
		c.Close()
		t.Fatal("dial with an untrusted server certificate succeeded")
	}
}

// A dial whose TLS handshake gets no answer ends after DialTimeout.
func TestDialTimeoutCoversHandshake(t *testing.T) {
	lis, err := transport.Config{}.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		// Accept and say nothing.
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	cfg := transporttest.MutualTLS(t)
	cfg.DialTimeout = 200 * time.Millisecond
	start := time.Now()
	c, err := cfg.DialContext(context.Background(), lis.Addr().String())
	if err == nil {
		c.Close()
		t.Fatal("dial of a silent server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("dial took %v, want about DialTimeout", d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a net.Error timeout", err)
	}
}

// grpcHealth serves the gRPC health service with cfg and checks it
// through a client with cfg.
func grpcHealth(t *testing.T, server, client transport.Config) error {
	t.Helper()
	lis, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := server.NewGRPCServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	defer gs.Stop()
	cc, err := client.NewGRPCClient(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status %v", resp.Status)
	}
	return nil
}

func TestGRPCPlaintext(t *testing.T) {
	if err := grpcHealth(t, transport.Config{}, transport.Config{}); err != nil {
		t.Fatal(err)
	}
}

func TestGRPCTLS(t *testing.T) {
	cfg := transporttest.MutualTLS(t)
	if err := grpcHealth(t, cfg, cfg); err != nil {
		t.Fatal(err)
	}
	// A plaintext client gets no answer from a TLS server.
	if err := grpcHealth(t, cfg, transport.Config{}); err == nil {
		t.Fatal("plaintext gRPC client was answered by a TLS server")
	}
}

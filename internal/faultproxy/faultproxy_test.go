package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// echoServer accepts connections on loopback and echoes what it reads.
type echoServer struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.accepted++
			e.mu.Unlock()
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return e
}

func (e *echoServer) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within 5 seconds.
func roundTrip(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs")
	}
	return nil
}

// silent reports whether nothing arrives on c for a while.
func silent(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n, err := c.Read(make([]byte, 1))
	return n == 0 && errors.Is(err, os.ErrDeadlineExceeded)
}

// broken reports whether c fails (reset or closed) within 5 seconds.
func broken(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	c.Write([]byte("x"))
	_, err := io.ReadFull(c, make([]byte, 2))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// refused reports whether a new connection to addr fails, at the dial
// (the reset may come before the dial returns) or right after.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return true
	}
	defer c.Close()
	return broken(c)
}

func TestForwardsBothWays(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	if p.Target() != e.ln.Addr().String() {
		t.Errorf("Target() = %q, want %q", p.Target(), e.ln.Addr())
	}
	c := dial(t, p.Addr())
	big := bytes.Repeat([]byte("cairn"), 200_000) // 1 MB, many chunks
	if err := roundTrip(c, big); err != nil {
		t.Fatalf("round trip through the proxy: %v", err)
	}
	if p.Conns() != 1 || p.Accepted() != 1 {
		t.Errorf("Conns() = %d, Accepted() = %d, want 1 and 1", p.Conns(), p.Accepted())
	}
	// A half-close reaches the target, whose close comes back.
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after a half-close, Read = %d, %v; want 0, EOF", n, err)
	}
}

func TestBlackholeDropsAndRestoreResets(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("before")); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatalf("write into a blackhole: %v", err)
	}
	if !silent(t, c) {
		t.Fatal("bytes came back through a blackhole")
	}
	// A new connection is accepted but never reaches the target.
	before := e.count()
	c2 := dial(t, p.Addr())
	c2.Write([]byte("lost too"))
	if !silent(t, c2) {
		t.Fatal("a connection made during a blackhole carried bytes")
	}
	if e.count() != before {
		t.Errorf("the target accepted %d connections during a blackhole, want 0", e.count()-before)
	}

	p.Restore()
	if !broken(c) {
		t.Error("a connection that lost bytes to a blackhole was not reset by Restore")
	}
	if !broken(c2) {
		t.Error("a connection accepted during a blackhole was not reset by Restore")
	}
	if err := roundTrip(dial(t, p.Addr()), []byte("after")); err != nil {
		t.Fatalf("new connection after Restore: %v", err)
	}
}

func TestBlackholeKeepsIdleConnections(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	p.Restore()
	// Nothing was sent while blackholed: the connection still works.
	if err := roundTrip(c, []byte("still here")); err != nil {
		t.Fatalf("idle connection after Blackhole/Restore: %v", err)
	}
}

func TestRefuse(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	open := dial(t, p.Addr())
	if err := roundTrip(open, []byte("x")); err != nil {
		t.Fatal(err)
	}
	p.Refuse()
	if !refused(p.Addr()) {
		t.Error("a new connection was not reset while refusing")
	}
	if err := roundTrip(open, []byte("open one")); err != nil {
		t.Errorf("Refuse broke an open connection: %v", err)
	}
	p.Restore()
	if err := roundTrip(dial(t, p.Addr()), []byte("y")); err != nil {
		t.Fatalf("new connection after Restore: %v", err)
	}
}

func TestCutAndRestore(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if !broken(c) {
		t.Error("an open connection survived Cut")
	}
	if !refused(p.Addr()) {
		t.Error("a new connection was carried after Cut")
	}
	if p.Conns() != 0 {
		t.Errorf("Conns() = %d after Cut, want 0", p.Conns())
	}
	p.Restore()
	if err := roundTrip(dial(t, p.Addr()), []byte("y")); err != nil {
		t.Fatalf("new connection after Restore: %v", err)
	}
}

func TestResetConnections(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for _, c := range []net.Conn{a, b} {
		if err := roundTrip(c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	p.ResetConnections()
	for i, c := range []net.Conn{a, b} {
		if !broken(c) {
			t.Errorf("connection %d survived ResetConnections", i)
		}
	}
	if err := roundTrip(dial(t, p.Addr()), []byte("y")); err != nil {
		t.Fatalf("new connection after ResetConnections: %v", err)
	}
}

func TestLatencyDelaysInOrder(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	const d = 100 * time.Millisecond
	p.SetLatency(d)
	start := time.Now()
	var msg []byte
	for i := 0; i < 50; i++ {
		msg = append(msg, byte(i))
	}
	if err := roundTrip(c, msg); err != nil {
		t.Fatal(err)
	}
	// Both directions are delayed: the round trip takes at least 2d.
	if rtt := time.Since(start); rtt < 2*d {
		t.Errorf("round trip with latency %v took %v, want at least %v", d, rtt, 2*d)
	}
	p.SetLatency(0)
	if err := roundTrip(c, []byte("fast")); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableTargetResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The target's port is closed only once the proxy has its own, so
	// the two differ.
	p := startProxy(t, ln.Addr().String())
	ln.Close()
	if !refused(p.Addr()) {
		t.Error("a connection to a closed target was not reset")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	e := startEcho(t)
	p, err := New(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	held := dial(t, p.Addr())
	held.Write([]byte("held"))
	if err := p.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if !broken(c) || !broken(held) {
		t.Error("a connection survived Close")
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("the proxy still accepts connections after Close")
	}
}

// recorder accepts connections on loopback, echoes what it reads and
// keeps a copy of every byte it received.
type recorder struct {
	ln  net.Listener
	mu  sync.Mutex
	got bytes.Buffer
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						r.mu.Lock()
						r.got.Write(buf[:n])
						r.mu.Unlock()
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

// waitReceived waits up to 5 seconds for the recorder to have received
// want somewhere in its input.
func (r *recorder) waitReceived(want string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		ok := bytes.Contains(r.got.Bytes(), []byte(want))
		r.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestDropRepliesForwardsRequestsOnly(t *testing.T) {
	r := startRecorder(t)
	p := startProxy(t, r.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("before")); err != nil {
		t.Fatal(err)
	}
	p.DropReplies()
	if _, err := c.Write([]byte("request-1")); err != nil {
		t.Fatalf("write while replies are dropped: %v", err)
	}
	if !r.waitReceived("request-1") {
		t.Error("a request sent while replies are dropped did not reach the target")
	}
	if !silent(t, c) {
		t.Error("a reply came back while replies are dropped")
	}
	// A new connection reaches the target too, and hears nothing.
	c2 := dial(t, p.Addr())
	c2.Write([]byte("request-2"))
	if !r.waitReceived("request-2") {
		t.Error("a connection made while replies are dropped did not reach the target")
	}
	if !silent(t, c2) {
		t.Error("a reply came back on a new connection while replies are dropped")
	}

	p.Restore()
	if !broken(c) {
		t.Error("a connection that lost replies was not reset by Restore")
	}
	if !broken(c2) {
		t.Error("a new connection that lost replies was not reset by Restore")
	}
	if err := roundTrip(dial(t, p.Addr()), []byte("after")); err != nil {
		t.Fatalf("new connection after Restore: %v", err)
	}
}

func TestDropRepliesKeepsIdleConnections(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	p.DropReplies()
	p.Restore()
	if err := roundTrip(c, []byte("still here")); err != nil {
		t.Fatalf("idle connection after DropReplies/Restore: %v", err)
	}
}

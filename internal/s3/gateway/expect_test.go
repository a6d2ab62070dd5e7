package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEmptyBodyExpectContinue: a request with an empty body and
// "Expect: 100-continue" (botocore's empty PutObject) gets 100 Continue
// before its answer, and the connection serves the next request. Without
// the 100, botocore misreads the next answer on the connection and waits
// for its read timeout.
func TestEmptyBodyExpectContinue(t *testing.T) {
	e := newEnv(t)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	for i := range 2 {
		// Unsigned: answered with AccessDenied, after the 100.
		req := "PUT /bucket/key HTTP/1.1\r\nHost: " + strings.TrimPrefix(e.srv.URL, "http://") +
			"\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("request %d: first line %q (%v), want HTTP/1.1 100 Continue", i, line, err)
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "\r\n" {
				break
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: reading the final answer: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("request %d: status %d after the 100, want 403 (unsigned)", i, resp.StatusCode)
		}
	}
}

package client_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/faultproxy"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestDialListSkipsADeadMember: of a list of NameNode addresses whose
// first refuses connections, Dial finds the live one, and files are
// written and read through it.
func TestDialListSkipsADeadMember(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1, BlockSize: testBlockSize})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list := client.DeadAddr(t) + ", " + c.NameNodeAddr()
	cl, err := client.Dial(ctx, list)
	if err != nil {
		t.Fatalf("Dial(%q) = %v", list, err)
	}
	defer cl.Close()
	data := randomBytes(21, 2*testBlockSize+17)
	writeFile(t, ctx, cl, "/ha/a", data, &client.CreateOptions{CreateParent: true})
	if got := readFile(t, ctx, cl, "/ha/a"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
	}
}

// TestFailoverBetweenAddresses: when the member a Client uses becomes
// unreachable, its calls go to the next one, a Writer open across the
// change included. The two members are two links to one NameNode,
// through fault proxies: the failover is the Client's, whatever stands
// behind the addresses.
func TestFailoverBetweenAddresses(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1, BlockSize: testBlockSize})
	var proxies []*faultproxy.Proxy
	for range 2 {
		p, err := faultproxy.New(c.NameNodeAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.Dial(ctx, proxies[0].Addr()+","+proxies[1].Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	before := randomBytes(22, testBlockSize+5)
	writeFile(t, ctx, cl, "/before", before, nil)
	w, err := cl.Create(ctx, "/across", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	across := randomBytes(23, 3*testBlockSize+9)
	if _, err := w.Write(across[:testBlockSize+1]); err != nil {
		t.Fatal(err)
	}
	if proxies[1].Accepted() != 0 {
		t.Fatalf("the second member got %d connections before the first failed, want none", proxies[1].Accepted())
	}

	proxies[0].Cut()
	if _, err := w.Write(across[testBlockSize+1:]); err != nil {
		t.Fatalf("Write after the first member went away = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after the first member went away = %v", err)
	}
	after := randomBytes(24, testBlockSize/2)
	writeFile(t, ctx, cl, "/after", after, nil)
	for name, want := range map[string][]byte{"/before": before, "/across": across, "/after": after} {
		if got := readFile(t, ctx, cl, name); !bytes.Equal(got, want) {
			t.Errorf("read %s: %d bytes, want the %d written", name, len(got), len(want))
		}
	}
	if proxies[1].Accepted() == 0 {
		t.Error("the second member got no connection")
	}
}

// TestDialListGivesUp: when no member of the list can be reached, Dial
// gives up at its deadline with an Unavailable error that names every
// address tried.
func TestDialListGivesUp(t *testing.T) {
	addrs := []string{client.DeadAddr(t), client.DeadAddr(t), client.DeadAddr(t)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	cl, err := client.Dial(ctx, strings.Join(addrs, ","), client.WithDialTimeout(time.Second))
	if err == nil {
		cl.Close()
		t.Fatal("Dial to three dead addresses succeeded")
	}
	t.Logf("Dial error: %v", err)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Dial with a 1s dial timeout gave up after %v", d)
	}
	wantKind(t, "Dial", err, cairn.Unavailable)
	msg := err.Error()
	for _, a := range addrs {
		if strings.Count(msg, a) < 2 { // the list, and among those tried
			t.Errorf("Dial error %q does not name %s as tried", msg, a)
		}
	}
	if !strings.Contains(msg, "not reachable") || strings.Contains(msg, "\n") {
		t.Errorf("Dial error %q does not say in one line that the namenodes are not reachable", msg)
	}
}

// TestDialBadList: an empty list or an empty entry is refused before
// anything is dialed, with an error naming the list.
func TestDialBadList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, list := range []string{"", "  ", "127.0.0.1:1,,127.0.0.1:2", "127.0.0.1:1, ", ","} {
		cl, err := client.Dial(ctx, list)
		if err == nil {
			cl.Close()
			t.Errorf("Dial(%q) succeeded, want an Invalid error", list)
			continue
		}
		wantKind(t, "Dial("+list+")", err, cairn.Invalid)
		if strings.TrimSpace(list) != "" && !strings.Contains(err.Error(), list) {
			t.Errorf("Dial(%q) = %v, want the list named", list, err)
		}
	}
}

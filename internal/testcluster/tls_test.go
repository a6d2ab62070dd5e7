package testcluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestTLSClusterCarriesAMultiBlockFile: in a cluster whose every wire
// is TLS, a client with the CA writes a file of several blocks with
// three replicas (client → DataNode, the DataNode → DataNode pipeline,
// DataNode ↔ NameNode all over TLS) and reads it back.
func TestTLSClusterCarriesAMultiBlockFile(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{TLS: true, BlockSize: healBlock})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.Client(t)
	data := randomData(1, 3*healBlock+1234)
	if err := write(ctx, cl, "/tls/f", data); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := same(ctx, cl, "/tls/f", data); err != nil {
		t.Fatal(err)
	}
	fi, err := cl.StatBlocks(ctx, "/tls/f")
	if err != nil {
		t.Fatal(err)
	}
	locs := fi.Blocks
	if len(locs) != 4 {
		t.Fatalf("%d blocks, want 4", len(locs))
	}
	for _, lb := range locs {
		if len(lb.Locations) != 3 {
			t.Errorf("block %d has %d replicas, want 3", lb.Block.ID, len(lb.Locations))
		}
	}
}

// TestTLSClusterRefusesPlaintextAndStrangers: a client that speaks
// plaintext, or one that does not trust the cluster's CA, gets nothing
// from the NameNode's RPC port or a DataNode's data port, and is told
// why.
func TestTLSClusterRefusesPlaintextAndStrangers(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{TLS: true, DataNodes: 1, Replication: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.Client(t)
	if err := write(ctx, cl, "/f", []byte("secret bytes")); err != nil {
		t.Fatal(err)
	}
	fi, err := cl.StatBlocks(ctx, "/f")
	locs := fi.Blocks
	if err != nil || len(locs) != 1 || len(locs[0].Locations) != 1 {
		t.Fatalf("StatBlocks = %v, %v", locs, err)
	}
	lb := locs[0]

	t.Run("a plaintext client cannot use the NameNode", func(t *testing.T) {
		_, err := client.Dial(ctx, c.NameNodeAddr(), client.WithDialTimeout(2*time.Second))
		if err == nil {
			t.Fatal("plaintext Dial of a TLS NameNode succeeded")
		}
		if cairn.KindOf(err) != cairn.Unavailable {
			t.Errorf("plaintext Dial: %v, want Unavailable", err)
		}
	})
	t.Run("a client without the CA is told the certificate is not trusted", func(t *testing.T) {
		_, err := client.Dial(ctx, c.NameNodeAddr(), client.WithDialTimeout(2*time.Second),
			client.WithTLS(&tls.Config{RootCAs: x509.NewCertPool()}))
		if err == nil {
			t.Fatal("Dial without the CA succeeded")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Dial without the CA: %q, want it to say the certificate is not trusted", err)
		}
	})
	t.Run("a plaintext read from the data port fails", func(t *testing.T) {
		rc, err := datatransfer.Options{DialTimeout: 2 * time.Second, Timeout: 2 * time.Second}.ReadBlock(ctx, lb.Locations[0], lb.Block, 0, lb.Block.Len, "plain")
		if err == nil {
			b, rerr := io.ReadAll(rc)
			rc.Close()
			t.Fatalf("plaintext ReadBlock of a TLS DataNode read %q, %v", b, rerr)
		}
	})
	t.Run("raw bytes to the data port get no answer in plaintext", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", c.DataNodeAddr(0), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Whatever the server says is a TLS alert or nothing, never
		// the block: it reads our bytes as a bad TLS record.
		conn.Write([]byte("\x00\x1c hello, i would like a block please\n"))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		if strings.Contains(string(b), "secret bytes") {
			t.Fatalf("a plaintext peer read the block: %q", b)
		}
		if len(b) > 0 && b[0] != 0x15 { // a TLS alert record
			t.Errorf("plaintext peer got %q, want a TLS alert or nothing", b)
		}
	})
	t.Run("a stranger's TLS read from the data port fails", func(t *testing.T) {
		o := datatransfer.Options{DialTimeout: 2 * time.Second, Timeout: 2 * time.Second}
		o.Transport.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
		_, err := o.ReadBlock(ctx, lb.Locations[0], lb.Block, 0, lb.Block.Len, "stranger")
		var unknown x509.UnknownAuthorityError
		if err == nil || !errors.As(err, &unknown) && !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("ReadBlock without the CA: %v, want an untrusted certificate", err)
		}
	})
	t.Run("the web servers serve HTTPS and redirect to https", func(t *testing.T) {
		hc := &http.Client{
			Transport:     &http.Transport{TLSClientConfig: c.ClientTLS()},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       10 * time.Second,
		}
		for _, addr := range []string{c.NameNodeHTTPAddr(), c.DataNodeHTTPAddr(0)} {
			resp, err := hc.Get("https://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("GET https://%s/healthz: %v", addr, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET https://%s/healthz: %s", addr, resp.Status)
			}
			// Go's server answers a plaintext request on a TLS port
			// with 400 Bad Request.
			if r, err := http.Get("http://" + addr + "/healthz"); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					t.Errorf("GET http://%s/healthz succeeded on a TLS port", addr)
				}
			}
		}
		resp, err := hc.Get("https://" + c.NameNodeHTTPAddr() + "/webhdfs/v1/f?op=OPEN&user.name=alice")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, "https://"+c.DataNodeHTTPAddr(0)+"/") {
			t.Fatalf("WebHDFS OPEN: %s, Location %q; want 307 to https://%s/", resp.Status, loc, c.DataNodeHTTPAddr(0))
		}
		resp, err = hc.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "secret bytes" {
			t.Fatalf("WebHDFS OPEN at the DataNode: %s %q, want the file", resp.Status, body)
		}
	})
}

// TestTLSGroupElectsAndReplicates: a NameNode group of three whose Raft
// traffic is TLS elects a leader, and what it writes reaches the
// others: once the leader stops, the next one elected serves the file.
func TestTLSGroupElectsAndReplicates(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{TLS: true, NameNodes: 3, DataNodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := c.WaitLeader(t)
	cl := c.Client(t)
	data := randomData(2, 2*healBlock)
	if err := write(ctx, cl, "/g/f", data); err != nil {
		t.Fatal(err)
	}
	c.StopNameNode(t, first)
	next := c.WaitLeader(t)
	if next == first {
		t.Fatalf("member %d still leads after it stopped", first)
	}
	c.WaitFor(t, fmt.Sprintf("member %d, the new leader, to serve /g/f", next), func(ctx context.Context) (bool, error) {
		err := same(ctx, cl, "/g/f", data)
		return err == nil, err
	})
}

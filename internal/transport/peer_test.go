package transport_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/transport"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// ConnNode tells a peer that presented a certificate of the cluster
// from one that presented none, and from plaintext.
func TestConnNode(t *testing.T) {
	cert, pool := transporttest.SelfSigned(t)
	server := transport.Config{TLS: &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}}
	node := transport.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}
	client := transport.Config{TLS: &tls.Config{RootCAs: pool}}
	for _, tc := range []struct {
		name      string
		srv, dial transport.Config
		want      bool
	}{
		{"a node's certificate", server, node, true},
		{"no certificate", server, client, false},
		{"plaintext", transport.Config{}, transport.Config{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lis, err := tc.srv.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer lis.Close()
			wl := tc.srv.WrapListener(lis)
			type res struct {
				name string
				ok   bool
			}
			got := make(chan res, 1)
			go func() {
				c, err := wl.Accept()
				if err != nil {
					got <- res{}
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				n, ok := transport.ConnNode(c)
				got <- res{n, ok}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := tc.dial.DialContext(ctx, lis.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := <-got
			if r.ok != tc.want {
				t.Fatalf("ConnNode = %q, %v; want a node: %v", r.name, r.ok, tc.want)
			}
			if r.ok && r.name != "cairn test node" {
				t.Errorf("ConnNode names %q, want the certificate's common name", r.name)
			}
		})
	}
}

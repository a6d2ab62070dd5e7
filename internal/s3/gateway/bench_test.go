package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// BenchmarkGateway puts and gets an object of 256 MiB through the
// gateway and, for comparison, through the client alone:
//
//	go test -run XXX -bench Gateway ./internal/s3/gateway/
func BenchmarkGateway(b *testing.B) {
	const size = 256 << 20
	data := randomBytes(7, size)
	for _, via := range []string{"gateway", "client"} {
		b.Run(via, func(b *testing.B) {
			e := newEnvBlockSize(b, 64<<20)
			e.ok(req{method: "PUT", target: "/bench"})
			b.SetBytes(2 * size)
			for i := range b.N {
				key := fmt.Sprintf("obj%d", i)
				if via == "client" {
					w, err := e.cl.Create(e.ctx, "/s3/bench/"+key, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					r, err := e.cl.Open(e.ctx, "/s3/bench/"+key)
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, r)
					r.Close()
					if n != size {
						b.Fatalf("read %d bytes", n)
					}
					continue
				}
				hr, _ := http.NewRequest("PUT", e.srv.URL+"/bench/"+key, bytes.NewReader(data))
				(sigv4.Signer{Credential: alice}).Sign(hr, sigv4.UnsignedPayload)
				res, err := e.srv.Client().Do(hr)
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("PUT: %v %v", res, err)
				}
				res.Body.Close()
				hr, _ = http.NewRequest("GET", e.srv.URL+"/bench/"+key, nil)
				(sigv4.Signer{Credential: alice}).Sign(hr, sigv4.UnsignedPayload)
				res, err = e.srv.Client().Do(hr)
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("GET: %v %v", res, err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if n != size {
					b.Fatalf("GET gave %d bytes", n)
				}
			}
		})
	}
}

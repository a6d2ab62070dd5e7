package fusefs

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestReadAhead reads a file of several blocks through the read-ahead
// in READs of the kernel's sizes, whole chunks handed over and partial
// ones copied, stops it half-way and starts it again elsewhere.
func TestReadAhead(t *testing.T) {
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1})
	cl := tc.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := make([]byte, 3*raChunk+12345)
	rand.Read(data)
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Open(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	size := int64(len(data))

	for _, req := range []int{raChunk, 128 << 10, 4096} {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		ra := startReadAhead(r, 0, size)
		var got []byte
		for {
			if b, buf, ok := ra.takeChunk(req); ok {
				got = append(got, b...)
				chunkPool.Put(buf)
				continue
			}
			p := make([]byte, req)
			n, err := ra.take(p)
			got = append(got, p[:n]...)
			if err != nil {
				if err != io.EOF {
					t.Fatalf("take = %v", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		ra.stop()
		if !bytes.Equal(got, data) {
			t.Errorf("READs of %d give %d bytes, want the %d written", req, len(got), len(data))
		}
	}

	// Stopped half-way, started again at another offset.
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ra := startReadAhead(r, 0, size)
	p := make([]byte, 1000)
	if n, err := ra.take(p); n != 1000 || err != nil || !bytes.Equal(p, data[:1000]) {
		t.Fatalf("take = %d, %v", n, err)
	}
	ra.stop()
	off := int64(2*raChunk + 7)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ra = startReadAhead(r, off, size)
	defer ra.stop()
	rest := make([]byte, size-off)
	if n, err := ra.take(rest); n != len(rest) || !bytes.Equal(rest, data[off:]) {
		t.Errorf("take after a restart = %d, %v; want the %d bytes from %d", n, err, len(rest), off)
	}
}

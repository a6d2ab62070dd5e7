package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// testBlockSize is the block size of the test clusters: small, so that
// tests cross many block boundaries with little data.
const testBlockSize = 256 << 10

// setup starts a cluster and returns it with a client and a context
// bounded for the test.
func setup(t *testing.T, opts testcluster.Options) (*testcluster.Cluster, *client.Client, context.Context) {
	t.Helper()
	if opts.BlockSize == 0 {
		opts.BlockSize = testBlockSize
	}
	c := testcluster.Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c, c.Client(t), ctx
}

// randomBytes returns n bytes that are the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeFile writes data to name, in writes of uneven sizes.
func writeFile(t *testing.T, ctx context.Context, cl *client.Client, name string, data []byte, opts *client.CreateOptions) {
	t.Helper()
	w, err := cl.Create(ctx, name, opts)
	if err != nil {
		t.Fatalf("Create(%q) = %v", name, err)
	}
	defer w.Abort()
	for rest, step := data, 1; len(rest) > 0; step = (step*7 + 3) % (100 << 10) {
		n := min(len(rest), step+1)
		m, err := w.Write(rest[:n])
		if err != nil || m != n {
			t.Fatalf("Write(%d bytes) of %q = %d, %v", n, name, m, err)
		}
		rest = rest[n:]
	}
	if got := w.Written(); got != int64(len(data)) {
		t.Errorf("Written() = %d, want %d", got, len(data))
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q) = %v", name, err)
	}
}

func readFile(t *testing.T, ctx context.Context, cl *client.Client, name string) []byte {
	t.Helper()
	r, err := cl.Open(ctx, name)
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll(%q) = %v", name, err)
	}
	return b
}

func wantKind(t *testing.T, what string, err error, kind cairn.Kind) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s = %v, want kind %q", what, err, kind)
		return
	}
	var ce *cairn.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s = %T, want *cairn.Error", what, err)
	}
}

func TestRoundTrip(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})
	sizes := []struct {
		name string
		size int
	}{
		{"an empty file", 0},
		{"one byte", 1},
		{"a chunk less one", cairn.ChunkSize - 1},
		{"one chunk", cairn.ChunkSize},
		{"a chunk and one byte", cairn.ChunkSize + 1},
		{"a packet and one byte", cairn.PacketSize + 1},
		{"a block less one", testBlockSize - 1},
		{"exactly one block", testBlockSize},
		{"a block and one byte", testBlockSize + 1},
		{"several blocks", 4*testBlockSize + 12345},
		{"more blocks than one location batch", 12*testBlockSize + 5},
	}
	for i, tc := range sizes {
		t.Run(tc.name, func(t *testing.T) {
			name := "/roundtrip/" + strings.ReplaceAll(tc.name, " ", "-")
			data := randomBytes(uint64(i), tc.size)
			writeFile(t, ctx, cl, name, data, &client.CreateOptions{CreateParent: true})

			fi, err := cl.StatBlocks(ctx, name)
			if err != nil {
				t.Fatalf("StatBlocks(%q) = %v", name, err)
			}
			if fi.Size != int64(tc.size) || fi.IsDir || fi.UnderConstruction {
				t.Errorf("StatBlocks(%q) = size %d dir %v open %v, want size %d, a closed file", name, fi.Size, fi.IsDir, fi.UnderConstruction, tc.size)
			}
			wantBlocks := (tc.size + testBlockSize - 1) / testBlockSize
			if len(fi.Blocks) != wantBlocks {
				t.Errorf("StatBlocks(%q) has %d blocks, want %d", name, len(fi.Blocks), wantBlocks)
			}
			var off int64
			for j, lb := range fi.Blocks {
				want := min(int64(testBlockSize), int64(tc.size)-off)
				if lb.Offset != off || lb.Block.Len != want {
					t.Errorf("block %d at %d len %d, want at %d len %d", j, lb.Offset, lb.Block.Len, off, want)
				}
				if len(lb.Locations) != 3 {
					t.Errorf("block %d has %d locations, want 3", j, len(lb.Locations))
				}
				off += lb.Block.Len
			}

			if got := readFile(t, ctx, cl, name); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want %d (equal: %v)", len(got), len(data), bytes.Equal(got, data))
			}
			checkReadAt(t, ctx, cl, name, data, uint64(i))
			checkSeek(t, ctx, cl, name, data, uint64(i))
		})
	}
}

// checkReadAt reads random ranges with ReadAt, some crossing block
// boundaries, some past the end.
func checkReadAt(t *testing.T, ctx context.Context, cl *client.Client, name string, data []byte, seed uint64) {
	t.Helper()
	r, err := cl.Open(ctx, name)
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(seed, 1))
	size := int64(len(data))
	for range 20 {
		off := rnd.Int64N(size + 2)
		n := rnd.IntN(2*testBlockSize + 1)
		if rnd.IntN(3) == 0 && size > 0 {
			// Straddle a block boundary.
			b := int64(testBlockSize) * rnd.Int64N(size/testBlockSize+1)
			off = max(0, b-int64(rnd.IntN(1000)))
		}
		p := make([]byte, n)
		got, err := r.ReadAt(p, off)
		wantN := max(0, min(int64(n), size-off))
		if int64(got) != wantN {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d", n, off, got, err, wantN)
		}
		if wantN < int64(n) && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want io.EOF", n, off, got, err)
		}
		if wantN == int64(n) && err != nil {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want no error", n, off, got, err)
		}
		if got > 0 && !bytes.Equal(p[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes, %d) gave wrong bytes", n, off)
		}
	}
}

// checkSeek seeks to random offsets and reads from there.
func checkSeek(t *testing.T, ctx context.Context, cl *client.Client, name string, data []byte, seed uint64) {
	t.Helper()
	r, err := cl.Open(ctx, name)
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(seed, 2))
	size := int64(len(data))
	for range 10 {
		off := rnd.Int64N(size + 1)
		if pos, err := r.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		n := rnd.IntN(testBlockSize + 100)
		p := make([]byte, n)
		got, err := io.ReadFull(r, p)
		wantN := int(min(int64(n), size-off))
		if got != wantN || (got < n) != (err != nil) {
			t.Fatalf("ReadFull(%d bytes) at %d = %d, %v; want %d", n, off, got, err, wantN)
		}
		if !bytes.Equal(p[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadFull(%d bytes) at %d gave wrong bytes", n, off)
		}
		// A short forward seek is served by the open stream.
		if pos, err := r.Seek(100, io.SeekCurrent); err != nil || pos != off+int64(got)+100 {
			t.Fatalf("Seek(100, current) = %d, %v", pos, err)
		}
		p = make([]byte, 10)
		got, _ = io.ReadFull(r, p)
		at := off + int64(wantN) + 100
		if want := max(0, min(10, size-at)); int64(got) != want || !bytes.Equal(p[:got], data[min(at, size):min(at, size)+want]) {
			t.Fatalf("read after short seek to %d = %d bytes, want %d", at, got, want)
		}
	}
	if pos, err := r.Seek(-1, io.SeekEnd); size > 0 && (err != nil || pos != size-1) {
		t.Fatalf("Seek(-1, end) = %d, %v; want %d", pos, err, size-1)
	}
	if _, err := r.Seek(-size-1, io.SeekEnd); err == nil {
		t.Errorf("Seek before the start succeeded")
	}
}

func TestReaderConcurrentReadAt(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(42, 3*testBlockSize+99)
	writeFile(t, ctx, cl, "/concurrent", data, nil)
	r, err := cl.Open(ctx, "/concurrent")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 3))
			for range 10 {
				off := rnd.Int64N(int64(len(data)))
				p := make([]byte, rnd.IntN(testBlockSize))
				n, err := r.ReadAt(p, off)
				if err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
					errs <- errors.New("wrong bytes")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent ReadAt: %v", err)
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{})

	t.Run("abort removes the file", func(t *testing.T) {
		w, err := cl.Create(ctx, "/aborted", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(1, testBlockSize+10)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort() = %v", err)
		}
		_, err = cl.Stat(ctx, "/aborted")
		wantKind(t, "Stat after Abort", err, cairn.NotExist)
		if _, err := w.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Write after Abort = %v, want fs.ErrClosed", err)
		}
	})

	t.Run("abort after close keeps the file", func(t *testing.T) {
		w, err := cl.Create(ctx, "/kept", nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("kept"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Close = %v", err)
		}
		if err := w.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("second Close = %v, want fs.ErrClosed", err)
		}
		if got := readFile(t, ctx, cl, "/kept"); string(got) != "kept" {
			t.Errorf("read %q, want %q", got, "kept")
		}
	})

	t.Run("an open file is under construction", func(t *testing.T) {
		w, err := cl.Create(ctx, "/open", &client.CreateOptions{Replication: 2, BlockSize: 1 << 20, Mode: 0o600})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		fi, err := cl.Stat(ctx, "/open")
		if err != nil {
			t.Fatal(err)
		}
		if !fi.UnderConstruction || fi.Replication != 2 || fi.BlockSize != 1<<20 || fi.Mode != 0o600 {
			t.Errorf("Stat(open file) = %+v, want under construction, replication 2, block size 1 MiB, mode 0600", fi)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err = cl.Stat(ctx, "/open")
		if err != nil || fi.UnderConstruction {
			t.Errorf("Stat(closed file) = %+v, %v; want complete", fi, err)
		}
	})

	t.Run("a second writer gets a lease conflict", func(t *testing.T) {
		w, err := cl.Create(ctx, "/leased", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		other, err := client.Dial(ctx, c.NameNodeAddr(), client.WithClientName("other-writer"))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, err = other.Create(ctx, "/leased", &client.CreateOptions{Overwrite: true})
		wantKind(t, "Create of a file open by another client", err, cairn.LeaseConflict)
	})

	t.Run("files belong to the client's user", func(t *testing.T) {
		alice, err := client.Dial(ctx, c.NameNodeAddr(), client.WithUser("alice", "staff"), client.WithDialTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer alice.Close()
		// Her home, made for her by the superuser (the OS user running
		// the test, who formatted the NameNode). What she makes in it
		// takes its group.
		if err := cl.Mkdir(ctx, "/alice", 0); err != nil {
			t.Fatal(err)
		}
		if err := cl.Chown(ctx, "/alice", "alice", "staff"); err != nil {
			t.Fatal(err)
		}
		writeFile(t, ctx, alice, "/alice/file", []byte("mine"), &client.CreateOptions{CreateParent: true})
		if err := alice.Mkdir(ctx, "/alice/dir", 0); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/alice/file", "/alice/dir"} {
			fi, err := cl.Stat(ctx, p)
			if err != nil || fi.Owner != "alice" || fi.Group != "staff" {
				t.Errorf("Stat(%s) = owner %q group %q, %v; want alice, staff", p, fi.Owner, fi.Group, err)
			}
		}
		if fi, _ := cl.Stat(ctx, "/alice/dir"); fi.Mode != 0o755 {
			t.Errorf("Mkdir(perm 0) made mode %v, want 0755", fi.Mode)
		}
		if fi, _ := cl.Stat(ctx, "/alice/file"); fi.Mode != 0o644 {
			t.Errorf("Create(mode 0) made mode %v, want 0644", fi.Mode)
		}
	})

	t.Run("bad options are refused", func(t *testing.T) {
		for _, opts := range []*client.CreateOptions{{BlockSize: 1000}, {BlockSize: -512}, {Replication: -1}} {
			_, err := cl.Create(ctx, "/bad", opts)
			wantKind(t, "Create with bad options", err, cairn.Invalid)
		}
	})
}

func TestDialUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// Dial keeps trying until its context ends, then says why the
	// last attempt failed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, addr)
	if err == nil {
		cl.Close()
		t.Fatalf("Dial(%s) of a closed port succeeded", addr)
	}
	wantKind(t, "Dial of a closed port", err, cairn.Unavailable)
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Dial error %q does not say that %s refused the connection", err, addr)
	}
}

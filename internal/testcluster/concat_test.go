package testcluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// putRepl writes size random bytes (seeded by seed) to p with 1 MiB
// blocks and the given replication.
func putRepl(t *testing.T, cl *client.Client, p string, size, repl int, seed uint64) []byte {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 11))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	ctx := context.Background()
	w, err := cl.Create(ctx, p, &client.CreateOptions{BlockSize: 1 << 20, Replication: repl, CreateParent: true})
	if err != nil {
		t.Fatalf("Create(%q): %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", p, err)
	}
	return data
}

// checkReadAt reads [off, off+n) of p through r.ReadAt and compares it
// with want.
func checkReadAt(t *testing.T, r *client.Reader, want []byte, off, n int64) {
	t.Helper()
	buf := make([]byte, n)
	m, err := r.ReadAt(buf, off)
	if off+n > int64(len(want)) {
		if !errors.Is(err, io.EOF) {
			t.Errorf("ReadAt(%d bytes at %d) past the end = %d, %v; want io.EOF", n, off, m, err)
		}
		n = int64(len(want)) - off
	} else if err != nil {
		t.Errorf("ReadAt(%d bytes at %d) = %d, %v", n, off, m, err)
		return
	}
	if int64(m) != n || !bytes.Equal(buf[:m], want[off:off+n]) {
		t.Errorf("ReadAt(%d bytes at %d) = %d bytes, not the concatenation's", n, off, m)
	}
}

// Concat with real DataNodes and real bytes: files whose last blocks
// are partial, one of another replication, joined into a file whose
// blocks differ in length, read back whole and across every block
// boundary, healthy, healed after a DataNode stops, and a concat
// retried with the same call applied once.
func TestConcatWithRealBytes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4, BlockSize: 1 << 20})
	cl := c.Client(t)
	ctx := context.Background()
	const mib, kib = 1 << 20, 1 << 10
	t0 := putRepl(t, cl, "/concat/t", 5*mib/2, 3, 1)
	s1 := putRepl(t, cl, "/concat/in/s1", 13*mib/10, 2, 2) // replication 2: raised to the target's 3
	s2 := putRepl(t, cl, "/other/s2", 700*kib, 3, 3)
	if err := cl.Touch(ctx, "/other/empty"); err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{t0, s1, s2}, nil)

	// A reader of the target opened before the concat keeps reading
	// the file as it was.
	before, err := cl.Open(ctx, "/concat/t")
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	if err := cl.Concat(ctx, "/concat/t", "/concat/in/s1", "/other/s2", "/other/empty"); err != nil {
		t.Fatalf("Concat: %v", err)
	}

	fi, err := cl.StatBlocks(ctx, "/concat/t")
	if err != nil {
		t.Fatal(err)
	}
	wantLens := []int64{mib, mib, mib / 2, mib, 3 * mib / 10, 700 * kib}
	var lens, bounds []int64
	var off int64
	for _, lb := range fi.Blocks {
		if lb.Offset != off {
			t.Errorf("block at offset %d, want %d", lb.Offset, off)
		}
		lens = append(lens, lb.Block.Len)
		off += lb.Block.Len
		bounds = append(bounds, off)
	}
	if fmt.Sprint(lens) != fmt.Sprint(wantLens) || fi.Size != int64(len(want)) || fi.Replication != 3 {
		t.Fatalf("/concat/t after Concat: size %d, replication %d, blocks of %v bytes; want %d, 3, %v",
			fi.Size, fi.Replication, lens, len(want), wantLens)
	}
	for _, p := range []string{"/concat/in/s1", "/other/s2", "/other/empty"} {
		if _, err := cl.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) after Concat = %v, want not exist", p, err)
		}
	}

	checkFile(t, cl, "/concat/t", want)
	if got, err := io.ReadAll(before); err != nil || !bytes.Equal(got, t0) {
		t.Errorf("a reader opened before the concat read %d bytes, %v; want the %d of the file then", len(got), err, len(t0))
	}

	r, err := cl.Open(ctx, "/concat/t")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Across every block boundary: small reads (through the reader's
	// window), large ones, and ones spanning several blocks.
	for _, b := range bounds[:len(bounds)-1] {
		for _, n := range []int64{2, 4 * kib, 40 * kib, 3 * mib / 2} {
			checkReadAt(t, r, want, max(b-n/2, 0), n)
		}
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for range 40 {
		off := rng.Int64N(int64(len(want)))
		checkReadAt(t, r, want, off, 1+rng.Int64N(2*mib))
	}
	// Sequential reads after seeks into each block.
	for _, b := range bounds[:len(bounds)-1] {
		if _, err := r.Seek(b-100, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 300)
		if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, want[b-100:b+200]) {
			t.Errorf("Read of 300 bytes after Seek(%d) = %v, or not the concatenation's", b-100, err)
		}
	}

	// The source of replication 2 is raised to the target's 3.
	c.WaitFor(t, "every block of /concat/t at 3 live replicas, fsck healthy", func(ctx context.Context) (bool, error) {
		return replicated(ctx, cl, "/concat/t", 3)
	})
	rep, err := cl.Fsck(ctx, "/", client.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "HEALTHY" || rep.Blocks != int64(len(wantLens)) || rep.CorruptBlocks+rep.MissingBlocks+rep.UnderReplicatedBlocks != 0 {
		t.Errorf("fsck / = %+v, want HEALTHY with %d blocks", rep, len(wantLens))
	}

	// The web download (a DataNode streams the file block by block).
	for i := range c.NumDataNodes() {
		status, body, _, _ := download(t, c.DataNodeHTTPAddr(i), "/concat/t")
		if status != 200 || !bytes.Equal(body, want) {
			t.Errorf("download of /concat/t through datanode %d: status %d, %d bytes, not the concatenation's %d", i, status, len(body), len(want))
		}
	}

	// A DataNode stops: the joined file is healed back to 3 replicas
	// and still reads whole.
	victim := locations(t, c, "/concat/t")[3][0]
	c.StopDataNode(t, victim)
	c.WaitFor(t, "the stopped node to be dead", func(ctx context.Context) (bool, error) {
		return stateOf(ctx, cl, c.DataNodeAddr(victim)) == "dead", nil
	})
	c.WaitFor(t, "every block back at 3 live replicas", func(ctx context.Context) (bool, error) {
		return replicated(ctx, cl, "/concat/t", 3)
	})
	checkFile(t, cl, "/concat/t", want)
}

// A concat retried with the same call (its answer lost) is answered
// from the retry cache: it succeeds, and the sources are joined once.
func TestConcatRetriedWithTheSameCall(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 3})
	cl := c.Client(t)
	ctx := context.Background()
	t0 := putRepl(t, cl, "/r/t", 300*1024, 3, 5)
	s := putRepl(t, cl, "/r/s", 200*1024, 3, 6)

	conn, err := grpc.NewClient(c.NameNodeAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nn := protocol.NewClientProtocolClient(conn)
	concat := func(call uint64) error {
		ctx := metadata.AppendToOutgoingContext(ctx,
			protocol.MetadataClientID, "concat-retry-test", protocol.MetadataCallID, strconv.FormatUint(call, 10))
		_, err := nn.Concat(ctx, &protocol.ConcatRequest{Target: "/r/t", Srcs: []string{"/r/s"}})
		return protocol.FromStatus("concat", "/r/t", err)
	}
	if err := concat(1); err != nil {
		t.Fatalf("Concat = %v", err)
	}
	if err := concat(1); err != nil {
		t.Errorf("Concat retried with the same call = %v, want the first answer (success)", err)
	}
	if err := concat(2); cairn.KindOf(err) != cairn.NotExist {
		t.Errorf("a new Concat of a source gone = %v, want kind NotExist", err)
	}
	checkFile(t, cl, "/r/t", append(t0, s...))
}

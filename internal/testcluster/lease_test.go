package testcluster_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestCreateAfterSoftLimitKeepsTheWritersBytes is the reproduction of
// a failed Create destroying another writer's last block, with real
// DataNodes and real bytes: a writer streams part of a block down its
// pipeline (every byte acknowledged by the three DataNodes), then goes
// silent past the lease soft limit without closing. Another client's
// Create without overwrite must fail with Exist and leave the file
// alone; its Create with overwrite must start a real block recovery
// (and be told to retry), after which the file holds every
// acknowledged byte.
func TestCreateAfterSoftLimitKeepsTheWritersBytes(t *testing.T) {
	const soft = 300 * time.Millisecond
	c := testcluster.Start(t, testcluster.Options{NameNode: func(cfg *namenode.Config) {
		cfg.LeaseSoftLimit = soft
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nn := c.NameNode()

	// The writer, played at the protocol level so that it can stop
	// dead: Create, AddBlock, and two packets down the pipeline.
	st, err := nn.Create(ctx, "/f", namenode.CreateOptions{ClientName: "paused-writer", CreateParent: true})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := nn.AddBlock(ctx, "/f", st.ID, "paused-writer", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*cairn.PacketSize)
	r := rand.New(rand.NewPCG(12, 34))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	w, err := datatransfer.Options{Recoverable: true, Timeout: 10 * time.Second}.NewBlockWriter(ctx, lb.Block, lb.Locations, "paused-writer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, "every byte acknowledged by the pipeline", func(context.Context) (bool, error) {
		return w.Acked() == int64(len(data)), nil
	})
	w.Abort() // the writer stops dead, the bytes on the nodes

	other := c.Client(t)
	c.WaitFor(t, "the writer's lease past the soft limit", func(ctx context.Context) (bool, error) {
		_, err := other.Create(ctx, "/f", nil)
		if cairn.KindOf(err) == cairn.LeaseConflict {
			return false, err
		}
		if cairn.KindOf(err) != cairn.Exist {
			t.Fatalf("Create without overwrite of a file whose writer passed the soft limit = %v, want kind Exist", err)
		}
		return true, nil
	})
	fi, err := other.Stat(ctx, "/f")
	if err != nil || !fi.UnderConstruction {
		t.Fatalf("after a Create that failed, Stat(/f) = %+v, %v; want the file untouched, still open", fi, err)
	}

	_, err = other.Create(ctx, "/f", &client.CreateOptions{Overwrite: true})
	if cairn.KindOf(err) != cairn.LeaseConflict || !strings.Contains(err.Error(), "recover") {
		t.Fatalf("Create with overwrite during the takeover = %v, want kind LeaseConflict saying the file is being recovered", err)
	}
	c.WaitFor(t, "the file closed by lease recovery", func(ctx context.Context) (bool, error) {
		fi, err := other.Stat(ctx, "/f")
		return err == nil && !fi.UnderConstruction, err
	})
	got, err := readFile(ctx, other, "/f")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("recovered file has %d bytes, want the %d acknowledged ones", len(got), len(data))
	}
}

// TestFsckOpenFilesNameTheirLeaseHolders: fsck --open-files lists each
// file being written with the client holding its lease and how long
// ago it renewed it; once the lease is being recovered, the holder is
// the NameNode's lease recovery.
func TestFsckOpenFilesNameTheirLeaseHolders(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	writer, err := client.Dial(ctx, c.NameNodeAddr(), client.WithClientName("fsck-test-writer"))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	w, err := writer.Create(ctx, "/open", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("some bytes")); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t)
	rep, err := cl.Fsck(ctx, "/", client.FsckOptions{OpenFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FileDetails) != 1 {
		t.Fatalf("fsck --open-files lists %d files, want /open", len(rep.FileDetails))
	}
	f := rep.FileDetails[0]
	if f.Path != "/open" || !f.Open || f.LeaseHolder != "fsck-test-writer" || f.LeaseAge < 0 {
		t.Fatalf("fsck --open-files: %+v; want /open, open, leased by fsck-test-writer, with the age of its last renewal", f)
	}
}

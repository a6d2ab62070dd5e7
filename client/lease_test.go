package client_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestLeaseRenewal keeps a file open, idle, for several lease soft
// limits: the Client's renewals must keep other writers out, and the
// file must complete normally afterwards.
func TestLeaseRenewal(t *testing.T) {
	const soft = 300 * time.Millisecond
	c, cl, ctx := setup(t, testcluster.Options{NameNode: func(cfg *namenode.Config) {
		cfg.LeaseSoftLimit = soft
		cfg.LeaseHardLimit = 3 * soft
	}})
	other, err := client.Dial(ctx, c.NameNodeAddr(), client.WithClientName("intruder"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	data := randomBytes(40, testBlockSize+100)
	w, err := cl.Create(ctx, "/leased", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data[:testBlockSize+50]); err != nil {
		t.Fatal(err)
	}
	// Stay idle past the hard limit, checking all along that the lease
	// holds.
	for end := time.Now().Add(5 * soft); time.Now().Before(end); time.Sleep(soft / 3) {
		_, err := other.Create(ctx, "/leased", &client.CreateOptions{Overwrite: true})
		wantKind(t, "Create of a file whose writer renews its lease", err, cairn.LeaseConflict)
		if fi, err := cl.Stat(ctx, "/leased"); err != nil || !fi.UnderConstruction {
			t.Fatalf("Stat(/leased) = %+v, %v; want still under construction", fi, err)
		}
	}
	if _, err := w.Write(data[testBlockSize+50:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after an idle spell = %v", err)
	}
	if got := readFile(t, ctx, cl, "/leased"); !bytes.Equal(got, data) {
		t.Fatalf("file reads back wrong")
	}
}

// TestNameNodeRestart checks that a Client rides over a NameNode
// restart: it reconnects by itself, and what was written before reads
// back after.
func TestNameNodeRestart(t *testing.T) {
	c, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(50, 2*testBlockSize+7)
	writeFile(t, ctx, cl, "/before", data, nil)
	c.RestartNameNode(t)
	c.WaitFor(t, "the old client to reach the restarted namenode", func(ctx context.Context) (bool, error) {
		_, err := cl.Stat(ctx, "/before")
		return err == nil, err
	})
	if err := cl.WaitSafeModeOff(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, ctx, cl, "/before"); !bytes.Equal(got, data) {
		t.Fatalf("file written before the restart reads back wrong")
	}
	writeFile(t, ctx, cl, "/after", data, nil)
	if got := readFile(t, ctx, cl, "/after"); !bytes.Equal(got, data) {
		t.Fatalf("file written after the restart reads back wrong")
	}
}

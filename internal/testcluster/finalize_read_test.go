package testcluster_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestReadDuringFinalize: a reader of a synced file whose last block
// the DataNode is finalizing (moving its files from rbw/ to
// finalized/) reads it whole, rather than failing with "no such
// replica" while the replica is in neither of the DataNode's maps. A
// FUSE mount syncs on close(2) and completes the file just after, so
// a reader right after a close meets this window.
func TestReadDuringFinalize(t *testing.T) {
	var (
		mu      sync.Mutex
		armed   bool
		reached = make(chan struct{})
		release = make(chan struct{})
	)
	c := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1,
		DataNode: func(i int, cfg *datanode.Config) {
			cfg.StepHook = func(step datanode.Step, b cairn.Block) error {
				if step != datanode.StepFinalizeMetaMoved {
					return nil
				}
				mu.Lock()
				stop := armed
				armed = false
				mu.Unlock()
				if stop {
					close(reached)
					<-release
				}
				return nil
			}
		}})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before the cluster's shutdown, even on failure
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := bytes.Repeat([]byte("finalize "), 1000)
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	armed = true
	mu.Unlock()
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	<-reached
	read := make(chan error, 1)
	var got []byte
	go func() {
		r, err := cl.Open(ctx, "/f")
		if err == nil {
			got, err = io.ReadAll(r)
			r.Close()
		}
		read <- err
	}()
	select {
	case err := <-read:
		t.Fatalf("read ended while the block was half moved: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	unblock()
	if err := <-read; err != nil || !bytes.Equal(got, data) {
		t.Errorf("read during finalize = %d bytes, %v; want %d", len(got), err, len(data))
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
}

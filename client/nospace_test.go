package client_test

import (
	"bytes"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestWriteNoSpace: a write that no DataNode has room for fails with
// an error of kind cairn.NoSpace, not a bare I/O error.
func TestWriteNoSpace(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{DataNodes: 1, Replication: 1,
		DataNode: func(i int, cfg *datanode.Config) { cfg.VolumeCapacity = 2 << 20 }})
	w, err := cl.Create(ctx, "/full", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	_, err = w.Write(bytes.Repeat([]byte("x"), 8<<20))
	if err == nil {
		err = w.Close()
	}
	wantKind(t, "writing more than the cluster holds", err, cairn.NoSpace)
}

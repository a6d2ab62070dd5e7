package fusefs_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/fusefs"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestMountNoSpace: a write the cluster has no room for fails with
// ENOSPC, and the file is removed rather than left looking whole.
func TestMountNoSpace(t *testing.T) {
	needFUSE(t)
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1,
		DataNode: func(i int, cfg *datanode.Config) { cfg.VolumeCapacity = 2 << 20 }})
	cl := tc.Client(t)
	dir := t.TempDir()
	lg := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: logLevel()}))
	srv, err := fusefs.Mount(dir, fusefs.Config{Client: cl, OpTimeout: 20 * time.Second}, lg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	err = os.WriteFile(dir+"/big", random(8<<20), 0o644)
	wantErrno(t, "WriteFile of more than the cluster holds", err, syscall.ENOSPC)
	tc.WaitFor(t, "the failed file to be removed", func(ctx context.Context) (bool, error) {
		_, err := cl.Stat(ctx, "/big")
		return errors.Is(err, fs.ErrNotExist), nil
	})
}

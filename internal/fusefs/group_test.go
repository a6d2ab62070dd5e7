package fusefs_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/fusefs"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestMountGroupFailover: a mount of a NameNode group goes on working
// when its leader dies: files written before read back, new ones are
// written, a listing works, each within the request's bound.
func TestMountGroupFailover(t *testing.T) {
	needFUSE(t)
	tc := testcluster.Start(t, testcluster.Options{NameNodes: 3, DataNodes: 1, Replication: 1})
	tc.WaitLeader(t)
	cl := tc.Client(t)
	dir := t.TempDir()
	lg := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: logLevel()}))
	srv, err := fusefs.Mount(dir, fusefs.Config{Client: cl, AttrTimeout: -1, OpTimeout: 30 * time.Second}, lg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	before := random(1<<20 + 5)
	must(t, os.WriteFile(filepath.Join(dir, "before"), before, 0o644))

	tc.StopNameNode(t, tc.LeaderIndex())
	start := time.Now()
	after := random(100 << 10)
	must(t, os.WriteFile(filepath.Join(dir, "after"), after, 0o644))
	t.Logf("the first write after the leader's death took %v", time.Since(start))
	for name, want := range map[string][]byte{"before": before, "after": after} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want %d", name, len(got), err, len(want))
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 {
		t.Errorf("ReadDir = %d entries, %v; want 2", len(ents), err)
	}
}

package fusefs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/fusefs"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// needFUSE skips the test when FUSE is missing, unless CI is set,
// where it fails: the CI machine must have it (.ci/run installs fuse3).
func needFUSE(t *testing.T) {
	t.Helper()
	var missing string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = "/dev/fuse is missing"
	} else if _, err := exec.LookPath("fusermount3"); err != nil && os.Geteuid() != 0 {
		missing = "fusermount3 is missing (apt-get install fuse3)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("FUSE needed: %s", missing)
	}
	t.Skipf("FUSE needed: %s", missing)
}

// testLogger routes logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is a test cluster, a client of it and a mount of it.
type env struct {
	tc  *testcluster.Cluster
	cl  *client.Client
	ctx context.Context
	dir string
	srv *fusefs.Server
}

// mount starts a cluster of one DataNode and mounts it in a temporary
// directory, unmounted by t.Cleanup.
func mount(t *testing.T, cfg fusefs.Config) *env {
	t.Helper()
	needFUSE(t)
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1})
	cl := tc.Client(t)
	dir := t.TempDir()
	cfg.Client = cl
	lg := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := fusefs.Mount(dir, cfg, lg)
	if err != nil {
		t.Fatalf("Mount(%s) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("Unmount = %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &env{tc: tc, cl: cl, ctx: ctx, dir: dir, srv: srv}
}

// p returns the local path of a cairn path in the mount.
func (e *env) p(name string) string { return filepath.Join(e.dir, name) }

// cat reads a cairn file through the client, as 'cairn fs cat' does.
func (e *env) cat(t *testing.T, name string) []byte {
	t.Helper()
	r, err := e.cl.Open(e.ctx, name)
	if err != nil {
		t.Fatalf("client Open(%s) = %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("client read %s = %v", name, err)
	}
	return b
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func TestMountSmoke(t *testing.T) {
	e := mount(t, fusefs.Config{})
	data := random(3<<20 + 17)
	if err := os.WriteFile(e.p("a.bin"), data, 0o644); err != nil {
		t.Fatalf("WriteFile = %v", err)
	}
	if got := e.cat(t, "/a.bin"); !bytes.Equal(got, data) {
		t.Fatalf("client reads %d bytes, want %d", len(got), len(data))
	}
	got, err := os.ReadFile(e.p("a.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile = %d bytes, %v; want %d", len(got), err, len(data))
	}
}

package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestMountErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"mount"}, exitUsage, "want a mount point"},
		{[]string{"mount", "--attr-timeout", "-1s", dir}, exitUsage, "--attr-timeout"},
		{[]string{"mount", filepath.Join(dir, "nope")}, exitFailure, "mount point does not exist"},
		{[]string{"mount", file}, exitFailure, "not a directory"},
		{[]string{"mount", "--namenode", "127.0.0.1:1", "--dial-timeout", "300ms", dir}, exitFailure, "unreachable"},
	} {
		_, stderr, code := runCLI(t, "", tt.args...)
		if code != tt.code {
			t.Errorf("cairn %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "), code, tt.code, stderr)
		}
		checkOneLine(t, tt.args, stderr, tt.want)
	}
}

// TestMountRunsUntilInterrupted mounts in-process, writes through the
// mount, and ends the command as SIGINT would: the mount is gone and
// the command exits 0.
func TestMountRunsUntilInterrupted(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil || (os.Geteuid() != 0 && !hasFusermount()) {
		if os.Getenv("CI") == "true" {
			t.Fatal("FUSE needed: /dev/fuse and fusermount3")
		}
		t.Skip("FUSE needed: /dev/fuse and fusermount3")
	}
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		stderr string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, stderr, code := tc.run(ctx, nil, "mount", "--attr-timeout", "100ms", dir)
		done <- result{stderr, code}
	}()
	tc.c.WaitFor(t, "the mount", func(context.Context) (bool, error) {
		select {
		case r := <-done:
			t.Fatalf("cairn mount ended: exit %d: %s", r.code, r.stderr)
		default:
		}
		return mountedOn(dir), nil
	})
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("through the mount"), 0o644); err != nil {
		t.Fatalf("WriteFile = %v", err)
	}
	if got := tc.must("fs", "cat", "/f"); got != "through the mount" {
		t.Errorf("cairn fs cat /f = %q", got)
	}
	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("cairn mount exit %d after the interrupt: %s", r.code, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cairn mount still running 30s after the interrupt")
	}
	if mountedOn(dir) {
		t.Errorf("%s still mounted", dir)
	}
}

func hasFusermount() bool {
	_, err := exec.LookPath("fusermount3")
	return err == nil
}

// mountedOn reports whether dir is on another device than its parent.
func mountedOn(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needTools skips the test when FUSE or a tool it drives is missing,
// unless CI is set, where it fails (.ci/run installs them).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing: %s", strings.Join(missing, ", "))
	}
	t.Skipf("missing: %s", strings.Join(missing, ", "))
}

// mounted is a 'cairn mount' process and its mount point.
type mounted struct {
	c   *cluster
	dir string
	p   *proc
}

// startMount runs 'cairn mount' on a new directory and waits until it
// is mounted.
func startMount(t *testing.T, c *cluster, args ...string) *mounted {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mounted{c: c, dir: dir}
	m.p = startProc(t, "mount", append([]string{"mount", "--namenode", c.nnAddr, dir}, args...)...)
	t.Cleanup(func() {
		// A test that failed half-way must not leave a mount behind.
		if isMounted(dir) {
			exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
	})
	c.waitFor("the mount", func() (bool, string) {
		select {
		case <-m.p.done:
			t.Fatalf("cairn mount exited: %s", m.p.out.String())
		default:
		}
		return isMounted(dir), m.p.out.String()
	})
	return m
}

// isMounted asks mountpoint(1), as an operator would.
func isMounted(dir string) bool {
	return exec.Command("mountpoint", "-q", dir).Run() == nil
}

// inProcMounts reports whether /proc/mounts lists dir.
func inProcMounts(t *testing.T, dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// sh runs a bash script with $MNT, $LOCAL, $CAIRN and CAIRN_NAMENODE
// set, and returns its stdout; a failure fails the test.
func (m *mounted) sh(t *testing.T, local, script string) string {
	t.Helper()
	out, err := m.shErr(local, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func (m *mounted) shErr(local, script string) (string, error) {
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "MNT="+m.dir, "LOCAL="+local, "CAIRN="+binary, "CAIRN_NAMENODE="+m.c.nnAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// makeTree writes a tree of directories and files of many sizes
// (empty, small, a block and more) under dir.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	r := rand.New(rand.NewSource(7))
	sizes := []int{0, 1, 511, 4096, 65537, 1 << 20, 3<<20 + 5}
	for d := 0; d < 4; d++ {
		sub := filepath.Join(dir, fmt.Sprintf("dir%d", d), "sub dir")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, size := range sizes {
			data := make([]byte, size)
			r.Read(data)
			where := sub
			if i%2 == 0 {
				where = filepath.Dir(sub)
			}
			if err := os.WriteFile(filepath.Join(where, fmt.Sprintf("file-%d-%d.bin", d, i)), data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.MkdirAll(filepath.Join(dir, "empty dir"), 0o755)
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestMount drives a real mount with real tools: cp, diff, rsync, tar,
// shell redirections, dd, mv, rm, df, and 'cairn fs' beside it.
func TestMount(t *testing.T) {
	needTools(t, "fusermount3", "mountpoint", "rsync", "tar", "diff", "dd", "sha256sum", "df", "tee")
	c := startCluster(t, clusterOptions{dataNodes: 2, replication: 2, blockSize: "8MiB"})
	m := startMount(t, c, "--attr-timeout", "200ms")
	local := t.TempDir()
	src := filepath.Join(local, "src")
	makeTree(t, src)

	t.Run("cp -r and diff -r both ways", func(t *testing.T) {
		m.sh(t, local, `cp -r "$LOCAL/src" "$MNT/tree" && diff -r "$LOCAL/src" "$MNT/tree"`)
		m.sh(t, local, `cp -r "$MNT/tree" "$LOCAL/back" && diff -r "$LOCAL/src" "$LOCAL/back"`)
		// And the cluster holds the bytes: cairn fs cat at once.
		m.sh(t, local, `"$CAIRN" fs cat "/tree/dir1/sub dir/file-1-5.bin" | cmp - "$LOCAL/src/dir1/sub dir/file-1-5.bin"`)
	})

	t.Run("rsync -a, then again after a change", func(t *testing.T) {
		m.sh(t, local, `rsync -a "$LOCAL/src/" "$MNT/rs/" && diff -r "$LOCAL/src" "$MNT/rs"`)
		m.sh(t, local, `cp -r "$LOCAL/src" "$LOCAL/src2" && echo changed >> "$LOCAL/src2/dir0/file-0-2.bin" &&
			rsync -a "$LOCAL/src2/" "$MNT/rs/" && diff -r "$LOCAL/src2" "$MNT/rs"`)
		// rsync -a kept the modification times.
		m.sh(t, local, `test "$(stat -c %Y "$LOCAL/src2/dir0/file-0-2.bin")" = "$(stat -c %Y "$MNT/rs/dir0/file-0-2.bin")"`)
	})

	t.Run("tar x into and c from the mount", func(t *testing.T) {
		m.sh(t, local, `mkdir "$MNT/tarx" && tar -C "$LOCAL/src" -cf - . | tar -C "$MNT/tarx" -xf - && diff -r "$LOCAL/src" "$MNT/tarx"`)
		m.sh(t, local, `tar -C "$MNT/tarx" -cf "$LOCAL/t.tar" . && mkdir "$LOCAL/untar" && tar -C "$LOCAL/untar" -xf "$LOCAL/t.tar" && diff -r "$LOCAL/src" "$LOCAL/untar"`)
	})

	t.Run("shell redirections and pipes", func(t *testing.T) {
		m.sh(t, local, `echo hello > "$MNT/r1" && echo more >> "$MNT/r2" && printf 'a\nb\n' | tee "$MNT/r3" > /dev/null
			{ echo one; /bin/echo two; echo three; } > "$MNT/r4"`)
		for name, want := range map[string]string{"/r1": "hello\n", "/r2": "more\n", "/r3": "a\nb\n", "/r4": "one\ntwo\nthree\n"} {
			if got := c.must("fs", "cat", name); got != want {
				t.Errorf("cairn fs cat %s = %q, want %q", name, got, want)
			}
		}
		// cairn writes a file once: appending to an existing one fails.
		out, err := m.shErr(local, `echo again >> "$MNT/r1"`)
		if err == nil || !strings.Contains(out, "Operation not supported") {
			t.Errorf("echo >> an existing file: %v, %q; want Operation not supported", err, out)
		}
	})

	t.Run("dd of 256 MiB both ways with checksums", func(t *testing.T) {
		size := 256
		if testing.Short() {
			size = 32
		}
		m.sh(t, local, fmt.Sprintf(`dd if=/dev/urandom of="$LOCAL/big" bs=1M count=%d status=none`, size))
		want := sha(t, filepath.Join(local, "big"))
		m.sh(t, local, `dd if="$LOCAL/big" of="$MNT/big" bs=1M status=none`)
		if got := strings.Fields(m.sh(t, local, `sha256sum < "$MNT/big"`))[0]; got != want {
			t.Errorf("sha256 through the mount = %s, want %s", got, want)
		}
		if got := strings.Fields(m.sh(t, local, `"$CAIRN" fs cat /big | sha256sum`))[0]; got != want {
			t.Errorf("sha256 of cairn fs cat = %s, want %s", got, want)
		}
		m.sh(t, local, `dd if="$MNT/big" of="$LOCAL/big.back" bs=1M status=none`)
		if got := sha(t, filepath.Join(local, "big.back")); got != want {
			t.Errorf("sha256 of dd out of the mount = %s, want %s", got, want)
		}
	})

	t.Run("cairn fs put read through the mount, and the reverse", func(t *testing.T) {
		m.sh(t, local, `"$CAIRN" fs put "$LOCAL/src/dir2/file-2-6.bin" /fromput && cmp "$MNT/fromput" "$LOCAL/src/dir2/file-2-6.bin"`)
		m.sh(t, local, `cp "$LOCAL/src/dir3/file-3-6.bin" "$MNT/tocat" && "$CAIRN" fs cat /tocat | cmp - "$LOCAL/src/dir3/file-3-6.bin"`)
	})

	t.Run("mv, rm -r and df", func(t *testing.T) {
		m.sh(t, local, `mv "$MNT/tree" "$MNT/moved" && diff -r "$LOCAL/src" "$MNT/moved" && test ! -e "$MNT/tree"`)
		m.sh(t, local, `mv "$LOCAL/back" "$MNT/fromlocal" && diff -r "$LOCAL/src" "$MNT/fromlocal"`)
		m.sh(t, local, `mv "$MNT/r1" "$MNT/r2"`) // replaces r2
		if got := c.must("fs", "cat", "/r2"); got != "hello\n" {
			t.Errorf("after mv onto it, /r2 = %q", got)
		}
		m.sh(t, local, `rm -r "$MNT/moved" "$MNT/fromlocal" && test ! -e "$MNT/moved"`)
		c.fails("does not exist", "fs", "stat", "/moved")
		out := m.sh(t, local, `df -k "$MNT" | tail -1`)
		f := strings.Fields(out)
		if len(f) < 6 || !strings.HasPrefix(f[0], "cairn") || f[1] == "0" {
			t.Errorf("df = %q, want the cluster's capacity under the name cairn", out)
		}
	})

	t.Run("mount errors are one line", func(t *testing.T) {
		c.fails("busy", "mount", "--namenode", c.nnAddr, m.dir)
		file := filepath.Join(local, "src", "dir0", "file-0-0.bin")
		c.fails("not a directory", "mount", "--namenode", c.nnAddr, file)
		c.fails("does not exist", "mount", "--namenode", c.nnAddr, filepath.Join(local, "nope"))
	})

	t.Run("SIGTERM unmounts with a file open", func(t *testing.T) {
		holder := exec.Command("bash", "-c", `exec 3> "$MNT/open"; echo partial >&3; sleep 600`)
		holder.Env = append(os.Environ(), "MNT="+m.dir)
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { holder.Process.Kill(); holder.Wait() }()
		c.waitFor("the open file", func() (bool, string) {
			out, _, code := c.cairn(nil, "fs", "cat", "/open")
			return code == 0 && out == "partial\n", out
		})
		m.p.signal(syscall.SIGTERM)
		select {
		case <-m.p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("cairn mount still running 30s after SIGTERM: %s", m.p.out.String())
		}
		if code := m.p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("cairn mount exit code %d after SIGTERM: %s", code, m.p.out.String())
		}
		if isMounted(m.dir) || inProcMounts(t, m.dir) {
			t.Errorf("%s is still mounted after SIGTERM", m.dir)
		}
		// The file still open was completed with what was written.
		c.waitFor("the open file to be complete", func() (bool, string) {
			out := c.must("fs", "stat", "/open")
			return !strings.Contains(out, "being written") && strings.Contains(out, "Size:        8 "), out
		})
	})
}

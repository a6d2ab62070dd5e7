package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// osUsers is a way to run the built binary as another OS user: the
// binary copied where any user may run it, and runuser. The test is
// skipped, with the reason, unless it runs as root on a host with
// runuser and the user.
type osUsers struct {
	t   *testing.T
	c   *cluster
	bin string
}

func needOSUser(t *testing.T, c *cluster, name string) *osUsers {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runs commands as other OS users with runuser: needs root")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Skip("runuser is missing (util-linux)")
	}
	if _, err := user.Lookup(name); err != nil {
		t.Skipf("no OS user %s: %v", name, err)
	}
	dir, err := os.MkdirTemp("", "cairn-e2e-shared")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "cairn")
	src, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &osUsers{t: t, c: c, bin: bin}
}

// run runs `cairn args...` as the OS user name, from a directory it may
// enter, and returns stdout, stderr and the exit code.
func (u *osUsers) run(name string, stdin []byte, args ...string) (string, string, int) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", name, "--", u.bin}, args...)...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CAIRN_NAMENODE=" + u.c.nnAddr}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			u.t.Fatalf("runuser -u %s cairn %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func (u *osUsers) must(name string, stdin []byte, args ...string) string {
	u.t.Helper()
	out, errOut, code := u.run(name, stdin, args...)
	if code != 0 {
		u.t.Fatalf("as %s: cairn %s: exit %d: %s", name, strings.Join(args, " "), code, errOut)
	}
	return out
}

// denied runs a command that the NameNode must refuse: a non-zero exit
// and one line saying permission denied, naming the user.
func (u *osUsers) denied(name string, args ...string) {
	u.t.Helper()
	out, errOut, code := u.run(name, nil, args...)
	line := strings.TrimSuffix(errOut, "\n")
	switch {
	case code == 0:
		u.t.Errorf("as %s: cairn %s succeeded (%q), want permission denied", name, strings.Join(args, " "), out)
	case strings.Contains(line, "\n") || !strings.HasPrefix(line, "cairn: "):
		u.t.Errorf("as %s: cairn %s: stderr is not one line: %q", name, strings.Join(args, " "), errOut)
	case !strings.Contains(line, "permission denied") || !strings.Contains(line, "user="+name):
		u.t.Errorf("as %s: cairn %s: %q does not say permission denied for user=%s", name, strings.Join(args, " "), line, name)
	}
}

// The case, as a user meets it: the OS user nobody may neither
// read nor delete root's mode-0600 file; everyone shares a sticky /tmp;
// the umask shapes what a user creates; and with --permissions=false
// the same requests pass.
func TestPermissionsAsOSUsers(t *testing.T) {
	c := startCluster(t, clusterOptions{dataNodes: 3})
	u := needOSUser(t, c, "nobody")
	secret := []byte("root's secret\n")
	c.must("fs", "mkdir", "/private")
	c.cairn(secret, "fs", "put", "-", "/private/secret")
	c.must("fs", "chmod", "600", "/private/secret")
	c.must("fs", "mkdir", "/tmp")
	c.must("fs", "chmod", "1777", "/tmp")
	c.cairn([]byte("root's tmp\n"), "fs", "put", "-", "/tmp/root.txt")
	c.must("fs", "chmod", "666", "/tmp/root.txt")

	u.denied("nobody", "fs", "cat", "/private/secret")
	u.denied("nobody", "fs", "rm", "/private/secret")
	u.denied("nobody", "fs", "mkdir", "/private/mine")
	u.denied("nobody", "fs", "chmod", "644", "/private/secret")
	u.denied("nobody", "fs", "chown", "nobody", "/private")
	u.denied("nobody", "fs", "rm", "/tmp/root.txt") // sticky: not nobody's
	u.denied("nobody", "fs", "mv", "/tmp/root.txt", "/tmp/mine.txt")
	if got := c.must("fs", "cat", "/private/secret"); got != string(secret) {
		t.Fatalf("root's file after nobody's attempts = %q", got)
	}
	// What nobody may do: list /, write in /tmp (files it owns, with
	// the umask's mode and the parent's group), read a world-readable
	// file, delete its own.
	if out := u.must("nobody", nil, "fs", "ls", "/"); !strings.Contains(out, "/private") {
		t.Errorf("ls / as nobody = %q", out)
	}
	u.must("nobody", []byte("mine\n"), "fs", "put", "-", "/tmp/nobody.txt")
	var st struct {
		Owner string `json:"owner"`
		Group string `json:"group"`
		Mode  string `json:"mode"`
	}
	c.mustJSON(&st, "fs", "stat", "--json", "/tmp/nobody.txt")
	if st.Owner != "nobody" || st.Mode != "0644" || st.Group != "supergroup" {
		t.Errorf("nobody's file: %+v, want owner nobody, group supergroup (the parent's), mode 0644 (umask 022)", st)
	}
	if out := u.must("nobody", nil, "fs", "cat", "/tmp/root.txt"); out != "root's tmp\n" {
		t.Errorf("cat of a 0666 file as nobody = %q", out)
	}
	u.must("nobody", nil, "fs", "rm", "/tmp/nobody.txt")

	// --permissions=false: the same refusals pass.
	c.nn.kill()
	c.nn.args = append(c.nn.args, "--permissions=false")
	c.nn.restart(t)
	c.waitSafeModeOff()
	if out := u.must("nobody", nil, "fs", "cat", "/private/secret"); out != string(secret) {
		t.Errorf("cat as nobody with --permissions=false = %q", out)
	}
}

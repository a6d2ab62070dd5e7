package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevSecure: 'cairn dev --secure', as the README's users start it,
// works end to end through every door with the credentials its banner
// names: the CLI, the aws command line over HTTPS, WebHDFS with
// delegation=, the web UI with a token, and a FUSE mount; and each
// refuses who brings none.
func TestDevSecure(t *testing.T) {
	aws := needTool(t, awsPath, "apt-get install awscli")
	curl := needTool(t, "curl", "apt-get install curl")
	dir := t.TempDir()
	rpc, web := freeAddr(t), freeAddr(t)
	dev := startProc(t, "dev", "dev", "--secure", "--dir", dir, "--rpc-addr", rpc, "--http-addr", web,
		"--datanode-port", "0", "--s3-addr", freeAddr(t), "--heartbeat-interval", "200ms")
	line := waitAWSLine(t, dev)
	banner := dev.out.String()
	ca := filepath.Join(dir, "certs", "ca.crt")
	rootFile := filepath.Join(dir, "namenode", "root.token")
	for _, want := range []string{"CAIRN_TLS_CA=" + ca, rootFile, "https://" + web + "/?delegation="} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner does not say %q:\n%s", want, banner)
		}
	}
	b, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(string(b))
	env := append(clientEnv(), "CAIRN_NAMENODE="+rpc, "CAIRN_TLS_CA="+ca, "CAIRN_TOKEN="+root)
	cairnCmd := func(env []string, args ...string) result { return runClient(t, env, binary, args...) }

	// The CLI, as the banner says.
	local, data := randomFile(t, t.TempDir(), 1<<20+99, 3)
	mustSucceed(t, cairnCmd(env, "fs", "put", local, "/f"))
	if got := mustSucceed(t, cairnCmd(env, "fs", "cat", "/f")); got != string(data) {
		t.Fatalf("cat: %d bytes differ from the %d put", len(got), len(data))
	}
	mustFailWith(t, cairnCmd(append(slices.Clone(env), "CAIRN_TOKEN="), "fs", "ls", "/"), "unauthenticated")

	// S3 over HTTPS, with the printed line.
	envS3, argv := splitCommandLine(t, line)
	if !strings.Contains(line, "https://") || !strings.Contains(line, "--ca-bundle "+ca) {
		t.Errorf("the aws line %q is not HTTPS with the CA", line)
	}
	s3env := clientEnv(envS3...)
	mustSucceed(t, runClient(t, s3env, aws, argv[1:]...))
	base := slices.Clone(argv[1 : len(argv)-2])
	mustSucceed(t, runClient(t, s3env, aws, append(base, "s3", "mb", "s3://secured")...))
	mustSucceed(t, runClient(t, s3env, aws, append(base, "s3", "cp", local, "s3://secured/obj")...))
	if got := mustSucceed(t, cairnCmd(env, "fs", "cat", "/s3/secured/obj")); got != string(data) {
		t.Errorf("the object put over S3 read back with the CLI differs")
	}

	// WebHDFS: a token by delegation=, carried by the redirect.
	u := "https://" + web + "/webhdfs/v1/f?op=OPEN"
	if got := mustSucceed(t, runClient(t, env, curl, "-sS", "-f", "-L", "--cacert", ca, u+"&delegation="+root)); got != string(data) {
		t.Errorf("WebHDFS OPEN with delegation=: %d bytes differ", len(got))
	}
	if out := runClient(t, env, curl, "-sS", "-L", "--cacert", ca, u); !strings.Contains(out.stdout, "SecurityException") {
		t.Errorf("WebHDFS OPEN without a token = %v, want a SecurityException", out)
	}

	// The web UI: 401 without a token, the pages with one.
	code := func(url string) string {
		return mustSucceed(t, runClient(t, env, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, url))
	}
	if c := code("https://" + web + "/browse?path=/"); c != "401" {
		t.Errorf("web UI without a token = %s, want 401", c)
	}
	if c := code("https://" + web + "/browse?path=/&delegation=" + root); c != "200" {
		t.Errorf("web UI with delegation= = %s, want 200", c)
	}

	// A FUSE mount with the same token: a file written through it is
	// in the cluster.
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("/dev/fuse is missing")
		}
		t.Skip("/dev/fuse is missing: the mount is not tried")
	}
	needTools(t, "fusermount3", "mountpoint")
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := exec.Command(binary, "mount", mnt)
	mount.Env = env
	out := &syncBuffer{}
	mount.Stdout, mount.Stderr = out, out
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mount.Process.Signal(syscall.SIGTERM)
		mount.Wait()
		if isMounted(mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("the secured mount did not come up: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(mnt, "via-mount.txt"), []byte("mounted\n"), 0o644); err != nil {
		t.Fatalf("write through the secured mount: %v (%s)", err, out.String())
	}
	if got := mustSucceed(t, cairnCmd(env, "fs", "cat", "/via-mount.txt")); got != "mounted\n" {
		t.Errorf("the file written through the mount reads %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(b) != string(data) {
		t.Errorf("read through the mount: %v, %d bytes", err, len(b))
	}
}

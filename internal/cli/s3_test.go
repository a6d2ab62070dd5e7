package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

const testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"

func TestParseCredentials(t *testing.T) {
	good := "# keys\n\n  AKIA1 " + testSecret + " alice\nAKIA2\tsecret#2\tbob   \n"
	creds, err := parseCredentials("f", []byte(good))
	if err != nil {
		t.Fatalf("parseCredentials(%q) = %v", good, err)
	}
	want := []sigv4.Credential{{AccessKey: "AKIA1", SecretKey: testSecret, User: "alice"}, {AccessKey: "AKIA2", SecretKey: "secret#2", User: "bob"}}
	if len(creds) != len(want) || creds[0] != want[0] || creds[1] != want[1] {
		t.Errorf("parseCredentials(%q) = %v, want %v", good, creds, want)
	}

	tests := []struct {
		name, text, want string
	}{
		{"an empty file is refused", "# nothing\n\n", "no credentials"},
		{"a line of two fields is refused with its number", "AK1 s1 u1\nAK2 " + testSecret + "\n", "line 2: want ACCESS_KEY SECRET_KEY USER, got 2 fields"},
		{"a line of four fields is refused", "AK1 s1 u1 extra\n", "line 1: want ACCESS_KEY SECRET_KEY USER, got 4 fields"},
		{"a duplicate key names both lines", "AK1 s1 u1\n# c\nAK1 " + testSecret + " u2\n", "line 3: access key AK1 is already on line 1"},
		{"a key with a slash is refused", "AK/1 " + testSecret + " u1\n", "line 1: access key \"AK/1\""},
		{"a user with a colon is refused", "AK1 " + testSecret + " u:1\n", "line 1: user \"u:1\""},
		{"a trailing comment is not one", "AK1 " + testSecret + " u1 # me\n", "got 5 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCredentials("f", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseCredentials(%q) = %v, want an error with %q", tt.text, err, tt.want)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("parseCredentials(%q) = %v: the error shows the secret", tt.text, err)
			}
		})
	}
}

func TestReadCredentialsFileChecksItsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds")
	if err := writeCredentialsFile(path, sigv4.Credential{AccessKey: "AK1", SecretKey: testSecret, User: "u1"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("writeCredentialsFile made mode %v (%v), want 0600", st.Mode(), err)
	}
	creds, warning, err := readCredentialsFile(path)
	if err != nil || warning != "" || len(creds) != 1 || creds[0].SecretKey != testSecret {
		t.Fatalf("readCredentialsFile of what writeCredentialsFile wrote = %v, %q, %v", creds, warning, err)
	}
	os.Chmod(path, 0o640)
	if _, warning, err := readCredentialsFile(path); err != nil || !strings.Contains(warning, "group") {
		t.Errorf("readCredentialsFile of mode 0640 = %q, %v; want a warning about the group", warning, err)
	}
	os.Chmod(path, 0o604)
	if _, _, err := readCredentialsFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readCredentialsFile of mode 0604 = %v, want a refusal", err)
	}
}

// TestS3UsageErrors: a bad flag of 'cairn s3' exits 2 with one line,
// before dialing anything, and no line ever shows a secret.
func TestS3UsageErrors(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("AK "+testSecret+" u\n"), 0o644)
	dup := filepath.Join(dir, "dup")
	os.WriteFile(dup, []byte("AK "+testSecret+" u\nAK "+testSecret+" v\n"), 0o600)
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("AK "+testSecret+" u\n"), 0o600)
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"s3"}, nil, "no credentials"},
		{[]string{"s3", "--access-key", "AK"}, nil, "has no secret key"},
		{[]string{"s3", "--secret-key", testSecret}, nil, "without an access key"},
		{[]string{"s3"}, map[string]string{envS3AccessKey: "AK"}, "has no secret key"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--addr", "nowhere"}, nil, "invalid --addr"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--root", "s3"}, nil, "invalid --root"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--domain", "http://x"}, nil, "invalid --domain"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--namenode", "a:1,,b:2"}, nil, "empty address"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--upload-max-age", "0s"}, nil, "--upload-max-age"},
		{[]string{"s3", "--access-key", "AK", "--secret-key", testSecret, "--credentials", good}, nil, "without --access-key"},
		{[]string{"s3", "--credentials", filepath.Join(dir, "missing")}, nil, "no such file"},
		{[]string{"s3", "--credentials", open}, nil, "chmod 600"},
		{[]string{"s3", "--credentials", dup}, nil, "line 2: access key AK is already on line 1"},
		{[]string{"s3", "--access-key", "A/K", "--secret-key", testSecret}, nil, "access key"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runWithEnv(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("cairn %s: exit %d, want %d (stdout %q)", strings.Join(tt.args, " "), code, exitUsage, stdout)
			}
			checkOneLine(t, tt.args, stderr, tt.want)
			if strings.Contains(stdout+stderr, testSecret) {
				t.Errorf("cairn %s shows the secret: %q", strings.Join(tt.args, " "), stderr)
			}
		})
	}
}

// TestS3SecretNeverShown: --help shows no default secret and
// --print-config hides the one given.
func TestS3SecretNeverShown(t *testing.T) {
	for _, args := range [][]string{
		{"s3", "--help"},
		{"s3", "--access-key", "AK", "--secret-key", testSecret, "--print-config"},
	} {
		stdout, stderr, code := runWithEnv(t, map[string]string{envS3SecretKey: testSecret, "CAIRN_SECRET_KEY": testSecret}, args...)
		if code != exitOK || strings.Contains(stdout+stderr, testSecret) {
			t.Errorf("cairn %s: exit %d, output shows the secret or fails:\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	stdout, _, _ := runWithEnv(t, nil, "s3", "--access-key", "AK", "--secret-key", testSecret, "--print-config")
	if !strings.Contains(stdout, "secret-key: "+hiddenSecret) {
		t.Errorf("--print-config does not say the secret is set:\n%s", stdout)
	}
}

// TestS3CommandServesAndStops runs 'cairn s3' in-process against a test
// cluster: it logs the address it got for port 0, answers an unsigned
// request with S3's AccessDenied, never logs the secret, and stops
// cleanly when interrupted.
func TestS3CommandServesAndStops(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 1})
	s := startServerEnv(t, map[string]string{envS3AccessKey: "AKTEST", envS3SecretKey: testSecret},
		"s3", "--namenode", c.NameNodeAddr(), "--addr", "127.0.0.1:0", "--log-level", "debug")
	addr := s.waitFor(t, s.stderr, regexp.MustCompile(`msg=listening addr=(\S+)`))[1]
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("cairn s3 logs %s, not the port it got", addr)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("an unsigned GET / = %d %q, want 403 AccessDenied", resp.StatusCode, body)
	}
	if code := s.stop(t); code != exitOK {
		t.Errorf("cairn s3 exited with %d after an interrupt", code)
	}
	if strings.Contains(s.stderr.String(), testSecret) {
		t.Errorf("cairn s3 logged its secret:\n%s", s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "msg=stopped") {
		t.Errorf("cairn s3 did not log that it stopped:\n%s", s.stderr.String())
	}
}

// TestDevS3Credentials: dev makes its S3 keys once, mode 0600, and
// reads them back on the next start.
func TestDevS3Credentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), devCredentialsFile)
	creds, first, err := devCredentials(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || !strings.HasPrefix(first.AccessKey, "CAIRNDEV") || len(first.AccessKey) != 20 || len(first.SecretKey) != 40 {
		t.Errorf("devCredentials made %v (%s, secret of %d characters), want one CAIRNDEV key of 20 characters and a secret of 40", creds, first, len(first.SecretKey))
	}
	again, first2, err := devCredentials(path, nil)
	if err != nil || first2 != first || len(again) != 1 {
		t.Errorf("devCredentials read back %v, %v; want %v", first2, err, first)
	}
}

// startServerEnv is startServer with environment variables.
func startServerEnv(t *testing.T, environ map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	e := &env{
		stdin:      strings.NewReader(""),
		stdout:     s.stdout,
		stderr:     s.stderr,
		getenv:     func(k string) string { return environ[k] },
		isTerminal: func(io.Writer) bool { return false },
	}
	go func() { s.done <- e.run(ctx, args) }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("cairn %s stderr:\n%s", strings.Join(args, " "), s.stderr.String())
		}
	})
	return s
}

// TestDevS3PortInUse: a dev cluster whose S3 port is taken stops before
// starting anything, with one line that says how to choose another.
func TestDevS3PortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	args := []string{"dev", "--dir", dir, "--rpc-addr", "127.0.0.1:0", "--http-addr", "", "--datanode-port", "0", "--s3-addr", l.Addr().String()}
	_, stderr, code := runCLI(t, "", args...)
	if code != exitFailure {
		t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
	}
	checkOneLine(t, args, stderr, "address already in use")
	checkOneLine(t, args, stderr, "--s3-addr 127.0.0.1:0")
	if _, err := os.Stat(filepath.Join(dir, "namenode")); err == nil {
		t.Errorf("dev made its namenode's directory although its S3 port was taken")
	}
}

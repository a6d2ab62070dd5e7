package e2e

// The S3 tests (s3_test.go) run 'cairn s3' as a process beside a
// cluster's and drive it with S3 clients nobody here wrote, each by its
// full path: Debian's aws command line, rclone and s3cmd, boto3 under
// every python3 that has it (testdata/s3_boto.py), and curl with
// presigned URLs. A client that is missing skips its test, unless CI is
// set (.ci/run installs them all): then it fails.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The S3 clients, by full path: another aws (pip's awscli v1, say)
// may come first on PATH.
const (
	awsPath    = "/usr/bin/aws"
	rclonePath = "/usr/bin/rclone"
	s3cmdPath  = "/usr/bin/s3cmd"
	curlPath   = "/usr/bin/curl"
)

// The gateway's credentials in the S3 tests: alice's and bob's keys
// come from a --credentials file.
const (
	s3AliceKey    = "AKIAALICE0000000TEST"
	s3AliceSecret = "alice/Secret+Key0000000000000000000TEST"
	s3BobKey      = "AKIABOB00000000TEST2"
	s3BobSecret   = "bob/Secret+Key000000000000000000000TEST"
	s3Region      = "us-east-1"
)

// s3Gateway is a 'cairn s3' process serving a cluster.
type s3Gateway struct {
	t        testing.TB
	c        *cluster
	p        *proc
	addr     string // host:port
	endpoint string // http://host:port
	dir      string // the clients' config files
}

// startS3 starts 'cairn s3' on a free port for c, with alice's and
// bob's keys in a credentials file, and waits until it answers.
func startS3(t testing.TB, c *cluster, extra ...string) *s3Gateway {
	t.Helper()
	g := &s3Gateway{t: t, c: c, addr: freeAddr(t), dir: t.TempDir()}
	g.endpoint = "http://" + g.addr
	creds := filepath.Join(g.dir, "credentials")
	text := fmt.Sprintf("# test keys\n%s %s alice\n\n%s\t%s\tbob\n", s3AliceKey, s3AliceSecret, s3BobKey, s3BobSecret)
	if err := os.WriteFile(creds, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"s3", "--namenode", c.nnAddr, "--addr", g.addr, "--credentials", creds}, extra...)
	g.p = startProc(t, "s3", args...)
	g.waitUp()
	t.Cleanup(func() {
		// Whatever happened, the log shows no secret.
		if out := g.p.out.String(); strings.Contains(out, s3AliceSecret) || strings.Contains(out, s3BobSecret) {
			t.Errorf("cairn s3 logged a secret key:\n%s", out)
		}
	})
	return g
}

// waitUp waits until the gateway accepts connections and has logged
// that it listens.
func (g *s3Gateway) waitUp() {
	g.t.Helper()
	g.c.waitFor("the s3 gateway to listen on "+g.addr, func() (bool, string) {
		select {
		case <-g.p.done:
			g.t.Fatalf("cairn s3 exited: %s", g.p.out.String())
		default:
		}
		if !strings.Contains(g.p.out.String(), "msg=listening addr="+g.addr) {
			return false, g.p.out.String()
		}
		conn, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// restart kills the gateway with SIGKILL and starts it again on the
// same address.
func (g *s3Gateway) restart() {
	g.t.Helper()
	g.p.kill()
	g.p.out = &syncBuffer{} // the new process's output only
	g.p.start(g.t)
	g.waitUp()
}

// tlsFront starts an HTTPS reverse proxy in front of the gateway, as a
// load balancer terminating TLS would be (docs/S3.md): it keeps the
// client's Host, which every signature covers, and records the
// x-amz-content-sha256 of every request it passes on. It returns its
// https URL and a function that returns the values seen.
func (g *s3Gateway) tlsFront() (endpoint string, payloads func() []string) {
	g.t.Helper()
	target, err := url.Parse(g.endpoint)
	if err != nil {
		g.t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" {
			mu.Lock()
			seen = append(seen, v)
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	g.t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// clientEnv is this process's environment without any AWS_ or RCLONE_
// setting, so that a developer's own configuration cannot leak in, and
// with extra added.
func clientEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "RCLONE_") || strings.HasPrefix(kv, "S3CMD") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// result is what a client command did.
type result struct {
	cmd    string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s", r.cmd, r.code, tail(r.stdout), tail(r.stderr))
}

// tail is the end of a client's output, enough to see what failed.
func tail(s string) string {
	const max = 4000
	if len(s) <= max {
		return s
	}
	return "..." + s[len(s)-max:]
}

// runClient runs path with args in env and returns what it did, within
// 3 minutes.
func runClient(t testing.TB, env []string, path string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if took := time.Since(start); took > 10*time.Second {
		t.Logf("%s %s took %v", filepath.Base(path), strings.Join(args, " "), took.Round(time.Millisecond))
	}
	r := result{cmd: filepath.Base(path) + " " + strings.Join(args, " "), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", r.cmd, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// mustSucceed fails the test unless r succeeded, and returns its stdout.
func mustSucceed(t testing.TB, r result) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// mustFailWith fails the test unless r failed with want in its stderr.
func mustFailWith(t testing.TB, r result, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s succeeded, want a failure with %q\nstdout: %s", r.cmd, want, r.stdout)
		return
	}
	if !strings.Contains(r.stderr+r.stdout, want) {
		t.Errorf("%s failed without %q:\n%v", r.cmd, want, r)
	}
}

// awsEnv is the environment of the aws command line for a key: no
// config but ours (multipart uploads from 8 MiB, in 8 MiB parts).
func (g *s3Gateway) awsEnv(access, secret string) []string {
	cfg := filepath.Join(g.dir, "aws-config")
	if _, err := os.Stat(cfg); err != nil {
		text := "[default]\nregion = " + s3Region + "\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n"
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			g.t.Fatal(err)
		}
	}
	return clientEnv(
		"AWS_ACCESS_KEY_ID="+access,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION="+s3Region,
		"AWS_CONFIG_FILE="+cfg,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(g.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
}

// aws runs /usr/bin/aws as alice against the gateway.
func (g *s3Gateway) aws(args ...string) result {
	g.t.Helper()
	return g.awsAs(s3AliceKey, s3AliceSecret, args...)
}

// awsAs runs /usr/bin/aws with a key against the gateway.
func (g *s3Gateway) awsAs(access, secret string, args ...string) result {
	g.t.Helper()
	if len(args) > 1 && args[0] == "s3" && (args[1] == "cp" || args[1] == "sync") {
		args = append([]string{"s3", args[1], "--no-progress"}, args[2:]...)
	}
	return runClient(g.t, g.awsEnv(access, secret), awsPath, append([]string{"--endpoint-url", g.endpoint}, args...)...)
}

// awsJSON runs aws as alice and decodes its JSON output into v.
func (g *s3Gateway) awsJSON(v any, args ...string) {
	g.t.Helper()
	out := mustSucceed(g.t, g.aws(append(args, "--output", "json")...))
	if err := json.Unmarshal([]byte(out), v); err != nil {
		g.t.Fatalf("aws %s: bad JSON %q: %v", strings.Join(args, " "), out, err)
	}
}

// rclone runs /usr/bin/rclone as alice, with the remote "cairn:" set
// up by environment variables only.
func (g *s3Gateway) rclone(args ...string) result {
	g.t.Helper()
	conf := filepath.Join(g.dir, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		g.t.Fatal(err)
	}
	env := clientEnv(
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_CAIRN_TYPE=s3",
		"RCLONE_CONFIG_CAIRN_PROVIDER=Other",
		"RCLONE_CONFIG_CAIRN_ENV_AUTH=false",
		"RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID="+s3AliceKey,
		"RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY="+s3AliceSecret,
		"RCLONE_CONFIG_CAIRN_ENDPOINT="+g.endpoint,
		"RCLONE_CONFIG_CAIRN_REGION="+s3Region,
	)
	// Few retries: a failure shows in seconds, not minutes.
	return runClient(g.t, env, rclonePath, append(args, "--retries", "1", "--low-level-retries", "2")...)
}

// s3cmd runs /usr/bin/s3cmd as bob with a config file of its own.
func (g *s3Gateway) s3cmd(args ...string) result {
	g.t.Helper()
	cfg := filepath.Join(g.dir, "s3cfg")
	text := fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
use_https = False
signature_v2 = False
check_ssl_certificate = False
max_retries = 2
`, s3BobKey, s3BobSecret, g.addr, g.addr, s3Region)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		g.t.Fatal(err)
	}
	return runClient(g.t, clientEnv(), s3cmdPath, append([]string{"-c", cfg, "--no-ssl"}, args...)...)
}

// botoPythons returns the python3 interpreters that have boto3: the
// one on PATH and Debian's /usr/bin/python3, each once. In CI, Debian's
// must have it (.ci/run installs python3-boto3).
func botoPythons(t *testing.T) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "-c", "import sys, boto3, botocore; print(sys.executable, 'boto3', boto3.__version__, 'botocore', botocore.__version__)").Output()
		if err != nil {
			if name == "/usr/bin/python3" && os.Getenv("CI") != "" {
				t.Fatalf("/usr/bin/python3 cannot import boto3 (apt-get install python3-boto3)")
			}
			continue
		}
		id := strings.TrimSpace(string(out))
		if seen[id] {
			continue
		}
		seen[id] = true
		found = append(found, path)
		t.Logf("%s: %s", name, id)
	}
	if len(found) == 0 {
		needTool(t, "/usr/bin/python3 with boto3", "apt-get install python3-boto3")
	}
	return found
}

// boto runs testdata/s3_boto.py with python as alice: scenario and its
// arguments.
func (g *s3Gateway) boto(python string, args ...string) result {
	g.t.Helper()
	return g.botoAt(g.endpoint, python, args...)
}

// botoAt is boto against another endpoint: https (S3_INSECURE: the
// test's own certificate), or another host name.
func (g *s3Gateway) botoAt(endpoint, python string, args ...string) result {
	g.t.Helper()
	env := clientEnv(
		"S3_ENDPOINT="+endpoint,
		"AWS_ACCESS_KEY_ID="+s3AliceKey,
		"AWS_SECRET_ACCESS_KEY="+s3AliceSecret,
		"AWS_DEFAULT_REGION="+s3Region,
		"AWS_CONFIG_FILE="+filepath.Join(g.dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(g.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
	if strings.HasPrefix(endpoint, "https:") {
		env = append(env, "S3_INSECURE=1")
	}
	return runClient(g.t, env, python, append([]string{filepath.Join("testdata", "s3_boto.py")}, args...)...)
}

// curl runs /usr/bin/curl with args, failing on an HTTP error unless
// the caller checks the status (-w).
func curl(t testing.TB, args ...string) result {
	t.Helper()
	return runClient(t, clientEnv(), curlPath, append([]string{"-sS"}, args...)...)
}

// md5Hex is the hex MD5 of data.
func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// fileMD5 is the hex MD5 of the local file at path.
func fileMD5(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return md5Hex(data)
}

// sameFile fails the test unless the local file got holds want.
func sameFile(t testing.TB, what, got string, want []byte) {
	t.Helper()
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s: %d bytes, MD5 %s; want %d bytes, MD5 %s", what, len(data), md5Hex(data), len(want), md5Hex(want))
	}
}

// awsErrorCode matches the code in an aws error line: "An error
// occurred (NoSuchKey) when calling the GetObject operation".
var awsErrorCode = regexp.MustCompile(`An error occurred \(([A-Za-z0-9]+)\)`)

// awsCode returns the S3 error code r failed with, or "".
func awsCode(r result) string {
	if m := awsErrorCode.FindStringSubmatch(r.stderr); m != nil {
		return m[1]
	}
	return ""
}

// wantAWSCode fails the test unless r failed with the S3 error code
// code (one of codes).
func wantAWSCode(t testing.TB, r result, codes ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s succeeded, want error %v\nstdout: %s", r.cmd, codes, r.stdout)
		return
	}
	if got := awsCode(r); !slices.Contains(codes, got) {
		t.Errorf("%s: error code %q, want %v\n%v", r.cmd, got, codes, r)
	}
}

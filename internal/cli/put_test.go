package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// noTemporaries fails the test if the namespace holds a put's
// temporary file anywhere.
func noTemporaries(t *testing.T, tc *testCLI) {
	t.Helper()
	if out := tc.must("fs", "ls", "-R", "/"); strings.Contains(out, "_COPYING_") {
		t.Errorf("temporaries left in the namespace:\n%s", out)
	}
}

// TestPutRacesWithTheNamespace changes the namespace while a put is
// uploading: the put must fail with one clear line, leave what is
// there alone, and leave no temporary behind.
func TestPutRacesWithTheNamespace(t *testing.T) {
	tests := []struct {
		name   string
		args   []string // put arguments before "- /d/f"
		during []string // a command run in the middle of the upload
		after  []string // then, if not nil
		want   string
		ls     string // ls -R / afterwards
	}{
		{
			name:   "the target becomes a directory",
			during: []string{"fs", "mkdir", "/d/f"},
			after:  []string{"fs", "touch", "/d/f/keep"},
			want:   "put /d/f: became a directory during the upload",
			ls:     "/d\n/d/f\n/d/f/keep\n",
		},
		{
			name:   "the target becomes a directory, with -f",
			args:   []string{"-f"},
			during: []string{"fs", "mkdir", "/d/f"},
			want:   "put /d/f: became a directory during the upload",
			ls:     "/d\n/d/f\n",
		},
		{
			name:   "the target becomes a file",
			during: []string{"fs", "touch", "/d/f"},
			want:   "put /d/f: file already exists",
			ls:     "/d\n/d/f\n",
		},
		{
			name:   "the target directory is removed",
			during: []string{"fs", "rm", "-r", "/d"},
			want:   "put /d/f: directory /d was removed during the upload",
			ls:     "",
		},
		{
			name:   "the target directory is removed and made again",
			during: []string{"fs", "rm", "-r", "/d"},
			after:  []string{"fs", "mkdir", "/d"},
			want:   "put /d/f: its temporary file /d/.f._COPYING_.",
			ls:     "/d\n",
		},
	}
	tc := startCLI(t, testcluster.Options{BlockSize: 1 << 20})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc.t = t
			tc.must("fs", "rm", "-r", "-f", "/d")
			tc.must("fs", "mkdir", "/d")
			in := &hookReader{r: bytes.NewReader(randomBytes(3<<20, 6)), after: 3 << 19, fn: func() {
				tc.must(tt.during...)
				if tt.after != nil {
					tc.must(tt.after...)
				}
			}}
			args := append(append([]string{"fs", "put"}, tt.args...), "-", "/d/f")
			_, errOut, code := tc.cairn(in, args...)
			if code != exitFailure {
				t.Fatalf("cairn %s: exit %d (stderr %q), want %d", strings.Join(args, " "), code, errOut, exitFailure)
			}
			checkOneLine(t, args, errOut, tt.want)
			if got := tc.must("fs", "ls", "-R", "/"); got != tt.ls {
				t.Errorf("ls -R / after the put = %q, want %q", got, tt.ls)
			}
			noTemporaries(t, tc)
		})
	}
}

// TestFailedPutRemovesItsTemporary fails a put in its pipeline: every
// DataNode stops in the middle of the upload.
func TestFailedPutRemovesItsTemporary(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 2, Replication: 2, BlockSize: 1 << 20})
	tc.must("fs", "mkdir", "/d")
	in := &hookReader{r: bytes.NewReader(randomBytes(3<<20, 7)), after: 3 << 19, fn: func() {
		for i := range tc.c.NumDataNodes() {
			tc.c.StopDataNode(t, i)
		}
	}}
	args := []string{"fs", "put", "-", "/d/f"}
	_, errOut, code := tc.cairn(in, args...)
	if code != exitFailure {
		t.Fatalf("put with every DataNode stopped: exit %d (stderr %q), want %d", code, errOut, exitFailure)
	}
	checkOneLine(t, args, errOut, "put /d/f: ")
	t.Logf("put with every DataNode stopped: %s", strings.TrimSpace(errOut))
	if out := tc.must("fs", "ls", "/d"); out != "" {
		t.Errorf("ls /d after a failed put = %q, want nothing", out)
	}
	noTemporaries(t, tc)
}

// TestPutRemovesItsTemporaryAfterANameNodeRestart restarts the
// NameNode in the middle of a put: the put's next call finds it in safe
// mode and fails, and the put removes its temporary once the NameNode
// takes changes again.
func TestPutRemovesItsTemporaryAfterANameNodeRestart(t *testing.T) {
	tc := startCLI(t, testcluster.Options{BlockSize: 1 << 20, NameNode: func(cfg *namenode.Config) {
		cfg.SafeModeExtension = 2 * time.Second
	}})
	tc.must("fs", "mkdir", "/d")
	in := &hookReader{r: bytes.NewReader(randomBytes(3<<20, 8)), after: 3 << 19, fn: func() {
		tc.c.RestartNameNode(t)
	}}
	args := []string{"fs", "put", "-", "/d/f"}
	_, errOut, code := tc.cairn(in, args...)
	if code != exitFailure {
		t.Fatalf("put across a NameNode restart: exit %d (stderr %q), want %d", code, errOut, exitFailure)
	}
	checkOneLine(t, args, errOut, "put /d/f: ")
	t.Logf("put across a NameNode restart: %s", strings.TrimSpace(errOut))
	if out := tc.must("fs", "ls", "/d"); out != "" {
		t.Errorf("ls /d after a failed put = %q, want nothing", out)
	}
	noTemporaries(t, tc)
}

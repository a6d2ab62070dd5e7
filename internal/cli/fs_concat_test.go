package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestConcatCommand(t *testing.T) {
	tc := startCLI(t, testcluster.Options{BlockSize: 1 << 20})
	tmp := t.TempDir()
	tc.must("fs", "mkdir", "-p", "/c", "/other", "/dir")
	parts := [][]byte{randomBytes(3<<19, 1), randomBytes(300<<10, 2), randomBytes(700<<10, 3)}
	tc.must("fs", "put", writeLocal(t, tmp, "t", parts[0]), "/c/t")
	tc.must("fs", "put", writeLocal(t, tmp, "s1", parts[1]), "/c/s1")
	tc.must("fs", "put", writeLocal(t, tmp, "s2", parts[2]), "/other/s2")

	// Refusals: one line naming what is wrong, exit 1, nothing changed.
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"concat /c/t: source /c/none does not exist", []string{"/c/t", "/c/s1", "/c/none"}},
		{"concat /c/none: file does not exist", []string{"/c/none", "/c/s1"}},
		{"concat /c/t: source /dir is a directory", []string{"/c/t", "/dir"}},
		{"concat /dir: target is a directory", []string{"/dir", "/c/s1"}},
		{"concat /c/t: source /c/s1 is given twice", []string{"/c/t", "/c/s1", "/c/s1"}},
		{"concat /c/t: target /c/t is also a source", []string{"/c/t", "/c/t"}},
		{"concat c/t: invalid path", []string{"c/t", "/c/s1"}},
	} {
		args := append([]string{"fs", "concat"}, tt.args...)
		tc.fails(tt.want, args...)
		if _, _, code := tc.cairn(nil, args...); code != exitFailure {
			t.Errorf("cairn %s: exit %d, want %d", strings.Join(args, " "), code, exitFailure)
		}
	}
	if out := tc.must("fs", "ls", "/c"); out != "/c/s1\n/c/t\n" {
		t.Fatalf("ls /c after refused concats = %q", out)
	}

	if out := tc.must("fs", "concat", "/c/t", "/c/s1", "/other/s2"); out != "" {
		t.Errorf("concat printed %q, want nothing", out)
	}
	want := bytes.Join(parts, nil)
	if got := tc.must("fs", "cat", "/c/t"); got != string(want) {
		t.Errorf("cat /c/t after concat: %d bytes, not the %d of the parts joined", len(got), len(want))
	}
	if out := tc.must("fs", "ls", "/c"); out != "/c/t\n" {
		t.Errorf("ls /c after concat = %q, want only /c/t", out)
	}
	tc.fails("does not exist", "fs", "stat", "/other/s2")
	var st statJSON
	tc.mustJSON(&st, "fs", "stat", "--json", "/c/t")
	wantBlocks := []int64{1 << 20, 1 << 19, 300 << 10, 700 << 10}
	if st.Size != int64(len(want)) || st.Blocks == nil || len(*st.Blocks) != len(wantBlocks) {
		t.Fatalf("stat /c/t = %+v, want %d bytes in %d blocks", st, len(want), len(wantBlocks))
	}
	var off int64
	for i, b := range *st.Blocks {
		if b.Offset != off || b.Size != wantBlocks[i] {
			t.Errorf("block %d at %d with %d bytes, want at %d with %d", i, b.Offset, b.Size, off, wantBlocks[i])
		}
		off += b.Size
	}
	if out := tc.must("fs", "stat", "/c/t"); !strings.Contains(out, "off=1572864 len=307200") {
		t.Errorf("stat /c/t text does not show the third block's offset and length:\n%s", out)
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn/internal/bench"
)

// tinyBench are the flags of a smoke run of 'cairn bench all': every
// benchmark at a size that takes a few seconds.
func tinyBench(dir string) []string {
	return []string{
		"--dir", dir,
		"--size", "1MiB", "--block-size", "256KiB", "--clients", "2",
		"--meta-clients", "2", "--meta-ops", "5", "--list-entries", "30", "--list-ops", "1",
		"--small-clients", "2", "--small-files", "6", "--small-sizes", "1KiB,3000",
		"--namespace-files", "2500", "--keep-page-cache",
	}
}

// TestBenchAllSmoke runs every benchmark at tiny sizes through the
// command line and checks that the JSON report is whole. Nothing is
// timed.
func TestBenchAllSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and a NameNode")
	}
	args := append([]string{"bench", "all", "--json"}, tinyBench(t.TempDir())...)
	out, errOut, code := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("cairn %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("cairn %s: bad JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	if rep.Version != bench.ReportVersion {
		t.Errorf("version = %d, want %d", rep.Version, bench.ReportVersion)
	}
	if rep.Limits == nil || rep.Write == nil || rep.Read == nil || rep.Meta == nil || rep.Small == nil || rep.Namespace == nil {
		t.Fatalf("report misses a section: %s", out)
	}
	if rep.Write.Clients != 2 || rep.Write.FileBytes != 1<<20 || rep.Read.Clients != 2 {
		t.Errorf("write/read = %+v / %+v, want 2 clients of 1 MiB", rep.Write, rep.Read)
	}
	var ops []string
	for _, op := range rep.Meta.Ops {
		ops = append(ops, op.Op)
		if op.Count == 0 {
			t.Errorf("meta %s: no operations counted", op.Op)
		}
	}
	if got, want := strings.Join(ops, ","), "create,mkdir,stat,rename,delete,list"; got != want {
		t.Errorf("meta ops = %s, want %s", got, want)
	}
	if len(rep.Small.Sizes) != 2 || rep.Small.Sizes[1].FileBytes != 3000 {
		t.Errorf("small sizes = %+v, want 1KiB and 3000", rep.Small.Sizes)
	}
	ns := rep.Namespace
	if ns.Files != 2500 || ns.SnapshotBytes <= 0 || ns.Restart.Seconds <= 0 {
		t.Errorf("namespace = %+v, want 2500 files, a snapshot and a restart", ns)
	}
	if len(rep.Summary) == 0 {
		t.Error("empty summary")
	}
}

// TestBenchTable checks the table output of one small benchmark and
// the refusal of bad flags.
func TestBenchTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	args := []string{"bench", "meta", "--dir", t.TempDir(), "--clients", "2", "--ops", "3", "--list-entries", "10", "--list-ops", "1"}
	out, errOut, code := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("cairn %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	for _, want := range []string{"BENCH", "create, 2 clients/1 conn", "stat, 2 clients/1 conn", "list, 2 clients/1 conn"} {
		if !strings.Contains(out, want) {
			t.Errorf("cairn %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "write", "--size", "0"}, "positive"},
		{[]string{"bench", "meta", "--clients", "0"}, "clients"},
		{[]string{"bench", "small", "--sizes", "1KiB,x"}, "--sizes"},
		{[]string{"bench", "all", "--replication", "4"}, "replication 4"},
		{[]string{"bench", "nope"}, "unknown command"},
	} {
		_, errOut, code := runCLI(t, "", tt.args...)
		if code != exitUsage {
			t.Errorf("cairn %s: exit %d, want %d", strings.Join(tt.args, " "), code, exitUsage)
		}
		checkOneLine(t, tt.args, errOut, tt.want)
	}
}

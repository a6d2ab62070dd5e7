package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// runBench runs 'cairn bench ARGS --json' as a user would and decodes
// its JSON into v.
func runBench(t *testing.T, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, append(append([]string{"bench"}, args...), "--json", "--dir", t.TempDir())...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cairn bench %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("cairn bench %v --json printed %q: %v", args, stdout.String(), err)
	}
}

// TestBenchS3 runs 'cairn bench s3' small: every figure of the report
// is measured (the gateway and the CLI moved the bytes they should).
func TestBenchS3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and a gateway as processes; skipped with -short")
	}
	var res struct {
		Size int64 `json:"size"`
		Runs []struct {
			NativePut float64 `json:"native_put_mib_s"`
			S3Put     float64 `json:"s3_put_mib_s"`
			NativeGet float64 `json:"native_get_mib_s"`
			S3Get     float64 `json:"s3_get_mib_s"`
		} `json:"runs"`
		PutRatio float64 `json:"put_ratio"`
		GetRatio float64 `json:"get_ratio"`
		Small    struct {
			Files   int `json:"files"`
			S3Write struct {
				PerSecond float64 `json:"files_per_second"`
			} `json:"s3_write"`
			S3Read struct {
				PerSecond float64 `json:"files_per_second"`
			} `json:"s3_read"`
		} `json:"small"`
	}
	runBench(t, &res, "s3", "--size", "8MiB", "--runs", "2", "--small-files", "40", "--small-clients", "4")
	if res.Size != 8<<20 || len(res.Runs) != 2 {
		t.Fatalf("size %d, %d runs; want 8 MiB and 2", res.Size, len(res.Runs))
	}
	for i, r := range res.Runs {
		if r.NativePut <= 0 || r.S3Put <= 0 || r.NativeGet <= 0 || r.S3Get <= 0 {
			t.Errorf("run %d: %+v; want every rate measured", i+1, r)
		}
	}
	if res.PutRatio <= 0 || res.GetRatio <= 0 || res.Small.Files != 40 || res.Small.S3Write.PerSecond <= 0 || res.Small.S3Read.PerSecond <= 0 {
		t.Errorf("ratios %v %v, small %+v; want all measured", res.PutRatio, res.GetRatio, res.Small)
	}
}

// TestBenchMount runs 'cairn bench mount' small, through a real FUSE
// mount.
func TestBenchMount(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and a mount as processes; skipped with -short")
	}
	needTools(t, "fusermount3", "dd", "cp")
	var res struct {
		Runs []struct {
			NativePut  float64 `json:"native_put_mib_s"`
			MountWrite float64 `json:"mount_write_mib_s"`
			NativeCat  float64 `json:"native_cat_mib_s"`
			MountRead  float64 `json:"mount_read_mib_s"`
		} `json:"runs"`
		Small struct {
			Files   int     `json:"files"`
			MountCp float64 `json:"mount_cp_files_s"`
		} `json:"small"`
	}
	runBench(t, &res, "mount", "--size", "8MiB", "--runs", "1", "--small-files", "50")
	if len(res.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(res.Runs))
	}
	if r := res.Runs[0]; r.NativePut <= 0 || r.MountWrite <= 0 || r.NativeCat <= 0 || r.MountRead <= 0 {
		t.Errorf("run: %+v; want every rate measured", r)
	}
	if res.Small.Files != 50 || res.Small.MountCp <= 0 {
		t.Errorf("small: %+v", res.Small)
	}
}

package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cairn-fs/cairn"
)

// MountConfig configures the FUSE mount benchmark: a NameNode,
// DataNodes and a mount (cairn mount), each a process of the cairn
// binary. A large file is written and read through the native CLI
// (cairn fs put, cairn fs cat > /dev/null) and through the mount (dd
// with 1 MiB blocks), in turn, Runs times; then a tree of many small
// files is copied with 'cairn fs put -r' and with 'cp -r' into the
// mount.
type MountConfig struct {
	// Binary is the cairn binary to run the nodes, the mount and the
	// CLI with. Required.
	Binary string
	// Dir is where the cluster's temporary directory is made; empty:
	// os.TempDir().
	Dir string
	// DataNodes is the number of DataNodes; 0: 3.
	DataNodes int
	// Size is the size of the large file; 0: 1 GiB.
	Size int64
	// Runs is the number of writes and reads of it each way; 0: 3.
	Runs int
	// SmallFiles and SmallSize: the tree of small files, in
	// directories of 100; 0: 10000 of 4 KiB.
	SmallFiles int
	SmallSize  int64
	// Progress, if set, receives a line per step.
	Progress func(line string)
}

// MountResult is the mount benchmark's result.
type MountResult struct {
	DataNodes   int        `json:"datanodes"`
	Replication int        `json:"replication"`
	Size        int64      `json:"size"`
	Runs        []MountRun `json:"runs"`
	// WriteRatio and ReadRatio are the medians of the runs' ratios of
	// the mount's rate to the native CLI's.
	WriteRatio float64     `json:"write_ratio"`
	ReadRatio  float64     `json:"read_ratio"`
	Small      *MountSmall `json:"small"`
}

// MountRun is one write and read of the large file each way, in MiB/s.
type MountRun struct {
	NativePut  float64 `json:"native_put_mib_s"`
	MountWrite float64 `json:"mount_write_mib_s"`
	NativeCat  float64 `json:"native_cat_mib_s"`
	MountRead  float64 `json:"mount_read_mib_s"`
}

// MountSmall is the copy of the tree of small files.
type MountSmall struct {
	Files     int     `json:"files"`
	Bytes     int64   `json:"file_bytes"`
	NativePut float64 `json:"native_put_files_s"` // cairn fs put -r
	MountCp   float64 `json:"mount_cp_files_s"`   // cp -r into the mount
	Ratio     float64 `json:"ratio"`
}

// RunMount runs the FUSE mount benchmark.
func RunMount(ctx context.Context, cfg MountConfig, log *slog.Logger) (res *MountResult, err error) {
	const op = "bench mount"
	if cfg.Binary == "" {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "no cairn binary to run the nodes with")
	}
	if cfg.DataNodes == 0 {
		cfg.DataNodes = 3
	}
	if cfg.Runs == 0 {
		cfg.Runs = 3
	}
	if cfg.Size == 0 {
		cfg.Size = 1 << 30
	}
	if cfg.SmallFiles == 0 {
		cfg.SmallFiles = 10000
	}
	if cfg.SmallSize == 0 {
		cfg.SmallSize = 4 << 10
	}
	if cfg.DataNodes < 1 || cfg.Runs < 1 || cfg.Size < 1 || cfg.SmallFiles < 1 || cfg.SmallSize < 0 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "--datanodes, --runs, --size and --small-files must be positive")
	}
	for _, tool := range []string{"dd", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, cairn.Errorf(op, "", cairn.Invalid, "%s not found", tool)
		}
	}
	progress := progressTo(cfg.Progress, log)
	dir, err := runDir(cfg.Dir, "cairn-bench-mount-")
	if err != nil {
		return nil, err
	}
	defer keepLogs(dir, &err)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return nil, err
	}
	pc, err := startProcCluster(ctx, cfg.Binary, dir, cfg.DataNodes)
	if err != nil {
		return nil, cairn.E(op, dir, cairn.Unavailable, err)
	}
	defer pc.stop()
	nn, c, start := pc.nn, pc.c, pc.start
	defaults, err := c.ServerDefaults(ctx)
	if err != nil {
		return nil, err
	}
	if err := start("mount", "mount", "--namenode", nn, mnt); err != nil {
		return nil, err
	}
	if err := waitMounted(ctx, mnt); err != nil {
		return nil, cairn.E(op, mnt, cairn.Unavailable, err)
	}
	progress("started a namenode, %d datanodes and a mount on %s", cfg.DataNodes, mnt)

	res = &MountResult{DataNodes: cfg.DataNodes, Replication: defaults.Replication, Size: cfg.Size}
	local := filepath.Join(dir, "large")
	if err := writeRandomFile(local, cfg.Size); err != nil {
		return nil, err
	}
	if err := c.MkdirAll(ctx, "/native", 0); err != nil {
		return nil, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	var writes, reads []float64
	for i := range cfg.Runs {
		var r MountRun
		native, mounted := fmt.Sprintf("/native/large-%d", i), filepath.Join(mnt, fmt.Sprintf("large-%d", i))
		progress("run %d: cairn fs put", i+1)
		d, err := pc.run(ctx, nil, cfg.Binary, "fs", "put", local, native)
		if err != nil {
			return nil, err
		}
		r.NativePut = mibps(cfg.Size, d)
		progress("run %d: dd into the mount", i+1)
		if d, err = pc.run(ctx, nil, "dd", "if="+local, "of="+mounted, "bs=1M", "status=none"); err != nil {
			return nil, err
		}
		r.MountWrite = mibps(cfg.Size, d)
		progress("run %d: cairn fs cat", i+1)
		if d, err = pc.run(ctx, null, cfg.Binary, "fs", "cat", native); err != nil {
			return nil, err
		}
		r.NativeCat = mibps(cfg.Size, d)
		progress("run %d: dd out of the mount", i+1)
		if d, err = pc.run(ctx, nil, "dd", "if="+mounted, "of=/dev/null", "bs=1M", "status=none"); err != nil {
			return nil, err
		}
		r.MountRead = mibps(cfg.Size, d)
		res.Runs = append(res.Runs, r)
		writes = append(writes, ratio(r.MountWrite, r.NativePut))
		reads = append(reads, ratio(r.MountRead, r.NativeCat))
		// Keep the disk use to one copy of each.
		if err := c.Remove(ctx, native); err != nil {
			return nil, err
		}
		if err := os.Remove(mounted); err != nil {
			return nil, err
		}
	}
	res.WriteRatio, res.ReadRatio = median(writes), median(reads)
	os.Remove(local)

	progress("small files: %d of %s, cairn fs put -r and cp -r into the mount", cfg.SmallFiles, sizeString(cfg.SmallSize))
	tree := filepath.Join(dir, "small")
	if err := writeTree(tree, cfg.SmallFiles, cfg.SmallSize); err != nil {
		return nil, err
	}
	s := &MountSmall{Files: cfg.SmallFiles, Bytes: cfg.SmallSize}
	d, err := pc.run(ctx, nil, cfg.Binary, "fs", "put", "-r", tree, "/native-small")
	if err != nil {
		return nil, err
	}
	s.NativePut = perSecond(cfg.SmallFiles, d)
	if d, err = pc.run(ctx, nil, "cp", "-r", tree, filepath.Join(mnt, "small")); err != nil {
		return nil, err
	}
	s.MountCp = perSecond(cfg.SmallFiles, d)
	s.Ratio = ratio(s.MountCp, s.NativePut)
	res.Small = s
	return res, nil
}

// writeTree writes n files of size random bytes under dir, 100 to a
// directory.
func writeTree(dir string, n int, size int64) error {
	data := randomData(int(size))
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d", i)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// waitMounted waits until dir is a mount point: on another device than
// its parent.
func waitMounted(ctx context.Context, dir string) error {
	var parent syscall.Stat_t
	if err := syscall.Stat(filepath.Dir(dir), &parent); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err == nil && st.Dev != parent.Dev {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not mounted after 30s", dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WriteTable writes the result as a table.
func (r *MountResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "FUSE mount vs native CLI, %s file, replication %d, %d datanodes\n", sizeString(r.Size), r.Replication, r.DataNodes)
	fmt.Fprintf(tw, "run\tfs put MiB/s\tdd into mount MiB/s\tratio\tfs cat MiB/s\tdd out of mount MiB/s\tratio\n")
	for i, x := range r.Runs {
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\n", i+1, x.NativePut, x.MountWrite, ratio(x.MountWrite, x.NativePut), x.NativeCat, x.MountRead, ratio(x.MountRead, x.NativeCat))
	}
	fmt.Fprintf(tw, "median\t\t\t%.2f\t\t\t%.2f\n", r.WriteRatio, r.ReadRatio)
	if s := r.Small; s != nil {
		fmt.Fprintf(tw, "\n%d files of %s\tfs put -r files/s\tcp -r into mount files/s\tratio\n", s.Files, sizeString(s.Bytes))
		fmt.Fprintf(tw, "\t%.0f\t%.0f\t%.2f\n", s.NativePut, s.MountCp, s.Ratio)
	}
	return tw.Flush()
}

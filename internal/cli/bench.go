package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/bench"
)

// benchCmd holds the flags of 'cairn bench' and its subcommands.
type benchCmd struct {
	e          *env
	namenode   string
	tlsCA      string
	dir        string
	datanodes  int
	json       bool
	cpuProfile string
	memProfile string
	logLevel   levelValue

	cfg        bench.Config
	size       sizeValue
	blockSize  sizeValue
	limitBytes sizeValue
	smallSizes string
	lsBinary   string
}

func newBenchCmd(e *env) *cobra.Command {
	b := &benchCmd{e: e, logLevel: levelValue(slog.LevelError)}
	cmd := newGroupCmd("bench", "Measure the cluster and this machine's limits")
	cmd.Long = `Measure cairn against the limits of this machine, with the method in
docs/PERFORMANCE.md. Without --namenode each benchmark starts a local cluster
(a NameNode and --datanodes DataNodes in this process, in a temporary
directory under --dir) and removes it afterwards.

  limits     disk write + fsync, cold and warm disk read, one loopback TCP
             stream, CRC32C, fsyncs, new replicas and TCP round trips per second
  write      --clients clients each put a --size file
  read       the same, then each gets its file back
  meta       creates, mkdirs, stats, renames, deletes, lists of a big directory
  small      write then read many small files
  namespace  load a NameNode with --files one-block files: heap, snapshot, restart
  all        every one of them, in that order

Results are a table, or one JSON document with --json. Every result is
shown beside the machine limit that bounds it, as a ratio.`
	pf := cmd.PersistentFlags()
	pf.StringVar(&b.namenode, "namenode", "", "NameNode RPC address of a cluster to measure (default: start a local cluster)")
	pf.StringVar(&b.cfg.NameNodeMetrics, "namenode-metrics", "", "with --namenode: URL of the NameNode's /metrics (its --http-addr), to report its CPU per operation from process_cpu_seconds_total, e.g. http://127.0.0.1:9870/metrics")
	pf.StringVar(&b.tlsCA, "tls-ca", "", "with --namenode: CA certificate (PEM) of a cluster that uses TLS (default $"+envTLSCA+", else plaintext)")
	pf.StringVar(&b.dir, "dir", "", "directory for the local cluster and the limits' files (default: the system temporary directory)")
	pf.IntVar(&b.datanodes, "datanodes", 3, "DataNodes of the local cluster")
	pf.StringVar(&b.cfg.AuditLog, "audit-log", "", "file of the local cluster's NameNode's audit log, to measure its cost (default: none)")
	pf.BoolVar(&b.json, "json", false, "print one JSON document instead of a table")
	pf.StringVar(&b.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	pf.StringVar(&b.memProfile, "memprofile", "", "write a heap profile at the end of the run to this file")
	pf.Var(&b.logLevel, "log-level", "log level of the local cluster: debug, info, warn or error")

	b.size = 1 << 30
	b.blockSize = cairn.DefaultBlockSize
	limits := b.sub(bench.Limits, "Measure this machine: disk, loopback TCP, CRC32C, fsync")
	limits.Flags().Var(&b.size, "size", "bytes written and read from disk and sent over TCP")
	limits.Flags().IntVar(&b.cfg.Replication, "replication", cairn.DefaultReplication, "replication the write limit is given for")
	limits.Flags().BoolVar(&b.cfg.KeepPageCache, "keep-page-cache", false, "for the cold read, evict only the test file, not the whole page cache")

	write := b.sub(bench.Write, "Put files from concurrent clients")
	b.throughputFlags(write)
	read := b.sub(bench.Read, "Put, then get files from concurrent clients")
	b.throughputFlags(read)

	meta := b.sub(bench.Meta, "Metadata operations from concurrent clients")
	mf := meta.Flags()
	mf.IntVar(&b.cfg.MetaClients, "clients", 16, "concurrent clients")
	mf.IntVar(&b.cfg.MetaConns, "connections", 1, "NameNode connections the clients share")
	mf.IntVar(&b.cfg.MetaOps, "ops", 2000, "operations of each kind per client")
	mf.IntVar(&b.cfg.ListEntries, "list-entries", 10000, "entries of the directory listed")
	mf.IntVar(&b.cfg.ListOps, "list-ops", 4, "listings per client")
	mf.StringVar(&b.lsBinary, "ls-binary", selfBinary(), "cairn binary to time 'cairn fs ls /' with, as a process (empty: not timed)")

	small := b.sub(bench.Small, "Write then read many small files")
	sf := small.Flags()
	sf.IntVar(&b.cfg.SmallClients, "clients", 16, "concurrent clients")
	sf.IntVar(&b.cfg.SmallFiles, "files", 4000, "files of each size")
	sf.StringVar(&b.smallSizes, "sizes", "1KiB,64KiB", "file sizes, comma separated")
	sf.IntVar(&b.cfg.Replication, "replication", cairn.DefaultReplication, "replication of the files")

	ns := b.sub(bench.Namespace, "Load a NameNode with one-block files: heap per file, snapshot, restart time")
	ns.Flags().IntVar(&b.cfg.NamespaceFiles, "files", 1_000_000, "one-block files")

	all := b.sub(bench.All, "Run every benchmark")
	af := all.Flags()
	b.throughputFlags(all)
	af.IntVar(&b.cfg.MetaClients, "meta-clients", 16, "concurrent clients of meta")
	af.IntVar(&b.cfg.MetaConns, "meta-connections", 1, "NameNode connections the meta clients share")
	af.IntVar(&b.cfg.MetaOps, "meta-ops", 2000, "operations of each kind per meta client")
	af.IntVar(&b.cfg.ListEntries, "list-entries", 10000, "entries of the directory meta lists")
	af.IntVar(&b.cfg.ListOps, "list-ops", 4, "listings per meta client")
	af.BoolVar(&b.cfg.KeepPageCache, "keep-page-cache", false, "for the cold read of limits, evict only the test file, not the whole page cache")
	af.StringVar(&b.lsBinary, "ls-binary", selfBinary(), "cairn binary to time 'cairn fs ls /' with, as a process (empty: not timed)")
	af.IntVar(&b.cfg.SmallClients, "small-clients", 16, "concurrent clients of small")
	af.IntVar(&b.cfg.SmallFiles, "small-files", 4000, "files of each size of small")
	af.StringVar(&b.smallSizes, "small-sizes", "1KiB,64KiB", "file sizes of small, comma separated")
	af.IntVar(&b.cfg.NamespaceFiles, "namespace-files", 1_000_000, "one-block files of namespace")

	cmd.AddCommand(limits, write, read, meta, small, ns, all, b.failoverCmd(), b.s3Cmd(), b.mountCmd())
	return cmd
}

// failoverCmd is 'cairn bench failover': NameNode group failover times,
// with the nodes as processes of this binary.
func (b *benchCmd) failoverCmd() *cobra.Command {
	var fc bench.FailoverConfig
	binary := selfBinary()
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Kill the leader of a NameNode group under load, again and again: time to a new leader and to the first write",
		Long: `Start a NameNode group (--namenodes members) and --datanodes DataNodes as
processes of the cairn binary, run a steady load of durable creates, and kill
(SIGKILL) the leader --failovers times, restarting it after each round. Each
round reports the time from the kill until another member serves (its /readyz)
and until the first create issued after the kill is acknowledged.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			if binary == "" {
				return usageError("--binary is required: the cairn binary to run the nodes with")
			}
			fc.Binary, fc.Dir, fc.DataNodes = binary, b.dir, b.datanodes
			if b.e.isTerminal != nil && b.e.isTerminal(b.e.stderr) {
				fc.Progress = func(line string) { fmt.Fprintln(b.e.stderr, line) }
			}
			res, err := bench.RunFailover(ctx, fc, newLogger(b.e.stderr, slog.Level(b.logLevel)))
			if err != nil {
				return fail("bench failover", "", err)
			}
			if b.json {
				return writeJSON(b.e.stdout, res)
			}
			return res.WriteTable(b.e.stdout)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&fc.NameNodes, "namenodes", 3, "members of the NameNode group")
	f.IntVar(&fc.Failovers, "failovers", 10, "leader kills")
	f.IntVar(&fc.Writers, "writers", 4, "goroutines of the steady write load")
	f.DurationVar(&fc.HeartbeatTimeout, "raft-heartbeat-timeout", 0, "members' --raft-heartbeat-timeout (default: theirs)")
	f.DurationVar(&fc.ElectionTimeout, "raft-election-timeout", 0, "members' --raft-election-timeout (default: theirs)")
	f.StringVar(&binary, "binary", binary, "cairn binary to run the nodes with")
	return cmd
}

// s3Cmd is 'cairn bench s3': the S3 gateway against the native CLI,
// with the nodes, the gateway and the CLI as processes of this binary.
func (b *benchCmd) s3Cmd() *cobra.Command {
	var sc bench.S3Config
	binary := selfBinary()
	size, smallSize := sizeValue(1<<30), sizeValue(1<<10)
	cmd := &cobra.Command{
		Use:   "s3",
		Short: "Put and get a large file and many small objects through the S3 gateway, against the native CLI",
		Long: `Start a NameNode, --datanodes DataNodes and an S3 gateway (cairn s3) as
processes of the cairn binary. Put a --size file with 'cairn fs put' and with
PutObject, read it back with 'cairn fs cat' and with GetObject (signed HTTP
requests from this process), --runs times in turn, and report each rate and the
gateway's ratio to the CLI. Then write and read --small-files objects of
--small-size through the gateway and as many files through the Go client, both
with --small-clients at a time.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			if binary == "" {
				return usageError("--binary is required: the cairn binary to run the nodes with")
			}
			sc.Binary, sc.Dir, sc.DataNodes = binary, b.dir, b.datanodes
			sc.Size, sc.SmallSize = int64(size), int64(smallSize)
			if b.e.isTerminal != nil && b.e.isTerminal(b.e.stderr) {
				sc.Progress = func(line string) { fmt.Fprintln(b.e.stderr, line) }
			}
			res, err := bench.RunS3(ctx, sc, newLogger(b.e.stderr, slog.Level(b.logLevel)))
			if err != nil {
				return fail("bench s3", "", err)
			}
			if b.json {
				return writeJSON(b.e.stdout, res)
			}
			return res.WriteTable(b.e.stdout)
		}),
	}
	f := cmd.Flags()
	f.Var(&size, "size", "size of the large file")
	f.IntVar(&sc.Runs, "runs", 3, "puts and gets of the large file, each way")
	f.IntVar(&sc.SmallFiles, "small-files", 2000, "small objects written and read")
	f.Var(&smallSize, "small-size", "size of each small object")
	f.IntVar(&sc.SmallClients, "small-clients", 16, "concurrent writers and readers of small objects")
	f.StringVar(&binary, "binary", binary, "cairn binary to run the nodes with")
	return cmd
}

// mountCmd is 'cairn bench mount': the FUSE mount against the native
// CLI, with the nodes, the mount and the CLI as processes of this
// binary.
func (b *benchCmd) mountCmd() *cobra.Command {
	var mc bench.MountConfig
	binary := selfBinary()
	size, smallSize := sizeValue(1<<30), sizeValue(4<<10)
	cmd := &cobra.Command{
		Use:   "mount",
		Short: "Write and read a large file and copy many small files through a FUSE mount, against the native CLI",
		Long: `Start a NameNode, --datanodes DataNodes and a FUSE mount (cairn mount) as
processes of the cairn binary. Write a --size file with 'cairn fs put' and with
dd into the mount (1 MiB blocks), read it back with 'cairn fs cat > /dev/null'
and with dd out of the mount, --runs times in turn, and report each rate and
the mount's ratio to the CLI. Then copy a tree of --small-files files of
--small-size with 'cairn fs put -r' and with 'cp -r' into the mount. Needs
FUSE (/dev/fuse, and fusermount3 unless root).`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			if binary == "" {
				return usageError("--binary is required: the cairn binary to run the nodes with")
			}
			mc.Binary, mc.Dir, mc.DataNodes = binary, b.dir, b.datanodes
			mc.Size, mc.SmallSize = int64(size), int64(smallSize)
			if b.e.isTerminal != nil && b.e.isTerminal(b.e.stderr) {
				mc.Progress = func(line string) { fmt.Fprintln(b.e.stderr, line) }
			}
			res, err := bench.RunMount(ctx, mc, newLogger(b.e.stderr, slog.Level(b.logLevel)))
			if err != nil {
				return fail("bench mount", "", err)
			}
			if b.json {
				return writeJSON(b.e.stdout, res)
			}
			return res.WriteTable(b.e.stdout)
		}),
	}
	f := cmd.Flags()
	f.Var(&size, "size", "size of the large file")
	f.IntVar(&mc.Runs, "runs", 3, "writes and reads of the large file, each way")
	f.IntVar(&mc.SmallFiles, "small-files", 10000, "small files copied")
	f.Var(&smallSize, "small-size", "size of each small file")
	f.StringVar(&binary, "binary", binary, "cairn binary to run the nodes with")
	return cmd
}

func (b *benchCmd) sub(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Args:  exactArgs(0, "no arguments"),
		RunE:  runE(func(ctx context.Context, _ []string) error { return b.run(ctx, name) }),
	}
}

func (b *benchCmd) throughputFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&b.cfg.Clients, "clients", 1, "concurrent clients, each with its own file")
	f.Var(&b.size, "size", "size of each client's file")
	f.Var(&b.blockSize, "block-size", "block size of the files")
	f.IntVar(&b.cfg.Replication, "replication", cairn.DefaultReplication, "replication of the files")
}

func (b *benchCmd) run(ctx context.Context, which string) (err error) {
	const op = "bench"
	cfg := b.cfg
	cfg.NameNode = b.namenode
	if b.namenode != "" {
		if cfg.TLS, err = b.e.clientTLS(op, b.tlsCA); err != nil {
			return err
		}
	}
	cfg.Dir = b.dir
	cfg.DataNodes = b.datanodes
	cfg.Size = int64(b.size)
	cfg.BlockSize = int64(b.blockSize)
	cfg.LsBinary = b.lsBinary
	if which == bench.Limits {
		cfg.LimitBytes = int64(b.size)
	}
	if b.smallSizes != "" {
		for _, s := range strings.Split(b.smallSizes, ",") {
			n, err := parseSize(s)
			if err != nil || n <= 0 {
				return usageError("invalid --sizes %q: want sizes such as 1KiB,64KiB", b.smallSizes)
			}
			cfg.SmallSizes = append(cfg.SmallSizes, n)
		}
	}
	if b.datanodes < 1 {
		return usageError("invalid --datanodes %d: want at least 1", b.datanodes)
	}
	for _, v := range []struct {
		flag string
		n    int
	}{
		{"clients", cfg.Clients}, {"replication", cfg.Replication}, {"clients", cfg.MetaClients}, {"connections", cfg.MetaConns}, {"ops", cfg.MetaOps},
		{"list-entries", cfg.ListEntries}, {"list-ops", cfg.ListOps}, {"clients", cfg.SmallClients},
		{"files", cfg.SmallFiles}, {"files", cfg.NamespaceFiles},
	} {
		// Zero would mean "the default" to the runner: refuse it here.
		if v.n < 1 {
			return usageError("invalid --%s %d: want at least 1", v.flag, v.n)
		}
	}
	if cfg.Size <= 0 || cfg.BlockSize <= 0 {
		return usageError("--size and --block-size must be positive")
	}
	var draw *benchProgress
	if b.e.isTerminal != nil && b.e.isTerminal(b.e.stderr) {
		draw = &benchProgress{w: b.e.stderr}
		cfg.Progress = draw.line
	}
	log := newLogger(b.e.stderr, slog.Level(b.logLevel))
	runner, err := bench.New(cfg, log)
	if err != nil {
		return usageError("%s", reason(err))
	}
	if b.cpuProfile != "" {
		f, err := os.Create(b.cpuProfile)
		if err != nil {
			return fail(op, b.cpuProfile, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(op, b.cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, runErr := runner.Run(ctx, which)
	draw.clear()
	if b.memProfile != "" {
		if err := writeHeapProfile(b.memProfile); err != nil {
			return fail(op, b.memProfile, err)
		}
	}
	if rep != nil {
		var werr error
		if b.json {
			werr = rep.WriteJSON(b.e.stdout)
		} else {
			werr = rep.WriteTable(b.e.stdout)
		}
		if werr != nil && runErr == nil {
			runErr = werr
		}
	}
	if runErr != nil {
		return fail(op+" "+which, "", runErr)
	}
	return nil
}

// selfBinary returns the path of this program if it is a cairn binary
// (not a test binary), for timing 'cairn fs ls /'; else "".
func selfBinary() string {
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, ".test") {
		return ""
	}
	return exe
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchProgress shows the runner's progress lines on a terminal, one
// line redrawn in place. A nil *benchProgress shows nothing.
type benchProgress struct {
	w     io.Writer
	drawn bool
}

func (p *benchProgress) line(s string) {
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", s)
	p.drawn = true
}

func (p *benchProgress) clear() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
	p.drawn = false
}

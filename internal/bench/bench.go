package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Config configures a benchmark run. The zero value of every field
// gives the sizes of the published results (issue 5): a 1 GiB file,
// 16 metadata clients, a million-file namespace.
type Config struct {
	// NameNode is the RPC address of an existing cluster to measure;
	// empty: each benchmark starts a local cluster of its own in a
	// temporary directory under Dir, and removes it afterwards.
	NameNode string
	// NameNodeMetrics is the URL of the /metrics of the NameNode at
	// NameNode (its --http-addr), whose process_cpu_seconds_total is
	// read before and after each metadata and small-file phase to give
	// the NameNode's CPU per operation; empty: not measured (a local
	// cluster's NameNode is in this process, and counted with it).
	NameNodeMetrics string
	// TLS, if set, is the TLS configuration of the clients that dial
	// the cluster at NameNode (client.WithTLS); nil: plaintext. The
	// local clusters of the benchmarks are plaintext.
	TLS *tls.Config
	// Dir is where the local cluster and the files of the limits
	// benchmark live; empty: os.TempDir(). It should be on the disk the
	// DataNodes use.
	Dir string
	// DataNodes is the number of DataNodes of a local cluster; 0: 3.
	DataNodes int
	// AuditLog is the file of the local cluster's NameNode's audit log,
	// to measure what it costs; empty: no audit log.
	AuditLog string

	// Clients is the number of concurrent writers and readers of the
	// write and read benchmarks; 0: 1.
	Clients int
	// Size is the size of the file each client writes and reads; 0:
	// 1 GiB.
	Size int64
	// BlockSize is the block size of the files written; 0: 128 MiB.
	BlockSize int64
	// Replication is the replication of every file written; 0: 3.
	Replication int

	// MetaClients is the number of concurrent clients of the metadata
	// benchmark; 0: 16.
	MetaClients int
	// MetaConns is the number of NameNode connections (client.Client
	// values) the metadata clients share, round robin; 0: 1. One is how
	// HDFS's NNThroughputBenchmark runs: threads of one process, whose
	// calls share one RPC connection.
	MetaConns int
	// MetaOps is the number of operations of each kind each metadata
	// client does; 0: 2000.
	MetaOps int
	// ListEntries is the size of the directory listed; 0: 10000.
	ListEntries int
	// ListOps is the number of listings each metadata client does; 0: 4.
	ListOps int

	// LsBinary is the path of a cairn binary: the metadata benchmark
	// then also times 'cairn fs ls /' run as a process, LsRuns times;
	// empty: not timed.
	LsBinary string
	// LsRuns is the number of timed runs of 'cairn fs ls /'; 0: 20.
	LsRuns int

	// SmallClients is the number of concurrent clients of the small
	// files benchmark; 0: 16.
	SmallClients int
	// SmallFiles is the number of files written and read of each size;
	// 0: 4000.
	SmallFiles int
	// SmallSizes are the file sizes of the small files benchmark; nil:
	// 1 KiB and 64 KiB.
	SmallSizes []int64

	// NamespaceFiles is the number of one-block files loaded into the
	// NameNode by the namespace benchmark; 0: 1,000,000.
	NamespaceFiles int

	// LimitBytes is the number of bytes the disk and network limits
	// move; 0: Size.
	LimitBytes int64

	// KeepPageCache, if set, makes the cold read of the limits evict
	// only its own file from the page cache (posix_fadvise), never the
	// whole cache through /proc/sys/vm/drop_caches.
	KeepPageCache bool

	// Progress, if set, receives a short line saying what is running,
	// several times a second.
	Progress func(line string)
}

func (c *Config) setDefaults() error {
	const op = "bench"
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.DataNodes, 3)
	def(&c.Clients, 1)
	def(&c.Replication, cairn.DefaultReplication)
	def(&c.MetaClients, 16)
	def(&c.MetaConns, 1)
	def(&c.MetaOps, 2000)
	def(&c.ListEntries, 10000)
	def(&c.ListOps, 4)
	def(&c.LsRuns, 20)
	def(&c.SmallClients, 16)
	def(&c.SmallFiles, 4000)
	def(&c.NamespaceFiles, 1_000_000)
	if c.Size == 0 {
		c.Size = 1 << 30
	}
	if c.BlockSize == 0 {
		c.BlockSize = cairn.DefaultBlockSize
	}
	if c.SmallSizes == nil {
		c.SmallSizes = []int64{1 << 10, 64 << 10}
	}
	if c.LimitBytes == 0 {
		c.LimitBytes = c.Size
	}
	for _, v := range []struct {
		name string
		n    int
		max  int
	}{
		{"datanodes", c.DataNodes, 64}, {"clients", c.Clients, 1024}, {"replication", c.Replication, 512},
		{"meta clients", c.MetaClients, 1024}, {"meta connections", c.MetaConns, 1024}, {"meta ops", c.MetaOps, 1 << 30}, {"list entries", c.ListEntries, 1 << 24},
		{"list ops", c.ListOps, 1 << 20}, {"small clients", c.SmallClients, 1024}, {"small files", c.SmallFiles, 1 << 30},
		{"namespace files", c.NamespaceFiles, 1 << 30},
	} {
		if v.n < 1 || v.n > v.max {
			return cairn.Errorf(op, "", cairn.Invalid, "invalid number of %s %d: want 1 to %d", v.name, v.n, v.max)
		}
	}
	if c.Size < 1 || c.LimitBytes < 1 {
		return cairn.Errorf(op, "", cairn.Invalid, "invalid size %d: must be positive", c.Size)
	}
	if c.BlockSize < cairn.ChunkSize || c.BlockSize%cairn.ChunkSize != 0 {
		return cairn.Errorf(op, "", cairn.Invalid, "invalid block size %d: want a positive multiple of %d", c.BlockSize, cairn.ChunkSize)
	}
	for _, s := range c.SmallSizes {
		if s < 1 || s > 1<<30 {
			return cairn.Errorf(op, "", cairn.Invalid, "invalid small file size %d", s)
		}
	}
	if c.NameNode == "" && c.Replication > c.DataNodes {
		return cairn.Errorf(op, "", cairn.Invalid, "replication %d needs at least %d datanodes, the local cluster has %d", c.Replication, c.Replication, c.DataNodes)
	}
	return nil
}

// The benchmarks, in the order "all" runs them.
const (
	Limits    = "limits"
	Write     = "write"
	Read      = "read"
	Meta      = "meta"
	Small     = "small"
	Namespace = "namespace"
	All       = "all"
)

// Names returns the benchmarks All stands for, in the order they run.
func Names() []string { return []string{Limits, Write, Read, Meta, Small, Namespace} }

// Runner runs benchmarks.
type Runner struct {
	cfg Config
	log *slog.Logger

	progressMu sync.Mutex
}

// New returns a Runner. log receives the clusters' warnings; nil
// discards them.
func New(cfg Config, log *slog.Logger) (*Runner, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: log}, nil
}

// Run runs the named benchmarks (All for every one) and returns their
// results. A failure stops the run; the results so far are returned
// with the error.
func (r *Runner) Run(ctx context.Context, which ...string) (*Report, error) {
	names := Names()
	want := map[string]bool{}
	for _, w := range which {
		if w == All {
			for _, n := range names {
				want[n] = true
			}
			continue
		}
		known := false
		for _, n := range names {
			known = known || n == w
		}
		if !known {
			return nil, cairn.Errorf("bench", w, cairn.Invalid, "unknown benchmark %q (want one of %s or all)", w, strings.Join(names, ", "))
		}
		want[w] = true
	}
	rep := &Report{Version: ReportVersion, Start: time.Now().UTC().Truncate(time.Second), Machine: machine()}
	err := r.run(ctx, want, rep)
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.Seconds = round1(time.Since(rep.Start).Seconds())
	rep.Summary = rep.summarize()
	return rep, err
}

func (r *Runner) run(ctx context.Context, want map[string]bool, rep *Report) error {
	cfg := r.cfg
	dir := cfg.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	if cfg.NameNode != "" {
		rep.Cluster = "remote: NameNode at " + cfg.NameNode
		rep.Notes = append(rep.Notes, "the CPU figures are this process's, the clients': the servers of a remote cluster are not counted")
	} else if want[Write] || want[Read] || want[Meta] || want[Small] {
		rep.Cluster = fmt.Sprintf("local: a NameNode and %d DataNodes in this process, in a new directory under %s for each benchmark", cfg.DataNodes, dir)
	}
	if want[Limits] {
		lim, err := r.limits(ctx, dir)
		if err != nil {
			return err
		}
		rep.Limits = lim
		if cfg.NameNode != "" {
			rep.Notes = append(rep.Notes, "the limits were measured on this machine, in "+dir+": they bound a remote cluster only if it runs here, on that disk")
		}
	}
	// Each benchmark of a cluster gets a fresh local cluster, so that
	// none runs on what another left behind (thousands of small files,
	// a disk still busy with gigabytes just written).
	for _, b := range []struct {
		on  bool
		run func(*env) error
	}{
		{want[Write] || want[Read], func(e *env) error { return r.throughput(ctx, e, want[Read], rep) }},
		{want[Meta], func(e *env) (err error) {
			rep.Meta, err = r.meta(ctx, e)
			return err
		}},
		{want[Small], func(e *env) (err error) {
			rep.Small, err = r.small(ctx, e)
			return err
		}},
	} {
		if !b.on {
			continue
		}
		if err := r.withCluster(ctx, b.run); err != nil {
			return err
		}
	}
	if want[Namespace] {
		ns, err := r.namespace(ctx, dir)
		if err != nil {
			return err
		}
		rep.Namespace = ns
		if cfg.NameNode != "" {
			rep.Notes = append(rep.Notes, "the namespace benchmark always runs a NameNode of its own in this process")
		}
	}
	return nil
}

// withCluster runs fn on the remote cluster, or on a new local one that
// it removes afterwards.
func (r *Runner) withCluster(ctx context.Context, fn func(*env) error) error {
	cfg := r.cfg
	addr := cfg.NameNode
	if addr == "" {
		r.progress("starting a local cluster")
		cl, err := StartLocal(ctx, LocalConfig{Dir: cfg.Dir, DataNodes: cfg.DataNodes, BlockSize: cfg.BlockSize, AuditLog: cfg.AuditLog}, r.log)
		if err != nil {
			return err
		}
		defer cl.Close()
		addr = cl.NameNodeAddr()
	}
	var opts []client.Option
	if cfg.NameNode != "" {
		opts = append(opts, client.WithTLS(cfg.TLS))
	}
	e, err := r.connect(ctx, addr, opts...)
	if err != nil {
		return err
	}
	defer e.close()
	return fn(e)
}

// env is a connected cluster: the address, a client for set-up, and
// the directory in which this run works.
type env struct {
	addr string
	opts []client.Option // of every client dialed
	c    *client.Client
	root string // e.g. /bench-1a2b3c4d
}

func (r *Runner) connect(ctx context.Context, addr string, opts ...client.Option) (*env, error) {
	c, err := client.Dial(ctx, addr, opts...)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	e := &env{addr: addr, opts: opts, c: c, root: "/bench-" + hex.EncodeToString(b[:])}
	if err := c.MkdirAll(ctx, e.root, 0); err != nil {
		c.Close()
		return nil, err
	}
	return e, nil
}

// close removes the run's directory and closes the client.
func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.c.RemoveAll(ctx, e.root)
	e.c.Close()
}

// dialClients returns n clients made of conns connections: client i
// is connection i%conns.
func (e *env) dialClients(ctx context.Context, n, conns int) ([]*client.Client, func(), error) {
	conns = min(conns, n)
	cs := make([]*client.Client, 0, n)
	closeAll := func() {
		for _, c := range cs[:min(len(cs), conns)] {
			c.Close()
		}
	}
	for i := range n {
		if i >= conns {
			cs = append(cs, cs[i%conns])
			continue
		}
		c, err := client.Dial(ctx, e.addr, e.opts...)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cs = append(cs, c)
	}
	return cs, closeAll, nil
}

// progress reports a line if the caller asked for progress.
func (r *Runner) progress(format string, args ...any) {
	if r.cfg.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.cfg.Progress(fmt.Sprintf(format, args...))
}

// ticker calls line every 200ms until stop is called, and reports its
// result through progress.
func (r *Runner) ticker(line func() string) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.progress("%s", line())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// parallel runs fn(i) for i in [0, n) on n goroutines and returns the
// first error; the others see ctx cancelled.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, i); err != nil {
				once.Do(func() {
					first = err
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	return first
}

// counter is a progress counter.
// timedCalls calls fn(c, i, j) for every j in span(i), client i's
// share, on all clients at once, and returns the wall time, the
// process CPU time and the latency of the calls.
// processCPU reads process_cpu_seconds_total from a Prometheus /metrics
// URL.
func processCPU(ctx context.Context, url string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, errorf("bench", url, "%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, errorf("bench", url, "%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, errorf("bench", url, "%s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errorf("bench", url, "no process_cpu_seconds_total")
}

// nameNodeCPU returns a function that gives the NameNode's CPU time
// since it was called, in microseconds per op of n; both return 0 when
// Config.NameNodeMetrics is not set or cannot be read.
func (r *Runner) nameNodeCPU(ctx context.Context) func(n int) float64 {
	url := r.cfg.NameNodeMetrics
	if url == "" {
		return func(int) float64 { return 0 }
	}
	before, err := processCPU(ctx, url)
	if err != nil {
		r.progress("%v", err)
		return func(int) float64 { return 0 }
	}
	return func(n int) float64 {
		after, err := processCPU(ctx, url)
		if err != nil || n == 0 {
			return 0
		}
		return round1((after - before) * 1e6 / float64(n))
	}
}

func timedCalls(ctx context.Context, cs []*client.Client, done *counter, span func(i int) (lo, hi int), fn func(ctx context.Context, c *client.Client, i, j int) error) (wall, cpu time.Duration, lat Latency, err error) {
	var rec recorder
	cpu0 := cpuTime()
	start := time.Now()
	err = parallel(ctx, len(cs), func(ctx context.Context, i int) error {
		lo, hi := span(i)
		ds := make([]time.Duration, 0, max(hi-lo, 0))
		for j := lo; j < hi; j++ {
			t := time.Now()
			if err := fn(ctx, cs[i], i, j); err != nil {
				return err
			}
			ds = append(ds, time.Since(t))
			done.add(1)
		}
		rec.add(ds)
		return nil
	})
	return time.Since(start), cpuTime() - cpu0, rec.latency(), err
}

type counter struct{ n atomic.Int64 }

func (c *counter) add(n int64) { c.n.Add(n) }
func (c *counter) get() int64  { return c.n.Load() }

// randomData returns n random bytes (incompressible, so no layer can
// cheat).
func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// machine describes this machine.
func machine() Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Go:        runtime.Version(),
		LoadAvg:   loadAvg(),
		MemBytes:  memTotal(),
		CPUModel:  cpuModel(),
		GOMAXPROC: runtime.GOMAXPROCS(0),
	}
	m.Hostname, _ = os.Hostname()
	return m
}

// loadAvg returns the 1-minute load average, or -1 if unknown.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(string(data), &l); err != nil {
		return -1
	}
	return l
}

func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// errorf builds a benchmark failure.
func errorf(op, path string, format string, args ...any) error {
	return cairn.Errorf("bench."+op, path, cairn.Other, format, args...)
}

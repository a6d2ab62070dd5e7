package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// S3Config configures the S3 gateway benchmark: a NameNode, DataNodes
// and a gateway (cairn s3), each a process of the cairn binary. A 1 GiB
// file is put and read back through the native CLI (cairn fs put, cairn
// fs cat, as processes) and through the gateway (PutObject and
// GetObject over HTTP, signed with SigV4, from this process), in turn,
// Runs times; then many small objects are written and read through the
// gateway and, for comparison, through the Go client, with the same
// concurrency.
type S3Config struct {
	// Binary is the cairn binary to run the nodes and the CLI with.
	// Required.
	Binary string
	// Dir is where the cluster's temporary directory is made; empty:
	// os.TempDir().
	Dir string
	// DataNodes is the number of DataNodes; 0: 3.
	DataNodes int
	// Size is the size of the large file; 0: 1 GiB.
	Size int64
	// Runs is the number of native and S3 puts and gets of it; 0: 3.
	Runs int
	// SmallFiles, SmallSize and SmallClients: the small objects; 0:
	// 2000 of 1 KiB, by 16 clients.
	SmallFiles   int
	SmallSize    int64
	SmallClients int
	// Progress, if set, receives a line per step.
	Progress func(line string)
}

// S3Result is the S3 benchmark's result.
type S3Result struct {
	DataNodes   int   `json:"datanodes"`
	Replication int   `json:"replication"`
	Size        int64 `json:"size"`
	// Runs are the large-file runs, in order.
	Runs []S3Run `json:"runs"`
	// PutRatio and GetRatio are the medians of the runs' ratios of the
	// gateway's rate to the native CLI's.
	PutRatio float64  `json:"put_ratio"`
	GetRatio float64  `json:"get_ratio"`
	Small    *S3Small `json:"small"`
}

// S3Run is one put and get of the large file each way, in MiB/s.
type S3Run struct {
	NativePut float64 `json:"native_put_mib_s"`
	S3Put     float64 `json:"s3_put_mib_s"`
	NativeGet float64 `json:"native_get_mib_s"`
	S3Get     float64 `json:"s3_get_mib_s"`
}

// S3Small is the small objects' result.
type S3Small struct {
	Files       int      `json:"files"`
	Bytes       int64    `json:"file_bytes"`
	Clients     int      `json:"clients"`
	NativeWrite FileRate `json:"native_write"`
	S3Write     FileRate `json:"s3_write"`
	NativeRead  FileRate `json:"native_read"`
	S3Read      FileRate `json:"s3_read"`
}

// s3Bench is a running S3 benchmark.
type s3Bench struct {
	cfg      S3Config
	pc       *procCluster
	endpoint string
	signer   sigv4.Signer
	hc       *http.Client
}

// RunS3 runs the S3 gateway benchmark.
func RunS3(ctx context.Context, cfg S3Config, log *slog.Logger) (res *S3Result, err error) {
	const op = "bench s3"
	if cfg.Binary == "" {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "no cairn binary to run the nodes with")
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.DataNodes, 3)
	def(&cfg.Runs, 3)
	def(&cfg.SmallFiles, 2000)
	def(&cfg.SmallClients, 16)
	if cfg.Size == 0 {
		cfg.Size = 1 << 30
	}
	if cfg.SmallSize == 0 {
		cfg.SmallSize = 1 << 10
	}
	if cfg.DataNodes < 1 || cfg.Runs < 1 || cfg.SmallFiles < 1 || cfg.SmallClients < 1 || cfg.Size < 1 || cfg.SmallSize < 1 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "--datanodes, --runs, --size, --small-files, --small-size and --small-clients must be positive")
	}
	progress := progressTo(cfg.Progress, log)
	dir, err := runDir(cfg.Dir, "cairn-bench-s3-")
	if err != nil {
		return nil, err
	}
	defer keepLogs(dir, &err)

	pc, err := startProcCluster(ctx, cfg.Binary, dir, cfg.DataNodes)
	if err != nil {
		return nil, cairn.E(op, dir, cairn.Unavailable, err)
	}
	defer pc.stop()
	nn, c := pc.nn, pc.c
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	s3addr := ports[0]
	key, secret := randomKey(10), randomKey(20)
	if err := pc.start("s3", "s3", "--namenode", nn, "--addr", s3addr, "--access-key", key, "--secret-key", secret); err != nil {
		return nil, err
	}
	b := &s3Bench{
		cfg: cfg, pc: pc, endpoint: "http://" + s3addr,
		signer: sigv4.Signer{Credential: sigv4.Credential{AccessKey: key, SecretKey: secret}},
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.SmallClients, DisableCompression: true,
			ReadBufferSize: 256 << 10, WriteBufferSize: 256 << 10}},
	}
	if err := b.waitGateway(ctx); err != nil {
		return nil, cairn.E(op, dir, cairn.Unavailable, err)
	}
	defaults, err := c.ServerDefaults(ctx)
	if err != nil {
		return nil, err
	}
	progress("started a namenode, %d datanodes and a gateway in %s", cfg.DataNodes, dir)

	res = &S3Result{DataNodes: cfg.DataNodes, Replication: defaults.Replication, Size: cfg.Size}
	if err := b.do(ctx, http.MethodPut, "/bench", nil, 0, http.StatusOK); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	if err := c.MkdirAll(ctx, "/native", 0); err != nil {
		return nil, err
	}
	local := filepath.Join(dir, "large")
	if err := writeRandomFile(local, cfg.Size); err != nil {
		return nil, err
	}
	var puts, gets []float64
	for run := range cfg.Runs {
		var r S3Run
		native := fmt.Sprintf("/native/large-%d", run)
		key := fmt.Sprintf("/bench/large-%d", run)
		// The puts go in turn, the native one first in odd runs and
		// second in even ones: a put right after another waits for the
		// disk to write back the first one's pages.
		nativePut := func() error {
			progress("run %d: cairn fs put", run+1)
			d, err := b.pc.run(ctx, nil, cfg.Binary, "fs", "put", local, native)
			r.NativePut = mibps(cfg.Size, d)
			return err
		}
		s3Put := func() error {
			progress("run %d: PutObject", run+1)
			d, err := b.putFile(ctx, key, local)
			r.S3Put = mibps(cfg.Size, d)
			return err
		}
		first, second := nativePut, s3Put
		if run%2 == 1 {
			first, second = s3Put, nativePut
		}
		if err := first(); err != nil {
			return nil, err
		}
		if err := second(); err != nil {
			return nil, err
		}
		progress("run %d: cairn fs cat", run+1)
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		d, err := b.pc.run(ctx, null, cfg.Binary, "fs", "cat", native)
		null.Close()
		if err != nil {
			return nil, err
		}
		r.NativeGet = mibps(cfg.Size, d)
		progress("run %d: GetObject", run+1)
		if d, err = b.get(ctx, key, cfg.Size); err != nil {
			return nil, err
		}
		r.S3Get = mibps(cfg.Size, d)
		res.Runs = append(res.Runs, r)
		puts = append(puts, ratio(r.S3Put, r.NativePut))
		gets = append(gets, ratio(r.S3Get, r.NativeGet))
		// Keep the disk use to one copy of each.
		if err := c.Remove(ctx, native); err != nil {
			return nil, err
		}
		if err := c.Remove(ctx, "/s3"+key); err != nil {
			return nil, err
		}
	}
	res.PutRatio, res.GetRatio = median(puts), median(gets)
	os.Remove(local)

	progress("small objects: %d of %s by %d clients", cfg.SmallFiles, sizeString(cfg.SmallSize), cfg.SmallClients)
	if res.Small, err = b.small(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// waitGateway waits until the gateway answers.
func (b *s3Bench) waitGateway(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := b.do(ctx, http.MethodGet, "/", nil, 0, http.StatusOK)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway did not answer within a minute: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// request makes a signed request of the gateway; body may be nil.
func (b *s3Bench) request(ctx context.Context, method, path string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.endpoint+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	if err := b.signer.Sign(req, sigv4.UnsignedPayload); err != nil {
		return nil, err
	}
	return b.hc.Do(req)
}

// do makes a request and checks its status, draining the body.
func (b *s3Bench) do(ctx context.Context, method, path string, body []byte, size int64, want int) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := b.request(ctx, method, path, r, size)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func (b *s3Bench) putFile(ctx context.Context, key, local string) (time.Duration, error) {
	f, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	t := time.Now()
	resp, err := b.request(ctx, http.MethodPut, key, f, b.cfg.Size)
	if err != nil {
		return 0, err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("PUT %s: %s: %s", key, resp.Status, bytes.TrimSpace(msg))
	}
	return time.Since(t), nil
}

func (b *s3Bench) get(ctx context.Context, key string, size int64) (time.Duration, error) {
	t := time.Now()
	resp, err := b.request(ctx, http.MethodGet, key, nil, 0)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("GET %s: %s: %s", key, resp.Status, bytes.TrimSpace(msg))
	}
	// A large buffer, as cairn fs cat and real clients read: io.Copy to
	// io.Discard would read in 8 KiB pieces.
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, make([]byte, min(size+1, 1<<20)))
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("GET %s: %d bytes, want %d", key, n, size)
	}
	return time.Since(t), nil
}

// small writes and reads SmallFiles objects through the gateway, then
// as many files through the Go client, with SmallClients at a time.
func (b *s3Bench) small(ctx context.Context) (*S3Small, error) {
	cfg := b.cfg
	data := randomData(int(cfg.SmallSize))
	per := (cfg.SmallFiles + cfg.SmallClients - 1) / cfg.SmallClients
	span := func(i int) (int, int) { return i * per, min((i+1)*per, cfg.SmallFiles) }
	res := &S3Small{Files: cfg.SmallFiles, Bytes: cfg.SmallSize, Clients: cfg.SmallClients}
	phase := func(fn func(ctx context.Context, i, j int) error) (FileRate, error) {
		cs := make([]*client.Client, cfg.SmallClients) // unused by fn; timedCalls counts them
		d, cpu, lat, err := timedCalls(ctx, cs, &counter{}, span, func(ctx context.Context, _ *client.Client, i, j int) error { return fn(ctx, i, j) })
		if err != nil {
			return FileRate{}, err
		}
		return FileRate{Seconds: round3(d.Seconds()), PerSecond: perSecond(cfg.SmallFiles, d), MiBs: mibps(int64(cfg.SmallFiles)*cfg.SmallSize, d),
			Latency: lat, CPUMicros: round1(float64(cpu.Microseconds()) / float64(cfg.SmallFiles))}, nil
	}
	key := func(i, j int) string { return fmt.Sprintf("/bench/small/c%03d/f%07d", i, j) }
	var err error
	if res.S3Write, err = phase(func(ctx context.Context, i, j int) error {
		return b.do(ctx, http.MethodPut, key(i, j), data, int64(len(data)), http.StatusOK)
	}); err != nil {
		return nil, err
	}
	if res.S3Read, err = phase(func(ctx context.Context, i, j int) error {
		_, err := b.get(ctx, key(i, j), cfg.SmallSize)
		return err
	}); err != nil {
		return nil, err
	}

	cs := make([]*client.Client, cfg.SmallClients)
	for i := range cs {
		c, err := client.Dial(ctx, b.pc.nn)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cs[i] = c
		if err := c.MkdirAll(ctx, fmt.Sprintf("/native/small/c%03d", i), 0); err != nil {
			return nil, err
		}
	}
	name := func(i, j int) string { return fmt.Sprintf("/native/small/c%03d/f%07d", i, j) }
	buf := make([][]byte, cfg.SmallClients)
	for i := range buf {
		buf[i] = make([]byte, cfg.SmallSize+1)
	}
	if res.NativeWrite, err = phase(func(ctx context.Context, i, j int) error {
		_, _, err := writeFile(ctx, cs[i], name(i, j), data, cfg.SmallSize, &client.CreateOptions{}, nil)
		return err
	}); err != nil {
		return nil, err
	}
	if res.NativeRead, err = phase(func(ctx context.Context, i, j int) error {
		_, _, err := readFile(ctx, cs[i], name(i, j), cfg.SmallSize, buf[i], nil)
		return err
	}); err != nil {
		return nil, err
	}
	return res, nil
}

// writeRandomFile writes size random bytes to a new local file.
func writeRandomFile(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		rand.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return errors.Join(f.Sync(), f.Close())
}

func randomKey(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// WriteTable writes the result as a table.
func (r *S3Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "S3 gateway vs native CLI, %s file, replication %d, %d datanodes\n", sizeString(r.Size), r.Replication, r.DataNodes)
	fmt.Fprintf(tw, "run\tfs put MiB/s\tPutObject MiB/s\tratio\tfs cat MiB/s\tGetObject MiB/s\tratio\n")
	for i, x := range r.Runs {
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\n", i+1, x.NativePut, x.S3Put, ratio(x.S3Put, x.NativePut), x.NativeGet, x.S3Get, ratio(x.S3Get, x.NativeGet))
	}
	fmt.Fprintf(tw, "median\t\t\t%.2f\t\t\t%.2f\n", r.PutRatio, r.GetRatio)
	if s := r.Small; s != nil {
		fmt.Fprintf(tw, "\n%d objects of %s, %d clients\tfiles/s\tp50 ms\tp99 ms\tCPU us/file\n", s.Files, sizeString(s.Bytes), s.Clients)
		for _, row := range []struct {
			name string
			f    FileRate
		}{{"PutObject", s.S3Write}, {"client write", s.NativeWrite}, {"GetObject", s.S3Read}, {"client read", s.NativeRead}} {
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.0f\n", row.name, row.f.PerSecond, row.f.Latency.P50, row.f.Latency.P99, row.f.CPUMicros)
		}
	}
	return tw.Flush()
}

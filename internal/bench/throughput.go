package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Throughput is the result of the write or the read benchmark: Clients
// clients each writing (or reading) one file of FileBytes at once.
type Throughput struct {
	Clients     int     `json:"clients"`
	FileBytes   int64   `json:"file_bytes"`
	BlockSize   int64   `json:"block_size"`
	Replication int     `json:"replication"`
	Seconds     float64 `json:"seconds"`
	// TotalMiBs is all the bytes over the wall time of the whole run.
	TotalMiBs float64 `json:"total_mib_s"`
	// PerClientMiBs is each client's bytes over its own time.
	PerClientMiBs Spread `json:"per_client_mib_s"`
	// FirstByte is, for a write, the time from Create to the first
	// 1 MiB Write returning (the create and the first block's pipeline
	// set up); for a read, from Open to the first bytes read.
	FirstByte Latency `json:"first_byte"`
	// CPUPerGiB is the CPU time this process used per GiB moved, in
	// seconds (with a local cluster: client and servers together).
	CPUPerGiB float64 `json:"cpu_s_per_gib"`
}

// ioBuffer is the size of the writes and reads of the benchmarks.
const ioBuffer = 1 << 20

// throughput runs the write benchmark and then, if asked, the read
// benchmark on the files written. The write is always reported: reading
// needs it anyway.
func (r *Runner) throughput(ctx context.Context, e *env, doRead bool, rep *Report) error {
	cfg := r.cfg
	cs, closeClients, err := e.dialClients(ctx, cfg.Clients, cfg.Clients)
	if err != nil {
		return err
	}
	defer closeClients()
	dir := e.root + "/throughput"
	if err := e.c.MkdirAll(ctx, dir, 0); err != nil {
		return err
	}
	name := func(i int) string { return fmt.Sprintf("%s/c%03d", dir, i) }
	data := randomData(ioBuffer)
	total := int64(cfg.Clients) * cfg.Size

	var done counter
	stop := r.ticker(func() string {
		return fmt.Sprintf("write: %s of %s", sizeString(done.get()), sizeString(total))
	})
	w, err := runClients(ctx, cfg.Clients, func(ctx context.Context, i int) (int64, time.Duration, error) {
		return writeFile(ctx, cs[i], name(i), data, cfg.Size, &client.CreateOptions{Replication: cfg.Replication, BlockSize: cfg.BlockSize}, &done)
	})
	stop()
	if err != nil {
		return err
	}
	w.BlockSize, w.Replication = cfg.BlockSize, cfg.Replication
	w.FileBytes = cfg.Size
	rep.Write = w
	if !doRead {
		return nil
	}

	var got counter
	stop = r.ticker(func() string {
		return fmt.Sprintf("read: %s of %s", sizeString(got.get()), sizeString(total))
	})
	rd, err := runClients(ctx, cfg.Clients, func(ctx context.Context, i int) (int64, time.Duration, error) {
		return readFile(ctx, cs[i], name(i), cfg.Size, make([]byte, ioBuffer), &got)
	})
	stop()
	if err != nil {
		return err
	}
	rd.BlockSize, rd.Replication, rd.FileBytes = cfg.BlockSize, cfg.Replication, cfg.Size
	rep.Read = rd
	return nil
}

// runClients runs fn for n clients at once and sums up their
// throughput; fn returns its bytes and its time to first byte.
func runClients(ctx context.Context, n int, fn func(ctx context.Context, i int) (int64, time.Duration, error)) (*Throughput, error) {
	per := make([]float64, n)
	first := make([]time.Duration, n)
	var bytes counter
	cpu0 := cpuTime()
	start := time.Now()
	err := parallel(ctx, n, func(ctx context.Context, i int) error {
		t0 := time.Now()
		b, fb, err := fn(ctx, i)
		if err != nil {
			return err
		}
		per[i] = mibps(b, time.Since(t0))
		first[i] = fb
		bytes.add(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	return &Throughput{
		CPUPerGiB:     round3(cpu.Seconds() / (float64(bytes.get()) / (1 << 30))),
		Clients:       n,
		Seconds:       round3(d.Seconds()),
		TotalMiBs:     mibps(bytes.get(), d),
		PerClientMiBs: spreadOf(per),
		FirstByte:     latencyOf(first),
	}, nil
}

// writeFile writes size bytes (data, over and over) to a new file and
// closes it, which returns once every block is fsync'd on its whole
// pipeline.
func writeFile(ctx context.Context, c *client.Client, name string, data []byte, size int64, opts *client.CreateOptions, done *counter) (int64, time.Duration, error) {
	start := time.Now()
	w, err := c.Create(ctx, name, opts)
	if err != nil {
		return 0, 0, err
	}
	defer w.Abort()
	var first time.Duration
	for n := int64(0); n < size; {
		k, err := w.Write(data[:min(int64(len(data)), size-n)])
		n += int64(k)
		if done != nil {
			done.add(int64(k))
		}
		if err != nil {
			return n, 0, err
		}
		if first == 0 {
			first = time.Since(start)
		}
	}
	if err := w.Close(); err != nil {
		return size, 0, err
	}
	return size, first, nil
}

// readFile reads a whole file of the given size with buf.
func readFile(ctx context.Context, c *client.Client, name string, size int64, buf []byte, got *counter) (int64, time.Duration, error) {
	start := time.Now()
	f, err := c.Open(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var first time.Duration
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if got != nil {
			got.add(int64(k))
		}
		if k > 0 && first == 0 {
			first = time.Since(start)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, 0, err
		}
	}
	if n != size {
		return n, 0, cairn.Errorf("bench.read", name, cairn.Corrupt, "read %d bytes, want %d", n, size)
	}
	return n, first, nil
}

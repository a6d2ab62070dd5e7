package bench

import (
	"context"
	"fmt"

	"github.com/cairn-fs/cairn/client"
)

// SmallResult is the result of the small files benchmark: for each
// size, Clients clients write Files files between them (each a create,
// one block down a pipeline of Replication DataNodes, fsync'd, and a
// complete), then read them all back.
type SmallResult struct {
	Clients     int         `json:"clients"`
	Replication int         `json:"replication"`
	Sizes       []SmallSize `json:"sizes"`
}

// SmallSize is the result for one file size.
type SmallSize struct {
	FileBytes int64    `json:"file_bytes"`
	Files     int      `json:"files"`
	Write     FileRate `json:"write"`
	Read      FileRate `json:"read"`
}

// FileRate is a rate of whole files.
type FileRate struct {
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"files_per_second"`
	MiBs      float64 `json:"mib_s"`
	Latency   Latency `json:"latency"`
	// CPUMicros is the CPU time this process used per file, in
	// microseconds (with a local cluster: clients and servers).
	CPUMicros float64 `json:"cpu_us_per_file"`
	// NameNodeCPUMicros is the NameNode process's CPU time per file,
	// from its /metrics (Config.NameNodeMetrics); 0 if not measured.
	NameNodeCPUMicros float64 `json:"namenode_cpu_us_per_file,omitempty"`
}

func (r *Runner) small(ctx context.Context, e *env) (*SmallResult, error) {
	cfg := r.cfg
	cs, closeClients, err := e.dialClients(ctx, cfg.SmallClients, cfg.SmallClients)
	if err != nil {
		return nil, err
	}
	defer closeClients()
	res := &SmallResult{Clients: cfg.SmallClients, Replication: cfg.Replication}
	for _, size := range cfg.SmallSizes {
		base := fmt.Sprintf("%s/small-%d", e.root, size)
		for i := range cs {
			if err := e.c.MkdirAll(ctx, fmt.Sprintf("%s/c%03d", base, i), 0); err != nil {
				return nil, err
			}
		}
		name := func(i, j int) string { return fmt.Sprintf("%s/c%03d/f%07d", base, i, j) }
		data := randomData(int(size))
		opts := &client.CreateOptions{Replication: cfg.Replication}
		label := sizeString(size)
		w, err := r.smallPhase(ctx, "write "+label, cs, cfg.SmallFiles, size, func(ctx context.Context, c *client.Client, i, j int) error {
			_, _, err := writeFile(ctx, c, name(i, j), data, size, opts, nil)
			return err
		})
		if err != nil {
			return nil, err
		}
		bufs := make([][]byte, len(cs)) // one per client
		for i := range bufs {
			bufs[i] = make([]byte, min(size+1, ioBuffer))
		}
		rd, err := r.smallPhase(ctx, "read "+label, cs, cfg.SmallFiles, size, func(ctx context.Context, c *client.Client, i, j int) error {
			_, _, err := readFile(ctx, c, name(i, j), size, bufs[i], nil)
			return err
		})
		if err != nil {
			return nil, err
		}
		res.Sizes = append(res.Sizes, SmallSize{FileBytes: size, Files: cfg.SmallFiles, Write: w, Read: rd})
	}
	return res, nil
}

// smallPhase spreads files over the clients and measures them.
func (r *Runner) smallPhase(ctx context.Context, what string, cs []*client.Client, files int, size int64, fn func(ctx context.Context, c *client.Client, i, j int) error) (FileRate, error) {
	var done counter
	stop := r.ticker(func() string { return fmt.Sprintf("small: %s files, %d of %d", what, done.get(), files) })
	defer stop()
	per := (files + len(cs) - 1) / len(cs)
	nnCPU := r.nameNodeCPU(ctx)
	d, cpu, lat, err := timedCalls(ctx, cs, &done, func(i int) (int, int) { return i * per, min((i+1)*per, files) }, fn)
	if err != nil {
		return FileRate{}, err
	}
	return FileRate{
		NameNodeCPUMicros: nnCPU(files),
		CPUMicros:         round1(float64(cpu.Microseconds()) / float64(files)),
		Seconds:           round3(d.Seconds()),
		PerSecond:         perSecond(files, d),
		MiBs:              mibps(int64(files)*size, d),
		Latency:           lat,
	}, nil
}

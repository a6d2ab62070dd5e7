package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/cairn-fs/cairn/client"
)

// MetaResult is the result of the metadata benchmark, in the manner of
// HDFS's NNThroughputBenchmark: Clients clients (goroutines) each doing
// OpsPerClient operations of each kind, one kind after the other, over
// Connections connections to the NameNode.
type MetaResult struct {
	Clients int `json:"clients"`
	// Connections is the number of NameNode connections the clients
	// share.
	Connections  int        `json:"connections"`
	OpsPerClient int        `json:"ops_per_client"`
	ListEntries  int        `json:"list_entries"`
	Ops          []OpResult `json:"ops"`
	// LsProcess times 'cairn fs ls /' run as a separate process, from
	// start to exit; nil when no binary was given.
	LsProcess *LsResult `json:"ls_process,omitempty"`
}

// LsResult is the wall time of a command run as a process.
type LsResult struct {
	Command string  `json:"command"`
	Runs    int     `json:"runs"`
	Latency Latency `json:"latency"`
}

// OpResult is the rate and latency of one kind of operation.
type OpResult struct {
	// Op is create (an empty file, complete and durable: one logged,
	// fsync'd NameNode operation), mkdir, stat, rename, delete or list
	// (a whole directory of ListEntries entries, every page).
	Op        string  `json:"op"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	Latency   Latency `json:"latency"`
	// CPUMicros is the CPU time this process used per operation, in
	// microseconds (with a local cluster: clients and NameNode).
	CPUMicros float64 `json:"cpu_us_per_op"`
	// NameNodeCPUMicros is the NameNode process's CPU time per
	// operation, from its /metrics (Config.NameNodeMetrics); 0 if not
	// measured.
	NameNodeCPUMicros float64 `json:"namenode_cpu_us_per_op,omitempty"`
	// EntriesPerSecond is, for list, the entries listed per second.
	EntriesPerSecond float64 `json:"entries_per_second,omitempty"`
}

func (r *Runner) meta(ctx context.Context, e *env) (*MetaResult, error) {
	cfg := r.cfg
	cs, closeClients, err := e.dialClients(ctx, cfg.MetaClients, cfg.MetaConns)
	if err != nil {
		return nil, err
	}
	defer closeClients()
	base := e.root + "/meta"
	for i := range cs {
		if err := e.c.MkdirAll(ctx, fmt.Sprintf("%s/c%03d", base, i), 0); err != nil {
			return nil, err
		}
	}
	n := cfg.MetaOps
	file := func(i, j int) string { return fmt.Sprintf("%s/c%03d/f%07d", base, i, j) }
	moved := func(i, j int) string { return fmt.Sprintf("%s/c%03d/g%07d", base, i, j) }
	dir := func(i, j int) string { return fmt.Sprintf("%s/c%03d/d%07d", base, i, j) }
	res := &MetaResult{Clients: cfg.MetaClients, Connections: min(cfg.MetaConns, cfg.MetaClients), OpsPerClient: n, ListEntries: cfg.ListEntries}

	phases := []struct {
		op string
		fn func(ctx context.Context, c *client.Client, i, j int) error
	}{
		{"create", func(ctx context.Context, c *client.Client, i, j int) error { return c.Touch(ctx, file(i, j)) }},
		{"mkdir", func(ctx context.Context, c *client.Client, i, j int) error { return c.Mkdir(ctx, dir(i, j), 0) }},
		{"stat", func(ctx context.Context, c *client.Client, i, j int) error {
			_, err := c.Stat(ctx, file(i, j))
			return err
		}},
		{"rename", func(ctx context.Context, c *client.Client, i, j int) error {
			return c.Rename(ctx, file(i, j), moved(i, j), false)
		}},
		{"delete", func(ctx context.Context, c *client.Client, i, j int) error { return c.Remove(ctx, moved(i, j)) }},
	}
	for _, ph := range phases {
		op, err := r.metaPhase(ctx, ph.op, cs, n, ph.fn)
		if err != nil {
			return nil, err
		}
		res.Ops = append(res.Ops, op)
	}

	// The listing: fill one directory, then every client lists it.
	listDir := base + "/list"
	if err := e.c.Mkdir(ctx, listDir, 0); err != nil {
		return nil, err
	}
	per := (cfg.ListEntries + len(cs) - 1) / len(cs)
	var made counter
	stop := r.ticker(func() string { return fmt.Sprintf("meta: filling a directory, %d of %d", made.get(), cfg.ListEntries) })
	err = parallel(ctx, len(cs), func(ctx context.Context, i int) error {
		for j := i * per; j < min((i+1)*per, cfg.ListEntries); j++ {
			if err := cs[i].Touch(ctx, fmt.Sprintf("%s/entry-%08d", listDir, j)); err != nil {
				return err
			}
			made.add(1)
		}
		return nil
	})
	stop()
	if err != nil {
		return nil, err
	}
	list, err := r.metaPhase(ctx, "list", cs, cfg.ListOps, func(ctx context.Context, c *client.Client, i, j int) error {
		ents, err := c.ReadDir(ctx, listDir)
		if err == nil && len(ents) != cfg.ListEntries {
			err = errorf("meta", listDir, "listed %d entries, want %d", len(ents), cfg.ListEntries)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	list.EntriesPerSecond = list.PerSecond * float64(cfg.ListEntries)
	res.Ops = append(res.Ops, list)
	if cfg.LsBinary != "" {
		if res.LsProcess, err = r.lsProcess(ctx, e.addr); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// lsProcess runs 'cairn fs ls /' as a process LsRuns times, one after
// the other, and times each from start to exit.
func (r *Runner) lsProcess(ctx context.Context, addr string) (*LsResult, error) {
	args := []string{"fs", "ls", "/", "--namenode", addr}
	ds := make([]time.Duration, 0, r.cfg.LsRuns)
	for i := range r.cfg.LsRuns {
		r.progress("meta: cairn fs ls / as a process, %d of %d", i+1, r.cfg.LsRuns)
		cmd := exec.CommandContext(ctx, r.cfg.LsBinary, args...)
		t := time.Now()
		out, err := cmd.CombinedOutput()
		ds = append(ds, time.Since(t))
		if err != nil {
			return nil, errorf("meta", r.cfg.LsBinary, "%s %s: %v: %s", r.cfg.LsBinary, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return &LsResult{Command: "cairn " + strings.Join(args[:3], " "), Runs: len(ds), Latency: latencyOf(ds)}, nil
}

// metaPhase runs n operations on every client at once and measures
// them.
func (r *Runner) metaPhase(ctx context.Context, op string, cs []*client.Client, n int, fn func(ctx context.Context, c *client.Client, i, j int) error) (OpResult, error) {
	var done counter
	total := n * len(cs)
	stop := r.ticker(func() string { return fmt.Sprintf("meta: %s %d of %d", op, done.get(), total) })
	defer stop()
	nnCPU := r.nameNodeCPU(ctx)
	d, cpu, lat, err := timedCalls(ctx, cs, &done, func(i int) (int, int) { return 0, n }, fn)
	if err != nil {
		return OpResult{}, err
	}
	return OpResult{
		NameNodeCPUMicros: nnCPU(total),
		CPUMicros:         round1(float64(cpu.Microseconds()) / float64(total)),
		Op:                op,
		Count:             total,
		Seconds:           round3(d.Seconds()),
		PerSecond:         perSecond(total, d),
		Latency:           lat,
	}, nil
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// FailoverConfig configures the failover benchmark: a NameNode group
// and DataNodes, each a process of the cairn binary, under a steady
// write load; the leader is killed (SIGKILL) Failovers times, and each
// time the benchmark measures how long until another member leads and
// until the first write issued after the kill is acknowledged.
type FailoverConfig struct {
	// Binary is the cairn binary to run the nodes with. Required.
	Binary string
	// Dir is where the cluster's temporary directory is made; empty:
	// os.TempDir().
	Dir string
	// NameNodes is the size of the group; 0: 3.
	NameNodes int
	// DataNodes is the number of DataNodes; 0: 3.
	DataNodes int
	// Failovers is the number of leader kills; 0: 10.
	Failovers int
	// Writers is the number of goroutines of the steady load (durable
	// creates of empty files); 0: 4.
	Writers int
	// HeartbeatTimeout and ElectionTimeout are the members' raft
	// timeouts; 0: the NameNode's defaults.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// Progress, if set, receives a line per step.
	Progress func(line string)
}

// FailoverResult is the failover benchmark's result.
type FailoverResult struct {
	NameNodes int `json:"namenodes"`
	DataNodes int `json:"datanodes"`
	Writers   int `json:"writers"`
	// Rounds is one entry per leader kill, in order.
	Rounds []FailoverRound `json:"rounds"`
	// Election and FirstWrite summarize the rounds, in milliseconds.
	Election   Distribution `json:"election_ms"`
	FirstWrite Distribution `json:"first_write_ms"`
	// LoadWrites and LoadFailures count the steady load's creates, and
	// those that failed (none should: the client fails over).
	LoadWrites   int64 `json:"load_writes"`
	LoadFailures int64 `json:"load_failures"`
}

// FailoverRound is one leader kill.
type FailoverRound struct {
	Killed string `json:"killed"`
	Leader string `json:"new_leader"`
	// ElectionMs is from the kill to the first answer of 200 by another
	// member's /readyz (it serves).
	ElectionMs float64 `json:"election_ms"`
	// FirstWriteMs is from the kill to the acknowledgement of the first
	// create issued after the kill (probes start every 10 ms).
	FirstWriteMs float64 `json:"first_write_ms"`
}

// Distribution is min, median, 90th percentile, max and mean.
type Distribution struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func distributionOf(xs []float64) Distribution {
	if len(xs) == 0 {
		return Distribution{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Distribution{Min: s[0], P50: at(0.5), P90: at(0.9), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// nodeProc is a node process of the benchmark's cluster.
type nodeProc struct {
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *nodeProc) start(binary string) error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return nil
}

// stop ends the process with sig and waits for it.
func (p *nodeProc) stop(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// freePorts returns n loopback addresses free now.
func freePorts(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// RunFailover runs the failover benchmark.
func RunFailover(ctx context.Context, cfg FailoverConfig, log *slog.Logger) (res *FailoverResult, err error) {
	const op = "bench failover"
	if cfg.Binary == "" {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "no cairn binary to run the nodes with")
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.NameNodes, 3)
	def(&cfg.DataNodes, 3)
	def(&cfg.Failovers, 10)
	def(&cfg.Writers, 4)
	if cfg.NameNodes < 3 || cfg.NameNodes > 9 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "invalid --namenodes %d: want 3 to 9 (a group that survives the loss of its leader)", cfg.NameNodes)
	}
	if cfg.DataNodes < 1 || cfg.Failovers < 1 || cfg.Writers < 1 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "--datanodes, --failovers and --writers must be at least 1")
	}
	progress := progressTo(cfg.Progress, log)
	dir, err := runDir(cfg.Dir, "cairn-failover-")
	if err != nil {
		return nil, err
	}
	defer keepLogs(dir, &err)

	ports, err := freePorts(2*cfg.NameNodes + 2*cfg.DataNodes)
	if err != nil {
		return nil, err
	}
	rpc, web := ports[:cfg.NameNodes], ports[cfg.NameNodes:2*cfg.NameNodes]
	peers := strings.Join(rpc, ",")
	var nns, dns []*nodeProc
	defer func() {
		for _, p := range slices.Concat(dns, nns) {
			p.stop(syscall.SIGTERM)
		}
	}()
	for i := range cfg.NameNodes {
		args := []string{"namenode", "--dir", filepath.Join(dir, fmt.Sprintf("nn%d", i)), "--peers", peers,
			"--rpc-addr", rpc[i], "--http-addr", web[i], "--heartbeat-interval", "1s", "--log-level", "warn"}
		if cfg.HeartbeatTimeout > 0 {
			args = append(args, "--raft-heartbeat-timeout", cfg.HeartbeatTimeout.String())
		}
		if cfg.ElectionTimeout > 0 {
			args = append(args, "--raft-election-timeout", cfg.ElectionTimeout.String())
		}
		p := &nodeProc{args: args, log: filepath.Join(dir, fmt.Sprintf("nn%d.log", i))}
		if err := p.start(cfg.Binary); err != nil {
			return nil, err
		}
		nns = append(nns, p)
	}
	for i := range cfg.DataNodes {
		p := &nodeProc{args: []string{"datanode", "--dir", filepath.Join(dir, fmt.Sprintf("dn%d", i)), "--namenode", peers,
			"--addr", ports[2*cfg.NameNodes+2*i], "--http-addr", ports[2*cfg.NameNodes+2*i+1], "--heartbeat-interval", "1s", "--log-level", "warn"},
			log: filepath.Join(dir, fmt.Sprintf("dn%d.log", i))}
		if err := p.start(cfg.Binary); err != nil {
			return nil, err
		}
		dns = append(dns, p)
	}
	progress("started %d namenodes and %d datanodes in %s", cfg.NameNodes, cfg.DataNodes, dir)

	hc := &http.Client{Timeout: 500 * time.Millisecond}
	serving := func(i int) bool {
		resp, err := hc.Get("http://" + web[i] + "/readyz")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	leader := func(deadline time.Time, not int) (int, error) {
		for time.Now().Before(deadline) {
			for i := range nns {
				if i != not && nns[i].cmd != nil && serving(i) {
					return i, nil
				}
			}
			select {
			case <-ctx.Done():
				return -1, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		return -1, errors.New("no member serves")
	}
	if _, err := leader(time.Now().Add(time.Minute), -1); err != nil {
		return nil, cairn.E(op, dir, cairn.Unavailable, fmt.Errorf("the group did not elect a leader: %w", err))
	}
	c, err := client.Dial(ctx, peers, client.WithDialTimeout(time.Minute))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.MkdirAll(ctx, "/failover/load", 0); err != nil {
		return nil, err
	}
	if err := c.MkdirAll(ctx, "/failover/probe", 0); err != nil {
		return nil, err
	}

	res = &FailoverResult{NameNodes: cfg.NameNodes, DataNodes: cfg.DataNodes, Writers: cfg.Writers}
	var writes, failures atomic.Int64
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; lctx.Err() == nil; j++ {
				octx, cancel := context.WithTimeout(lctx, 30*time.Second)
				err := c.Touch(octx, fmt.Sprintf("/failover/load/w%d-%d", w, j))
				cancel()
				if err != nil && lctx.Err() == nil {
					failures.Add(1)
					log.Warn("load write failed", "err", err)
				} else if err == nil {
					writes.Add(1)
				}
			}
		}()
	}
	defer func() {
		stopLoad()
		wg.Wait()
	}()

	var probeSeq atomic.Int64
	for round := range cfg.Failovers {
		// Let the load run, and the last restarted member catch up.
		time.Sleep(2 * time.Second)
		old, err := leader(time.Now().Add(time.Minute), -1)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		nns[old].stop(syscall.SIGKILL)

		// Probes: a fresh create every 10 ms until one is acknowledged.
		first := make(chan time.Time, 1)
		pctx, stopProbes := context.WithCancel(ctx)
		var pwg sync.WaitGroup
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				pwg.Add(1)
				go func() {
					defer pwg.Done()
					octx, cancel := context.WithTimeout(pctx, 30*time.Second)
					defer cancel()
					if c.Touch(octx, fmt.Sprintf("/failover/probe/p%d", probeSeq.Add(1))) == nil {
						select {
						case first <- time.Now():
						default:
						}
					}
				}()
				select {
				case <-pctx.Done():
					return
				case <-t.C:
				}
			}
		}()
		nl, err := leader(time.Now().Add(time.Minute), old)
		if err != nil {
			stopProbes()
			pwg.Wait()
			return nil, fmt.Errorf("round %d, after killing %s: %w", round+1, rpc[old], err)
		}
		elected := time.Since(t0)
		var acked time.Time
		select {
		case acked = <-first:
		case <-time.After(time.Minute):
			stopProbes()
			pwg.Wait()
			return nil, cairn.Errorf(op, dir, cairn.Unavailable, "no write acknowledged within a minute of killing the leader")
		}
		stopProbes()
		pwg.Wait()
		r := FailoverRound{Killed: rpc[old], Leader: rpc[nl], ElectionMs: ms(elected), FirstWriteMs: ms(acked.Sub(t0))}
		res.Rounds = append(res.Rounds, r)
		progress("failover %d/%d: killed %s; %s serves after %.0f ms; first write acknowledged after %.0f ms",
			round+1, cfg.Failovers, r.Killed, r.Leader, r.ElectionMs, r.FirstWriteMs)
		if err := nns[old].start(cfg.Binary); err != nil {
			return nil, err
		}
	}
	stopLoad()
	wg.Wait()
	var el, fw []float64
	for _, r := range res.Rounds {
		el = append(el, r.ElectionMs)
		fw = append(fw, r.FirstWriteMs)
	}
	res.Election, res.FirstWrite = distributionOf(el), distributionOf(fw)
	res.LoadWrites, res.LoadFailures = writes.Load(), failures.Load()
	return res, nil
}

// WriteTable prints the result for people.
func (r *FailoverResult) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "failover: %d namenodes, %d datanodes, %d writers of durable creates\n", r.NameNodes, r.DataNodes, r.Writers)
	fmt.Fprintf(w, "%-6s %-22s %-22s %12s %16s\n", "round", "killed", "new leader", "election ms", "first write ms")
	for i, x := range r.Rounds {
		fmt.Fprintf(w, "%-6d %-22s %-22s %12.0f %16.0f\n", i+1, x.Killed, x.Leader, x.ElectionMs, x.FirstWriteMs)
	}
	for _, d := range []struct {
		name string
		d    Distribution
	}{{"election", r.Election}, {"first write", r.FirstWrite}} {
		fmt.Fprintf(w, "%-12s min %.0f  p50 %.0f  p90 %.0f  max %.0f  mean %.0f ms\n", d.name, d.d.Min, d.d.P50, d.d.P90, d.d.Max, d.d.Mean)
	}
	_, err := fmt.Fprintf(w, "steady load: %d creates, %d failed\n", r.LoadWrites, r.LoadFailures)
	return err
}

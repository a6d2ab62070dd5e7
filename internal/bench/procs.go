package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn/client"
)

// procCluster is a NameNode and DataNodes, each a process of the cairn
// binary, for the benchmarks that measure what a user sees (a gateway
// or a mount beside them, the CLI as processes); the processes a
// benchmark adds (start) stop with it. Each logs to <name>.log in dir.
type procCluster struct {
	binary, dir string
	nn          string         // the NameNode's RPC address
	c           *client.Client // a client of it
	procs       []*nodeProc
}

// startProcCluster starts a NameNode and datanodes DataNodes in dir and
// waits until every DataNode is live and safe mode is off. On error
// what was started is stopped.
func startProcCluster(ctx context.Context, binary, dir string, datanodes int) (pc *procCluster, err error) {
	pc = &procCluster{binary: binary, dir: dir}
	defer func() {
		if err != nil {
			pc.stop()
		}
	}()
	ports, err := freePorts(2 + 2*datanodes)
	if err != nil {
		return nil, err
	}
	pc.nn = ports[0]
	if err := pc.start("nn", "namenode", "--dir", filepath.Join(dir, "nn"), "--rpc-addr", pc.nn, "--http-addr", ports[1]); err != nil {
		return nil, err
	}
	for i := range datanodes {
		if err := pc.start(fmt.Sprintf("dn%d", i), "datanode", "--dir", filepath.Join(dir, fmt.Sprintf("dn%d", i)), "--namenode", pc.nn,
			"--addr", ports[2+2*i], "--http-addr", ports[3+2*i]); err != nil {
			return nil, err
		}
	}
	if pc.c, err = client.Dial(ctx, pc.nn, client.WithDialTimeout(time.Minute)); err != nil {
		return nil, err
	}
	if err := waitLive(ctx, pc.c, datanodes); err != nil {
		return nil, err
	}
	return pc, nil
}

// start starts a process of the binary with args (and a warn log
// level), logging to name.log; stop stops it.
func (pc *procCluster) start(name string, args ...string) error {
	p := &nodeProc{args: append(args, "--log-level", "warn"), log: filepath.Join(pc.dir, name+".log")}
	if err := p.start(pc.binary); err != nil {
		return err
	}
	pc.procs = append(pc.procs, p)
	return nil
}

// stop closes the client and stops the processes, last started first.
func (pc *procCluster) stop() {
	if pc.c != nil {
		pc.c.Close()
	}
	for _, p := range slices.Backward(pc.procs) {
		p.stop(syscall.SIGTERM)
	}
}

// waitLive waits until n DataNodes are live and safe mode is off.
func waitLive(ctx context.Context, c *client.Client, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		rep, err := c.DatanodeReport(ctx)
		live := 0
		if err == nil {
			for _, d := range rep.Datanodes {
				if d.State == "live" {
					live++
				}
			}
		}
		if live == n {
			return c.WaitSafeModeOff(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d datanodes live after a minute", live, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// progressTo returns a progress printer: each line goes to fn (if set)
// and to the log.
func progressTo(fn func(string), log *slog.Logger) func(format string, args ...any) {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if fn != nil {
			fn(line)
		}
		log.Info(line)
	}
}

// runDir makes a benchmark's temporary directory under base (empty:
// os.TempDir()). Defer keepLogs(dir, &err): it removes the directory
// after a run that succeeded and keeps it, saying where, after one that
// failed, for the nodes' logs.
func runDir(base, prefix string) (string, error) {
	if base == "" {
		base = os.TempDir()
	}
	return os.MkdirTemp(base, prefix)
}

func keepLogs(dir string, err *error) {
	if *err == nil {
		os.RemoveAll(dir)
		return
	}
	*err = fmt.Errorf("%w (the nodes' logs are kept in %s)", *err, dir)
}

// run runs a program (the cairn binary, dd, cp) with CAIRN_NAMENODE
// naming the cluster, and times it; stdout may be nil.
func (pc *procCluster) run(ctx context.Context, stdout io.Writer, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "CAIRN_NAMENODE="+pc.nn)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &errb
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s %v: %v: %s", filepath.Base(name), args, err, bytes.TrimSpace(errb.Bytes()))
	}
	return time.Since(t), nil
}

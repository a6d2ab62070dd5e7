package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// LocalConfig configures a local cluster.
type LocalConfig struct {
	// Dir is the directory in which the cluster's temporary directory
	// is made; empty: os.TempDir().
	Dir string
	// DataNodes is the number of DataNodes; 0: 3.
	DataNodes int
	// Replication is the NameNode's default replication; 0: 3, or the
	// number of DataNodes if fewer.
	Replication int
	// BlockSize is the NameNode's default block size; 0: 128 MiB.
	BlockSize int64
	// HeartbeatInterval is the DataNodes' heartbeat interval; 0: 1s.
	HeartbeatInterval time.Duration
}

// Local is a cluster running in this process: a NameNode and DataNodes
// on 127.0.0.1 with ports chosen by the kernel, each in its own
// directory under one temporary directory that Close removes. It is the
// non-test sibling of package testcluster, for benchmarks run by users.
type Local struct {
	dir    string
	nnAddr string
	dnDirs []string
	nodes  []*localNode
}

type localNode struct {
	cancel context.CancelFunc
	done   chan error
	close  func() error
}

// StartLocal starts a local cluster and waits until every DataNode is
// registered and live, or ctx ends.
func StartLocal(ctx context.Context, cfg LocalConfig, log *slog.Logger) (*Local, error) {
	const op = "bench.StartLocal"
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataNodes == 0 {
		cfg.DataNodes = 3
	}
	if cfg.DataNodes < 0 || cfg.DataNodes > 64 {
		return nil, cairn.Errorf(op, "", cairn.Invalid, "invalid number of datanodes %d: want 1 to 64", cfg.DataNodes)
	}
	if cfg.Replication == 0 {
		cfg.Replication = min(cairn.DefaultReplication, cfg.DataNodes)
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	base := cfg.Dir
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "cairn-bench-")
	if err != nil {
		return nil, cairn.E(op, base, cairn.IO, err)
	}
	l := &Local{dir: dir}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()

	nn, err := namenode.New(namenode.Config{
		Dir:                filepath.Join(dir, "namenode"),
		DefaultReplication: cfg.Replication,
		DefaultBlockSize:   cfg.BlockSize,
		HeartbeatInterval:  cfg.HeartbeatInterval,
	}, log.With("node", "namenode"))
	if err != nil {
		return nil, cairn.E(op, dir, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nn.Close()
		return nil, cairn.E(op, dir, cairn.Unavailable, err)
	}
	l.nnAddr = lis.Addr().String()
	l.serve(nn.Serve, nn.Close, lis)

	for i := range cfg.DataNodes {
		d := filepath.Join(dir, fmt.Sprintf("datanode-%d", i))
		dn, err := datanode.New(datanode.Config{
			Dirs:              []string{d},
			NameNode:          l.nnAddr,
			HeartbeatInterval: cfg.HeartbeatInterval,
		}, log.With("node", fmt.Sprintf("datanode-%d", i)))
		if err != nil {
			return nil, cairn.E(op, d, err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			dn.Close()
			return nil, cairn.E(op, d, cairn.Unavailable, err)
		}
		l.dnDirs = append(l.dnDirs, d)
		l.serve(dn.Serve, dn.Close, lis)
	}
	if err := waitLive(ctx, l.nnAddr, cfg.DataNodes); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

func (l *Local) serve(fn func(context.Context, net.Listener) error, closeFn func() error, lis net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	n := &localNode{cancel: cancel, done: make(chan error, 1), close: closeFn}
	go func() { n.done <- fn(ctx, lis) }()
	l.nodes = append(l.nodes, n)
}

// NameNodeAddr returns the NameNode's RPC address.
func (l *Local) NameNodeAddr() string { return l.nnAddr }

// Dir returns the cluster's temporary directory.
func (l *Local) Dir() string { return l.dir }

// DataNodeDirs returns the DataNodes' data directories.
func (l *Local) DataNodeDirs() []string { return l.dnDirs }

// Close stops every node, DataNodes first, and removes the cluster's
// directory.
func (l *Local) Close() error {
	var errs []error
	for i := len(l.nodes) - 1; i >= 0; i-- {
		n := l.nodes[i]
		n.cancel()
		if err := n.close(); err != nil {
			errs = append(errs, err)
		}
		if err := <-n.done; err != nil {
			errs = append(errs, err)
		}
	}
	l.nodes = nil
	if l.dir != "" {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitLive waits until n DataNodes are live at the NameNode at addr.
func waitLive(ctx context.Context, addr string, n int) error {
	const op = "bench.StartLocal"
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	last := ""
	for {
		rep, err := c.DatanodeReport(ctx)
		if err == nil {
			live := 0
			for _, d := range rep.Datanodes {
				if d.State == "live" {
					live++
				}
			}
			if live >= n {
				return nil
			}
			last = fmt.Sprintf("%d of %d datanodes live", live, n)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return cairn.Errorf(op, addr, cairn.Unavailable, "cluster did not come up: %s", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

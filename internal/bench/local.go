package bench

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/localcluster"
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
	// AuditLog is the file of the NameNode's audit log; empty: none.
	AuditLog string
}

// Local is a cluster running in this process: a NameNode and DataNodes
// on 127.0.0.1 with ports chosen by the kernel, each in its own
// directory under one temporary directory that Close removes. It is a
// localcluster.Cluster, as the test cluster is, for benchmarks run by
// users.
type Local struct {
	dir string
	lc  *localcluster.Cluster
}

// StartLocal starts a local cluster and waits until every DataNode is
// registered and live, or ctx ends.
func StartLocal(ctx context.Context, cfg LocalConfig, log *slog.Logger) (*Local, error) {
	const op = "bench.StartLocal"
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
	// The DataNodes have no web server.
	noWeb := func(int) (string, string) { return "127.0.0.1:0", "" }
	lc, err := localcluster.New(localcluster.Config{
		// As cairn datanode's --small-block-size.
		SmallBlockSize:    1 << 20,
		Dir:               dir,
		DataNodes:         cfg.DataNodes,
		Replication:       cfg.Replication,
		BlockSize:         cfg.BlockSize,
		HeartbeatInterval: cfg.HeartbeatInterval,
		DataNodeAddrs:     noWeb,
		NameNode:          func(c *namenode.Config) { c.AuditLog = cfg.AuditLog },
	}, log)
	if err != nil {
		return nil, cairn.E(op, dir, err)
	}
	l.lc = lc
	lc.Serve()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := lc.WaitLive(wctx, cfg.DataNodes); err != nil {
		return nil, cairn.E(op, lc.NameNodeAddr(), err)
	}
	ok = true
	return l, nil
}

// NameNodeAddr returns the NameNode's RPC address.
func (l *Local) NameNodeAddr() string { return l.lc.NameNodeAddr() }

// Dir returns the cluster's temporary directory.
func (l *Local) Dir() string { return l.dir }

// DataNodeDirs returns the DataNodes' data directories.
func (l *Local) DataNodeDirs() []string {
	var out []string
	for i := range l.lc.NumDataNodes() {
		out = append(out, l.lc.DataNodeDir(i))
	}
	return out
}

// Close stops every node, DataNodes first, and removes the cluster's
// directory.
func (l *Local) Close() error {
	var errs []error
	if l.lc != nil {
		errs = append(errs, l.lc.Close())
		l.lc = nil
	}
	if l.dir != "" {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

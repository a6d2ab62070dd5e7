package namenode

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-fs/cairn/internal/metrics"
	"github.com/cairn-fs/cairn/internal/version"
)

// nnMetrics are the NameNode's Prometheus metrics, on a registry of its
// own. Counters and histograms are updated where things happen; gauges
// are read from the NameNode's state at each scrape (collector).
type nnMetrics struct {
	reg    *prometheus.Registry
	rpc    *metrics.RPC
	ops    *prometheus.CounterVec // namespace mutations by op and result
	commit prometheus.Histogram   // time to commit and apply a log entry
}

func newNNMetrics(s *Server) *nnMetrics {
	m := &nnMetrics{
		reg: metrics.NewRegistry(),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_namenode_namespace_operations_total",
			Help: "Namespace mutations proposed to the log, by operation and result (ok or error).",
		}, []string{"op", "result"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cairn_namenode_raft_commit_duration_seconds",
			Help:    "Time from proposing a namespace mutation to the Raft log until it is committed and applied.",
			Buckets: metrics.LatencyBuckets,
		}),
	}
	m.rpc = metrics.NewRPC(m.reg, "namenode")
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "cairn_namenode_audit_dropped_total",
		Help: "Audit log events dropped because the writer could not keep up (see the audit log in OPERATIONS.md).",
	}, func() float64 {
		if s.audit == nil {
			return 0
		}
		return float64(s.audit.log.Dropped())
	})
	m.reg.MustRegister(m.ops, m.commit, dropped, &nnCollector{s: s}, &haCollector{s: s})
	return m
}

// observePropose records one proposal of op that took d.
func (m *nnMetrics) observePropose(op opcode, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.ops.WithLabelValues(op.String(), result).Inc()
	if err == nil {
		m.commit.Observe(d.Seconds())
	}
}

// nnCollector reads the NameNode's gauges at scrape time.
type nnCollector struct{ s *Server }

var (
	descInfo = prometheus.NewDesc("cairn_build_info",
		"Always 1; the labels say the version and the node's role.", []string{"version", "role"}, nil)
	descFiles = prometheus.NewDesc("cairn_namenode_files",
		"Files in the namespace.", nil, nil)
	descDirs = prometheus.NewDesc("cairn_namenode_directories",
		"Directories in the namespace, the root included.", nil, nil)
	descBlocks = prometheus.NewDesc("cairn_namenode_blocks",
		"Blocks in the block map.", nil, nil)
	descUnder = prometheus.NewDesc("cairn_namenode_under_replicated_blocks",
		"Blocks with fewer live replicas than their file's replication.", nil, nil)
	descCorrupt = prometheus.NewDesc("cairn_namenode_corrupt_blocks",
		"Blocks whose every known replica is corrupt.", nil, nil)
	descMissing = prometheus.NewDesc("cairn_namenode_missing_blocks",
		"Blocks with no live replica at all.", nil, nil)
	descPendingRepl = prometheus.NewDesc("cairn_namenode_replication_queue_length",
		"Blocks waiting for, or being, re-replicated.", nil, nil)
	descPendingDel = prometheus.NewDesc("cairn_namenode_pending_deletion_blocks",
		"Replicas queued for deletion on DataNodes.", nil, nil)
	descNodes = prometheus.NewDesc("cairn_namenode_datanodes",
		"DataNodes known, by state (live, stale, dead, decommissioning, decommissioned).", []string{"state"}, nil)
	descHeartbeatAge = prometheus.NewDesc("cairn_namenode_datanode_heartbeat_age_seconds",
		"Time since each DataNode's last heartbeat.", []string{"node", "addr"}, nil)
	descCapacity = prometheus.NewDesc("cairn_namenode_capacity_bytes",
		"Capacity of the disks of the DataNodes that are not dead.", nil, nil)
	descUsed = prometheus.NewDesc("cairn_namenode_used_bytes",
		"Bytes of block replicas on the DataNodes that are not dead.", nil, nil)
	descRemaining = prometheus.NewDesc("cairn_namenode_remaining_bytes",
		"Free space on the DataNodes that are not dead.", nil, nil)
	descSafeMode = prometheus.NewDesc("cairn_namenode_safe_mode",
		"1 while the NameNode is in safe mode.", nil, nil)
	descLeader = prometheus.NewDesc("cairn_namenode_raft_leader",
		"1 while this NameNode is the Raft leader.", nil, nil)
)

var nodeStates = []string{"live", "stale", "dead", "decommissioning", "decommissioned"}

func (c *nnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descFiles, descDirs, descBlocks, descUnder, descCorrupt, descMissing,
		descPendingRepl, descPendingDel, descNodes, descHeartbeatAge, descCapacity, descUsed, descRemaining,
		descSafeMode, descLeader} {
		ch <- d
	}
}

func (c *nnCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descInfo, 1, version.Version, "namenode")
	s.ns.mu.RLock()
	files, dirs, blocks := s.ns.files, s.ns.dirs, len(s.ns.blocks)
	s.ns.mu.RUnlock()
	gauge(descFiles, float64(files))
	gauge(descDirs, float64(dirs))
	gauge(descBlocks, float64(blocks))
	under, corrupt, missing := s.blockHealth()
	gauge(descUnder, float64(under))
	gauge(descCorrupt, float64(corrupt))
	gauge(descMissing, float64(missing))

	rep, err := s.GetDatanodeReport(context.Background())
	if err == nil {
		gauge(descPendingRepl, float64(rep.PendingReplicationBlocks))
		gauge(descPendingDel, float64(rep.PendingDeletionBlocks))
		counts := make(map[string]int)
		var capacity, used, remaining int64
		now := s.now()
		for _, d := range rep.Datanodes {
			counts[d.State]++
			gauge(descHeartbeatAge, max(0, now.Sub(d.LastHeartbeat).Seconds()), string(d.ID), d.Addr)
			if d.State != "dead" {
				capacity += d.CapacityBytes
				used += d.UsedBytes
				remaining += d.RemainingBytes
			}
		}
		for _, st := range nodeStates {
			gauge(descNodes, float64(counts[st]), st)
		}
		gauge(descCapacity, float64(capacity))
		gauge(descUsed, float64(used))
		gauge(descRemaining, float64(remaining))
	}
	gauge(descSafeMode, b2f(s.safe.isOn()))
	gauge(descLeader, b2f(s.isLeader()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

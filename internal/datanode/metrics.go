package datanode

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-fs/cairn/internal/metrics"
	"github.com/cairn-fs/cairn/internal/version"
)

// dnMetrics are the DataNode's Prometheus metrics, on a registry of its
// own. Counters are updated where bytes move (xceiver.go); gauges are
// read at scrape time.
type dnMetrics struct {
	reg              *prometheus.Registry
	bytesWritten     prometheus.Counter
	bytesRead        prometheus.Counter
	blocksWritten    prometheus.Counter
	blocksRead       prometheus.Counter
	pipelineFailures prometheus.Counter
	checksumFailures prometheus.Counter
	commandsRefused  prometheus.Counter
}

func newDNMetrics(d *DataNode) *dnMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_datanode_" + name, Help: help})
	}
	m := &dnMetrics{
		reg:              metrics.NewRegistry(),
		bytesWritten:     counter("bytes_written_total", "Block data bytes received and written to disk (pipeline writes and replications)."),
		bytesRead:        counter("bytes_read_total", "Block data bytes sent to readers."),
		blocksWritten:    counter("blocks_written_total", "Replicas received whole and finalized."),
		blocksRead:       counter("blocks_read_total", "Block reads served to the end of the requested range."),
		pipelineFailures: counter("pipeline_failures_total", "Write pipelines this node stopped on an error (its own, a downstream node's, or bad input)."),
		checksumFailures: counter("checksum_failures_total", "Damaged replicas and checksum mismatches found: in packets received, by readers of this node's replicas, or by the block scanner."),
		commandsRefused:  counter("commands_refused_total", "Commands of heartbeat replies not run (but acknowledged): their NameNode does not lead, or they are of an older term than the newest seen."),
	}
	m.reg.MustRegister(m.bytesWritten, m.bytesRead, m.blocksWritten, m.blocksRead, m.pipelineFailures, m.checksumFailures, m.commandsRefused,
		&dnCollector{d: d})
	return m
}

// dnCollector reads the DataNode's gauges at scrape time.
type dnCollector struct{ d *DataNode }

var (
	descDNInfo = prometheus.NewDesc("cairn_build_info",
		"Always 1; the labels say the version and the node's role.", []string{"version", "role"}, nil)
	descReplicas = prometheus.NewDesc("cairn_datanode_blocks",
		"Finalized replicas held.", nil, nil)
	descDNUsed = prometheus.NewDesc("cairn_datanode_used_bytes",
		"Bytes of finalized data and meta files.", nil, nil)
	descFailedVolumes = prometheus.NewDesc("cairn_datanode_failed_volumes",
		"Data directories taken out of service after a disk error.", nil, nil)
	descPackSyncs = prometheus.NewDesc("cairn_datanode_container_syncs_total",
		"Group commits of the container store: fsyncs of a container, each making one or more small replicas durable.", nil, nil)
	descPackRecords = prometheus.NewDesc("cairn_datanode_container_replicas_synced_total",
		"Small replicas made durable by those fsyncs (divide by the syncs for replicas per fsync).", nil, nil)
	descVolumes = prometheus.NewDesc("cairn_datanode_volumes",
		"Data directories configured.", nil, nil)
	descActive = prometheus.NewDesc("cairn_datanode_active_transfers",
		"Data-transfer connections being served.", nil, nil)
	descRegistered = prometheus.NewDesc("cairn_datanode_registered",
		"1 while the DataNode is registered with the NameNode.", nil, nil)
	descNNTerm = prometheus.NewDesc("cairn_datanode_namenode_term",
		"The highest Raft term of the NameNodes' heartbeat replies; 0 if they send none.", nil, nil)
	descNNLeader = prometheus.NewDesc("cairn_datanode_namenode_leader",
		"1 for the NameNode whose commands the DataNode runs, the leader of the highest term seen; 0 for the others.", []string{"namenode"}, nil)
)

func (c *dnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDNInfo, descReplicas, descDNUsed, descFailedVolumes, descVolumes, descPackSyncs, descPackRecords, descActive, descRegistered, descNNTerm, descNNLeader} {
		ch <- d
	}
}

func (c *dnCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	n, used, failed := d.store.stats()
	gauge(descDNInfo, 1, version.Version, "datanode")
	gauge(descReplicas, float64(n))
	gauge(descDNUsed, float64(used))
	gauge(descFailedVolumes, float64(len(failed)))
	gauge(descVolumes, float64(len(d.store.vols)))
	var syncs, recs int64
	for _, v := range d.store.vols {
		if v.pack != nil {
			syncs += v.pack.syncs.Load()
			recs += v.pack.recs.Load()
		}
	}
	ch <- prometheus.MustNewConstMetric(descPackSyncs, prometheus.CounterValue, float64(syncs))
	ch <- prometheus.MustNewConstMetric(descPackRecords, prometheus.CounterValue, float64(recs))
	gauge(descActive, float64(d.active.Load()))
	registered := 0.0
	if d.isRegistered() {
		registered = 1
	}
	gauge(descRegistered, registered)
	leader, term := d.lead.current()
	gauge(descNNTerm, float64(term))
	for _, s := range d.sessions {
		v := 0.0
		if s == leader {
			v = 1
		}
		gauge(descNNLeader, v, s.addr)
	}
}

// isRegistered reports whether a NameNode has accepted the DataNode
// and it has not been asked to register again since.
func (d *DataNode) isRegistered() bool {
	return d.nameNodeState() == "registered"
}

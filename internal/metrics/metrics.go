// Package metrics holds what every cairn node shares for Prometheus
// metrics: a per-node registry with the Go runtime and process
// collectors, the /metrics handler, and a gRPC interceptor that times
// every RPC by method. Each node package declares its own metrics
// (namenode/metrics.go, datanode/metrics.go) on the registry it is
// given; nothing is registered globally.
//
// Every metric is named cairn_<node>_<what>, with the unit as suffix
// (_seconds, _bytes, _total for counters), as Prometheus advises.
// docs/OPERATIONS.md lists them all.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors, for one node.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// LatencyBuckets are the histogram buckets of RPC and commit
// latencies, from 100µs to 10s.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// RPC times gRPC calls per method.
type RPC struct {
	duration *prometheus.HistogramVec
}

// NewRPC registers cairn_<node>_rpc_duration_seconds{method,code} on
// reg.
func NewRPC(reg prometheus.Registerer, node string) *RPC {
	r := &RPC{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cairn_" + node + "_rpc_duration_seconds",
		Help:    "Time to answer an RPC, by method and status code.",
		Buckets: LatencyBuckets,
	}, []string{"method", "code"})}
	reg.MustRegister(r.duration)
	return r
}

// UnaryInterceptor records the latency of every unary call. The method
// label is the bare method name ("Create", "Heartbeat").
func (r *RPC) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		r.duration.WithLabelValues(MethodName(info.FullMethod), status.Code(err).String()).Observe(time.Since(start).Seconds())
		return resp, err
	}
}

// MethodName returns the method of a gRPC full method name
// ("/cairn.ClientProtocol/Create" gives "Create").
func MethodName(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}

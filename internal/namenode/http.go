package namenode

import (
	"net/http"

	"github.com/cairn-fs/cairn/internal/metrics"
	"github.com/cairn-fs/cairn/internal/webhdfs"
	"github.com/cairn-fs/cairn/internal/webui"
)

// HTTPHandler serves the NameNode's web endpoints: the web UI and its
// JSON API (see package webui), /metrics (Prometheus), /healthz (the
// process answers), /readyz (200 once the NameNode is the leader and
// out of safe mode, 503 before) and WebHDFS under /webhdfs/v1/ (see
// package webhdfs).
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	// The endpoints for machines are open, unless a secured NameNode
	// is told to protect them (MetricsAuth): then a token, as the
	// pages take one.
	ops := http.NewServeMux()
	mux.Handle("GET /healthz", s.endpointAuth(ops))
	mux.Handle("GET /readyz", s.endpointAuth(ops))
	mux.Handle("GET /metrics", s.endpointAuth(ops))
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	ops.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case s.servingTerm() == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: not the leader\n"))
		case s.safe.isOn():
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: in safe mode\n"))
		default:
			w.Write([]byte("ok\n"))
		}
	})
	ops.Handle("GET /metrics", metrics.Handler(s.metrics.reg))
	mux.Handle("/", s.webIdentity(webui.NameNodeHandler(webSource{s}, s.log)))
	return webhdfs.Route(s.webhdfsHandler(), mux)
}

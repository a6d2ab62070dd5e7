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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
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
	mux.Handle("GET /metrics", metrics.Handler(s.metrics.reg))
	mux.Handle("/", s.webIdentity(webui.NameNodeHandler(webSource{s}, s.log)))
	return webhdfs.Route(s.webhdfsHandler(), mux)
}

package datanode

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/metrics"
	"github.com/cairn-fs/cairn/internal/version"
	"github.com/cairn-fs/cairn/internal/webhdfs"
	"github.com/cairn-fs/cairn/internal/webui"
)

// HTTPHandler serves the DataNode's web endpoints: its page and JSON
// API (see package webui), file downloads, /status (JSON, as before the
// web UI), /metrics (Prometheus), /healthz (the process answers) and
// /readyz (200 once registered with a NameNode, 503 before), and the
// DataNode's side of WebHDFS under /webhdfs/v1/ (package webhdfs):
// reads and writes the NameNode redirects here, carried out with the
// public client dialed to the DataNode's NameNodes.
func (d *DataNode) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !d.isRegistered() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: not registered with the namenode\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", d.serveStatus)
	mux.Handle("GET /metrics", metrics.Handler(d.metrics.reg))
	mux.Handle("/", webIdentity(webui.DataNodeHandler(webSource{d}, d.log)))
	return webhdfs.Route(d.webhdfsHandler(), mux)
}

// webhdfsServer is WebHDFS's handler and the dialer of its client.
type webhdfsServer struct {
	h      *webhdfs.DataNodeHandler
	dialer *webhdfs.Dialer
}

// close aborts the uploads in progress, then closes the client.
func (w *webhdfsServer) close() {
	w.h.Close()
	w.dialer.Close()
}

// webhdfsHandler returns WebHDFS's handler, made once; Close closes it.
func (d *DataNode) webhdfsHandler() *webhdfs.DataNodeHandler {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.webhdfs == nil {
		addrs := strings.Join(d.cfg.nameNodes(), ",")
		// WebHDFS calls the NameNode as a client on behalf of its
		// users: with the cluster's CA, without the node's certificate.
		dialer := webhdfs.NewDialer(func() string { return addrs }, client.WithTLS(certs.ClientOf(d.cfg.Transport.TLS)))
		d.webhdfs = &webhdfsServer{dialer: dialer, h: webhdfs.NewDataNodeHandler(webhdfs.DataNodeConfig{
			Client: dialer.Client,
		}, d.log.With("component", "webhdfs"))}
	}
	return d.webhdfs.h
}

// webSource adapts the DataNode to what its web page needs.
type webSource struct{ d *DataNode }

var _ webui.DataNode = webSource{}

func (w webSource) Status(ctx context.Context) (webui.DataNodeStatus, error) {
	d := w.d
	id, cluster := d.store.ids()
	n, used, _ := d.store.stats()
	d.mu.Lock()
	addr := d.addr
	d.mu.Unlock()
	state := d.nameNodeState()
	st := webui.DataNodeStatus{
		ID:              string(id),
		ClusterID:       string(cluster),
		Version:         version.Version,
		Addr:            addr,
		NameNode:        strings.Join(d.cfg.nameNodes(), ","),
		NameNodeState:   state,
		StartTime:       d.started,
		Blocks:          n,
		UsedBytes:       used,
		ActiveTransfers: int(d.active.Load()),
		LastScan:        d.lastScanTime(),
	}
	for _, v := range d.store.volumes() {
		st.Volumes = append(st.Volumes, webui.Volume{Dir: v.dir, Failed: v.failed})
	}
	for i := range st.Volumes {
		v := &st.Volumes[i]
		var fs syscall.Statfs_t
		if !v.Failed && syscall.Statfs(v.Dir, &fs) == nil {
			v.CapacityBytes = int64(fs.Blocks) * int64(fs.Bsize)
			v.RemainingBytes = int64(fs.Bavail) * int64(fs.Bsize)
		}
	}
	return st, nil
}

// lastScanTime is when the block scanner last finished a pass; zero if
// it has not.
func (d *DataNode) lastScanTime() time.Time {
	if ns := d.lastScan.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// serveStatus answers /status: the DataNode in JSON, for scripts.
func (d *DataNode) serveStatus(w http.ResponseWriter, r *http.Request) {
	id, cluster := d.store.ids()
	n, used, failed := d.store.stats()
	d.mu.Lock()
	addr := d.addr
	d.mu.Unlock()
	state := d.nameNodeState()
	leader, term := d.NameNodeLeader()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"nodeID":          id,
		"clusterID":       cluster,
		"addr":            addr,
		"namenode":        strings.Join(d.cfg.nameNodes(), ","),
		"namenodeState":   state,
		"namenodeLeader":  leader,
		"namenodeTerm":    term,
		"dirs":            d.store.healthyDirs(),
		"failedVolumes":   failed,
		"blocks":          n,
		"usedBytes":       used,
		"activeTransfers": d.active.Load(),
	})
}

// Open answers a download of the file at path (openDownload): the
// NameNode's web UI sends downloads here, so block bytes never pass
// through the NameNode.
func (w webSource) Open(ctx context.Context, path string, redirected bool) (webui.Download, error) {
	return w.d.openDownload(ctx, path, redirected)
}

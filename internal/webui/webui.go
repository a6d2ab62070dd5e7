package webui

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// requestTimeout bounds the work of one page or API request.
const requestTimeout = 10 * time.Second

// pages holds the parsed templates, one set per page, each with the
// shared layout.
var pages = parsePages()

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"bytes":   HumanBytes,
		"pct":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"ago":     humanAge,
		"ms":      humanMillis,
		"time":    func(t time.Time) string { return formatTime(t) },
		"percent": percent,
		"crumbs":  crumbs,
		"json": func(v any) (template.JS, error) {
			b, err := json.Marshal(v)
			return template.JS(b), err
		},
	}
	m := make(map[string]*template.Template)
	for _, p := range []string{"overview", "datanodes", "browse", "file", "datanode", "error"} {
		m[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return m
}

// page is what the layout needs.
type page struct {
	Title string
	Page  string // the template's name, for the script
	Nav   string // the active tab: overview, datanodes, browse; "" for none
	Node  string // "namenode" or "datanode": which navigation to show
	// Lead, on the pages of a NameNode group's member that does not
	// lead, names the leader (a banner above the content); else nil.
	Lead *Leadership
	Data any
}

func render(w http.ResponseWriter, log *slog.Logger, name string, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	p.Page = name
	if err := pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		log.Warn("web page", "page", name, "err", err)
	}
}

// apiError is the body of a failed JSON request.
type apiError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

func httpStatus(err error) int {
	switch cairn.KindOf(err) {
	case cairn.Invalid, cairn.NotDir, cairn.IsDir:
		return http.StatusBadRequest
	case cairn.NotExist:
		return http.StatusNotFound
	case cairn.Unavailable, cairn.NotLeader, cairn.SafeMode:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(err))
	json.NewEncoder(w).Encode(apiError{Error: err.Error(), Kind: cairn.KindOf(err).String()})
}

// pathParam returns the path query parameter, "/" if absent, checked.
func pathParam(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "/"
	}
	if err := cairn.ValidatePath(p); err != nil {
		return p, &cairn.Error{Kind: cairn.Invalid, Err: err}
	}
	return p, nil
}

// apiHandler adapts a JSON endpoint.
func apiHandler(fn func(ctx context.Context, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		v, err := fn(ctx, r)
		if err != nil {
			writeJSONError(w, err)
			return
		}
		writeJSON(w, v)
	}
}

func assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	fsrv := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// NameNodeHandler serves the NameNode's pages, JSON endpoints and
// assets. Paths it does not know answer 404.
func NameNodeHandler(nn NameNode, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// nnPage renders a NameNode page; nnError its error page.
	nnPage := func(w http.ResponseWriter, name string, p page) {
		p.Node, p.Lead = "namenode", leadBanner(nn)
		render(w, log, name, http.StatusOK, p)
	}
	nnError := func(w http.ResponseWriter, err error) {
		render(w, log, "error", httpStatus(err), page{Title: "Error", Node: "namenode", Lead: leadBanner(nn), Data: err.Error()})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", assets())
	mux.HandleFunc("GET /api/overview", apiHandler(func(ctx context.Context, _ *http.Request) (any, error) {
		return nn.Overview(ctx)
	}))
	mux.HandleFunc("GET /api/datanodes", apiHandler(func(ctx context.Context, _ *http.Request) (any, error) {
		rows, err := nn.DataNodes(ctx)
		return map[string]any{"datanodes": nonNil(rows)}, err
	}))
	mux.HandleFunc("GET /api/list", apiHandler(func(ctx context.Context, r *http.Request) (any, error) {
		p, err := pathParam(r)
		if err != nil {
			return nil, err
		}
		l, err := nn.List(ctx, p)
		l.Entries = nonNil(l.Entries)
		return l, err
	}))
	mux.HandleFunc("GET /api/file", apiHandler(func(ctx context.Context, r *http.Request) (any, error) {
		p, err := pathParam(r)
		if err != nil {
			return nil, err
		}
		f, err := nn.File(ctx, p)
		f.Blocks = nonNil(f.Blocks)
		return f, err
	}))
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		p, err := pathParam(r)
		if err == nil {
			var target string
			if target, err = downloadTarget(ctx, nn, p); err == nil {
				http.Redirect(w, r, schemeOf(r)+"://"+target+"/download?path="+url.QueryEscape(p)+identityQuery(r), http.StatusTemporaryRedirect)
				return
			}
		}
		http.Error(w, err.Error(), httpStatus(err))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		o, err := nn.Overview(ctx)
		if err != nil {
			nnError(w, err)
			return
		}
		nnPage(w, "overview", page{Title: "Overview", Nav: "overview", Data: o})
	})
	mux.HandleFunc("GET /datanodes", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		rows, err := nn.DataNodes(ctx)
		if err != nil {
			nnError(w, err)
			return
		}
		nnPage(w, "datanodes", page{Title: "DataNodes", Nav: "datanodes", Data: rows})
	})
	mux.HandleFunc("GET /browse", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		p, err := pathParam(r)
		if err != nil {
			nnError(w, err)
			return
		}
		f, err := nn.File(ctx, p)
		if err != nil {
			nnError(w, err)
			return
		}
		if !f.IsDir {
			nnPage(w, "file", page{Title: p, Nav: "browse", Data: f})
			return
		}
		l, err := nn.List(ctx, p)
		if err != nil {
			nnError(w, err)
			return
		}
		nnPage(w, "browse", page{Title: p, Nav: "browse", Data: l})
	})
	return mux
}

// downloadTarget picks the web address of a DataNode to stream the file
// at p: one holding its first block, else any live one.
func downloadTarget(ctx context.Context, nn NameNode, p string) (string, error) {
	f, err := nn.File(ctx, p)
	if err != nil {
		return "", err
	}
	if f.IsDir {
		return "", cairn.Errorf("download", p, cairn.IsDir, "cannot download a directory")
	}
	if len(f.Blocks) > 0 {
		for _, l := range f.Blocks[0].Locations {
			if l.HTTPAddr != "" {
				return l.HTTPAddr, nil
			}
		}
	}
	rows, err := nn.DataNodes(ctx)
	if err != nil {
		return "", err
	}
	for _, d := range rows {
		if d.State == "live" && d.HTTPAddr != "" {
			return d.HTTPAddr, nil
		}
	}
	return "", cairn.Errorf("download", p, cairn.Unavailable, "no live datanode with a web address")
}

// leadBanner returns what the banner of a group member that does not
// lead says, or nil.
func leadBanner(nn NameNode) *Leadership {
	if l := nn.Leadership(); l.Follower {
		return &l
	}
	return nil
}

func errorPage(w http.ResponseWriter, log *slog.Logger, node string, err error) {
	render(w, log, "error", httpStatus(err), page{Title: "Error", Node: node, Data: err.Error()})
}

// DataNodeHandler serves a DataNode's page, its JSON endpoint, the
// download of files, and the assets.
func DataNodeHandler(dn DataNode, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", assets())
	mux.HandleFunc("GET /api/status", apiHandler(func(ctx context.Context, _ *http.Request) (any, error) {
		st, err := dn.Status(ctx)
		st.Volumes = nonNil(st.Volumes)
		return st, err
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		st, err := dn.Status(ctx)
		if err != nil {
			errorPage(w, log, "datanode", err)
			return
		}
		render(w, log, "datanode", http.StatusOK, page{Title: "DataNode " + st.ID, Node: "datanode", Data: st})
	})
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		// The NameNode's page redirects here; a script on it may fetch
		// the file across origins.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		p, err := pathParam(r)
		if err != nil {
			http.Error(w, err.Error(), httpStatus(err))
			return
		}
		dl, err := dn.Open(r.Context(), p, r.URL.Query().Get("redirected") != "")
		if err != nil {
			http.Error(w, err.Error(), httpStatus(err))
			return
		}
		if dl.Body == nil {
			http.Redirect(w, r, schemeOf(r)+"://"+dl.Redirect+"/download?path="+url.QueryEscape(p)+"&redirected=1"+identityQuery(r), http.StatusTemporaryRedirect)
			return
		}
		defer dl.Body.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(dl.Size, 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(p)))
		if _, err := io.Copy(w, dl.Body); err != nil {
			// The status is sent: all we can do is cut the body short.
			log.Warn("download cut short", "path", p, "err", err)
		}
	})
	return mux
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// crumb is one step of a path, for the breadcrumbs of the browser.
type crumb struct {
	Name string
	Path string
}

func crumbs(p string) []crumb {
	cs := []crumb{{Name: "/", Path: "/"}}
	if p == "/" {
		return cs
	}
	acc := ""
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		acc += "/" + part
		cs = append(cs, crumb{Name: part, Path: acc})
	}
	return cs
}

// HumanBytes formats a byte count with a binary unit: 512 B, 1.5 KiB,
// 128.0 MiB.
func HumanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	u := -1
	for math.Abs(f) >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
}

// humanAge formats a number of seconds as a short age: 0.4s, 12s, 3m,
// 2h, 4d.
func humanAge(sec float64) string {
	switch {
	case sec < 10:
		return strconv.FormatFloat(sec, 'f', 1, 64) + "s"
	case sec < 120:
		return strconv.FormatFloat(sec, 'f', 0, 64) + "s"
	case sec < 7200:
		return strconv.FormatFloat(sec/60, 'f', 0, 64) + "m"
	case sec < 172800:
		return strconv.FormatFloat(sec/3600, 'f', 0, 64) + "h"
	}
	return strconv.FormatFloat(sec/86400, 'f', 0, 64) + "d"
}

// humanMillis formats a number of milliseconds as a short age: 35ms
// under a second, else as humanAge does.
func humanMillis(ms int64) string {
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return humanAge(float64(ms) / 1000)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// TokenCookie is the cookie that carries a user's token to the web UI
// of a secured cluster.
const TokenCookie = "cairn_token"

// identityQuery is what a redirect's query carries of the request's
// identity to the next server, as WebHDFS's redirects do: user.name
// (simple mode) and delegation (a token, also taken from TokenCookie,
// which another host would not be sent). Empty, or "&..." to append.
func identityQuery(r *http.Request) string {
	q := url.Values{}
	for _, k := range []string{"user.name", "delegation"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if q.Get("delegation") == "" {
		if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
			q.Set("delegation", c.Value)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "&" + q.Encode()
}

// schemeOf returns the scheme r came with, that of the links and
// redirects to the cluster's other nodes, which serve their web ports
// all with TLS or all without: "https" over TLS, else "http".
func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

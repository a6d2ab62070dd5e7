package webui

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// fakeNameNode is a NameNode with one directory, /data, holding "a b"
// (a file of one block) and sub/.
type fakeNameNode struct{}

var modTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (fakeNameNode) Overview(context.Context) (Overview, error) {
	return Overview{ClusterID: "CID-test", RaftState: "Leader", Files: 1, Directories: 3, Blocks: 1,
		CapacityBytes: 1000, UsedBytes: 250, LiveDatanodes: 1, DeadDatanodes: 1, MissingBlocks: 2}, nil
}

func (fakeNameNode) DataNodes(context.Context) ([]DataNodeRow, error) {
	return []DataNodeRow{
		{ID: "dn-1", Addr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", State: "live"},
		{ID: "dn-2", Addr: "127.0.0.1:3", State: "dead", HeartbeatAgeSeconds: 700},
	}, nil
}

func (fakeNameNode) List(_ context.Context, p string) (Listing, error) {
	if p != "/data" {
		return Listing{}, cairn.E("list", p, cairn.NotExist)
	}
	return Listing{Path: p, Entries: []Entry{
		{Path: "/data/a b", Name: "a b", Size: 5, Replication: 3, Mode: "-rw-r--r--", ModTime: modTime},
		{Path: "/data/sub", Name: "sub", IsDir: true, Mode: "drwxr-xr-x", ModTime: modTime},
	}}, nil
}

func (fakeNameNode) File(_ context.Context, p string) (File, error) {
	switch p {
	case "/data", "/data/sub":
		return File{Entry: Entry{Path: p, Name: p[strings.LastIndexByte(p, '/')+1:], IsDir: true}}, nil
	case "/data/a b":
		return File{Entry: Entry{Path: p, Name: "a b", Size: 5, Replication: 3},
			Blocks: []Block{{ID: 7, GenStamp: 1001, Length: 5, Locations: []Location{{ID: "dn-1", Addr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"}}}}}, nil
	}
	return File{}, cairn.E("stat", p, cairn.NotExist)
}

func (fakeNameNode) Leadership() Leadership { return Leadership{} }

// followerNameNode is fakeNameNode as a follower of a group of three,
// one of which is unreachable; its lists refuse as a follower does.
type followerNameNode struct{ fakeNameNode }

func (f followerNameNode) Overview(ctx context.Context) (Overview, error) {
	o, err := f.fakeNameNode.Overview(ctx)
	o.RaftState = "Follower"
	o.Group = &Group{Leader: "10.0.0.1:8020", Term: 4, Self: "10.0.0.2:8020", Members: []GroupMember{
		{Address: "10.0.0.1:8020", HTTPAddr: "10.0.0.1:9870", State: "leader", Voter: true, LastIndex: 120, AppliedIndex: 120, Lag: 0},
		{Address: "10.0.0.2:8020", State: "follower", Voter: true, LastIndex: 120, AppliedIndex: 113, Lag: 7, LastContactMs: 35},
		{Address: "10.0.0.3:8020", State: "unreachable", Voter: false, Lag: -1, LastContactMs: -1},
	}}
	return o, err
}

func (followerNameNode) List(_ context.Context, p string) (Listing, error) {
	return Listing{}, cairn.E("list", p, cairn.NotLeader)
}

func (followerNameNode) File(_ context.Context, p string) (File, error) {
	return File{}, cairn.E("stat", p, cairn.NotLeader)
}

func (followerNameNode) Leadership() Leadership {
	return Leadership{Follower: true, State: "follower", Leader: "10.0.0.1:8020", LeaderHTTP: "10.0.0.1:9870"}
}

func TestFollowerPagesNameTheLeader(t *testing.T) {
	h := NameNodeHandler(followerNameNode{}, nil)
	banner := `This NameNode is a follower; the leader is <a class="mono" href="//10.0.0.1:9870/">10.0.0.1:8020</a>.`
	for _, tt := range []struct {
		url   string
		code  int
		wants []string
	}{
		{"/", http.StatusOK, []string{banner, `id="group"`, `data-member="10.0.0.2:8020"`, "10.0.0.2:8020 (this)",
			`<span class="pill unreachable">unreachable</span>`, `<td class="num">7</td>`, "35ms ago", `href="//10.0.0.1:9870/">10.0.0.1:8020</a>`}},
		{"/datanodes", http.StatusOK, []string{banner}},
		{"/browse?path=/data", http.StatusServiceUnavailable, []string{banner, "not the leader"}},
	} {
		w := get(t, h, tt.url)
		if w.Code != tt.code {
			t.Errorf("GET %s on a follower = %d, want %d", tt.url, w.Code, tt.code)
		}
		for _, want := range tt.wants {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("GET %s on a follower lacks %q:\n%s", tt.url, want, w.Body.String())
			}
		}
	}
	var o map[string]any
	if w := get(t, h, "/api/overview"); json.Unmarshal(w.Body.Bytes(), &o) != nil || o["group"] == nil {
		t.Errorf("GET /api/overview on a group member lacks the group: %s", w.Body.String())
	}
	// A NameNode alone shows neither.
	w := get(t, NameNodeHandler(fakeNameNode{}, nil), "/")
	if body := w.Body.String(); strings.Contains(body, "lead-banner") || strings.Contains(body, `id="group"`) {
		t.Errorf("the overview of a NameNode alone shows a banner or a group:\n%s", body)
	}
}

func get(t *testing.T, h http.Handler, url string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
	return w
}

func TestPagesRender(t *testing.T) {
	h := NameNodeHandler(fakeNameNode{}, nil)
	tests := []struct {
		url   string
		wants []string
	}{
		{"/", []string{"CID-test", `data-field="missingBlocks" data-fmt="bad" class="bad">2<`, "25.0%"}},
		{"/datanodes", []string{`class="state-dead" data-id="dn-2"`, `href="//127.0.0.1:2/"`, "12m ago"}},
		{"/browse?path=/data", []string{`href="/browse?path=%2fdata%2fa%20b"`, `href="/browse?path=%2fdata%2fsub"`, "2 entries"}},
		{"/browse?path=%2Fdata%2Fa%20b", []string{`href="/download?path=%2fdata%2fa%20b"`, "blk_7_1001"}},
		{"/assets/app.js", []string{"use strict"}},
		{"/assets/style.css", []string{"--bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			w := get(t, h, tt.url)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.url, w.Code)
			}
			for _, want := range tt.wants {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("GET %s lacks %q:\n%s", tt.url, want, w.Body.String())
				}
			}
		})
	}
}

func TestAPIAnswersJSON(t *testing.T) {
	h := NameNodeHandler(fakeNameNode{}, nil)
	var o map[string]any
	w := get(t, h, "/api/overview")
	if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/overview: %v, %s", err, w.Body.String())
	}
	for _, k := range []string{"clusterID", "raftState", "capacityBytes", "usedBytes", "remainingBytes", "files", "directories", "blocks",
		"underReplicatedBlocks", "corruptBlocks", "missingBlocks", "liveDatanodes", "staleDatanodes", "deadDatanodes", "decommissioningDatanodes",
		"safeMode", "uptimeSeconds", "version"} {
		if _, ok := o[k]; !ok {
			t.Errorf("/api/overview lacks %q", k)
		}
	}
	var l Listing
	if w := get(t, h, "/api/list?path=/data"); json.Unmarshal(w.Body.Bytes(), &l) != nil || len(l.Entries) != 2 {
		t.Errorf("GET /api/list?path=/data = %s", w.Body.String())
	}
	var f File
	if w := get(t, h, "/api/file?path=/data/a%20b"); json.Unmarshal(w.Body.Bytes(), &f) != nil || len(f.Blocks) != 1 {
		t.Errorf("GET /api/file = %s", w.Body.String())
	}
	var dns struct{ Datanodes []DataNodeRow }
	if w := get(t, h, "/api/datanodes"); json.Unmarshal(w.Body.Bytes(), &dns) != nil || len(dns.Datanodes) != 2 {
		t.Errorf("GET /api/datanodes = %s", w.Body.String())
	}
}

func TestErrors(t *testing.T) {
	h := NameNodeHandler(fakeNameNode{}, nil)
	tests := []struct {
		url  string
		code int
		kind string
	}{
		{"/api/list?path=/nope", http.StatusNotFound, "file does not exist"},
		{"/api/file?path=relative", http.StatusBadRequest, "invalid argument"},
		{"/api/list?path=/a/../b", http.StatusBadRequest, "invalid argument"},
	}
	for _, tt := range tests {
		w := get(t, h, tt.url)
		var e apiError
		if w.Code != tt.code || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Kind != tt.kind || e.Error == "" {
			t.Errorf("GET %s = %d %s, want %d with kind %q", tt.url, w.Code, w.Body.String(), tt.code, tt.kind)
		}
	}
	for _, url := range []string{"/browse?path=/nope", "/nothing-here"} {
		if w := get(t, h, url); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", url, w.Code)
		}
	}
	if w := get(t, h, "/download?path=/data"); w.Code != http.StatusBadRequest {
		t.Errorf("GET /download of a directory = %d, want 400", w.Code)
	}
}

func TestDownloadRedirectsToADataNodeHoldingTheFile(t *testing.T) {
	h := NameNodeHandler(fakeNameNode{}, nil)
	w := get(t, h, "/download?path=/data/a%20b")
	if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != "http://127.0.0.1:2/download?path=%2Fdata%2Fa+b" {
		t.Errorf("GET /download = %d to %q, want 307 to the datanode at 127.0.0.1:2", w.Code, w.Header().Get("Location"))
	}
}

type fakeDataNode struct{}

func (fakeDataNode) Status(context.Context) (DataNodeStatus, error) {
	return DataNodeStatus{ID: "dn-1", NameNodeState: "registered", Blocks: 4,
		Volumes: []Volume{{Dir: "/disk1", CapacityBytes: 100, RemainingBytes: 40}, {Dir: "/disk2", Failed: true}}}, nil
}

func (fakeDataNode) Open(_ context.Context, p string, redirected bool) (Download, error) {
	switch {
	case p == "/f":
		return Download{Body: io.NopCloser(strings.NewReader("hello")), Size: 5}, nil
	case p == "/elsewhere" && !redirected:
		return Download{Redirect: "127.0.0.1:3", Size: 5}, nil
	case p == "/elsewhere":
		return Download{Body: io.NopCloser(strings.NewReader("there")), Size: 5}, nil
	}
	return Download{}, cairn.E("open", p, cairn.NotExist)
}

func TestDataNodePage(t *testing.T) {
	h := DataNodeHandler(fakeDataNode{}, nil)
	w := get(t, h, "/")
	for _, want := range []string{"dn-1", "/disk1", `class="state-dead"`, "width: 60.0%"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("datanode page lacks %q", want)
		}
	}
	w = get(t, h, "/download?path=/f")
	if w.Code != 200 || w.Body.String() != "hello" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /download?path=/f = %d %q", w.Code, w.Body.String())
	}
	if w := get(t, h, "/download?path=/nope"); w.Code != http.StatusNotFound {
		t.Errorf("GET /download of a missing file = %d, want 404", w.Code)
	}
	w = get(t, h, "/download?path=/elsewhere")
	if want := "http://127.0.0.1:3/download?path=%2Felsewhere&redirected=1"; w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != want {
		t.Errorf("GET /download of a file held elsewhere = %d to %q, want 307 to %q", w.Code, w.Header().Get("Location"), want)
	}
	w = get(t, h, "/download?path=/elsewhere&redirected=1")
	if w.Code != 200 || w.Body.String() != "there" {
		t.Errorf("GET /download of a redirected request = %d %q, want 200 %q", w.Code, w.Body.String(), "there")
	}
}

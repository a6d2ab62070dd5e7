package cli

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWithPprof(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok\n"))
	})
	for _, tt := range []struct {
		on         bool
		path       string
		wantStatus int
	}{
		{true, "/debug/pprof/", http.StatusOK},
		{true, "/debug/pprof/goroutine?debug=1", http.StatusOK},
		{true, "/healthz", http.StatusOK},
		{false, "/debug/pprof/", http.StatusNotFound},
		{false, "/healthz", http.StatusOK},
	} {
		srv := httptest.NewServer(withPprof(inner, tt.on))
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("withPprof(on=%v): GET %s = %d, want %d", tt.on, tt.path, resp.StatusCode, tt.wantStatus)
		}
	}
}

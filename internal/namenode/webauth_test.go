package namenode

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/webui"
)

func get(t *testing.T, h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The web UI of a secured NameNode takes a token by delegation= (and
// keeps it in a cookie), the cookie or a bearer header, and shows what
// the token's user may see; /metrics needs one with MetricsAuth.
func TestWebUISecured(t *testing.T) {
	cfg := secureConfig(t.TempDir())
	cfg.MetricsAuth = true
	s := startServer(t, cfg)
	waitKey(t, s)
	if _, err := s.Mkdirs(bg, "/private", 0o700, false, "hdfs", "supergroup"); err != nil {
		t.Fatal(err)
	}
	alice, err := s.CreateToken(bg, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := s.HTTPHandler()
	for _, p := range []string{"/", "/browse?path=/", "/metrics", "/healthz"} {
		if w := get(t, h, p); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "unauthenticated") {
			t.Errorf("GET %s without a token = %d %q, want 401 unauthenticated", p, w.Code, w.Body)
		}
	}
	if w := get(t, h, "/browse?path=/&delegation=garbage"); w.Code != http.StatusUnauthorized {
		t.Errorf("GET with a forged token = %d, want 401", w.Code)
	}
	w := get(t, h, "/browse?path=/&delegation="+alice.Token)
	if w.Code != http.StatusOK {
		t.Fatalf("browse / with alice's token = %d %s", w.Code, w.Body)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == webui.TokenCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Value != alice.Token {
		t.Fatalf("no HttpOnly %s cookie with the token after delegation=: %v", webui.TokenCookie, w.Result().Cookies())
	}
	if w := get(t, h, "/browse?path=/", "Cookie", cookie.Name+"="+cookie.Value); w.Code != http.StatusOK {
		t.Errorf("browse / with the cookie = %d", w.Code)
	}
	if w := get(t, h, "/browse?path=/private", "Cookie", cookie.Name+"="+cookie.Value); w.Code == http.StatusOK {
		t.Errorf("browse of root's 0700 /private as alice = 200, want a refusal")
	}
	if w := get(t, h, "/browse?path=/private", "Authorization", "Bearer "+s.rootTokenForTest(t)); w.Code != http.StatusOK {
		t.Errorf("browse of /private as the superuser = %d %s", w.Code, w.Body)
	}
	if w := get(t, h, "/metrics", "Authorization", "Bearer "+alice.Token); w.Code != http.StatusOK {
		t.Errorf("/metrics with a token = %d", w.Code)
	}
}

// rootTokenForTest makes a superuser's token.
func (s *Server) rootTokenForTest(t *testing.T) string {
	t.Helper()
	ti, err := s.CreateToken(bg, s.cfg.Superuser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ti.Token
}

// In simple mode the web UI acts as user.name, else dr.who, HDFS's
// static web user: the browser shows what everyone may see.
func TestWebUISimpleIdentity(t *testing.T) {
	s := newServer(t)
	if _, err := s.Mkdirs(bg, "/private", 0o700, false, "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	h := s.HTTPHandler()
	if w := get(t, h, "/browse?path=/"); w.Code != http.StatusOK {
		t.Errorf("browse / as dr.who = %d", w.Code)
	}
	if w := get(t, h, "/browse?path=/private"); w.Code == http.StatusOK || !strings.Contains(w.Body.String(), "dr.who") {
		t.Errorf("browse of alice's 0700 directory as dr.who = %d, want a refusal naming dr.who", w.Code)
	}
	if w := get(t, h, "/browse?path=/private&user.name=alice"); w.Code != http.StatusOK {
		t.Errorf("browse of her directory as user.name=alice = %d", w.Code)
	}
	if w := get(t, h, "/browse?path=/&user.name=a,b"); w.Code != http.StatusBadRequest {
		t.Errorf("a malformed user.name = %d, want 400", w.Code)
	}
	if w := get(t, h, "/metrics"); w.Code != http.StatusOK {
		t.Errorf("/metrics in simple mode = %d, want open", w.Code)
	}
}

package namenode

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/webui"
)

// webIdentity makes the web UI's requests act as their user, whose
// permissions the browser's listings and downloads are checked with:
// in simple mode the user named by the query's user.name (HDFS's
// pseudo authentication), else Config.WebUser; in secure mode the user
// of a token, given as delegation= (which also sets the cookie
// webui.TokenCookie, so that the pages after need none), the cookie, or
// an Authorization: Bearer header. A secured NameNode's pages need a
// token: without one the answer is 401.
func (s *Server) webIdentity(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var user string
		var code int
		var err error
		if s.cfg.Security {
			user, code, err = s.webTokenUser(w, r)
		} else {
			user, code, err = s.webUser(r)
		}
		if err != nil {
			http.Error(w, err.Error(), code)
			return
		}
		ctx := WithCaller(r.Context(), protocol.Caller{User: user, Groups: s.groups.get(user)})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// webUser is the user of a web request, or the HTTP status and error
// of a refusal.
func (s *Server) webUser(r *http.Request) (string, int, error) {
	u := r.URL.Query().Get("user.name")
	if u == "" {
		return s.cfg.WebUser, 0, nil
	}
	c, _, err := protocol.CallerFromMetadata(metadata.Pairs(protocol.MetadataUser, u))
	if err != nil {
		return "", http.StatusBadRequest, err
	}
	return c.User, 0, nil
}

// endpointAuth guards /metrics, /healthz and /readyz: open, unless the
// NameNode is secured and Config.MetricsAuth asks for a token.
func (s *Server) endpointAuth(h http.Handler) http.Handler {
	if !s.cfg.Security || !s.cfg.MetricsAuth {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, code, err := s.webTokenUser(w, r); err != nil {
			http.Error(w, err.Error(), code)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// webTokenUser is the user of a web request's token, in secure mode;
// a valid delegation= token is kept in the cookie for what follows.
func (s *Server) webTokenUser(w http.ResponseWriter, r *http.Request) (string, int, error) {
	raw := r.URL.Query().Get("delegation")
	fromQuery := raw != ""
	if raw == "" {
		if c, err := r.Cookie(webui.TokenCookie); err == nil {
			raw = c.Value
		}
	}
	if raw == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			raw = strings.TrimSpace(v)
		}
	}
	if raw == "" {
		return "", http.StatusUnauthorized, fmt.Errorf("unauthenticated: this cluster is secured: open the page with ?delegation=TOKEN once (a token from 'cairn admin token create'), or send Authorization: Bearer TOKEN")
	}
	t, err := s.verifyToken(raw)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("unauthenticated: %v", err)
	}
	if fromQuery {
		http.SetCookie(w, &http.Cookie{
			Name: webui.TokenCookie, Value: raw, Path: "/", Expires: t.Expires,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
	}
	return t.User, 0, nil
}

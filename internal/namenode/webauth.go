package namenode

import (
	"net/http"

	"google.golang.org/grpc/metadata"

	"github.com/cairn-fs/cairn/internal/protocol"
)

// defaultWebUser is who a web request acts as when it names no one:
// HDFS's hadoop.http.staticuser.user. It owns nothing, so that the
// file browser shows what everyone may see.
const defaultWebUser = "dr.who"

// webIdentity makes the web UI's requests act as their user, whose
// permissions the browser's listings and downloads are checked with:
// in simple mode the user named by the query's user.name (HDFS's
// pseudo authentication), else Config.WebUser.
func (s *Server) webIdentity(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, code, err := s.webUser(r)
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

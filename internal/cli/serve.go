package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/transport"
)

// shutdownTimeout bounds the graceful stop of an HTTP server.
const shutdownTimeout = 5 * time.Second

// newLogger returns a text logger on w at level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// listen binds addr for op, with a one-line error that says plainly
// when the port is taken. The listener is plain TCP (the zero
// transport.Config): the servers secure what they accept themselves.
func listen(op, addr string) (net.Listener, error) {
	lis, err := transport.Config{}.Listen(addr)
	if err == nil {
		return lis, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, failf(op, addr, cairn.Unavailable, "address already in use (is another cairn already running there?)")
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		err = ne.Err
	}
	return nil, failf(op, addr, cairn.Unavailable, "cannot listen: %s", dialCause(err))
}

// node is one server to run: its serve loop on its listener, its web
// handler, and its Close.
type node struct {
	name    string
	serve   func(context.Context, net.Listener) error
	lis     net.Listener
	handler http.Handler
	httpLis net.Listener // nil: no web server
	// tls, if set, makes the web server HTTPS with this configuration.
	tls   *tls.Config
	close func() error
}

// runNodes serves every node until ctx ends or one of them fails, then
// stops them all (web servers first, then Close in reverse order) and
// returns the first failure, wrapped for op.
func runNodes(ctx context.Context, log *slog.Logger, op string, nodes []node) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 2*len(nodes))
	var servers []*http.Server
	for _, n := range nodes {
		go func() { results <- result{n.name, n.serve(ctx, n.lis)} }()
		if n.httpLis != nil {
			srv := &http.Server{Handler: n.handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: n.tls.Clone()}
			servers = append(servers, srv)
			go func() {
				var err error
				if n.tls != nil {
					err = srv.ServeTLS(n.httpLis, "", "")
				} else {
					err = srv.Serve(n.httpLis)
				}
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					results <- result{n.name + " http", err}
				}
			}()
		}
	}
	var first error
	running := len(nodes)
	select {
	case <-ctx.Done():
	case r := <-results:
		if r.err == nil && ctx.Err() == nil {
			r.err = errors.New("stopped unexpectedly")
		}
		if r.err != nil {
			first = fail(op, r.name, r.err)
		}
		if r.name != "" && !isHTTP(r.name) {
			running--
		}
	}
	cancel()
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer scancel()
	for _, srv := range servers {
		srv.Shutdown(sctx)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if err := nodes[i].close(); err != nil && first == nil {
			first = fail(op, nodes[i].name, err)
		}
	}
	// Wait for the serve loops, so nothing runs after we return.
	for running > 0 {
		select {
		case r := <-results:
			if isHTTP(r.name) {
				continue
			}
			running--
			if r.err != nil && first == nil && !errors.Is(r.err, context.Canceled) {
				first = fail(op, r.name, r.err)
			}
		case <-sctx.Done():
			running = 0
		}
	}
	if first == nil {
		log.Info("stopped")
	}
	return first
}

func isHTTP(name string) bool {
	return len(name) > 5 && name[len(name)-5:] == " http"
}

// closeAll closes listeners and servers started before a failure.
func closeAll(closers ...io.Closer) {
	for _, c := range closers {
		if c != nil {
			c.Close()
		}
	}
}

// httpURL formats a listener address as a URL for humans: https://
// if served with TLS (t not nil).
func httpURL(lis net.Listener, t *tls.Config) string {
	if lis == nil {
		return "-"
	}
	if t != nil {
		return fmt.Sprintf("https://%s", lis.Addr())
	}
	return fmt.Sprintf("http://%s", lis.Addr())
}

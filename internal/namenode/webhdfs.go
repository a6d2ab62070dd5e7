package namenode

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
	"github.com/cairn-fs/cairn/internal/webhdfs"
)

// WebHDFS (package webhdfs) is served on the NameNode's web address
// through the public client, dialed to this NameNode's own RPC address
// (a group's members, this one first) when the first request comes.

// webhdfsHost adapts the Server to what WebHDFS's handler needs.
type webhdfsHost struct{ s *Server }

var _ webhdfs.NameNode = webhdfsHost{}

// Leader reports whether this NameNode serves; a group member that
// does not is told the leader's web address.
func (h webhdfsHost) Leader() (bool, string) {
	s := h.s
	if s.servingTerm() != 0 {
		return true, ""
	}
	if !s.cfg.group() {
		return false, ""
	}
	_, id := s.rn.raft.LeaderWithID()
	if id == "" || string(id) == s.cfg.RPCAddr {
		return false, "" // no leader, or this one not serving yet
	}
	return false, s.peerHTTP(string(id))
}

// DataNodes returns the live DataNodes that have a web address.
func (h webhdfsHost) DataNodes(ctx context.Context) ([]cairn.DatanodeInfo, error) {
	rep, err := h.s.GetDatanodeReport(ctx)
	if err != nil {
		return nil, err
	}
	var out []cairn.DatanodeInfo
	for _, d := range rep.Datanodes {
		if d.State == "live" && d.HTTPAddr != "" {
			out = append(out, cairn.DatanodeInfo{ID: d.ID, Addr: d.Addr, HTTPAddr: d.HTTPAddr})
		}
	}
	return out, nil
}

// RPCAddr is this NameNode's RPC address: its address in its group, or
// that of the first listener it serves (on loopback when it listens on
// every interface).
func (h webhdfsHost) RPCAddr() string {
	if h.s.cfg.RPCAddr != "" {
		return h.s.cfg.RPCAddr
	}
	h.s.mu.Lock()
	addr := h.s.selfAddr
	h.s.mu.Unlock()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return net.JoinHostPort("127.0.0.1", port)
		}
	}
	return addr
}

// webhdfsAddrs is what the WebHDFS client dials: this member first,
// then the others of its group.
func (s *Server) webhdfsAddrs() string {
	self := webhdfsHost{s}.RPCAddr()
	if self == "" {
		return "" // not serving yet
	}
	addrs := []string{self}
	for _, p := range s.cfg.Peers {
		if p != self {
			addrs = append(addrs, p)
		}
	}
	return strings.Join(addrs, ",")
}

// webhdfsServer is WebHDFS's handler and the dialer of its client,
// which Close closes.
type webhdfsServer struct {
	h      http.Handler
	dialer *webhdfs.Dialer
}

// webhdfsHandler returns the handler of webhdfs.Prefix, made once.
func (s *Server) webhdfsHandler() http.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhdfs == nil {
		// WebHDFS calls the NameNode as a client on behalf of its
		// users: with the cluster's CA, without the node's certificate.
		d := webhdfs.NewDialer(s.webhdfsAddrs, client.WithTLS(certs.ClientOf(s.cfg.Transport.TLS)))
		s.webhdfs = &webhdfsServer{
			dialer: d,
			h: webhdfs.NewNameNodeHandler(webhdfs.NameNodeConfig{
				Client:   d.Client,
				NameNode: webhdfsHost{s},
			}, s.log.With("component", "webhdfs")),
		}
	}
	return s.webhdfs.h
}

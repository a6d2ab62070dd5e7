package namenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/audit"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// Server is a NameNode.
type Server struct {
	cfg       Config
	log       *slog.Logger
	clusterID cairn.ClusterID
	now       func() time.Time

	ns     *namespace
	reg    *registry
	leases *leases
	safe   *safeMode
	rn     *raftNode
	recov  *blockRecoveries // lease recovery's block synchronizations (recovery.go)
	lead   leadership       // whether this member serves (ha.go)
	calls  inflightCalls    // named calls being proposed here (retrycache.go)
	groups *groupCache      // users' groups on this host (identity.go)
	// blockKeys sign block access tokens (blocktoken.go); nil unless
	// Config.Security.
	blockKeys *blocktoken.Secrets
	// webAddrs remembers the web addresses other members told
	// (peerHTTP), by RPC address.
	webAddrs sync.Map

	metrics *nnMetrics // Prometheus metrics, served by HTTPHandler (http.go)
	audit   *auditor   // the audit log (audit.go); nil when off
	started time.Time

	ctx    context.Context // ends at Close; background loops stop with it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards servers, closed, selfAddr and webhdfs
	servers []*grpc.Server
	closed  bool
	// selfAddr is the address of the first listener served: the RPC
	// address of a NameNode alone, for its WebHDFS client.
	selfAddr string
	// webhdfs serves WebHDFS (webhdfs.go); nil until HTTPHandler.
	webhdfs *webhdfsServer
	done    chan struct{} // closed by Close

	closeOnce sync.Once
	closeErr  error
}

// New opens (or formats) the namespace directory, starts the Raft log,
// replays it, and starts the background monitors. It does not listen:
// Serve does.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "namenode")
	want := c.ClusterID
	if want == "" && len(c.Peers) > 0 {
		// The members of a group format their directories apart, and
		// must agree on the cluster: its ID is made from the peers.
		want = groupClusterID(c.Peers)
	}
	id, formattedBy, err := loadOrFormat(c.Dir, want, log)
	if err != nil {
		return nil, fmt.Errorf("namenode: %w", err)
	}
	if c.Superuser == "" {
		c.Superuser = formattedBy
	}
	if c.Security {
		// The token signing keys live in the Raft log and snapshots
		// below Dir: no one else on the host reads them.
		if err := os.Chmod(c.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("namenode: %w", err)
		}
	}
	if c.Superuser == "" {
		c.Superuser = processUser()
	}
	opened := false // whether New succeeds
	s := &Server{
		cfg:       c,
		log:       log,
		clusterID: id,
		now:       time.Now,
		done:      make(chan struct{}),
		started:   time.Now(),
	}
	s.groups = newGroupCache(c.Groups, s.now)
	if c.Security {
		s.blockKeys = blocktoken.NewSecrets(c.BlockKeyUpdateInterval, c.BlockTokenLifetime, s.now)
	}
	if c.AuditLog != "" {
		format, _ := audit.ParseFormat(c.AuditLogFormat) // checked by withDefaults
		al, err := audit.New(audit.Config{
			Path:       c.AuditLog,
			Format:     format,
			MaxSize:    c.AuditLogMaxSize,
			MaxBackups: c.AuditLogMaxBackups,
		}, log)
		if err != nil {
			return nil, fmt.Errorf("namenode: audit log: %w", err)
		}
		s.audit = newAuditor(s, al)
		defer func() {
			if !opened {
				al.Close()
			}
		}()
	}
	s.metrics = newNNMetrics(s)
	s.reg = newRegistry(&s.cfg, s.now)
	s.ns = newNamespace(s.reg)
	s.leases = newLeases(s.now)
	s.recov = newBlockRecoveries()
	s.safe = newSafeMode(&s.cfg, s.ns, s.now, log)
	f := &fsm{ns: s.ns, log: log}
	raftOpened := make(chan *raftNode, 1)
	if c.group() {
		f.halt = func(err error) {
			// Stop being a member: the others go on without it.
			if rn := <-raftOpened; rn != nil {
				rn.raft.Shutdown()
			}
		}
	}
	rn, err := openRaft(&s.cfg, f, log)
	raftOpened <- rn
	if err != nil {
		return nil, fmt.Errorf("namenode: %w", err)
	}
	s.rn = rn
	s.ctx, s.cancel = context.WithCancel(context.Background())

	if rn.single {
		// A NameNode on its own: wait until the whole log is applied, so
		// that the namespace is complete before the first request.
		wctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
		err := rn.waitLoaded(wctx)
		cancel()
		if err != nil {
			s.cancel()
			rn.close()
			return nil, fmt.Errorf("namenode: replay the log: %w", err)
		}
		s.promote(s.ctx)
	}
	s.goLoop(s.leadershipLoop)
	s.goLoop(s.standbyLoop)
	s.ns.mu.RLock()
	files, dirs, blocks := s.ns.files, s.ns.dirs, len(s.ns.blocks)
	s.ns.mu.RUnlock()
	log.Info("namenode started", "cluster", id, "dir", c.Dir, "files", files, "dirs", dirs, "blocks", blocks,
		"safeMode", s.safe.isOn())

	s.goLoop(s.leaseMonitor)
	s.goLoop(s.heartbeatMonitor)
	s.goLoop(s.replicationMonitor)
	if c.Security {
		s.goLoop(s.tokenLoop)
	}
	opened = true
	return s, nil
}

func (s *Server) goLoop(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
}

// ClusterID returns the ID of the cluster this NameNode leads.
func (s *Server) ClusterID() cairn.ClusterID { return s.clusterID }

// Serve answers the ClientProtocol and DatanodeProtocol gRPC services on
// lis until ctx ends or Close is called; then it returns nil.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	gs := s.cfg.Transport.NewGRPCServer(
		grpc.MaxRecvMsgSize(256<<20),
		grpc.MaxSendMsgSize(256<<20),
		grpc.ChainUnaryInterceptor(s.interceptors()...),
		grpc.ChainStreamInterceptor(s.streamAuthInterceptor),
	)
	protocol.RegisterClientProtocolServer(gs, &clientRPC{s: s})
	protocol.RegisterAdminProtocolServer(gs, &adminRPC{s: s})
	protocol.RegisterDatanodeProtocolServer(gs, &datanodeRPC{s: s})
	if s.rn.layer != nil {
		protocol.RegisterRaftTransportServer(gs, s.rn.layer)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		lis.Close()
		return nil
	}
	s.servers = append(s.servers, gs)
	if s.selfAddr == "" {
		s.selfAddr = lis.Addr().String()
	}
	s.mu.Unlock()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-stop:
			return
		}
		gs.Stop()
	}()
	s.log.Info("serving", "addr", lis.Addr().String())
	err := gs.Serve(lis)
	if ctx.Err() != nil || s.isClosed() || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// interceptors are the gRPC server's unary interceptors, in order: the
// audit log's, when on, around the identity's and after it, so that it
// sees refusals of authentication and the caller established.
func (s *Server) interceptors() []grpc.UnaryServerInterceptor {
	if s.audit == nil {
		return []grpc.UnaryServerInterceptor{s.metrics.rpc.UnaryInterceptor(), s.identityInterceptor, noRetryHere}
	}
	return []grpc.UnaryServerInterceptor{s.metrics.rpc.UnaryInterceptor(),
		s.audit.unauthenticated, s.identityInterceptor, s.audit.interceptor, noRetryHere}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops serving, stops the background loops and closes the Raft
// log. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		servers := s.servers
		s.servers = nil
		web := s.webhdfs
		s.mu.Unlock()
		if web != nil {
			web.dialer.Close()
		}
		close(s.done)
		for _, gs := range servers {
			gs.Stop()
		}
		s.cancel()
		s.wg.Wait()
		s.closeErr = s.rn.close()
		if s.audit != nil {
			// After the servers stopped: every line of a call answered
			// is written.
			if err := s.audit.log.Close(); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("namenode: audit log: %w", err)
			}
		}
		s.log.Info("namenode stopped")
	})
	return s.closeErr
}

func (s *Server) isLeader() bool { return s.rn.raft.State() == raft.Leader }

// notLeader is the error of a mutation sent to a follower. It carries
// the leader's client RPC address, when known, as the status's leader
// hint (protocol.WithLeaderHint); the text is for people.
func (s *Server) notLeader() error {
	addr, id := s.rn.raft.LeaderWithID()
	if id == "" {
		return errf(cairn.NotLeader, "name node is not the leader, and no leader is known")
	}
	addrs := s.cfg.RPCAddrs
	if s.cfg.group() {
		// A member's ID is its RPC address.
		addrs = map[string]string{string(id): string(id)}
	}
	rpc := leaderRPCAddr(addrs, string(id), s.cfg.RaftID)
	if rpc == "" {
		return errf(cairn.NotLeader, "name node is not the leader; the leader is %s at %s", id, addr)
	}
	return protocol.WithLeaderHint(errf(cairn.NotLeader, "name node is not the leader; the leader is %s at %s", id, rpc), rpc)
}

// leaderRPCAddr returns the client RPC address of the member leader
// (a Raft server ID) from addrs, or "" when it is unknown or self: a
// member never sends a client to itself.
func leaderRPCAddr(addrs map[string]string, leader, self string) string {
	if leader == "" || leader == self {
		return ""
	}
	return addrs[leader]
}

// writable checks that a mutation may be proposed: this node leads and
// is not in safe mode.
func (s *Server) writable() error {
	if s.servingTerm() == 0 {
		return s.notLeader()
	}
	if s.safe.isOn() {
		return errKind(cairn.SafeMode)
	}
	return nil
}

// heartbeatMonitor declares DataNodes dead when their heartbeats stop,
// and forgets their replicas. It stops with ctx.
func (s *Server) heartbeatMonitor(ctx context.Context) {
	interval := min(max(s.cfg.DeadNodeTimeout/4, 10*time.Millisecond), s.cfg.HeartbeatInterval, 5*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkDeadNodes()
	}
}

func (s *Server) checkDeadNodes() {
	now := s.now().UnixNano()
	for _, d := range s.reg.all() {
		if d.removed.Load() || time.Duration(now-d.lastHeartbeat.Load()) <= s.cfg.DeadNodeTimeout {
			continue
		}
		s.ns.mu.Lock()
		d.removed.Store(true)
		s.ns.removeNodeReplicas(d.idx)
		s.ns.mu.Unlock()
		s.ns.heal.dropCopyCommands(d.idx)
		s.log.Warn("datanode is dead: its replicas no longer count", "node", d.id, "addr", d.addr.Load().info.Addr)
	}
}

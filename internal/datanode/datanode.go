package datanode

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Config configures a DataNode.
type Config struct {
	// Dirs are the data directories, one per disk; required. They are
	// created and formatted if needed.
	Dirs []string
	// NameNode is the NameNode's RPC address, host:port, or several
	// separated by commas; required unless NameNodes is set. The
	// DataNode keeps a session with each NameNode (see doc.go, "The
	// NameNode"). Several addresses are for the NameNodes of one
	// group: the DataNode reports to each, and runs the commands of
	// the leader only, by Raft term (doc.go, "Commands and the
	// leader").
	NameNode string
	// NameNodes are more NameNode addresses, after those of NameNode.
	NameNodes []string
	// AdvertiseAddr is the data-transfer address told to the NameNode;
	// empty: the listener's address (with the address used to reach
	// the NameNode in place of an unspecified host such as 0.0.0.0).
	AdvertiseAddr string
	// HTTPAddr is the web address told to the NameNode; may be empty.
	HTTPAddr string
	// Transport is how the DataNode connects and is connected to: its
	// gRPC client of the NameNode, the data-transfer connections it
	// dials (pipeline forward, copies, recovery) and those it accepts
	// in Serve. Zero: plaintext TCP.
	Transport transport.Config
	// HeartbeatInterval is the time between heartbeats; 0: 3s.
	HeartbeatInterval time.Duration
	// BlockReportInterval is the time between full block reports;
	// 0: 6h.
	BlockReportInterval time.Duration
	// ScanInterval is how often the block scanner starts a full pass
	// over the finalized replicas, verifying each against its
	// checksums; 0: 24h. Negative: no scanner.
	ScanInterval time.Duration
	// ScanBandwidth bounds the bytes per second the scanner reads,
	// except that a pass always goes fast enough to end within
	// ScanInterval; 0: 64 MiB/s.
	ScanBandwidth int64
	// SocketReadTimeout is how long the DataNode waits on a peer that
	// should be sending, when the peer did not say how long it may stay
	// silent: the first operation on a new connection, the packets of
	// a writer that sent no timeout_ms, the responses of a DataNode
	// downstream or of a NameNode-ordered copy's pipeline. Every byte
	// that arrives restarts the wait (an idle deadline, not one for the
	// whole transfer). A writer that sends OpWriteBlock.timeout_ms sets
	// the wait for its own packets instead, since it promises a packet
	// or a heartbeat within half of it. 0: 60s, HDFS's
	// dfs.client.socket-timeout and the client's own data timeout, so
	// that both ends of a connection give up on a silent peer alike.
	SocketReadTimeout time.Duration
	// SocketWriteTimeout is how long a write to a peer may make no
	// progress before the peer is declared dead and its connection
	// closed: a reader being sent a block, the next node of a
	// pipeline, an upstream being sent acks (for a writer that sent
	// timeout_ms, that timeout). Every byte the peer takes restarts
	// the wait, so a reader that reads slowly is never cut off while
	// it reads, and one that stopped is dropped after this long.
	// 0: 60s. (HDFS's dfs.datanode.socket.write.timeout is 8 minutes;
	// a cairn reader cut off after a longer pause of its own reopens
	// its stream where it was, so the shorter wait costs it one
	// reconnection and frees a stalled connection, its goroutine and
	// its open replica files sooner.)
	SocketWriteTimeout time.Duration
	// VolumeCapacity, if positive, makes each volume full once it holds
	// that many bytes of replica data: writes beyond fail with ENOSPC
	// and the storage report counts that capacity. A test seam for
	// full disks; 0 in production.
	VolumeCapacity int64
	// SmallBlockSize is the largest replica stored in its volume's
	// container store (doc.go, "Containers") rather than in files of
	// its own: a replica written whole by one pipeline (stage CREATE
	// or TRANSFER) whose writer sends its window, never synced, of at
	// most this many bytes. 0: none, every replica has its own files.
	// cairn datanode's --small-block-size defaults to 1 MiB.
	SmallBlockSize int64
	// CompactInterval is how often sealed containers at least half
	// dead are compacted; 0: every minute.
	CompactInterval time.Duration
	// StepHook, if set, is called at each Step of the DataNode's state
	// changes (the boundaries of a replica's moves between rbw/ and
	// finalized/, block reports being sent, ...), from the goroutine
	// making the change. A test seam, nil in production: it may block
	// to order a race, end the process to test crash recovery, or
	// return an error, taken as a failure of the disk operation at that
	// step where there is one.
	StepHook func(step Step, b cairn.Block) error
}

func (c Config) socketReadTimeout() time.Duration {
	if c.SocketReadTimeout <= 0 {
		return datatransfer.DefaultTimeout
	}
	return c.SocketReadTimeout
}

func (c Config) socketWriteTimeout() time.Duration {
	if c.SocketWriteTimeout <= 0 {
		return datatransfer.DefaultTimeout
	}
	return c.SocketWriteTimeout
}

// nameNodes returns the NameNode addresses, NameNode's then NameNodes,
// without blanks or repeats.
func (c Config) nameNodes() []string {
	var out []string
	for _, a := range append(strings.Split(c.NameNode, ","), c.NameNodes...) {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func (c Config) heartbeatInterval() time.Duration {
	if c.HeartbeatInterval <= 0 {
		return 3 * time.Second
	}
	return c.HeartbeatInterval
}

func (c Config) blockReportInterval() time.Duration {
	if c.BlockReportInterval <= 0 {
		return 6 * time.Hour
	}
	return c.BlockReportInterval
}

// DataNode stores block replicas and serves them.
type DataNode struct {
	cfg   Config
	log   *slog.Logger
	store *store
	// sessions are the sessions with the NameNodes, one per address,
	// made by New; Serve runs them.
	sessions []*nnSession
	cmd      commandState // the commands run, whichever NameNode sent them
	lead     leadership   // which NameNode leads, whose commands are run
	bad      badQueue     // damaged replicas not yet reported to the leader
	// clusterMu serializes the sessions' adoption of the cluster ID
	// their NameNodes answer at registration.
	clusterMu sync.Mutex

	active atomic.Int32 // transfers in progress
	// tokens are the block access tokens demanded in secure mode
	// (blocktoken.go).
	tokens *blockTokens

	metrics *dnMetrics // Prometheus metrics, served by HTTPHandler (web.go)
	started time.Time
	// lastScan is when the block scanner last finished a pass, in unix
	// nanoseconds; 0: never.
	lastScan atomic.Int64

	mu      sync.Mutex // guards the fields below
	closed  bool
	serving bool
	cancel  context.CancelFunc
	done    chan struct{}         // closed when Serve has cleaned up
	conns   map[net.Conn]struct{} // open data-transfer connections
	addr    string                // advertised data-transfer address, once serving
	webhdfs *webhdfsServer        // WebHDFS (web.go); nil until HTTPHandler
}

// New opens and scans the data directories. It does not contact the
// NameNode: Serve does.
func New(cfg Config, log *slog.Logger) (*DataNode, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addrs := cfg.nameNodes()
	if len(addrs) == 0 {
		return nil, cairn.Errorf("datanode.New", "", cairn.Invalid, "no NameNode address")
	}
	log = log.With("component", "datanode")
	d := &DataNode{
		cfg:     cfg,
		log:     log,
		cmd:     newCommandState(),
		conns:   make(map[net.Conn]struct{}),
		started: time.Now(),
		tokens:  newBlockTokens(),
	}
	for _, a := range addrs {
		d.sessions = append(d.sessions, newSession(d, a))
	}
	d.lead.single = len(d.sessions) == 1
	d.bad.wake = make(chan struct{}, 1)
	d.metrics = newDNMetrics(d)
	s, err := openStore(cfg.Dirs, log, cfg.StepHook)
	if err != nil {
		return nil, err
	}
	s.notify = d.notify
	s.capacity = cfg.VolumeCapacity
	s.smallMax = max(cfg.SmallBlockSize, 0)
	d.store = s
	id, _ := s.ids()
	d.log = log.With("node", id)
	s.log = d.log
	n, used, _ := s.stats()
	d.log.Info("datanode opened", "dirs", len(cfg.Dirs), "replicas", n, "used", used)
	return d, nil
}

// ID returns the DataNode's stable node ID.
func (d *DataNode) ID() cairn.NodeID {
	id, _ := d.store.ids()
	return id
}

// ClusterID returns the cluster ID the DataNode belongs to, empty
// until it has registered once.
func (d *DataNode) ClusterID() cairn.ClusterID {
	_, c := d.store.ids()
	return c
}

// BlockFiles returns the paths of the data and meta files of the
// finalized replica of block id, for tests that damage them. A replica
// in a container has no files of its own: both are empty (see
// PackedReplica).
func (d *DataNode) BlockFiles(id cairn.BlockID) (data, meta string, ok bool) {
	rep, ok := d.store.lookup(id)
	if !ok {
		return "", "", false
	}
	if rep.pk != nil {
		return "", "", true
	}
	data, meta = rep.files(id)
	return data, meta, true
}

// PackedReplica returns the container file holding the finalized
// replica of block id, and the offsets there of its data and of its
// checksums, for tests that damage them; ok is false if the replica is
// not in a container.
func (d *DataNode) PackedReplica(id cairn.BlockID) (path string, dataOff, sumsOff int64, ok bool) {
	rep, found := d.store.lookup(id)
	if !found || rep.pk == nil {
		return "", 0, 0, false
	}
	sumsOff = rep.pk.off + packHeaderLen
	return rep.pk.c.path, sumsOff + int64(datatransfer.SumsLen(int(rep.len))), sumsOff, true
}

// Blocks returns the finalized replicas the DataNode holds, sorted by
// ID.
func (d *DataNode) Blocks() []cairn.Block { return d.store.blocks() }

// Serve runs the data-transfer server on lis and the sessions that keep
// the NameNodes informed, until ctx ends or Close is called (it then
// returns nil). The data-transfer server works even while no NameNode
// is reachable. If a NameNode refuses the DataNode as belonging to
// another cluster, Serve returns that error, of kind
// cairn.ClusterMismatch.
func (d *DataNode) Serve(ctx context.Context, lis net.Listener) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		lis.Close()
		return nil
	}
	if d.serving {
		d.mu.Unlock()
		return cairn.Errorf("datanode.Serve", "", cairn.Invalid, "already serving")
	}
	ctx, cancel := context.WithCancel(ctx)
	d.serving = true
	d.cancel = cancel
	d.done = make(chan struct{})
	d.addr = d.advertiseAddr(lis.Addr())
	d.mu.Unlock()
	lis = d.cfg.Transport.WrapListener(lis)
	defer close(d.done)
	defer cancel()

	var wg sync.WaitGroup
	fatal := make(chan error, len(d.sessions))
	wg.Add(4)
	go func() {
		defer wg.Done()
		d.acceptLoop(ctx, lis, &wg)
	}()
	go func() {
		defer wg.Done()
		every := d.cfg.CompactInterval
		if every <= 0 {
			every = time.Minute
		}
		d.store.compactLoop(ctx, every)
	}()
	go func() {
		defer wg.Done()
		d.scanLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		d.reportBadLoop(ctx)
	}()
	for _, s := range d.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx, &wg); err != nil {
				fatal <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
		d.log.Error("stopping", "err", err)
	}
	cancel()
	lis.Close()
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	wg.Wait()
	for _, s := range d.sessions {
		s.close()
	}
	return err
}

// advertiseAddr is the address told to the NameNode.
func (d *DataNode) advertiseAddr(a net.Addr) string {
	if d.cfg.AdvertiseAddr != "" {
		return d.cfg.AdvertiseAddr
	}
	addr := a.String()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return addr
	}
	// Listening on every interface: advertise the one that routes to
	// the (first) NameNode. A UDP "dial" sends nothing.
	if c, err := net.Dial("udp", d.sessions[0].addr); err == nil {
		local := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		if !local.IsUnspecified() {
			return net.JoinHostPort(local.String(), port)
		}
	}
	return net.JoinHostPort("127.0.0.1", port)
}

func (d *DataNode) acceptLoop(ctx context.Context, lis net.Listener, wg *sync.WaitGroup) {
	var delay time.Duration
	for {
		conn, err := lis.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// A temporary failure such as running out of file
			// descriptors: back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			d.log.Warn("accept", "err", err)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			continue
		}
		delay = 0
		d.mu.Lock()
		if ctx.Err() != nil {
			d.mu.Unlock()
			conn.Close()
			return
		}
		d.conns[conn] = struct{}{}
		wg.Add(1)
		d.mu.Unlock()
		go func() {
			defer wg.Done()
			defer func() {
				d.mu.Lock()
				delete(d.conns, conn)
				d.mu.Unlock()
				conn.Close()
			}()
			d.serveConn(ctx, conn)
		}()
	}
}

// Close stops Serve and waits for it to clean up. It is safe to call
// more than once.
func (d *DataNode) Close() error {
	d.mu.Lock()
	d.closed = true
	cancel, done := d.cancel, d.done
	web := d.webhdfs
	d.mu.Unlock()
	if web != nil {
		web.close()
	}
	if cancel != nil {
		cancel()
		<-done
	}
	d.store.close()
	return nil
}

package namenode

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
)

// raftNode is the replicated log and what it is made of.
type raftNode struct {
	raft  *raft.Raft
	wal   *raftwal.WAL
	meta  *metadb.BoltMetaDB // the WAL's metadata; WAL.Close leaves it open
	trans raft.Transport
	// single is true when the configuration has this node as its only
	// voter (a NameNode without HA).
	single bool
	// layer carries Raft over the gRPC server (a group member); nil
	// otherwise. Serve registers it.
	layer *grpcStreamLayer
}

func openRaft(cfg *Config, f *fsm, log *slog.Logger) (*raftNode, error) {
	hlog := newHCLogger(log)
	walDir := filepath.Join(cfg.Dir, "raft", "wal")
	snapDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return nil, err
	}
	meta := &metadb.BoltMetaDB{}
	segSize := cfg.walSegmentSize
	if segSize <= 0 {
		segSize = raftwal.DefaultSegmentSize
	}
	wal, err := raftwal.Open(walDir, raftwal.WithLogger(hlog.Named("wal")), raftwal.WithMetaStore(meta), raftwal.WithSegmentSize(segSize))
	if err != nil {
		meta.Close()
		return nil, fmt.Errorf("open raft log %s: %w", walDir, err)
	}
	closeWAL := func() {
		wal.Close()
		meta.Close()
	}
	// The store keeps its snapshots in snapDir/snapshots.
	snaps, err := raft.NewFileSnapshotStoreWithLogger(snapDir, 2, hlog.Named("snapshots"))
	if err != nil {
		closeWAL()
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.RaftID)
	conf.Logger = hlog
	conf.MaxAppendEntries = 512
	conf.BatchApplyCh = true
	conf.SnapshotThreshold = cfg.SnapshotThreshold
	conf.TrailingLogs = min(cfg.SnapshotThreshold/2, 1024)
	conf.SnapshotInterval = cfg.snapshotInterval
	conf.NoLegacyTelemetry = true

	var trans raft.Transport
	var layer *grpcStreamLayer
	if cfg.group() {
		conf.HeartbeatTimeout = cfg.HeartbeatTimeout
		conf.ElectionTimeout = cfg.ElectionTimeout
		conf.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
		conf.CommitTimeout = min(50*time.Millisecond, cfg.HeartbeatTimeout/4)
	}
	switch {
	case cfg.RaftTransport != nil:
		trans = cfg.RaftTransport
	case cfg.group():
		layer = newGRPCStreamLayer(cfg.RPCAddr, cfg.Transport, cfg.PeerDialAddrs)
		trans = raft.NewNetworkTransportWithLogger(layer, raftMaxPool, raftTimeout, hlog.Named("transport"))
	case cfg.RaftAddr == "":
		// One NameNode: nothing to talk to, and no reason to wait a
		// second before electing itself.
		_, trans = raft.NewInmemTransport(raft.ServerAddress(cfg.RaftID))
		conf.HeartbeatTimeout = 50 * time.Millisecond
		conf.ElectionTimeout = 50 * time.Millisecond
		conf.LeaderLeaseTimeout = 50 * time.Millisecond
	default:
		t, err := newRaftTransport(cfg.Transport, cfg.RaftAddr, hlog.Named("transport"))
		if err != nil {
			closeWAL()
			return nil, fmt.Errorf("raft transport on %s: %w", cfg.RaftAddr, err)
		}
		trans = t
	}
	closeTrans := func() {
		if c, ok := trans.(io.Closer); ok {
			c.Close()
		}
	}

	has, err := raft.HasExistingState(wal, wal, snaps)
	if err != nil {
		closeWAL()
		closeTrans()
		return nil, fmt.Errorf("inspect raft state: %w", err)
	}
	if !has && !cfg.Join {
		boot := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter,
			ID:       conf.LocalID,
			Address:  trans.LocalAddr(),
		}}}
		if len(cfg.Peers) > 0 {
			// Every member bootstraps the same configuration: raft
			// makes that safe, and the group forms without a step.
			boot.Servers = boot.Servers[:0]
			for _, p := range cfg.Peers {
				boot.Servers = append(boot.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p), Address: raft.ServerAddress(p)})
			}
		}
		if err := raft.BootstrapCluster(conf, wal, wal, snaps, trans, boot); err != nil {
			closeWAL()
			closeTrans()
			return nil, fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, f, wal, wal, snaps, trans)
	if err != nil {
		closeWAL()
		closeTrans()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	rn := &raftNode{raft: r, wal: wal, meta: meta, trans: trans, layer: layer}
	if fut := r.GetConfiguration(); fut.Error() == nil {
		servers := fut.Configuration().Servers
		rn.single = len(servers) == 1 && servers[0].ID == conf.LocalID && !cfg.group()
		if has && cfg.group() && !inConfiguration(servers, conf.LocalID) && len(servers) > 0 {
			rn.close()
			return nil, fmt.Errorf("%s: its log's membership (%s) does not include %s: the member was removed from its group, "+
				"or the directory is a NameNode alone's, which cannot become a group member by restarting with --peers; see docs/OPERATIONS.md", cfg.Dir, memberList(servers), conf.LocalID)
		}
	}
	return rn, nil
}

func inConfiguration(servers []raft.Server, id raft.ServerID) bool {
	for _, s := range servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

func memberList(servers []raft.Server) string {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = string(s.ID)
	}
	return strings.Join(ids, ",")
}

// waitLoaded waits until this node leads and has applied every entry
// of the log, so that the namespace is complete.
func (rn *raftNode) waitLoaded(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for rn.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return rn.raft.Barrier(0).Error()
}

func (rn *raftNode) close() error {
	var errs []error
	if rn.layer != nil {
		rn.layer.cut()
	}
	if err := rn.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	if err := rn.wal.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raft log: %w", err))
	}
	if err := rn.meta.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raft log metadata: %w", err))
	}
	if c, ok := rn.trans.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// raftError maps an error of raft.Apply to a cairn error.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return errf(cairn.NotLeader, "%v", err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return errf(cairn.Unavailable, "name node is shutting down")
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return errf(cairn.Unavailable, "name node is overloaded: %v", err)
	}
	return errf(cairn.Internal, "raft: %v", err)
}

// newHCLogger gives raft an hclog logger that writes warnings and
// errors to log, and drops the rest.
func newHCLogger(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      &slogWriter{log: log},
		DisableTime: true,
	})
}

// slogWriter turns the lines hclog writes into slog records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelWarn
	switch {
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "starting election"):
		// Every start of a NameNode begins with an election.
		level = slog.LevelInfo
	}
	line = strings.TrimSpace(strings.NewReplacer("[ERROR]", "", "[WARN]", "").Replace(line))
	w.log.Log(context.Background(), level, line, "component", "raft")
	return len(p), nil
}

// groupClusterID is the cluster ID of a group formed by peers, the same
// on every member whatever the order they are listed in.
func groupClusterID(peers []string) cairn.ClusterID {
	sorted := slices.Clone(peers)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return cairn.ClusterID("CID-" + hex.EncodeToString(sum[:16]))
}

// The VERSION file of Dir: "key=value" lines, written atomically once.
const versionFile = "VERSION"

// loadOrFormat reads Dir's cluster ID, formatting Dir first if it is
// new. It also returns the superuser the VERSION file names: the OS
// user who formatted Dir ("" in a directory formatted before cairn
// recorded it).
func loadOrFormat(dir string, want cairn.ClusterID, log *slog.Logger) (cairn.ClusterID, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	path := filepath.Join(dir, versionFile)
	data, err := os.ReadFile(path)
	if err == nil {
		var id cairn.ClusterID
		var super string
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "cluster_id="); ok {
				id = cairn.ClusterID(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(line, "superuser="); ok {
				super = strings.TrimSpace(v)
			}
		}
		if id == "" {
			return "", "", fmt.Errorf("%s has no cluster_id", path)
		}
		if want != "" && want != id {
			log.Warn("ignoring configured cluster ID: the directory was formatted for another", "configured", want, "cluster", id)
		}
		return id, super, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "raft")); len(entries) > 0 {
		return "", "", fmt.Errorf("%s: raft state without a %s file", dir, versionFile)
	}
	id := want
	if id == "" {
		var b [16]byte
		rand.Read(b[:])
		id = cairn.ClusterID("CID-" + hex.EncodeToString(b[:]))
	}
	super := processUser()
	content := fmt.Sprintf("layout=1\ncluster_id=%s\nsuperuser=%s\n", id, super)
	if err := atomicfile.Write(path, []byte(content), 0o644); err != nil {
		return "", "", err
	}
	log.Info("formatted new namespace directory", "dir", dir, "cluster", id, "superuser", super)
	return id, super, nil
}

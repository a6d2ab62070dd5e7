package namenode

import (
	"context"
	"io/fs"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/version"
	"github.com/cairn-fs/cairn/internal/webui"
)

// webSource adapts the Server to what the web UI needs.
type webSource struct{ s *Server }

var _ webui.NameNode = webSource{}

// listLimit is the most entries the web UI lists of one directory.
const listLimit = 1000

// RaftState returns the NameNode's Raft state (Leader, Follower,
// Candidate, Shutdown) and the address of the leader, if known.
func (s *Server) RaftState() (state, leader string) {
	addr, id := s.rn.raft.LeaderWithID()
	if id != "" {
		leader = string(id)
		if addr != "" && string(addr) != string(id) {
			leader += " (" + string(addr) + ")"
		}
	}
	return s.rn.raft.State().String(), leader
}

// blockHealth counts the blocks that are under-replicated, corrupt and
// missing, as Fsck of "/" would, without walking the tree: the last
// block of a file being written is not judged.
func (s *Server) blockHealth() (under, corrupt, missing int64) {
	now := s.now().UnixNano()
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	for _, b := range s.ns.blocks {
		f := b.file
		if f == nil {
			continue
		}
		if f.underConstruction() && !b.committed && s.ns.lastBlock(f) == b {
			continue
		}
		switch s.fsckBlock(b, int(f.repl), now, false).State {
		case cairn.FsckUnderReplicated:
			under++
		case cairn.FsckCorrupt:
			corrupt++
		case cairn.FsckMissing:
			missing++
		}
	}
	return under, corrupt, missing
}

func (w webSource) Overview(ctx context.Context) (webui.Overview, error) {
	s := w.s
	rep, err := s.GetDatanodeReport(ctx)
	if err != nil {
		return webui.Overview{}, err
	}
	sm := s.safe.status()
	o := webui.Overview{
		ClusterID:                string(s.clusterID),
		Version:                  version.Version,
		StartTime:                s.started,
		UptimeSeconds:            time.Since(s.started).Seconds(),
		SafeMode:                 sm.On,
		SafeModeReason:           sm.Reason,
		PendingReplicationBlocks: rep.PendingReplicationBlocks,
		PendingDeletionBlocks:    rep.PendingDeletionBlocks,
	}
	if rev := version.Revision(); rev != "" {
		o.Version += " (" + rev + ")"
	}
	o.RaftState, o.RaftLeader = s.RaftState()
	o.Group = s.webGroup(ctx)
	for _, d := range rep.Datanodes {
		switch d.State {
		case "live":
			o.LiveDatanodes++
		case "stale":
			o.StaleDatanodes++
		case "dead":
			o.DeadDatanodes++
		case "decommissioning":
			o.DecommissioningDatanodes++
		case "decommissioned":
			o.DecommissionedDatanodes++
		}
		if d.State != "dead" {
			o.CapacityBytes += d.CapacityBytes
			o.UsedBytes += d.UsedBytes
			o.RemainingBytes += d.RemainingBytes
		}
	}
	s.ns.mu.RLock()
	o.Files, o.Directories, o.Blocks = s.ns.files, s.ns.dirs, int64(len(s.ns.blocks))
	s.ns.mu.RUnlock()
	o.UnderReplicatedBlocks, o.CorruptBlocks, o.MissingBlocks = s.blockHealth()
	return o, nil
}

func (w webSource) DataNodes(ctx context.Context) ([]webui.DataNodeRow, error) {
	rep, err := w.s.GetDatanodeReport(ctx)
	if err != nil {
		return nil, err
	}
	now := w.s.now()
	rows := make([]webui.DataNodeRow, 0, len(rep.Datanodes))
	for _, d := range rep.Datanodes {
		rows = append(rows, webui.DataNodeRow{
			ID:                  string(d.ID),
			Addr:                d.Addr,
			HTTPAddr:            d.HTTPAddr,
			State:               d.State,
			LastHeartbeat:       d.LastHeartbeat,
			HeartbeatAgeSeconds: max(0, now.Sub(d.LastHeartbeat).Seconds()),
			CapacityBytes:       d.CapacityBytes,
			UsedBytes:           d.UsedBytes,
			RemainingBytes:      d.RemainingBytes,
			Blocks:              d.Blocks,
			FailedVolumes:       append([]string{}, d.FailedVolumes...),
			ActiveTransfers:     d.ActiveTransfers,
		})
	}
	return rows, nil
}

func (w webSource) List(ctx context.Context, p string) (webui.Listing, error) {
	sts, more, err := w.s.ListDir(ctx, p, "", listLimit)
	if err != nil {
		return webui.Listing{}, err
	}
	l := webui.Listing{Path: p, Truncated: more, Entries: make([]webui.Entry, 0, len(sts))}
	for _, st := range sts {
		l.Entries = append(l.Entries, webEntry(st.FileInfo))
	}
	return l, nil
}

func (w webSource) File(ctx context.Context, p string) (webui.File, error) {
	st, err := w.s.GetFileInfo(ctx, p, true, "")
	if err != nil {
		return webui.File{}, err
	}
	f := webui.File{Entry: webEntry(st.FileInfo)}
	for _, lb := range st.Blocks {
		b := webui.Block{
			ID:       uint64(lb.Block.ID),
			GenStamp: uint64(lb.Block.GenStamp),
			Offset:   lb.Offset,
			Length:   lb.Block.Len,
		}
		for _, l := range lb.Locations {
			b.Locations = append(b.Locations, webui.Location{ID: string(l.ID), Addr: l.Addr, HTTPAddr: l.HTTPAddr})
		}
		f.Blocks = append(f.Blocks, b)
	}
	return f, nil
}

func webEntry(fi cairn.FileInfo) webui.Entry {
	mode := fi.Mode.Perm()
	if fi.IsDir {
		mode |= fs.ModeDir
	}
	return webui.Entry{
		Path:              fi.Path,
		Name:              fi.Name,
		IsDir:             fi.IsDir,
		Size:              fi.Size,
		Replication:       fi.Replication,
		BlockSize:         fi.BlockSize,
		Owner:             fi.Owner,
		Group:             fi.Group,
		Mode:              mode.String(),
		ModTime:           fi.ModTime.UTC(),
		UnderConstruction: fi.UnderConstruction,
		Children:          fi.Children,
	}
}

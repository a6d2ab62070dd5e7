package protocol

import (
	"time"

	"github.com/cairn-fs/cairn"
)

// Conversions of the NameNode's answers (the shapes of package cairn's
// admin.go) to and from their wire messages. The NameNode's gRPC
// adapters encode with the ToProto functions, the client decodes with
// the FromProto ones; nil messages decode to zero values.

// ServerDefaultsToProto encodes the answer of GetServerDefaults.
func ServerDefaultsToProto(d cairn.ServerDefaults) *GetServerDefaultsResponse {
	return &GetServerDefaultsResponse{
		BlockSize:        d.BlockSize,
		Replication:      int32(d.Replication),
		ClusterId:        string(d.ClusterID),
		LeaseSoftLimitMs: d.LeaseSoftLimit.Milliseconds(),
	}
}

// ServerDefaultsFromProto decodes the answer of GetServerDefaults.
func ServerDefaultsFromProto(p *GetServerDefaultsResponse) cairn.ServerDefaults {
	return cairn.ServerDefaults{
		BlockSize:      p.GetBlockSize(),
		Replication:    int(p.GetReplication()),
		ClusterID:      cairn.ClusterID(p.GetClusterId()),
		LeaseSoftLimit: time.Duration(p.GetLeaseSoftLimitMs()) * time.Millisecond,
	}
}

// ContentSummaryToProto encodes the answer of GetContentSummary.
func ContentSummaryToProto(cs cairn.ContentSummary) *GetContentSummaryResponse {
	return &GetContentSummaryResponse{
		Length:        cs.Length,
		Files:         cs.Files,
		Directories:   cs.Directories,
		SpaceConsumed: cs.SpaceConsumed,
	}
}

// ContentSummaryFromProto decodes the answer of GetContentSummary.
func ContentSummaryFromProto(p *GetContentSummaryResponse) cairn.ContentSummary {
	return cairn.ContentSummary{
		Length:        p.GetLength(),
		Files:         p.GetFiles(),
		Directories:   p.GetDirectories(),
		SpaceConsumed: p.GetSpaceConsumed(),
	}
}

// DatanodeStatusToProto encodes one DataNode of a cluster report. A
// zero LastHeartbeat is sent as 0.
func DatanodeStatusToProto(d cairn.DatanodeStatus) *DatanodeReport {
	p := &DatanodeReport{
		Id:                    string(d.ID),
		Addr:                  d.Addr,
		HttpAddr:              d.HTTPAddr,
		State:                 d.State,
		CapacityBytes:         d.CapacityBytes,
		UsedBytes:             d.UsedBytes,
		RemainingBytes:        d.RemainingBytes,
		Blocks:                d.Blocks,
		ActiveTransfers:       int32(d.ActiveTransfers),
		FailedVolumes:         d.FailedVolumes,
		PendingDeletionBlocks: d.PendingDeletion,
	}
	if !d.LastHeartbeat.IsZero() {
		p.LastHeartbeatUnixNano = d.LastHeartbeat.UnixNano()
	}
	return p
}

// DatanodeStatusFromProto decodes one DataNode of a cluster report; a
// heartbeat time of 0 gives a zero LastHeartbeat.
func DatanodeStatusFromProto(p *DatanodeReport) cairn.DatanodeStatus {
	d := cairn.DatanodeStatus{
		ID:              cairn.NodeID(p.GetId()),
		Addr:            p.GetAddr(),
		HTTPAddr:        p.GetHttpAddr(),
		State:           p.GetState(),
		CapacityBytes:   p.GetCapacityBytes(),
		UsedBytes:       p.GetUsedBytes(),
		RemainingBytes:  p.GetRemainingBytes(),
		Blocks:          p.GetBlocks(),
		ActiveTransfers: int(p.GetActiveTransfers()),
		FailedVolumes:   p.GetFailedVolumes(),
		PendingDeletion: p.GetPendingDeletionBlocks(),
	}
	if ns := p.GetLastHeartbeatUnixNano(); ns != 0 {
		d.LastHeartbeat = time.Unix(0, ns)
	}
	return d
}

// ClusterReportToProto encodes the answer of GetDatanodeReport.
func ClusterReportToProto(r cairn.ClusterReport) *GetDatanodeReportResponse {
	p := &GetDatanodeReportResponse{
		ClusterId:                string(r.ClusterID),
		SafeMode:                 r.SafeMode,
		PendingDeletionBlocks:    r.PendingDeletionBlocks,
		PendingReplicationBlocks: r.PendingReplicationBlocks,
	}
	for _, d := range r.Datanodes {
		p.Datanodes = append(p.Datanodes, DatanodeStatusToProto(d))
	}
	return p
}

// ClusterReportFromProto decodes the answer of GetDatanodeReport.
func ClusterReportFromProto(p *GetDatanodeReportResponse) cairn.ClusterReport {
	r := cairn.ClusterReport{
		ClusterID:                cairn.ClusterID(p.GetClusterId()),
		SafeMode:                 p.GetSafeMode(),
		PendingDeletionBlocks:    p.GetPendingDeletionBlocks(),
		PendingReplicationBlocks: p.GetPendingReplicationBlocks(),
	}
	for _, d := range p.GetDatanodes() {
		r.Datanodes = append(r.Datanodes, DatanodeStatusFromProto(d))
	}
	return r
}

// SafeModeStatusToProto encodes the answer of SafeMode.
func SafeModeStatusToProto(s cairn.SafeModeStatus) *SafeModeResponse {
	return &SafeModeResponse{On: s.On, Manual: s.Manual, Reason: s.Reason}
}

// SafeModeStatusFromProto decodes the answer of SafeMode.
func SafeModeStatusFromProto(p *SafeModeResponse) cairn.SafeModeStatus {
	return cairn.SafeModeStatus{On: p.GetOn(), Manual: p.GetManual(), Reason: p.GetReason()}
}

// FsckRequestToProto encodes an Fsck request of the tree at path. The
// options go as they are: making Locations imply Blocks and Blocks
// imply Files is the caller's choice.
func FsckRequestToProto(path string, o cairn.FsckOptions) *FsckRequest {
	return &FsckRequest{
		Path:          path,
		ListFiles:     o.Files,
		ListBlocks:    o.Blocks,
		ListLocations: o.Locations,
		ListOpenFiles: o.OpenFiles,
	}
}

// FsckRequestFromProto decodes an Fsck request into its path and
// options.
func FsckRequestFromProto(p *FsckRequest) (string, cairn.FsckOptions) {
	return p.GetPath(), cairn.FsckOptions{
		Files:     p.GetListFiles(),
		Blocks:    p.GetListBlocks(),
		Locations: p.GetListLocations(),
		OpenFiles: p.GetListOpenFiles(),
	}
}

// FsckReportToProto encodes the answer of Fsck. LeaseAge travels in
// whole milliseconds.
func FsckReportToProto(r cairn.FsckReport) *FsckResponse {
	p := &FsckResponse{
		Status:                r.Status,
		Files:                 r.Files,
		Directories:           r.Directories,
		Blocks:                r.Blocks,
		TotalSize:             r.TotalSize,
		UnderReplicatedBlocks: r.UnderReplicatedBlocks,
		CorruptBlocks:         r.CorruptBlocks,
		MissingBlocks:         r.MissingBlocks,
		OpenFiles:             r.OpenFiles,
		LiveDatanodes:         int32(r.LiveDatanodes),
	}
	for _, f := range r.FileDetails {
		pf := &FsckFile{
			Path:        f.Path,
			Size:        f.Size,
			Replication: int32(f.Replication),
			Open:        f.Open,
			Status:      f.Status,
			LeaseHolder: f.LeaseHolder,
			LeaseAgeMs:  f.LeaseAge.Milliseconds(),
		}
		for _, b := range f.Blocks {
			pf.Blocks = append(pf.Blocks, &FsckBlock{
				Block:           BlockToProto(b.Block),
				Locations:       DatanodesToProto(b.Locations),
				LiveReplicas:    int32(b.LiveReplicas),
				CorruptReplicas: int32(b.CorruptReplicas),
				State:           b.State,
			})
		}
		p.FileDetails = append(p.FileDetails, pf)
	}
	return p
}

// FsckReportFromProto decodes the answer of Fsck.
func FsckReportFromProto(p *FsckResponse) cairn.FsckReport {
	r := cairn.FsckReport{
		Status:                p.GetStatus(),
		Files:                 p.GetFiles(),
		Directories:           p.GetDirectories(),
		Blocks:                p.GetBlocks(),
		TotalSize:             p.GetTotalSize(),
		UnderReplicatedBlocks: p.GetUnderReplicatedBlocks(),
		CorruptBlocks:         p.GetCorruptBlocks(),
		MissingBlocks:         p.GetMissingBlocks(),
		OpenFiles:             p.GetOpenFiles(),
		LiveDatanodes:         int(p.GetLiveDatanodes()),
	}
	for _, f := range p.GetFileDetails() {
		ff := cairn.FsckFile{
			Path:        f.GetPath(),
			Size:        f.GetSize(),
			Replication: int(f.GetReplication()),
			Open:        f.GetOpen(),
			Status:      f.GetStatus(),
			LeaseHolder: f.GetLeaseHolder(),
			LeaseAge:    time.Duration(f.GetLeaseAgeMs()) * time.Millisecond,
		}
		for _, b := range f.GetBlocks() {
			ff.Blocks = append(ff.Blocks, cairn.FsckBlock{
				Block:           BlockFromProto(b.GetBlock()),
				Locations:       DatanodesFromProto(b.GetLocations()),
				LiveReplicas:    int(b.GetLiveReplicas()),
				CorruptReplicas: int(b.GetCorruptReplicas()),
				State:           b.GetState(),
			})
		}
		r.FileDetails = append(r.FileDetails, ff)
	}
	return r
}

// StorageReportToProto encodes what a DataNode says of its storage.
func StorageReportToProto(s cairn.StorageReport) *StorageReport {
	return &StorageReport{
		CapacityBytes:   s.CapacityBytes,
		UsedBytes:       s.UsedBytes,
		RemainingBytes:  s.RemainingBytes,
		ActiveTransfers: int32(s.ActiveTransfers),
		FailedVolumes:   s.FailedVolumes,
	}
}

// StorageReportFromProto decodes what a DataNode says of its storage.
func StorageReportFromProto(p *StorageReport) cairn.StorageReport {
	return cairn.StorageReport{
		CapacityBytes:   p.GetCapacityBytes(),
		UsedBytes:       p.GetUsedBytes(),
		RemainingBytes:  p.GetRemainingBytes(),
		ActiveTransfers: int(p.GetActiveTransfers()),
		FailedVolumes:   p.GetFailedVolumes(),
	}
}

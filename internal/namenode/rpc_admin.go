package namenode

import (
	"context"

	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// adminRPC adapts AdminProtocol to the Server, as clientRPC does
// ClientProtocol: each method decodes its request, calls the Server
// method of the same name (admin.go, safemode.go, decommission.go) and
// encodes the answer, with errors converted by protocol.ToStatus.
type adminRPC struct {
	pb.UnimplementedAdminProtocolServer
	s *Server
}

func (r *adminRPC) GetDatanodeReport(ctx context.Context, req *pb.GetDatanodeReportRequest) (*pb.GetDatanodeReportResponse, error) {
	rep, err := r.s.GetDatanodeReport(ctx)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	resp := &pb.GetDatanodeReportResponse{
		ClusterId:                string(rep.ClusterID),
		SafeMode:                 rep.SafeMode,
		PendingDeletionBlocks:    rep.PendingDeletionBlocks,
		PendingReplicationBlocks: rep.PendingReplicationBlocks,
	}
	for _, d := range rep.Datanodes {
		resp.Datanodes = append(resp.Datanodes, datanodeReportToProto(d))
	}
	return resp, nil
}

func (r *adminRPC) Fsck(ctx context.Context, req *pb.FsckRequest) (*pb.FsckResponse, error) {
	rep, err := r.s.Fsck(ctx, req.Path, FsckOptions{
		ListFiles:     req.ListFiles,
		ListBlocks:    req.ListBlocks,
		ListLocations: req.ListLocations,
		ListOpenFiles: req.ListOpenFiles,
	})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	resp := &pb.FsckResponse{
		Status:                rep.Status,
		Files:                 rep.Files,
		Directories:           rep.Directories,
		Blocks:                rep.Blocks,
		TotalSize:             rep.TotalSize,
		UnderReplicatedBlocks: rep.UnderReplicatedBlocks,
		CorruptBlocks:         rep.CorruptBlocks,
		MissingBlocks:         rep.MissingBlocks,
		OpenFiles:             rep.OpenFiles,
		LiveDatanodes:         int32(rep.LiveDatanodes),
	}
	for _, f := range rep.FileDetails {
		pf := &pb.FsckFile{Path: f.Path, Size: f.Size, Replication: int32(f.Replication), Open: f.Open, Status: f.Status,
			LeaseHolder: f.LeaseHolder, LeaseAgeMs: f.LeaseAge.Milliseconds()}
		for _, b := range f.Blocks {
			pf.Blocks = append(pf.Blocks, &pb.FsckBlock{
				Block:           pb.BlockToProto(b.Block),
				Locations:       pb.DatanodesToProto(b.Locations),
				LiveReplicas:    int32(b.LiveReplicas),
				CorruptReplicas: int32(b.CorruptReplicas),
				State:           b.State,
			})
		}
		resp.FileDetails = append(resp.FileDetails, pf)
	}
	return resp, nil
}

func (r *adminRPC) SafeMode(ctx context.Context, req *pb.SafeModeRequest) (*pb.SafeModeResponse, error) {
	st, err := r.s.SafeMode(ctx, req.Action)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SafeModeResponse{On: st.On, Manual: st.Manual, Reason: st.Reason}, nil
}

func (r *adminRPC) Decommission(ctx context.Context, req *pb.DecommissionRequest) (*pb.DecommissionResponse, error) {
	ds, err := r.s.Decommission(ctx, req.Node)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.DecommissionResponse{Datanode: datanodeReportToProto(ds)}, nil
}

func (r *adminRPC) Recommission(ctx context.Context, req *pb.RecommissionRequest) (*pb.RecommissionResponse, error) {
	ds, err := r.s.Recommission(ctx, req.Node)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RecommissionResponse{Datanode: datanodeReportToProto(ds)}, nil
}

func datanodeReportToProto(d DatanodeStatus) *pb.DatanodeReport {
	return &pb.DatanodeReport{
		Id:                    string(d.Info.ID),
		Addr:                  d.Info.Addr,
		HttpAddr:              d.Info.HTTPAddr,
		State:                 d.State,
		CapacityBytes:         d.Storage.CapacityBytes,
		UsedBytes:             d.Storage.UsedBytes,
		RemainingBytes:        d.Storage.RemainingBytes,
		Blocks:                d.Blocks,
		LastHeartbeatUnixNano: d.LastHeartbeat.UnixNano(),
		ActiveTransfers:       int32(d.Storage.ActiveTransfers),
		FailedVolumes:         d.Storage.FailedVolumes,
	}
}

package namenode

import (
	"context"

	"github.com/cairn-fs/cairn"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// datanodeRPC adapts DatanodeProtocol to the Server, one method each.
type datanodeRPC struct {
	pb.UnimplementedDatanodeProtocolServer
	s *Server
}

func (r *datanodeRPC) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	id, err := r.s.Register(ctx, Registration{
		ID:        cairn.NodeID(req.NodeId),
		ClusterID: cairn.ClusterID(req.ClusterId),
		Addr:      req.Addr,
		HTTPAddr:  req.HttpAddr,
		Storage:   pb.StorageReportFromProto(req.Storage),
	})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RegisterResponse{
		ClusterId:   string(id),
		BlockTokens: r.s.cfg.Security,
		BlockKeys:   pb.BlockKeysToProto(r.s.BlockKeys()),
	}, nil
}

func (r *datanodeRPC) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	cmds, err := r.s.Heartbeat(ctx, cairn.NodeID(req.NodeId), pb.StorageReportFromProto(req.Storage), req.AckedCommands)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	resp := &pb.HeartbeatResponse{}
	resp.Term, resp.Leader = r.s.RaftTerm()
	resp.BlockKeys = pb.BlockKeysToProto(r.s.BlockKeys())
	for _, c := range cmds {
		resp.Commands = append(resp.Commands, pb.CommandToProto(c))
	}
	return resp, nil
}

func (r *datanodeRPC) BlockReport(ctx context.Context, req *pb.BlockReportRequest) (*pb.BlockReportResponse, error) {
	if err := r.s.BlockReport(ctx, cairn.NodeID(req.NodeId), pb.BlocksFromProto(req.Blocks), pb.BlocksFromProto(req.Rbw)); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.BlockReportResponse{}, nil
}

func (r *datanodeRPC) IncrementalBlockReport(ctx context.Context, req *pb.IncrementalBlockReportRequest) (*pb.IncrementalBlockReportResponse, error) {
	err := r.s.IncrementalBlockReport(ctx, cairn.NodeID(req.NodeId), pb.BlocksFromProto(req.Received), pb.BlocksFromProto(req.Receiving), pb.BlocksFromProto(req.Deleted))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.IncrementalBlockReportResponse{}, nil
}

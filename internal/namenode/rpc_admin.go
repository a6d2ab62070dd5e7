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
	return pb.ClusterReportToProto(rep), nil
}

func (r *adminRPC) Fsck(ctx context.Context, req *pb.FsckRequest) (*pb.FsckResponse, error) {
	p, o := pb.FsckRequestFromProto(req)
	rep, err := r.s.Fsck(ctx, p, o)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return pb.FsckReportToProto(rep), nil
}

func (r *adminRPC) SafeMode(ctx context.Context, req *pb.SafeModeRequest) (*pb.SafeModeResponse, error) {
	st, err := r.s.SafeMode(ctx, req.Action)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return pb.SafeModeStatusToProto(st), nil
}

func (r *adminRPC) Decommission(ctx context.Context, req *pb.DecommissionRequest) (*pb.DecommissionResponse, error) {
	ds, err := r.s.Decommission(ctx, req.Node)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.DecommissionResponse{Datanode: pb.DatanodeStatusToProto(ds)}, nil
}

func (r *adminRPC) Recommission(ctx context.Context, req *pb.RecommissionRequest) (*pb.RecommissionResponse, error) {
	ds, err := r.s.Recommission(ctx, req.Node)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RecommissionResponse{Datanode: pb.DatanodeStatusToProto(ds)}, nil
}

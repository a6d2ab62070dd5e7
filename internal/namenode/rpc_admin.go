package namenode

import (
	"context"
	"time"

	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// adminRPC adapts AdminProtocol to the Server, as clientRPC does
// ClientProtocol: each method decodes its request, calls the Server
// method of the same name (admin.go, safemode.go, decommission.go,
// ha_admin.go) and encodes the answer, with errors converted by
// protocol.ToStatus.
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

func (r *adminRPC) HAStatus(ctx context.Context, req *pb.HAStatusRequest) (*pb.HAStatusResponse, error) {
	get := r.s.HAStatus
	if req.GetSelfOnly() {
		get = r.s.haSelfStatus
	}
	st, err := get(ctx)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return pb.HAStatusToProto(st), nil
}

func (r *adminRPC) HAAddMember(ctx context.Context, req *pb.HAAddMemberRequest) (*pb.HAAddMemberResponse, error) {
	if err := r.s.HAAddMember(ctx, req.GetAddress(), req.GetNonvoter()); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.HAAddMemberResponse{}, nil
}

func (r *adminRPC) HARemoveMember(ctx context.Context, req *pb.HARemoveMemberRequest) (*pb.HARemoveMemberResponse, error) {
	if err := r.s.HARemoveMember(ctx, req.GetAddress()); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.HARemoveMemberResponse{}, nil
}

func (r *adminRPC) HATransferLeadership(ctx context.Context, req *pb.HATransferLeadershipRequest) (*pb.HATransferLeadershipResponse, error) {
	leader, err := r.s.HATransferLeadership(ctx, req.GetAddress())
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.HATransferLeadershipResponse{Leader: leader}, nil
}

func (r *adminRPC) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.CreateTokenResponse, error) {
	ti, err := r.s.CreateToken(ctx, req.GetUser(), time.Duration(req.GetTtlMs())*time.Millisecond)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.CreateTokenResponse{Token: ti.Token, Id: ti.ID, User: ti.User, ExpiresUnixMs: ti.Expires.UnixMilli()}, nil
}

func (r *adminRPC) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.RevokeTokenResponse, error) {
	if err := r.s.RevokeToken(ctx, req.GetToken()); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RevokeTokenResponse{}, nil
}

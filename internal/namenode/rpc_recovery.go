package namenode

import (
	"context"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// The gRPC adapters of recovery.go.

func nodeIDs(ids []string) []cairn.NodeID {
	out := make([]cairn.NodeID, len(ids))
	for i, id := range ids {
		out[i] = cairn.NodeID(id)
	}
	return out
}

func (r *clientRPC) GetAdditionalDatanode(ctx context.Context, req *pb.GetAdditionalDatanodeRequest) (*pb.GetAdditionalDatanodeResponse, error) {
	if req.Block == nil {
		return nil, pb.ToStatus(errf(cairn.Invalid, "no block"))
	}
	info, err := r.s.GetAdditionalDatanode(ctx, req.Path, req.FileId, req.ClientName, pb.BlockFromProto(req.Block), nodeIDs(req.Existing), nodeIDs(req.Exclude))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.GetAdditionalDatanodeResponse{
		Node:       pb.DatanodesToProto([]cairn.DatanodeInfo{info})[0],
		BlockToken: r.s.blockToken(ctx, cairn.BlockID(req.Block.Id), blocktoken.Copy),
	}, nil
}

func (r *clientRPC) UpdateBlockForPipeline(ctx context.Context, req *pb.UpdateBlockForPipelineRequest) (*pb.UpdateBlockForPipelineResponse, error) {
	if req.Block == nil {
		return nil, pb.ToStatus(errf(cairn.Invalid, "no block"))
	}
	gs, err := r.s.UpdateBlockForPipeline(ctx, req.Path, req.FileId, req.ClientName, pb.BlockFromProto(req.Block))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.UpdateBlockForPipelineResponse{
		NewGenStamp: uint64(gs),
		BlockToken:  r.s.blockToken(ctx, cairn.BlockID(req.Block.Id), blocktoken.Write|blocktoken.Copy),
	}, nil
}

func (r *clientRPC) UpdatePipeline(ctx context.Context, req *pb.UpdatePipelineRequest) (*pb.UpdatePipelineResponse, error) {
	if req.Block == nil {
		return nil, pb.ToStatus(errf(cairn.Invalid, "no block"))
	}
	if err := r.s.UpdatePipeline(ctx, req.Path, req.FileId, req.ClientName, pb.BlockFromProto(req.Block), nodeIDs(req.Nodes)); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.UpdatePipelineResponse{}, nil
}

func (r *datanodeRPC) CommitBlockSynchronization(ctx context.Context, req *pb.CommitBlockSynchronizationRequest) (*pb.CommitBlockSynchronizationResponse, error) {
	if req.Block == nil {
		return nil, pb.ToStatus(errf(cairn.Invalid, "no block"))
	}
	err := r.s.CommitBlockSynchronization(ctx, cairn.NodeID(req.NodeId), pb.BlockFromProto(req.Block), cairn.GenStamp(req.OldGenStamp), nodeIDs(req.Nodes), req.DeleteBlock)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.CommitBlockSynchronizationResponse{}, nil
}

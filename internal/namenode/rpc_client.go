package namenode

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// clientRPC adapts ClientProtocol to the Server: each method decodes its
// request, calls the Server method of the same name, and encodes the
// answer, with errors converted by protocol.ToStatus.
type clientRPC struct {
	pb.UnimplementedClientProtocolServer
	s *Server
}

// peerHost is the host of the caller, for placement and sorting when
// the request does not name one.
func peerHost(ctx context.Context, given string) string {
	if given != "" {
		return given
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return ""
	}
	return host
}

func fileStatusToProto(st FileStatus) *pb.FileInfo {
	p := pb.FileInfoToProto(st.FileInfo)
	p.FileId = st.ID
	return p
}

// fileStatusWithTokens is fileStatusToProto with, in secure mode, a
// READ token for the caller of ctx on each of its blocks.
func (r *clientRPC) fileStatusWithTokens(ctx context.Context, st FileStatus) *pb.FileInfo {
	r.s.withBlockTokens(ctx, st.FileInfo.Blocks, blocktoken.Read)
	p := pb.FileInfoToProto(st.FileInfo)
	p.FileId = st.ID
	return p
}

// blockPtr converts an optional block; a block with ID 0 (never
// allocated) counts as absent.
func blockPtr(b *pb.Block) *cairn.Block {
	if b == nil || b.Id == 0 {
		return nil
	}
	blk := pb.BlockFromProto(b)
	return &blk
}

func (r *clientRPC) GetServerDefaults(ctx context.Context, req *pb.GetServerDefaultsRequest) (*pb.GetServerDefaultsResponse, error) {
	// Only the leader answers, as HDFS's standby refuses it: a client's
	// first call (Dial's) then finds the leader, and the calls after it
	// go there.
	if r.s.servingTerm() == 0 {
		return nil, pb.ToStatus(r.s.notLeader())
	}
	return pb.ServerDefaultsToProto(r.s.GetServerDefaults(ctx)), nil
}

func (r *clientRPC) Create(ctx context.Context, req *pb.CreateRequest) (*pb.CreateResponse, error) {
	owner, group := ownerOf(ctx, req.Owner, req.Group)
	o := CreateOptions{
		Mode:         pb.FileMode(req.Mode),
		Replication:  int(req.Replication),
		BlockSize:    req.BlockSize,
		Overwrite:    req.Overwrite,
		CreateParent: req.CreateParent,
		ClientName:   req.ClientName,
		Owner:        owner,
		Group:        group,
		Touch:        req.Touch,
	}
	if req.AllocateBlock {
		o.AllocateBlock, o.ClientHost = true, peerHost(ctx, req.ClientHost)
	}
	st, err := r.s.Create(ctx, req.Path, o)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	resp := &pb.CreateResponse{}
	if len(st.Blocks) == 1 {
		// The first block, as AddBlock answers it.
		lb := st.Blocks[0]
		lb.Token = r.s.blockToken(ctx, lb.Block.ID, blocktoken.Write)
		resp.Block = pb.LocatedBlockToProto(lb)
		st.Blocks = nil
	}
	resp.File = fileStatusToProto(st)
	return resp, nil
}

func (r *clientRPC) AddBlock(ctx context.Context, req *pb.AddBlockRequest) (*pb.AddBlockResponse, error) {
	exclude := make([]cairn.NodeID, len(req.ExcludeNodes))
	for i, id := range req.ExcludeNodes {
		exclude[i] = cairn.NodeID(id)
	}
	lb, err := r.s.AddBlock(ctx, req.Path, req.FileId, req.ClientName, blockPtr(req.Previous), exclude, peerHost(ctx, req.ClientHost))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	lb.Token = r.s.blockToken(ctx, lb.Block.ID, blocktoken.Write)
	return &pb.AddBlockResponse{Block: pb.LocatedBlockToProto(lb)}, nil
}

func (r *clientRPC) Complete(ctx context.Context, req *pb.CompleteRequest) (*pb.CompleteResponse, error) {
	st, err := r.s.Complete(ctx, req.Path, req.FileId, req.ClientName, blockPtr(req.Last))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.CompleteResponse{File: r.fileStatusWithTokens(ctx, st)}, nil
}

func (r *clientRPC) AbandonBlock(ctx context.Context, req *pb.AbandonBlockRequest) (*pb.AbandonBlockResponse, error) {
	if err := r.s.AbandonBlock(ctx, req.Path, req.FileId, req.ClientName, pb.BlockFromProto(req.Block)); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.AbandonBlockResponse{}, nil
}

func (r *clientRPC) Fsync(ctx context.Context, req *pb.FsyncRequest) (*pb.FsyncResponse, error) {
	if err := r.s.Fsync(ctx, req.Path, req.FileId, req.ClientName, pb.BlockFromProto(req.Last)); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.FsyncResponse{}, nil
}

func (r *clientRPC) RenewLease(ctx context.Context, req *pb.RenewLeaseRequest) (*pb.RenewLeaseResponse, error) {
	if err := r.s.RenewLease(ctx, req.ClientName); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RenewLeaseResponse{}, nil
}

func (r *clientRPC) GetBlockLocations(ctx context.Context, req *pb.GetBlockLocationsRequest) (*pb.GetBlockLocationsResponse, error) {
	st, err := r.s.GetBlockLocations(ctx, req.Path, req.Offset, req.Length, peerHost(ctx, req.ClientHost))
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.GetBlockLocationsResponse{File: r.fileStatusWithTokens(ctx, st)}, nil
}

func (r *clientRPC) GetFileInfo(ctx context.Context, req *pb.GetFileInfoRequest) (*pb.GetFileInfoResponse, error) {
	host := ""
	if req.WithBlocks {
		host = peerHost(ctx, "")
	}
	st, err := r.s.GetFileInfoWith(ctx, req.Path, StatOptions{Blocks: req.WithBlocks, ClientHost: host, XAttrs: req.WithXattrs})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.GetFileInfoResponse{File: r.fileStatusWithTokens(ctx, st)}, nil
}

func (r *clientRPC) ListDir(ctx context.Context, req *pb.ListDirRequest) (*pb.ListDirResponse, error) {
	entries, more, err := r.s.ListDirWith(ctx, req.Path, req.StartAfter, int(req.Limit), StatOptions{Blocks: req.WithBlocks, XAttrs: req.WithXattrs})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	resp := &pb.ListDirResponse{Entries: make([]*pb.FileInfo, len(entries)), HasMore: more}
	for i, e := range entries {
		resp.Entries[i] = r.fileStatusWithTokens(ctx, e)
	}
	return resp, nil
}

func (r *clientRPC) Mkdirs(ctx context.Context, req *pb.MkdirsRequest) (*pb.MkdirsResponse, error) {
	owner, group := ownerOf(ctx, req.Owner, req.Group)
	st, err := r.s.Mkdirs(ctx, req.Path, pb.FileMode(req.Mode), req.Parents, owner, group)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.MkdirsResponse{Dir: fileStatusToProto(st)}, nil
}

func (r *clientRPC) Rename(ctx context.Context, req *pb.RenameRequest) (*pb.RenameResponse, error) {
	dst, err := r.s.Rename(ctx, req.Src, req.Dst, RenameOptions{Overwrite: req.Overwrite, Exact: req.Exact, ReplaceFileID: req.ReplaceFileId})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RenameResponse{Dst: dst}, nil
}

func (r *clientRPC) Delete(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	if err := r.s.DeleteUnless(ctx, req.Path, req.Recursive, req.UnlessXattr); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.DeleteResponse{}, nil
}

func (r *clientRPC) Concat(ctx context.Context, req *pb.ConcatRequest) (*pb.ConcatResponse, error) {
	if err := r.s.Concat(ctx, req.Target, req.Srcs); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.ConcatResponse{}, nil
}

func (r *clientRPC) SetReplication(ctx context.Context, req *pb.SetReplicationRequest) (*pb.SetReplicationResponse, error) {
	n, err := r.s.SetReplication(ctx, req.Path, int(req.Replication), req.Recursive)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SetReplicationResponse{Files: n}, nil
}

func (r *clientRPC) SetPermission(ctx context.Context, req *pb.SetPermissionRequest) (*pb.SetPermissionResponse, error) {
	if err := r.s.SetPermission(ctx, req.Path, pb.FileMode(req.Mode)); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SetPermissionResponse{}, nil
}

func (r *clientRPC) SetOwner(ctx context.Context, req *pb.SetOwnerRequest) (*pb.SetOwnerResponse, error) {
	if err := r.s.SetOwner(ctx, req.Path, req.Owner, req.Group); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SetOwnerResponse{}, nil
}

func (r *clientRPC) SetTimes(ctx context.Context, req *pb.SetTimesRequest) (*pb.SetTimesResponse, error) {
	var mtime time.Time
	if req.MtimeUnixNano != 0 {
		mtime = time.Unix(0, req.MtimeUnixNano)
	}
	if err := r.s.SetTimes(ctx, req.Path, mtime); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SetTimesResponse{}, nil
}

func (r *clientRPC) GetContentSummary(ctx context.Context, req *pb.GetContentSummaryRequest) (*pb.GetContentSummaryResponse, error) {
	cs, err := r.s.GetContentSummary(ctx, req.Path)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return pb.ContentSummaryToProto(cs), nil
}

func (r *clientRPC) ReportBadBlocks(ctx context.Context, req *pb.ReportBadBlocksRequest) (*pb.ReportBadBlocksResponse, error) {
	bad := make([]BadBlock, len(req.Blocks))
	for i, b := range req.Blocks {
		bad[i] = BadBlock{Block: pb.BlockFromProto(b.Block), Node: cairn.NodeID(b.NodeId), Reason: b.Reason}
	}
	if err := r.s.ReportBadBlocks(ctx, bad); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.ReportBadBlocksResponse{}, nil
}

// The admin methods of ClientProtocol are deprecated: AdminProtocol
// (rpc_admin.go) serves them; these answer clients built before it.

func (r *clientRPC) GetDatanodeReport(ctx context.Context, req *pb.GetDatanodeReportRequest) (*pb.GetDatanodeReportResponse, error) {
	return (&adminRPC{s: r.s}).GetDatanodeReport(ctx, req)
}

func (r *clientRPC) Fsck(ctx context.Context, req *pb.FsckRequest) (*pb.FsckResponse, error) {
	return (&adminRPC{s: r.s}).Fsck(ctx, req)
}

func (r *clientRPC) SafeMode(ctx context.Context, req *pb.SafeModeRequest) (*pb.SafeModeResponse, error) {
	return (&adminRPC{s: r.s}).SafeMode(ctx, req)
}

func (r *clientRPC) Decommission(ctx context.Context, req *pb.DecommissionRequest) (*pb.DecommissionResponse, error) {
	return (&adminRPC{s: r.s}).Decommission(ctx, req)
}

func (r *clientRPC) Recommission(ctx context.Context, req *pb.RecommissionRequest) (*pb.RecommissionResponse, error) {
	return (&adminRPC{s: r.s}).Recommission(ctx, req)
}

func (r *clientRPC) SetXAttr(ctx context.Context, req *pb.SetXAttrRequest) (*pb.SetXAttrResponse, error) {
	attrs := make([]xattr, len(req.Xattrs))
	for i, x := range req.Xattrs {
		attrs[i] = xattr{name: x.GetName(), value: string(x.GetValue())}
	}
	if err := r.s.SetXAttrs(ctx, req.Path, attrs, req.Create, req.Replace); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.SetXAttrResponse{}, nil
}

func (r *clientRPC) GetXAttrs(ctx context.Context, req *pb.GetXAttrsRequest) (*pb.GetXAttrsResponse, error) {
	m, err := r.s.GetXAttrs(ctx, req.Path, req.Names)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.GetXAttrsResponse{Xattrs: pb.XAttrsToProto(m)}, nil
}

func (r *clientRPC) ListXAttrs(ctx context.Context, req *pb.ListXAttrsRequest) (*pb.ListXAttrsResponse, error) {
	names, err := r.s.ListXAttrs(ctx, req.Path)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.ListXAttrsResponse{Names: names}, nil
}

func (r *clientRPC) RemoveXAttr(ctx context.Context, req *pb.RemoveXAttrRequest) (*pb.RemoveXAttrResponse, error) {
	if err := r.s.RemoveXAttr(ctx, req.Path, req.Name); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.RemoveXAttrResponse{}, nil
}

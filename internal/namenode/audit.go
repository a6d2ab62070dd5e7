package namenode

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn/internal/audit"
	pb "github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/token"
)

// The audit log (Config.AuditLog) has a line for each namespace
// operation a client asks for, as HDFS's FSNamesystem audits them:
// operations that succeed (allowed=true) and those refused for want of
// permission or of authentication (allowed=false). Other failures (a
// missing file, a NameNode that does not lead) are not audited, as in
// HDFS. Block-level calls of a writer (AddBlock, Complete, Fsync,
// pipeline updates), lease renewals, the DataNode protocol, Raft
// traffic and HAStatus are not namespace operations and are not
// audited. Package audit formats and writes the lines, off the
// request's path; this file decides what a line says.

// auditOp is how an audited gRPC method is described: its HDFS command
// name and a function that fills an event's paths and resulting
// permission from the request and, when the call succeeded, its
// response (nil when refused).
type auditOp struct {
	cmd  string
	fill func(s *Server, e audit.Event, req, resp any) audit.Event
}

// auditor audits the calls of one NameNode's gRPC server.
type auditor struct {
	s    *Server
	log  *audit.Logger
	ops  map[string]auditOp // by gRPC full method name
	auth string             // how callers are established: TOKEN in secure mode, else SIMPLE
}

func newAuditor(s *Server, log *audit.Logger) *auditor {
	path := func(get func(req any) string) func(*Server, audit.Event, any, any) audit.Event {
		return func(_ *Server, e audit.Event, req, _ any) audit.Event { e.Src = get(req); return e }
	}
	// withPerm names the path and, when the call succeeded, the
	// permission the path has after it.
	withPerm := func(get func(req any) string) func(*Server, audit.Event, any, any) audit.Event {
		return func(s *Server, e audit.Event, req, resp any) audit.Event {
			e.Src = get(req)
			if resp != nil {
				s.auditPerm(&e, e.Src)
			}
			return e
		}
	}
	fromInfo := func(e *audit.Event, fi *pb.FileInfo) {
		if fi != nil {
			e.HasPerm, e.Owner, e.Group, e.Mode = true, fi.Owner, fi.Group, fs.FileMode(fi.Mode).Perm()
		}
	}
	ops := map[string]auditOp{
		pb.ClientProtocol_Create_FullMethodName: {"create", func(_ *Server, e audit.Event, req, resp any) audit.Event {
			e.Src = req.(*pb.CreateRequest).Path
			if r, ok := resp.(*pb.CreateResponse); ok {
				fromInfo(&e, r.File)
			}
			return e
		}},
		pb.ClientProtocol_Mkdirs_FullMethodName: {"mkdirs", func(_ *Server, e audit.Event, req, resp any) audit.Event {
			e.Src = req.(*pb.MkdirsRequest).Path
			if r, ok := resp.(*pb.MkdirsResponse); ok {
				fromInfo(&e, r.Dir)
			}
			return e
		}},
		pb.ClientProtocol_GetBlockLocations_FullMethodName: {"open", path(func(r any) string { return r.(*pb.GetBlockLocationsRequest).Path })},
		pb.ClientProtocol_GetFileInfo_FullMethodName:       {"getfileinfo", path(func(r any) string { return r.(*pb.GetFileInfoRequest).Path })},
		pb.ClientProtocol_ListDir_FullMethodName:           {"listStatus", path(func(r any) string { return r.(*pb.ListDirRequest).Path })},
		pb.ClientProtocol_Rename_FullMethodName: {"rename", func(s *Server, e audit.Event, req, resp any) audit.Event {
			r := req.(*pb.RenameRequest)
			e.Src, e.Dst = r.Src, r.Dst
			if rr, ok := resp.(*pb.RenameResponse); ok {
				dst := rr.Dst
				if dst == "" {
					dst = r.Dst
				}
				s.auditPerm(&e, dst)
			}
			return e
		}},
		pb.ClientProtocol_Delete_FullMethodName:            {"delete", path(func(r any) string { return r.(*pb.DeleteRequest).Path })},
		pb.ClientProtocol_SetReplication_FullMethodName:    {"setReplication", path(func(r any) string { return r.(*pb.SetReplicationRequest).Path })},
		pb.ClientProtocol_SetPermission_FullMethodName:     {"setPermission", withPerm(func(r any) string { return r.(*pb.SetPermissionRequest).Path })},
		pb.ClientProtocol_SetOwner_FullMethodName:          {"setOwner", withPerm(func(r any) string { return r.(*pb.SetOwnerRequest).Path })},
		pb.ClientProtocol_SetTimes_FullMethodName:          {"setTimes", withPerm(func(r any) string { return r.(*pb.SetTimesRequest).Path })},
		pb.ClientProtocol_GetContentSummary_FullMethodName: {"contentSummary", path(func(r any) string { return r.(*pb.GetContentSummaryRequest).Path })},
		pb.ClientProtocol_SetXAttr_FullMethodName:          {"setXAttr", withPerm(func(r any) string { return r.(*pb.SetXAttrRequest).Path })},
		pb.ClientProtocol_GetXAttrs_FullMethodName:         {"getXAttrs", path(func(r any) string { return r.(*pb.GetXAttrsRequest).Path })},
		pb.ClientProtocol_ListXAttrs_FullMethodName:        {"listXAttrs", path(func(r any) string { return r.(*pb.ListXAttrsRequest).Path })},
		pb.ClientProtocol_RemoveXAttr_FullMethodName:       {"removeXAttr", withPerm(func(r any) string { return r.(*pb.RemoveXAttrRequest).Path })},
		pb.ClientProtocol_Concat_FullMethodName: {"concat", func(s *Server, e audit.Event, req, resp any) audit.Event {
			r := req.(*pb.ConcatRequest)
			// As HDFS: src is Java's Arrays.toString of the sources.
			e.Src, e.Dst = "["+strings.Join(r.Srcs, ", ")+"]", r.Target
			if resp != nil {
				s.auditPerm(&e, r.Target)
			}
			return e
		}},
	}
	// The administrator's calls, on AdminProtocol and (deprecated) on
	// ClientProtocol.
	admin := map[string]auditOp{
		"GetDatanodeReport": {"datanodeReport", func(_ *Server, e audit.Event, _, _ any) audit.Event { return e }},
		"Fsck":              {"fsck", path(func(r any) string { return r.(*pb.FsckRequest).Path })},
		"SafeMode":          {"safemode", func(_ *Server, e audit.Event, _, _ any) audit.Event { return e }},
		"Decommission":      {"decommission", path(func(r any) string { return r.(*pb.DecommissionRequest).Node })},
		"Recommission":      {"recommission", path(func(r any) string { return r.(*pb.RecommissionRequest).Node })},
	}
	for name, op := range admin {
		ops["/cairn.v1.ClientProtocol/"+name] = op
		ops["/cairn.v1.AdminProtocol/"+name] = op
	}
	// Tokens, by HDFS's names for its delegation tokens' calls: the
	// user a token is made for and its ID, never the token itself.
	ops[pb.AdminProtocol_CreateToken_FullMethodName] = auditOp{"getDelegationToken", func(_ *Server, e audit.Event, req, resp any) audit.Event {
		e.Src = req.(*pb.CreateTokenRequest).User
		if r, ok := resp.(*pb.CreateTokenResponse); ok {
			e.Src, e.Dst = r.User, r.Id
		}
		return e
	}}
	ops[pb.AdminProtocol_RevokeToken_FullMethodName] = auditOp{"cancelDelegationToken", func(_ *Server, e audit.Event, req, _ any) audit.Event {
		e.Src = tokenIDOf(req.(*pb.RevokeTokenRequest).Token)
		return e
	}}
	ops[pb.AdminProtocol_HAAddMember_FullMethodName] = auditOp{"haAddMember", path(func(r any) string { return r.(*pb.HAAddMemberRequest).Address })}
	ops[pb.AdminProtocol_HARemoveMember_FullMethodName] = auditOp{"haRemoveMember", path(func(r any) string { return r.(*pb.HARemoveMemberRequest).Address })}
	ops[pb.AdminProtocol_HATransferLeadership_FullMethodName] = auditOp{"haTransferLeadership", path(func(r any) string { return r.(*pb.HATransferLeadershipRequest).Address })}
	auth := "SIMPLE"
	if s.cfg.Security {
		auth = "TOKEN"
	}
	return &auditor{s: s, log: log, ops: ops, auth: auth}
}

// command returns the HDFS command name of a call of op with req:
// safemode_get, safemode_enter and safemode_leave, as HDFS names them,
// for SafeMode.
func (op auditOp) command(req any) string {
	if op.cmd == "safemode" {
		switch a := req.(*pb.SafeModeRequest).Action; a {
		case "get", "enter", "leave":
			return "safemode_" + a
		}
	}
	return op.cmd
}

// refused reports whether err refuses a call for want of permission or
// of authentication.
func refused(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return errors.Is(err, fs.ErrPermission)
}

// interceptor audits the calls of the ops, after identityInterceptor
// has established the caller: a line for each call that succeeds or
// that is refused for want of permission (see refused). Refusals of
// authentication are left to unauthenticated, before
// identityInterceptor, so that they are audited once wherever they
// happen.
func (a *auditor) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	op, ok := a.ops[info.FullMethod]
	if !ok {
		return handler(ctx, req)
	}
	resp, err := handler(ctx, req)
	if err == nil {
		a.allowed(ctx, op, req, resp)
	} else if refused(err) && status.Code(err) != codes.Unauthenticated {
		a.refusal(ctx, op, req)
	}
	return resp, err
}

// allowed and refusal log a call's line. They are apart from the
// interceptors, and not inlined, so that the event is not in the frames
// that are on the stack while the call runs: a bigger stack there made
// the runtime grow more goroutines' stacks, which cost more than the
// audit log itself.
//
//go:noinline
func (a *auditor) allowed(ctx context.Context, op auditOp, req, resp any) {
	e := audit.Event{Time: a.s.now(), Allowed: true, Auth: a.auth, Cmd: op.command(req), IP: peerIP(ctx)}
	if c, ok := CallerFrom(ctx); ok {
		e.User = c.User
	}
	a.log.Log(op.fill(a.s, e, req, resp))
}

//go:noinline
func (a *auditor) refusal(ctx context.Context, op auditOp, req any) {
	e := audit.Event{Time: a.s.now(), Auth: a.auth, Cmd: op.command(req), IP: peerIP(ctx)}
	if c, ok := CallerFrom(ctx); ok {
		e.User = c.User
	}
	a.log.Log(op.fill(a.s, e, req, nil))
}

// unauthenticated audits, before identityInterceptor, the calls of the
// ops refused with codes.Unauthenticated, as allowed=false with the user
// the call claims (not established), if any.
func (a *auditor) unauthenticated(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil && status.Code(err) == codes.Unauthenticated {
		a.unauthenticatedLine(ctx, info, req)
	}
	return resp, err
}

//go:noinline
func (a *auditor) unauthenticatedLine(ctx context.Context, info *grpc.UnaryServerInfo, req any) {
	op, ok := a.ops[info.FullMethod]
	if !ok {
		return
	}
	e := audit.Event{Time: a.s.now(), Auth: a.auth, Cmd: op.command(req), IP: peerIP(ctx)}
	md, _ := metadata.FromIncomingContext(ctx)
	if c, ok, cerr := pb.CallerFromMetadata(md); ok && cerr == nil {
		e.User = c.User
	}
	a.log.Log(op.fill(a.s, e, req, nil))
}

// peerIP is the caller's IP address, if known.
func peerIP(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return netip.Addr{}
	}
	if t, ok := p.Addr.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// auditPerm sets e's resulting permission to the owner, group and mode
// p has now, if it exists.
func (s *Server) auditPerm(e *audit.Event, p string) {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookup(p)
	if err != nil {
		return
	}
	e.HasPerm, e.Owner, e.Group, e.Mode = true, s.ns.strs[n.owner], s.ns.strs[n.group], fs.FileMode(n.mode).Perm()
}

// tokenIDOf is what the audit log names a token by: its ID, from an ID
// or a token's wire form, never the secret-bearing token itself.
func tokenIDOf(s string) string {
	if t, err := token.Parse(s); err == nil {
		return t.ID.String()
	}
	if id, err := token.ParseID(s); err == nil {
		return id.String()
	}
	return "invalid"
}

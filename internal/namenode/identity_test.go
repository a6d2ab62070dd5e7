package namenode

import (
	"context"
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/cairn-fs/cairn/internal/protocol"
)

func TestCallerIdentity(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	c, dn, _ := serve(t, s, ctx)
	if _, err := dn.Register(bg, &pb.RegisterRequest{NodeId: "dn", Addr: "127.0.0.1:9866", ClusterId: string(s.ClusterID()),
		Storage: &pb.StorageReport{CapacityBytes: 1 << 40, RemainingBytes: 1 << 40}}); err != nil {
		t.Fatal(err)
	}
	as := func(kv ...string) context.Context { return metadata.AppendToOutgoingContext(bg, kv...) }
	if _, err := s.Mkdirs(bg, "/bob", 0o755, false, "bob", "users"); err != nil {
		t.Fatal(err)
	}

	// The caller named in the metadata owns what it creates, whatever
	// the body says; its group is the body's if the caller is in it
	// (as this host knows its groups: not the ones it claims), else
	// the parent directory's, as HDFS's.
	cr, err := c.Create(as(pb.MetadataUser, "bob", pb.MetadataGroups, "wheel"), &pb.CreateRequest{Path: "/bob/f", ClientName: "cl", CreateParent: true, Owner: "mallory", Mode: 0o644, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	if cr.File.Owner != "bob" || cr.File.Group != "users" {
		t.Errorf("Create as bob: owner %q group %q, want bob users", cr.File.Owner, cr.File.Group)
	}
	md, err := c.Mkdirs(as(pb.MetadataUser, "bob"), &pb.MkdirsRequest{Path: "/bob/d", Owner: "mallory", Group: "ops", Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if md.Dir.Owner != "bob" || md.Dir.Group != "ops" {
		t.Errorf("Mkdirs as bob: owner %q group %q, want bob ops", md.Dir.Owner, md.Dir.Group)
	}
	md, err = c.Mkdirs(as(pb.MetadataUser, "bob", pb.MetadataGroups, "staff"), &pb.MkdirsRequest{Path: "/bob/e", Group: "staff", Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if md.Dir.Group != "users" {
		t.Errorf("Mkdirs as bob of a directory of group staff, which bob is not in: group %q, want the parent's (users)", md.Dir.Group)
	}
	// A call that names no one: the body's owner, as before.
	md, err = c.Mkdirs(bg, &pb.MkdirsRequest{Path: "/anon", Owner: "carol", Group: "g", Mode: 0o755})
	if err != nil || md.Dir.Owner != "carol" {
		t.Fatalf("Mkdirs without identity = %v, %v; want owner carol", md, err)
	}
	// A malformed identity is refused, and nothing is created.
	for _, kv := range [][]string{
		{pb.MetadataUser, "bob,root"},
		{pb.MetadataUser, ""},
		{pb.MetadataUser, "bob", pb.MetadataGroups, "eng,,ops"},
		{pb.MetadataUser, "a", pb.MetadataUser, "b"},
	} {
		_, err := c.Mkdirs(as(kv...), &pb.MkdirsRequest{Path: "/bad", Mode: 0o755})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Mkdirs with metadata %q: %v, want InvalidArgument", kv, err)
		}
	}
	if fi, err := c.GetFileInfo(bg, &pb.GetFileInfoRequest{Path: "/bad"}); err == nil && fi.GetFile() != nil {
		t.Errorf("a refused Mkdirs created /bad")
	}
}

func TestMutateRecordsTheCaller(t *testing.T) {
	// The identity of a request travels in the log entry of the change
	// it makes, for checks at apply time; a change of the NameNode's
	// own (no identity in its context) names no one.
	s := newServer(t)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	c, _, _ := serve(t, s, ctx)
	last := func() command {
		t.Helper()
		i, err := s.rn.wal.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		var l raft.Log
		if err := s.rn.wal.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		cmd, err := decodeCommand(l.Data)
		if err != nil {
			t.Fatalf("last log entry: %v", err)
		}
		return cmd
	}
	if _, err := s.Mkdirs(bg, "/home", 0o755, false, "bob", "users"); err != nil {
		t.Fatal(err)
	}
	md := metadata.AppendToOutgoingContext(bg, pb.MetadataUser, "bob", pb.MetadataGroups, "eng,ops")
	if _, err := c.Mkdirs(md, &pb.MkdirsRequest{Path: "/home/bob", Parents: true, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if cmd := last(); cmd.op != opMkdirs || cmd.caller != "bob" || !slices.Equal(cmd.callerGroups, []string{"eng", "ops"}) {
		t.Errorf("log entry of bob's mkdirs: op %v caller %q groups %q", cmd.op, cmd.caller, cmd.callerGroups)
	}
	if _, err := s.Mkdirs(bg, "/own", 0o755, false, "hdfs", "supergroup"); err != nil {
		t.Fatal(err)
	}
	if cmd := last(); cmd.op != opMkdirs || cmd.caller != "" || cmd.callerGroups != nil {
		t.Errorf("log entry of a change without identity: caller %q groups %q, want none", cmd.caller, cmd.callerGroups)
	}
}

package namenode

import (
	"errors"
	"testing"

	"github.com/cairn-fs/cairn/internal/blocktoken"
	pb "github.com/cairn-fs/cairn/internal/protocol"
)

// In secure mode the NameNode's answers carry block tokens for the
// caller that a DataNode, with the keys of the NameNode's Register
// and Heartbeat answers, accepts for the access each answer is for;
// outside it, none.
func TestBlockTokensInAnswers(t *testing.T) {
	for _, secure := range []bool{false, true} {
		cfg := testConfig(t.TempDir())
		cfg.Security = secure
		s := startServer(t, cfg)
		nodes := registerNodes(t, s, 3)
		writeFile(t, s, "/f", "writer", 100, 200)
		rc := &clientRPC{s: s}
		dr := &datanodeRPC{s: s}
		ctx := WithCaller(bg, pb.Caller{User: "alice"})

		reg, err := dr.Register(bg, &pb.RegisterRequest{NodeId: string(nodes[0].id), Addr: nodes[0].addr})
		if err != nil {
			t.Fatal(err)
		}
		hb, err := dr.Heartbeat(bg, &pb.HeartbeatRequest{NodeId: string(nodes[0].id)})
		if err != nil {
			t.Fatal(err)
		}
		if reg.BlockTokens != secure || (len(reg.BlockKeys) > 0) != secure || (len(hb.BlockKeys) > 0) != secure {
			t.Fatalf("secure %v: Register says block tokens %v with %d keys, Heartbeat %d keys", secure, reg.BlockTokens, len(reg.BlockKeys), len(hb.BlockKeys))
		}
		v := blocktoken.NewVerifier(nil)
		v.Update(pb.BlockKeysFromProto(hb.BlockKeys))

		loc, err := rc.GetBlockLocations(ctx, &pb.GetBlockLocationsRequest{Path: "/f"})
		if err != nil {
			t.Fatal(err)
		}
		if len(loc.File.Blocks) != 2 {
			t.Fatalf("GetBlockLocations gave %d blocks, want 2", len(loc.File.Blocks))
		}
		for i, lb := range loc.File.Blocks {
			if !secure {
				if len(lb.BlockToken) != 0 {
					t.Fatalf("a block token outside secure mode")
				}
				continue
			}
			tok, err := v.Verify(lb.BlockToken, string(s.ClusterID()), lb.Block.Id, blocktoken.Read)
			if err != nil || tok.User != "alice" {
				t.Fatalf("block %d's token: %+v, %v; want a READ token for alice", i, tok, err)
			}
			if _, err := v.Verify(lb.BlockToken, string(s.ClusterID()), lb.Block.Id, blocktoken.Write); !errors.Is(err, blocktoken.ErrWrongMode) {
				t.Fatalf("a READ token allows a write: %v", err)
			}
		}
		if !secure {
			continue
		}
		if _, err := s.Mkdirs(bg, "/alice", 0o755, false, "alice", "staff"); err != nil {
			t.Fatal(err)
		}
		cr, err := rc.Create(ctx, &pb.CreateRequest{Path: "/alice/g", ClientName: "w2"})
		if err != nil {
			t.Fatal(err)
		}
		ab, err := rc.AddBlock(ctx, &pb.AddBlockRequest{Path: "/alice/g", FileId: cr.File.FileId, ClientName: "w2"})
		if err != nil {
			t.Fatal(err)
		}
		id := ab.Block.Block.Id
		if _, err := v.Verify(ab.Block.BlockToken, string(s.ClusterID()), id, blocktoken.Write); err != nil {
			t.Fatalf("AddBlock's token: %v", err)
		}
		up, err := rc.UpdateBlockForPipeline(ctx, &pb.UpdateBlockForPipelineRequest{Path: "/g", FileId: cr.File.FileId, ClientName: "w2", Block: ab.Block.Block})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(up.BlockToken, string(s.ClusterID()), id, blocktoken.Write|blocktoken.Copy); err != nil {
			t.Fatalf("UpdateBlockForPipeline's token: %v", err)
		}
		// A Create with its first block gives it as AddBlock does.
		cb, err := rc.Create(ctx, &pb.CreateRequest{Path: "/alice/h", ClientName: "w2", AllocateBlock: true})
		if err != nil {
			t.Fatal(err)
		}
		if cb.Block == nil || len(cb.Block.Locations) != 3 || len(cb.File.Blocks) != 0 {
			t.Fatalf("Create(allocate_block) = %v; want the block apart from the file, on 3 nodes", cb)
		}
		tok, err := v.Verify(cb.Block.BlockToken, string(s.ClusterID()), cb.Block.Block.Id, blocktoken.Write)
		if err != nil || tok.User != "alice" {
			t.Fatalf("Create's first block's token: %+v, %v; want a WRITE token for alice", tok, err)
		}
	}
}

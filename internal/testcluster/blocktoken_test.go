package testcluster_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/testcluster"
	"github.com/cairn-fs/cairn/internal/transport"
)

// The tests of this file run a cluster in secure mode
// (Options.BlockTokens): nodes present a certificate, clients present
// none and get block access tokens from the NameNode.

// locate asks the NameNode, as a client over TLS, for the blocks of p
// with their tokens.
func locate(t *testing.T, c *testcluster.Cluster, p string) []cairn.LocatedBlock {
	t.Helper()
	cc, err := transport.Config{TLS: c.ClientTLS()}.NewGRPCClient(c.NameNodeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, protocol.MetadataAuthorization, "Bearer "+c.RootToken(t))
	resp, err := protocol.NewClientProtocolClient(cc).GetBlockLocations(ctx, &protocol.GetBlockLocationsRequest{Path: p})
	if err != nil {
		t.Fatalf("GetBlockLocations(%q): %v", p, err)
	}
	var out []cairn.LocatedBlock
	for _, lb := range resp.File.Blocks {
		out = append(out, protocol.LocatedBlockFromProto(lb))
	}
	return out
}

// rawOp sends one operation to the DataNode at addr over tc, and
// returns the error its answer holds (nil: success) and how many bytes
// it sent after the answer before it closed the connection (stopping
// at 1 MiB).
func rawOp(t *testing.T, tc transport.Config, addr string, op datatransfer.Op, msg proto.Message) (error, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tc.DialContext(ctx, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := datatransfer.WriteOp(conn, op, msg); err != nil {
		t.Fatalf("WriteOp: %v", err)
	}
	br := bufio.NewReader(conn)
	var st *protocol.Status
	if op == datatransfer.OpRecoverBlock {
		var resp protocol.ReplicaRecoveryResponse
		if err := datatransfer.ReadMessage(br, &resp); err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		st = resp.Status
	} else {
		resp, err := datatransfer.ReadResponse(br)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		st = resp.Status
	}
	serr := protocol.ErrorFromStatus("raw", "", st)
	if serr == nil {
		return nil, 0
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(br, 1<<20))
	return serr, n
}

// readOp is an OpReadBlock of the first n bytes of lb with token.
func readOp(lb cairn.LocatedBlock, n int64, token []byte) *protocol.OpReadBlock {
	return &protocol.OpReadBlock{Block: protocol.BlockToProto(lb.Block), Length: n, ClientName: "raw", BlockToken: token}
}

// TestBlockTokens writes and reads a file through a client, then
// talks to a DataNode's data port directly: it refuses, before any
// byte of the block, whoever comes without a valid token for the
// operation, and serves a node by its certificate.
func TestBlockTokens(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{BlockTokens: true, DataNodes: 3})
	cl := c.Client(t)
	data := putFile(t, cl, "/sec/f", 3*healBlock+1000)
	checkFile(t, cl, "/sec/f", data)
	// ReadAt, from the middle of the second block into the third.
	r, err := cl.Open(context.Background(), "/sec/f")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, healBlock)
	if _, err := r.ReadAt(p, healBlock+healBlock/2); err != nil || !bytes.Equal(p, data[healBlock+healBlock/2:][:healBlock]) {
		t.Fatalf("ReadAt = %v, or the bytes differ", err)
	}
	r.Close()

	lbs := locate(t, c, "/sec/f")
	if len(lbs) != 4 {
		t.Fatalf("%d blocks, want 4", len(lbs))
	}
	lb, other := lbs[0], lbs[1]
	if len(lb.Token) == 0 {
		t.Fatalf("GetBlockLocations gave no block token in secure mode")
	}
	addr := lb.Locations[0].Addr
	clientTC := transport.Config{TLS: c.ClientTLS()}
	forged := bytes.Clone(lb.Token)
	forged[len(forged)-1] ^= 1
	for _, tc := range []struct {
		name string
		tc   transport.Config
		op   datatransfer.Op
		msg  proto.Message
		want string // "" for success
	}{
		{"a read without a token is refused", clientTC, datatransfer.OpReadBlock, readOp(lb, 100, nil), "missing block token"},
		{"a read with a token for another block is refused", clientTC, datatransfer.OpReadBlock, readOp(lb, 100, other.Token), "another block"},
		{"a read with a forged token is refused", clientTC, datatransfer.OpReadBlock, readOp(lb, 100, forged), "bad block token signature"},
		{"a write with a READ token is refused", clientTC, datatransfer.OpWriteBlock,
			&protocol.OpWriteBlock{Block: protocol.BlockToProto(cairn.Block{ID: lb.Block.ID, GenStamp: lb.Block.GenStamp + 1}), ClientName: "raw", BlockToken: lb.Token}, "does not grant"},
		{"a transfer with a READ token is refused", clientTC, datatransfer.OpTransferBlock,
			&protocol.OpTransferBlock{Block: protocol.BlockToProto(lb.Block), Targets: protocol.DatanodesToProto(lb.Locations[1:2]), NewGenStamp: uint64(lb.Block.GenStamp) + 1, BlockToken: lb.Token}, "does not grant"},
		{"a block synchronization from a client is refused", clientTC, datatransfer.OpRecoverBlock,
			&protocol.OpRecoverBlock{Block: protocol.BlockToProto(lb.Block), NewGenStamp: uint64(lb.Block.GenStamp) + 1, NewLength: -1}, "for nodes only"},
		{"a read with its token is served", clientTC, datatransfer.OpReadBlock, readOp(lb, 100, lb.Token), ""},
		{"a node's read without a token is served", c.NodeTransport(), datatransfer.OpReadBlock, readOp(lb, 100, nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, n := rawOp(t, tc.tc, addr, tc.op, tc.msg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("answer %v (kind %v), want a refusal of kind Unauthenticated saying %q", err, cairn.KindOf(err), tc.want)
			}
			if n != 0 {
				t.Fatalf("the refusal was followed by %d bytes", n)
			}
		})
	}
	// The client package's reader sees the refusal as Unauthenticated.
	_, err = datatransfer.Options{Transport: clientTC}.ReadBlock(context.Background(), lb.Locations[0], lb.Block, 0, 100, "raw")
	if cairn.KindOf(err) != cairn.Unauthenticated {
		t.Fatalf("ReadBlock without a token = %v, want kind Unauthenticated", err)
	}
}

// An expired token is refused; a client holding expired tokens fetches
// new ones and reads on.
func TestBlockTokenExpiry(t *testing.T) {
	const life = 2 * time.Second
	c := testcluster.Start(t, testcluster.Options{BlockTokens: true, DataNodes: 3, NameNode: func(cfg *namenode.Config) {
		cfg.BlockTokenLifetime = life
	}})
	cl := c.Client(t)
	data := putFile(t, cl, "/sec/e", 2*healBlock+10)
	lb := locate(t, c, "/sec/e")[0]
	r, err := cl.Open(context.Background(), "/sec/e") // its tokens are fetched now
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.Sleep(life + 500*time.Millisecond)
	err, _ = rawOp(t, transport.Config{TLS: c.ClientTLS()}, lb.Locations[0].Addr, datatransfer.OpReadBlock, readOp(lb, 100, lb.Token))
	if cairn.KindOf(err) != cairn.Unauthenticated || !strings.Contains(err.Error(), "expired block token") {
		t.Fatalf("read with an expired token: %v, want a refusal saying it expired", err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading with expired tokens: %v (%d bytes of %d)", err, len(got), len(data))
	}
}

// After the NameNode moves to a new key, tokens of the previous one
// are still good until they expire, and the new key's tokens are good
// at once.
func TestBlockKeyRotation(t *testing.T) {
	const interval = time.Second
	c := testcluster.Start(t, testcluster.Options{BlockTokens: true, DataNodes: 3, NameNode: func(cfg *namenode.Config) {
		cfg.BlockKeyUpdateInterval = interval
	}})
	cl := c.Client(t)
	putFile(t, cl, "/sec/k", 1000)
	before := locate(t, c, "/sec/k")[0]
	var after cairn.LocatedBlock
	oldKey, _, _, _ := blocktoken.Parse(before.Token)
	c.WaitFor(t, "a new block key", func(context.Context) (bool, error) {
		after = locate(t, c, "/sec/k")[0]
		k, _, _, _ := blocktoken.Parse(after.Token)
		return k.KeyID != oldKey.KeyID, nil
	})
	tc := transport.Config{TLS: c.ClientTLS()}
	for _, lb := range []cairn.LocatedBlock{before, after} {
		for _, node := range lb.Locations {
			if err, _ := rawOp(t, tc, node.Addr, datatransfer.OpReadBlock, readOp(lb, 100, lb.Token)); err != nil {
				t.Errorf("read on %s: %v", node.Addr, err)
			}
		}
	}
}

// Re-replication is between nodes, which their certificates admit: a
// block of a stopped DataNode gets its third replica again.
func TestBlockTokensHeal(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{BlockTokens: true, DataNodes: 4})
	cl := c.Client(t)
	data := putFile(t, cl, "/sec/h", 2*healBlock+100)
	victim := locations(t, c, "/sec/h")[0][0]
	c.StopDataNode(t, victim)
	c.WaitFor(t, "the stopped node to be dead", func(ctx context.Context) (bool, error) {
		return stateOf(ctx, cl, c.DataNodeAddr(victim)) == "dead", nil
	})
	c.WaitFor(t, "every block back at 3 live replicas", func(ctx context.Context) (bool, error) {
		return replicated(ctx, cl, "/sec/h", 3)
	})
	checkFile(t, cl, "/sec/h", data)
}

package datanode

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/transport/transporttest"
)

// TestPipelineOverTLS writes a block down a pipeline of three
// DataNodes whose Config.Transport is mutual TLS, so that the writer's
// dial, each node's accept loop and each pipeline forward must all go
// through it, and reads it back from each node.
func TestPipelineOverTLS(t *testing.T) {
	tc := transporttest.MutualTLS(t)
	var nodes []*node
	for range 3 {
		nodes = append(nodes, startNodeWith(t, Config{Transport: tc}))
	}
	ctx := context.Background()
	opts := datatransfer.Options{Transport: tc}
	data := randomBytes(3*cairn.PacketSize+777, 7)
	b := cairn.Block{ID: 1 << 21, GenStamp: 1001}
	w, err := opts.NewBlockWriter(ctx, b, pipelineOf(nodes...), "test-client")
	if err != nil {
		t.Fatalf("NewBlockWriter over TLS = %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	b.Len = int64(len(data))
	for i, n := range nodes {
		r, err := opts.ReadBlock(ctx, n.info, b, 0, b.Len, "test-client")
		if err != nil {
			t.Fatalf("node %d: ReadBlock over TLS = %v", i, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("node %d: read %d bytes, %v; want the %d written", i, len(got), err, len(data))
		}
	}
	// A plaintext reader cannot talk to a TLS DataNode.
	if got, err := readBlock(ctx, nodes[0].info, b, 0, b.Len); err == nil {
		t.Fatalf("plaintext ReadBlock from a TLS DataNode read %d bytes", len(got))
	}
}

package client

import (
	"context"
	"errors"
	"io"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/transport"
)

// The data-transfer seam: Writer and Reader reach DataNodes only
// through these functions, which wrap package datatransfer.

// blockWriter is what a Writer needs of one block's pipeline; it is
// implemented by *datatransfer.BlockWriter.
type blockWriter interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
	Abort()
	Acked() int64
	Unacked() []byte
	AckedTail() []byte
}

var _ blockWriter = (*datatransfer.BlockWriter)(nil)

// openPipeline starts streaming a new block down pipeline.
func (c *Client) openPipeline(ctx context.Context, block cairn.Block, pipeline []cairn.DatanodeInfo) (blockWriter, error) {
	bw, err := c.dataOptions().NewBlockWriter(ctx, block, pipeline, c.name)
	if err != nil {
		return nil, err
	}
	return bw, nil
}

// resumePipeline reopens a block at offset (the length acknowledged
// before its pipeline failed) on a recovered pipeline: stage RECOVERY.
// tail are the bytes of the partial chunk before offset, if any, sent
// again so that writing can go on after a Sync.
func (c *Client) resumePipeline(ctx context.Context, block cairn.Block, pipeline []cairn.DatanodeInfo, offset int64, tail []byte) (blockWriter, error) {
	o := c.dataOptions()
	o.Stage = datatransfer.StageRecovery
	o.Offset = offset
	o.Tail = tail
	bw, err := o.NewBlockWriter(ctx, block, pipeline, c.name)
	if err != nil {
		return nil, err
	}
	return bw, nil
}

// transferBlock has source copy the first block.Len bytes of its
// replica to target with generation stamp newGS.
func (c *Client) transferBlock(ctx context.Context, source cairn.DatanodeInfo, block cairn.Block, target cairn.DatanodeInfo, newGS cairn.GenStamp) error {
	return c.dataOptions().TransferBlock(ctx, source, block, []cairn.DatanodeInfo{target}, newGS, c.name)
}

func (c *Client) dataOptions() datatransfer.Options {
	return datatransfer.Options{Timeout: c.dataTimeout, DialTimeout: c.dataTimeout, Recoverable: true, Transport: c.transport}
}

// readBlock streams bytes [offset, offset+length) of a block from node,
// verifying every checksum, on an idle connection of pool if it has one
// (the connection goes back to pool when the read ends cleanly).
func readBlock(ctx context.Context, tc transport.Config, pool *datatransfer.ConnPool, node cairn.DatanodeInfo, block cairn.Block, offset, length int64, clientName string) (io.ReadCloser, error) {
	return datatransfer.Options{Pool: pool, Transport: tc}.ReadBlock(ctx, node, block, offset, length, clientName)
}

// failedNode returns the DataNode a pipeline error blames, if any.
func failedNode(err error) (cairn.DatanodeInfo, bool) {
	var pe *datatransfer.PipelineError
	if errors.As(err, &pe) {
		return pe.Node, true
	}
	return cairn.DatanodeInfo{}, false
}

// blockName names a block in errors, as HDFS does: blk_<id>_<genstamp>.
func blockName(b cairn.Block) string { return datatransfer.BlockName(b) }

package client

import (
	"context"
	"errors"
	"io"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// The data-transfer seam: Writer and Reader reach DataNodes only
// through these functions, which wrap package datatransfer.

// blockWriter is what a Writer needs of one block's pipeline; it is
// implemented by *datatransfer.BlockWriter.
type blockWriter interface {
	Write(p []byte) (int, error)
	Close() error
	Abort()
	Acked() int64
}

var _ blockWriter = (*datatransfer.BlockWriter)(nil)

// openPipeline starts streaming a new block down pipeline.
func openPipeline(ctx context.Context, block cairn.Block, pipeline []cairn.DatanodeInfo, clientName string) (blockWriter, error) {
	bw, err := datatransfer.NewBlockWriter(ctx, block, pipeline, clientName)
	if err != nil {
		return nil, err
	}
	return bw, nil
}

// readBlock streams bytes [offset, offset+length) of a block from node,
// verifying every checksum.
func readBlock(ctx context.Context, node cairn.DatanodeInfo, block cairn.Block, offset, length int64, clientName string) (io.ReadCloser, error) {
	return datatransfer.ReadBlock(ctx, node, block, offset, length, clientName)
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

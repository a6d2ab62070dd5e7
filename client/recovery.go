package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// maxPipelineRecoveries bounds the recoveries of one failure: each
// drops at least one node, so a pipeline cannot need more than its
// width plus the replacements tried.
const maxPipelineRecoveries = 6

// recoverPipeline carries on writing the current block after its
// pipeline failed with cause, as HDFS does:
//
//  1. the node the failure names is dropped (and excluded from later
//     pipelines of this file); the others survive, each holding at
//     least the bytes the whole pipeline acknowledged;
//  2. while the pipeline is narrower than it started, the NameNode is
//     asked for a replacement node (GetAdditionalDatanode);
//  3. the NameNode gives the block a new generation stamp
//     (UpdateBlockForPipeline), so that the dropped node's replica,
//     left with the old one, can never pass for current;
//  4. a survivor copies the acknowledged prefix of its replica to the
//     replacement, under the new generation stamp (TRANSFER_BLOCK);
//  5. a new pipeline of the survivors and the replacement is set up in
//     stage RECOVERY: each node reopens its replica at the acknowledged
//     length with the new generation stamp;
//  6. the NameNode records the new generation stamp and nodes
//     (UpdatePipeline);
//  7. the bytes not acknowledged are sent again, and writing goes on.
//
// A failure during these steps drops the node it names and starts
// again; recovery fails only when no node of the pipeline is left (or
// the NameNode refuses, e.g. the lease was lost). On success w.cur is
// the new pipeline's writer.
func (w *Writer) recoverPipeline(cause error) error {
	bw := w.cur
	for attempt := 1; ; attempt++ {
		bad, ok := failedNode(cause)
		if !ok || w.ctx.Err() != nil {
			return cause
		}
		bw.Abort()
		acked, unacked, tail := bw.Acked(), bw.Unacked(), bw.AckedTail()
		if attempt > maxPipelineRecoveries {
			return fmt.Errorf("pipeline recovery gave up after %d attempts: %w", attempt-1, cause)
		}
		nbw, err := w.recoverOnce(bad, acked, unacked, tail)
		if err == nil {
			w.cur = nbw
			return nil
		}
		var pe *pipelineFailure
		if !errors.As(err, &pe) {
			if cairn.KindOf(cause) == cairn.NoSpace {
				// No DataNode could take over from one whose
				// disk is full: say so (a FUSE mount answers
				// ENOSPC).
				return cairn.E("write", w.path, cairn.NoSpace, fmt.Errorf("%v; last failure: %v", err, cause))
			}
			return err
		}
		cause, bw = pe.err, pe.bw
	}
}

// pipelineFailure is a recovery step that failed because of a
// DataNode: recovery starts again without it. bw is the writer that
// holds the unacknowledged bytes.
type pipelineFailure struct {
	err error
	bw  blockWriter
}

func (e *pipelineFailure) Error() string { return e.err.Error() }

// stalled is the blockWriter of a recovery that failed before a new
// pipeline existed: it holds the bytes still to send.
type stalled struct {
	acked   int64
	unacked []byte
	tail    []byte
}

func (s stalled) Write(p []byte) (int, error) { return 0, errors.New("no pipeline") }
func (s stalled) Sync() error                 { return errors.New("no pipeline") }
func (s stalled) Close() error                { return errors.New("no pipeline") }
func (s stalled) Abort()                      {}
func (s stalled) Acked() int64                { return s.acked }
func (s stalled) Unacked() []byte             { return s.unacked }
func (s stalled) AckedTail() []byte           { return s.tail }

// recoverOnce is one attempt of recoverPipeline without node bad.
func (w *Writer) recoverOnce(bad cairn.DatanodeInfo, acked int64, unacked, tail []byte) (blockWriter, error) {
	old := w.block.Block
	w.exclude = appendUnique(w.exclude, string(bad.ID))
	var survivors []cairn.DatanodeInfo
	for _, n := range w.block.Locations {
		if n.ID != bad.ID {
			survivors = append(survivors, n)
		}
	}
	w.block.Locations = survivors
	if len(survivors) == 0 {
		return nil, fmt.Errorf("every datanode of the pipeline of block %s failed; last: %s", blockName(old), bad.Addr)
	}
	st := stalled{acked: acked, unacked: unacked, tail: tail}
	retry := func(err error) error { return &pipelineFailure{err: err, bw: st} }

	// A replacement, if the NameNode has one.
	var repl *cairn.DatanodeInfo
	if len(survivors) < w.width {
		existing := make([]string, len(survivors))
		for i, n := range survivors {
			existing[i] = string(n.ID)
		}
		resp, err := call(w.ctx, w.c.nn, "write", w.path, &protocol.GetAdditionalDatanodeRequest{
			Path: w.path, FileId: w.fileID, ClientName: w.c.name, Block: protocol.BlockToProto(old),
			Existing: existing, Exclude: w.exclude,
		}, protocol.ClientProtocolClient.GetAdditionalDatanode)
		if err == nil && resp.GetNode() != nil {
			n := protocol.DatanodesFromProto([]*protocol.DatanodeInfo{resp.GetNode()})[0]
			repl = &n
		}
		// Without one, carry on with the survivors: the NameNode
		// re-replicates the block once it is complete.
	}

	resp, err := call(w.ctx, w.c.nn, "write", w.path, &protocol.UpdateBlockForPipelineRequest{
		Path: w.path, FileId: w.fileID, ClientName: w.c.name, Block: protocol.BlockToProto(old),
	}, protocol.ClientProtocolClient.UpdateBlockForPipeline)
	if err != nil {
		return nil, err
	}
	gs := cairn.GenStamp(resp.GetNewGenStamp())
	nb := cairn.Block{ID: old.ID, GenStamp: gs}
	if t := resp.GetBlockToken(); len(t) > 0 {
		// A fresh token (WRITE and COPY) for the recovered
		// pipeline and the copy to the replacement.
		w.block.Token = t
	}

	pipeline := survivors
	if repl != nil {
		// Copy the acknowledged prefix from a survivor. A survivor
		// that fails it is dropped; a replacement that fails it is
		// only left out.
		src := cairn.Block{ID: old.ID, GenStamp: old.GenStamp, Len: acked}
		err := w.c.transferBlock(w.ctx, survivors[0], src, w.block.Token, *repl, gs)
		if err != nil {
			if n, ok := failedNode(err); ok && n.ID == survivors[0].ID {
				return nil, retry(err)
			}
			w.exclude = appendUnique(w.exclude, string(repl.ID))
		} else {
			pipeline = append(slices.Clone(survivors), *repl)
		}
	}

	nbw, err := w.c.resumePipeline(w.ctx, nb, w.block.Token, pipeline, acked, tail)
	if err != nil {
		if _, ok := failedNode(err); ok {
			w.block.Locations = pipeline
			return nil, retry(err)
		}
		return nil, err
	}
	ids := make([]string, len(pipeline))
	for i, n := range pipeline {
		ids[i] = string(n.ID)
	}
	_, err = call(w.ctx, w.c.nn, "write", w.path, &protocol.UpdatePipelineRequest{
		Path: w.path, FileId: w.fileID, ClientName: w.c.name, Block: protocol.BlockToProto(nb), Nodes: ids,
	}, protocol.ClientProtocolClient.UpdatePipeline)
	if err != nil {
		nbw.Abort()
		return nil, err
	}
	w.block.Block.GenStamp = gs
	w.block.Locations = pipeline
	if len(unacked) > 0 {
		if n, err := nbw.Write(unacked); err != nil {
			nbw.Abort()
			if _, ok := failedNode(err); ok {
				// The new pipeline failed while the old unacknowledged
				// bytes were being sent again: what it did not
				// acknowledge is what it took and did not ack, then
				// what it never took. Both are sent again by the next
				// attempt.
				rest := append(slices.Clone(nbw.Unacked()), unacked[n:]...)
				return nil, &pipelineFailure{err: err, bw: stalled{acked: nbw.Acked(), unacked: rest, tail: nbw.AckedTail()}}
			}
			return nil, err
		}
	}
	return nbw, nil
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

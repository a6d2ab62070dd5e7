package datatransfer

import (
	"bufio"
	"context"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The client side of the two recovery operations; see doc.go,
// "Pipeline recovery" and "Block synchronization".

const (
	opTransfer = "datatransfer.TransferBlock"
	opRecover  = "datatransfer.RecoverBlock"
)

// transferRate is the slowest copy a TransferBlock waits for, on top
// of its timeout.
const transferRate = 1 << 20 // bytes per second

// TransferBlock asks node, which holds a replica of block (finalized or
// not), to copy its first block.Len bytes to targets as stage
// TRANSFER_RBW with generation stamp newGS. It returns once the
// targets hold the copy, durable and ready to be reopened by a stage
// RECOVERY pipeline. A failure of node is a *PipelineError with index
// 0; one of the targets, with index 1.
func (o Options) TransferBlock(ctx context.Context, node cairn.DatanodeInfo, block cairn.Block, targets []cairn.DatanodeInfo, newGS cairn.GenStamp, clientName string) error {
	name := BlockName(block)
	if len(targets) == 0 || len(targets) >= MaxPipeline || block.Len < 0 || block.Len > MaxBlockOffset {
		return cairn.Errorf(opTransfer, name, cairn.Invalid, "bad transfer of %d bytes to %d nodes", block.Len, len(targets))
	}
	blame := func(i int, kind cairn.Kind, err error) error {
		n := node
		if i > 0 {
			n = targets[0]
		}
		return &PipelineError{Index: i, Node: n, Err: cairn.E(opTransfer, name, kind, err)}
	}
	conn, err := o.dial(ctx, node.Addr)
	if err != nil {
		return blame(0, netKind(err), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	wait := o.timeout() + time.Duration(block.Len/transferRate)*time.Second
	conn.SetDeadline(time.Now().Add(wait))
	err = WriteOp(conn, OpTransferBlock, &protocol.OpTransferBlock{
		Block:       protocol.BlockToProto(block),
		Targets:     protocol.DatanodesToProto(targets),
		ClientName:  clientName,
		NewGenStamp: uint64(newGS),
		TimeoutMs:   o.timeout().Milliseconds(),
		BlockToken:  o.Token,
	})
	if err != nil {
		return blame(0, netKind(err), ctxErr(ctx, err))
	}
	resp, err := ReadResponse(bufio.NewReaderSize(conn, 4096))
	if err != nil {
		return blame(0, netKind(err), ctxErr(ctx, err))
	}
	if serr := protocol.ErrorFromStatus(opTransfer, name, resp.Status); serr != nil {
		if resp.FirstBadLink != "" {
			return &PipelineError{Index: 1, Node: targets[0], Err: serr}
		}
		return &PipelineError{Index: 0, Node: node, Err: serr}
	}
	return nil
}

// ReplicaState is a node's answer in a block synchronization.
type ReplicaState struct {
	Block     cairn.Block // the replica's generation stamp and length
	Finalized bool
}

// RecoverBlock runs one step of a block synchronization on node. With
// newLength -1 the node stops any writer of its replica of block and
// describes it; otherwise it cuts the replica to newLength, gives it
// generation stamp newGS and finalizes it. block carries the
// NameNode's generation stamp: older replicas take no part.
func (o Options) RecoverBlock(ctx context.Context, node cairn.DatanodeInfo, block cairn.Block, newGS cairn.GenStamp, newLength int64) (ReplicaState, error) {
	name := BlockName(block)
	conn, err := o.dial(ctx, node.Addr)
	if err != nil {
		return ReplicaState{}, cairn.E(opRecover, name, netKind(err), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetDeadline(time.Now().Add(o.timeout()))
	err = WriteOp(conn, OpRecoverBlock, &protocol.OpRecoverBlock{
		Block:       protocol.BlockToProto(block),
		NewGenStamp: uint64(newGS),
		NewLength:   newLength,
	})
	if err != nil {
		return ReplicaState{}, cairn.E(opRecover, name, netKind(err), ctxErr(ctx, err))
	}
	var resp protocol.ReplicaRecoveryResponse
	if err := ReadMessage(bufio.NewReaderSize(conn, 4096), &resp); err != nil {
		return ReplicaState{}, cairn.E(opRecover, name, netKind(err), ctxErr(ctx, err))
	}
	if serr := protocol.ErrorFromStatus(opRecover, name, resp.Status); serr != nil {
		return ReplicaState{}, serr
	}
	if resp.Replica == nil || resp.Replica.Len < 0 || resp.Replica.Len > MaxBlockOffset {
		return ReplicaState{}, cairn.Errorf(opRecover, name, cairn.Invalid, "bad replica in the answer of %s", node.Addr)
	}
	return ReplicaState{Block: protocol.BlockFromProto(resp.Replica), Finalized: resp.Finalized}, nil
}

package datanode

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
)

// blockTokens is the DataNode's side of block access tokens (package
// blocktoken): whether they are demanded, and the keys they are
// checked with.
//
// A DataNode demands tokens once a NameNode told it, at registration,
// that it runs in secure mode: it is not a setting of the DataNode,
// which therefore cannot be left without checks by mistake. From then
// on it demands them until it stops. It keeps the keys every NameNode
// sends (each member of a group has its own), each until its expiry.
type blockTokens struct {
	secure atomic.Bool
	// told is set once a NameNode said whether the cluster is secured
	// (its first registration answer). Until then a DataNode with TLS
	// admits only nodes: a client it cannot yet judge gets nothing.
	told atomic.Bool
	keys *blocktoken.Verifier
}

func newBlockTokens() *blockTokens {
	return &blockTokens{keys: blocktoken.NewVerifier(nil)}
}

// learnBlockKeys records what a NameNode said at registration or in a
// heartbeat answer.
func (d *DataNode) learnBlockKeys(secure bool, keys []*protocol.BlockKey) {
	defer d.tokens.told.Store(true)
	if secure && !d.tokens.secure.Swap(true) {
		d.log.Info("secure mode: block access tokens are demanded of clients")
	}
	if len(keys) > 0 {
		d.tokens.keys.Update(protocol.BlockKeysFromProto(keys))
	}
}

// admit decides, once per operation and before it runs, whether the
// peer may run it: the data-transfer equivalent of the NameNode's gRPC
// identity interceptor. Without security every operation is admitted,
// its caller being who it claims (the operation's client_name), as in
// HDFS's simple mode. In secure mode a peer that presented a node's
// certificate (transport.ConnNode) is admitted; any other must send a
// block token for the operation's block granting one of the modes in
// need, and none will do when need is 0 (an operation for nodes only).
// A refusal is an error of kind cairn.Unauthenticated, which the
// caller answers before it sends or accepts any byte of the block.
func (d *DataNode) admit(conn *idleConn, op datatransfer.Op, claimed string, block *protocol.Block, token []byte, need blocktoken.Mode) error {
	debug := d.log.Enabled(context.Background(), slog.LevelDebug)
	if debug {
		d.log.Debug("operation", "op", op, "caller", claimed, "remote", conn.RemoteAddr())
	}
	if !d.tokens.secure.Load() && (d.tokens.told.Load() || d.cfg.Transport.TLS == nil) {
		return nil
	}
	if node, ok := transport.ConnNode(conn.Conn); ok {
		if debug {
			d.log.Debug("operation of a node", "op", op, "node", node)
		}
		return nil
	}
	opName := opNames[op]
	var b cairn.Block
	if block != nil {
		b = protocol.BlockFromProto(block)
	}
	name := blockName(b)
	if !d.tokens.secure.Load() {
		// TLS, and no NameNode heard from yet: perhaps secured.
		return cairn.Errorf(opName, name, cairn.Unavailable, "this DataNode has not registered with a NameNode yet: it serves clients once it knows whether block tokens are needed")
	}
	if need == 0 {
		return cairn.Errorf(opName, name, cairn.Unauthenticated, "%v is for nodes only, and no block token allows it", op)
	}
	if block == nil {
		return cairn.Errorf(opName, name, cairn.Invalid, "no block")
	}
	_, cluster := d.store.ids()
	if _, err := d.tokens.keys.Verify(token, string(cluster), block.Id, need); err != nil {
		d.log.Info("refused an operation", "op", op, "block", name, "caller", claimed, "remote", conn.RemoteAddr(), "reason", err)
		return cairn.E(opName, name, cairn.Unauthenticated, err)
	}
	return nil
}

// opNames name the operations in errors.
var opNames = map[datatransfer.Op]string{
	datatransfer.OpWriteBlock:    "datanode.WriteBlock",
	datatransfer.OpReadBlock:     "datanode.ReadBlock",
	datatransfer.OpTransferBlock: "datanode.TransferBlock",
	datatransfer.OpRecoverBlock:  "datanode.RecoverBlock",
}

// writeNeed is the access a write of stage needs: WRITE for a client's
// pipeline, WRITE or COPY for a copy.
func writeNeed(stage protocol.OpWriteBlock_Stage) blocktoken.Mode {
	switch stage {
	case protocol.OpWriteBlock_TRANSFER, protocol.OpWriteBlock_TRANSFER_RBW:
		return blocktoken.Write | blocktoken.Copy
	}
	return blocktoken.Write
}

package datatransfer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
)

// Defaults for Options.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 60 * time.Second
	DefaultWindow      = 80
)

// Stage says why a block is written.
type Stage int32

// The stages of a write, as in protocol.OpWriteBlock.
const (
	StageCreate      = Stage(protocol.OpWriteBlock_CREATE)       // a client writes a new block
	StageRecovery    = Stage(protocol.OpWriteBlock_RECOVERY)     // a client resumes a block after pipeline recovery
	StageTransfer    = Stage(protocol.OpWriteBlock_TRANSFER)     // a DataNode copies a finalized replica
	StageTransferRbw = Stage(protocol.OpWriteBlock_TRANSFER_RBW) // a DataNode copies a replica being written
)

// Options tunes the client side of the protocol. The zero value is
// ready to use; the package-level NewBlockWriter and ReadBlock use it.
type Options struct {
	// DialTimeout bounds connecting to a DataNode; 0: 10s.
	DialTimeout time.Duration
	// Timeout bounds every wait on the network: a response, an ack
	// for packets in flight, a packet being read, a write to a stalled
	// peer. A peer silent for that long is declared dead; 0: 60s.
	Timeout time.Duration
	// Window is the number of packets a BlockWriter keeps in flight
	// before it waits for acks; 0: 80.
	Window int
	// PacketSize is the number of data bytes a BlockWriter puts in a
	// packet, rounded down to a multiple of cairn.ChunkSize; 0:
	// cairn.PacketSize (64 KiB).
	PacketSize int
	// Stage is sent in OpWriteBlock; 0: StageCreate.
	Stage Stage
	// Pool, if set, lends ReadBlock an idle connection to the
	// DataNode and takes back the connection of a read that ended
	// cleanly, so that one connection serves many reads; nil: one
	// connection per read.
	Pool *ConnPool
	// Recoverable says the writer recovers a failed pipeline: the
	// nodes keep their partial replicas when a write fails, for a
	// stage RECOVERY pipeline to reopen (stages CREATE and RECOVERY).
	Recoverable bool
	// Transport is how connections to DataNodes are made (TLS or
	// plaintext); its DialTimeout is replaced by this Options'; zero:
	// plaintext TCP.
	Transport transport.Config
	// Offset is the block offset a BlockWriter starts at: with
	// StageRecovery, the length acknowledged before the pipeline
	// failed, at which every node reopens its replica. It is sent as
	// the block's len.
	Offset int64
	// Tail, when Offset is not on a chunk boundary (a recovery after
	// a Sync), holds the Offset%cairn.ChunkSize bytes of the block
	// before Offset: the BlockWriter sends them again at the start of
	// its first packet, so that the nodes rewrite the last chunk whole
	// with its checksum (see BlockWriter.Sync). Without it a
	// BlockWriter started off a chunk boundary can only end the block.
	Tail []byte
	// Token is the block access token sent with the operation
	// (OpWriteBlock, OpReadBlock, OpTransferBlock), which a DataNode
	// in secure mode demands of a peer without a node's certificate;
	// nil: none.
	Token []byte
}

func (o Options) dialTimeout() time.Duration {
	if o.DialTimeout <= 0 {
		return DefaultDialTimeout
	}
	return o.DialTimeout
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o Options) window() int {
	if o.Window <= 0 {
		return DefaultWindow
	}
	return o.Window
}

func (o Options) packetSize() int {
	n := o.PacketSize - o.PacketSize%cairn.ChunkSize
	if n <= 0 {
		return cairn.PacketSize
	}
	return min(n, MaxPacketDataSize)
}

func (o Options) dial(ctx context.Context, addr string) (net.Conn, error) {
	t := o.Transport
	t.DialTimeout = o.dialTimeout()
	return t.DialContext(ctx, addr)
}

// BlockName returns the name of a block used in errors and logs,
// blk_<id>_<genstamp> as in HDFS.
func BlockName(b cairn.Block) string {
	return fmt.Sprintf("blk_%d_%d", b.ID, b.GenStamp)
}

// PipelineError reports the failure of one node of a write pipeline,
// so that a pipeline-recovery step can drop it.
type PipelineError struct {
	Index int                // position of the failed node in the pipeline
	Node  cairn.DatanodeInfo // the failed node
	Err   error              // what went wrong; a *cairn.Error
}

func (e *PipelineError) Error() string {
	return fmt.Sprintf("pipeline node %d (%s %s): %v", e.Index, e.Node.ID, e.Node.Addr, e.Err)
}

func (e *PipelineError) Unwrap() error { return e.Err }

// netKind classifies an error of the network: a cairn kind it already
// has, or Unavailable.
func netKind(err error) cairn.Kind {
	if k := cairn.KindOf(err); k != cairn.Other {
		return k
	}
	return cairn.Unavailable
}

// isTimeout reports whether err is a deadline expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

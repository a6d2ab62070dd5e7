// Package datatransfer is cairn's data-transfer protocol: the framed TCP
// streams on which clients and DataNodes move block bytes, modeled on
// HDFS's DataTransferProtocol. It holds both ends of the framing, so the
// format lives in exactly one place: the client side (BlockWriter,
// ReadBlock) and the pieces a DataNode's server needs (ReadOp,
// PacketReader, PacketBuf, WriteMessage, ReadAck, ...).
//
// The client side dials through Options.Transport (package transport),
// so a connection is plaintext or TLS as that says.
//
// # Conventions
//
// All fixed-width integers are big-endian. A "delimited message" is a
// protobuf message of package protocol (cairn.proto) preceded by its
// length as an unsigned varint (encoding/binary's Uvarint); its length
// must be at most MaxMessageSize (64 KiB), checked before anything is
// allocated. A chunk is ChunkSize (512) bytes of block data; its
// checksum is the CRC32C (Castagnoli) of the chunk, 4 bytes big-endian.
// The last chunk of a range may be shorter; its checksum covers only
// its bytes.
//
// # Operation header
//
// A connection carries one operation (or a series of reads: see
// Reusing a connection). The initiator (client or DataNode)
// opens it with:
//
//	version  uint16   Version, currently 1
//	op       uint8    OpWriteBlock (80), OpReadBlock (81),
//	                  OpTransferBlock (86) or OpRecoverBlock (87)
//	message  delimited protocol.OpWriteBlock, OpReadBlock,
//	                  OpTransferBlock or OpRecoverBlock
//
// The receiver answers with a delimited protocol.BlockOpResponse. A
// status of kind 0 with an empty message is success; any other status
// is a cairn.Kind and a message, and the receiver closes the connection
// after sending it.
//
// # Block access tokens
//
// In secure mode (the NameNode's Config.Security, which a DataNode
// learns from the NameNode's RegisterResponse, block_tokens) the
// DataNodes' data ports accept TLS, verifying a client certificate if
// one is given. A peer that presents a certificate signed by the
// cluster's CA is a node (a DataNode forwarding a pipeline, copying a
// replica, synchronizing a block in lease recovery, or serving a web
// download) and needs nothing more. Any other peer must send, in the
// operation's block_token field, a block access token (package
// blocktoken: the format, the keys and their rotation) that the
// NameNode gave with the block: in GetBlockLocations and the other
// answers that locate a file's blocks (READ), AddBlock (WRITE),
// GetAdditionalDatanode (COPY) and UpdateBlockForPipeline (WRITE and
// COPY). The DataNode checks, before it sends or accepts any byte of
// the block, that the token is well formed, signed by a key a
// NameNode member sent it (not yet expired), not expired itself, for
// this block (any generation stamp: tokens do not bind it, as in
// HDFS) and this cluster, and grants the access the operation needs:
//
//	OpReadBlock                               READ
//	OpWriteBlock, stage CREATE or RECOVERY    WRITE
//	OpWriteBlock, stage TRANSFER(_RBW)        WRITE or COPY
//	OpTransferBlock                           COPY
//	OpRecoverBlock                            none: nodes only
//
// Otherwise it answers with a status of kind cairn.Unauthenticated
// whose message says why ("missing block token", "expired block
// token", "block token for another block", "block token does not
// grant this access", "bad block token signature", "block token signed
// by an unknown key", ...) and closes the connection. A node passes the
// token it got along the pipeline and to a copy's targets, for a
// cluster whose nodes have no certificates. A client refused a read
// for its token (expired, or of a key the DataNode no longer has)
// fetches the block's locations, with new tokens, once more, as HDFS's
// reader does on an InvalidBlockTokenException. Outside secure mode the
// field is ignored.
//
// # Packets
//
// Block bytes move in packets:
//
//	payloadLen  uint32   length of checksums plus data, in bytes
//	headerLen   uint16   length of the header, at most MaxPacketHeaderSize (1024)
//	header      protocol.PacketHeader, headerLen bytes (not delimited)
//	checksums   4 bytes per chunk of the data: ceil(data_len/512) of them
//	data        data_len bytes
//
// A decoder rejects, before allocating: headerLen above 1024;
// data_len below 0 or above MaxPacketDataSize (16 MiB); payloadLen not
// equal to 4*ceil(data_len/512)+data_len; offset_in_block below 0 or
// offset_in_block+data_len above MaxBlockOffset (2^48); a last packet
// (last_packet_in_block) that carries data; a seqno below -1; a
// heartbeat (seqno -1) that carries data or is marked last.
//
// The data of every packet starts at a chunk boundary of the block
// (offset_in_block is a multiple of 512), so the checksums of a packet
// are the block's stored checksums for those chunks. Only the last data
// packet of a stream may end in a partial chunk.
//
// # Writing a block (OpWriteBlock)
//
// The writer sends the operation header with an OpWriteBlock naming the
// block, the DataNodes downstream of the receiver in order (targets)
// and the stage: CREATE for a new block written by a client, RECOVERY
// for a client resuming a block after pipeline recovery (below),
// TRANSFER for a DataNode copying a finalized replica to another,
// TRANSFER_RBW for a DataNode copying the acknowledged prefix of a
// replica being written to the node that replaces a failed one. The
// block's len is 0, except with RECOVERY: the offset the writing
// resumes at. timeout_ms is how long the writer waits for an ack (0:
// the receivers' default of 60s); recoverable says the writer recovers
// failed pipelines. A receiver with targets connects to targets[0] and
// sends it the same operation with targets[1:], before it answers its
// own upstream: the response is success only if the whole downstream
// pipeline answered success; otherwise its first_bad_link holds the
// address of the first node that could not be reached or refused.
//
// Then the writer sends packets with seqno 0, 1, 2, ... and
// offset_in_block len, len+data_len, ..., normally PacketSize (64 KiB) of data
// each, without waiting for acks: up to a window (80 by default) of
// packets are in flight. The block ends with an empty packet with
// last_packet_in_block set, whose offset is the block's length. A
// writer that has sent nothing for half its I/O timeout sends a
// heartbeat: an empty packet with seqno -1, so receivers' read deadlines
// do not expire while a slow producer thinks.
//
// A packet with sync set (the writer's Sync, HDFS's hsync) is
// acknowledged by a node only after it has written the packet and
// fsync'd the replica's data and checksum files (and, the first time,
// the rbw directory): when the writer sees its ack, every byte sent so
// far is durable on every node. Sync may leave the block off a chunk
// boundary; the next packet then starts at that chunk's boundary and
// carries the chunk's bytes again, whole, with more after them: its
// offset_in_block is below the bytes received, and each node rewinds
// its replica to that boundary (dropping the partial chunk and its
// checksum) before writing it. This is the only packet that may
// overlap data received; it must cover the whole partial chunk. A
// RECOVERY pipeline resuming off a chunk boundary starts the same way.
//
// Every node acknowledges every packet (heartbeats included), in order,
// with a delimited protocol.PipelineAck carrying the packet's seqno and
// one reply per node from itself to the end of the pipeline: the node's
// own status first, then the replies of its downstream ack. A reply is
// a cairn.Kind; 0 is success. A node acks a packet only after it has
// written it to its own files and received the downstream ack for it.
// The ack of the last packet is sent only after the node has fsync'd
// the data and checksum files and moved the replica to finalized, and
// the downstream node has acked it: when the writer sees it, the block
// is durable on every node of the pipeline. (With TRANSFER_RBW the
// replica is fsync'd but not finalized: it waits, in rbw, for the
// RECOVERY pipeline it is to join.)
//
// A node with k nodes downstream waits for each downstream ack
// timeout_ms*k/(k+1) (the writer itself waits timeout_ms), so when a
// node stalls, the node just upstream of it gives up first and its
// error ack names the stalled node, not a healthy one.
//
// Each receiver verifies the checksums of every packet; a mismatch
// fails the write. On any failure a node sends, if it still can, an ack
// whose replies name the failing node with a non-zero kind (its own
// reply, for a local failure or a bad packet; the first downstream
// reply, when the downstream connection broke; the downstream replies,
// when a downstream ack reported an error) and a message, then stops
// writing: it discards its partial replica (or, if the writer is
// recoverable and the stage CREATE or RECOVERY, keeps it in rbw with
// its whole chunks, fsync'd, for recovery), closes the downstream
// connection, and reads and drops what its upstream still sends until
// the upstream closes (or 5 seconds pass), so that the error ack is
// read rather than lost to a reset connection. The writer reports the first non-zero reply as a
// *PipelineError with that node's index in the pipeline; a connection
// broken without an ack is blamed on the first node.
//
// # Reading a block (OpReadBlock)
//
// The reader sends the operation header with an OpReadBlock naming the
// block and generation stamp and a range [offset, offset+length) that
// must lie within the replica. The response carries first_chunk_offset,
// offset rounded down to a chunk boundary, and block_len, the replica's
// length. Then the server sends packets (seqno 0, 1, ...) covering
// [first_chunk_offset, end), where end is offset+length rounded up to a
// chunk boundary or to the block's length, whichever is smaller (no
// data packet at all when length is 0), with the checksums stored with
// the replica, normally PacketSize bytes of data per packet, followed
// by an empty packet marked last whose offset is where the data
// stopped. The reader verifies every checksum and returns only the
// bytes asked for. When it has seen the last packet, or a checksum
// mismatch, the reader sends a delimited protocol.Status: kind 0 for
// success, cairn.Corrupt for a mismatch, so the server can log it.
//
// A replica not finalized yet (its writer synced bytes the NameNode now
// gives readers) is read the same way, its length being the bytes
// written whole when the read starts; the checksum of its partial last
// chunk is computed afresh over those bytes, as the writer may be
// rewriting that chunk on disk.
//
// # Reusing a connection
//
// A connection whose read ended cleanly (the reader got the last packet
// and sent a status of kind 0 or Corrupt) may carry another operation:
// the reader sends a new operation header on it, and the DataNode waits
// up to ReadIdleTimeout (30 s) for one before it closes the connection.
// Any other end (an error status, a read abandoned before its last
// packet, any operation but a read) closes the connection. A reader that
// finds a reused connection closed before the DataNode answered (the
// node restarted, or timed out) retries once on a new connection. A
// ConnPool keeps idle connections for DefaultIdleTimeout (20 s), below
// the DataNode's wait, and at most DefaultMaxIdlePerNode per DataNode:
// a small file is then read without a TCP connection set-up and
// tear-down, which cost more than the read itself.
//
// # Pipeline recovery
//
// When a node of a write pipeline fails (the writer sees a
// *PipelineError naming it: an error ack, a broken connection, or an
// ack timeout), every surviving node holds at least the bytes the
// whole pipeline acknowledged (Acked) in an rbw replica it kept. The
// client (package client) then:
//
//  1. drops the failed node and excludes it from later pipelines;
//  2. asks the NameNode for a replacement (GetAdditionalDatanode),
//     while the pipeline is narrower than it started;
//  3. gets a new generation stamp for the block (UpdateBlockForPipeline,
//     logged by the NameNode); the dropped node keeps the old one, so
//     its replica can never pass for current: reported later, it is
//     deleted;
//  4. has a survivor copy the acknowledged prefix to the replacement
//     with TRANSFER_BLOCK (below): the copy arrives as stage
//     TRANSFER_RBW with the new generation stamp;
//  5. sets up a pipeline of the survivors and the replacement in stage
//     RECOVERY with len = the acknowledged length and the new
//     generation stamp: each node stops any writer of its replica still
//     running, cuts the replica to that length (recomputing the
//     checksum of a last partial chunk), renames its meta file to the
//     new generation stamp and appends from there (a replica finalized
//     as the old pipeline closed is moved back to rbw first);
//  6. tells the NameNode the new generation stamp and nodes
//     (UpdatePipeline);
//  7. sends again the bytes it had not seen acknowledged
//     (BlockWriter.Unacked), from that offset, and goes on.
//
// A failure during these steps drops the node it names and starts
// over with a fresh generation stamp. The write fails only when no
// node of the pipeline is left. No acknowledged byte is lost: it is on
// every survivor, and the replacement gets it from one of them.
//
// # Transferring a partial replica (OpTransferBlock)
//
// The client sends the operation header with an OpTransferBlock naming
// the block with its current generation stamp and, as len, the number
// of bytes to copy, the targets, and the new generation stamp. The
// DataNode copies the first len bytes of its replica (finalized, or in
// rbw once its writer let go; its generation stamp must be below the
// new one), verifying every checksum, down a TRANSFER_RBW pipeline to
// the targets, and answers with a BlockOpResponse once they have acked
// the last packet: success, or the error, with first_bad_link set when
// a target failed (else the source is to blame).
//
// # Block synchronization (OpRecoverBlock)
//
// Lease recovery: when a writer's lease passes its hard limit, the
// NameNode sends one DataNode of the last block (the primary) a
// RECOVER_BLOCK command with a new generation stamp and the block's
// nodes. The primary sends each node (itself directly) an
// OpRecoverBlock naming the block with the NameNode's generation stamp
// and new_length -1: the node stops any writer of its replica and
// answers a ReplicaRecoveryResponse with the replica's generation stamp
// and length and whether it is finalized; replicas older than the
// NameNode's generation stamp, or newer than the recovery's, take no
// part. The primary picks the length: that of a finalized replica if
// there is one, else the shortest of the replicas with the highest
// generation stamp (every replica holds a prefix of the same byte
// stream, so that one holds every acknowledged byte). It sends each
// replica of at least that length an OpRecoverBlock with new_length set:
// the node cuts the replica to it, gives it the new generation stamp and
// finalizes it. The primary then reports the block, its length and the
// nodes that hold it to the NameNode (CommitBlockSynchronization),
// which closes the file through the log; with no replica anywhere it
// asks for the block to be dropped.
package datatransfer

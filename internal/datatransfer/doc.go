// Package datatransfer is cairn's data-transfer protocol: the framed TCP
// streams on which clients and DataNodes move block bytes, modeled on
// HDFS's DataTransferProtocol. It holds both ends of the framing, so the
// format lives in exactly one place: the client side (BlockWriter,
// ReadBlock) and the pieces a DataNode's server needs (ReadOp,
// PacketReader, PacketBuf, WriteMessage, ReadAck, ...).
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
// A connection carries one operation. The initiator (client or DataNode)
// opens it with:
//
//	version  uint16   Version, currently 1
//	op       uint8    OpWriteBlock (80) or OpReadBlock (81)
//	message  delimited protocol.OpWriteBlock or protocol.OpReadBlock
//
// The receiver answers with a delimited protocol.BlockOpResponse. A
// status of kind 0 with an empty message is success; any other status
// is a cairn.Kind and a message, and the receiver closes the connection
// after sending it.
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
// block (its len is ignored), the DataNodes downstream of the receiver
// in order (targets) and the stage: CREATE for a new block written by a
// client, TRANSFER for a DataNode copying a finalized replica to
// another. A receiver with targets connects to targets[0] and sends it
// the same operation with targets[1:], before it answers its own
// upstream: the response is success only if the whole downstream
// pipeline answered success; otherwise its first_bad_link holds the
// address of the first node that could not be reached or refused.
//
// Then the writer sends packets with seqno 0, 1, 2, ... and
// offset_in_block 0, data_len, ..., normally PacketSize (64 KiB) of data
// each, without waiting for acks: up to a window (80 by default) of
// packets are in flight. The block ends with an empty packet with
// last_packet_in_block set, whose offset is the block's length. A
// writer that has sent nothing for half its I/O timeout sends a
// heartbeat: an empty packet with seqno -1, so receivers' read deadlines
// do not expire while a slow producer thinks.
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
// is durable on every node of the pipeline.
//
// Each receiver verifies the checksums of every packet; a mismatch
// fails the write. On any failure a node sends, if it still can, an ack
// whose replies name the failing node with a non-zero kind (its own
// reply, for a local failure or a bad packet; the first downstream
// reply, when the downstream connection broke; the downstream replies,
// when a downstream ack reported an error) and a message, then stops
// writing: it discards its partial replica, closes the downstream
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
package datatransfer

// Package datanode is cairn's DataNode: it stores block replicas on
// local disks, receives them down write pipelines and serves them to
// readers over the data-transfer protocol (package datatransfer), and
// keeps the NameNode informed with registration, heartbeats and block
// reports. It never touches the namespace.
//
// # Volumes
//
// Each directory of Config.Dirs is a volume, normally one per disk:
//
//	<dir>/VERSION                                        identity, see below
//	<dir>/current/rbw/blk_<id>                           data of a replica being written
//	<dir>/current/rbw/blk_<id>_<genstamp>.meta           its checksums
//	<dir>/current/finalized/subdir<A>/subdir<B>/blk_<id>
//	<dir>/current/finalized/subdir<A>/subdir<B>/blk_<id>_<genstamp>.meta
//
// where <id> and <genstamp> are decimal and A = (id>>16)&0x1f and
// B = (id>>8)&0x1f, so that no directory grows huge (as HDFS).
//
// VERSION is a text file of key=value lines:
//
//	layoutVersion=1
//	nodeID=<the DataNode's ID>
//	clusterID=<the cluster's ID, empty until the first registration>
//
// It is replaced atomically (write VERSION.tmp, fsync it, rename it
// over VERSION, fsync the directory). Every volume of a node holds the
// same node ID, generated at random the first time the node starts, so
// a restarted DataNode is the same node. The cluster ID is written
// after the first successful registration and sent on every later one;
// the NameNode of another cluster refuses the node. Volumes whose
// VERSION files disagree refuse to start.
//
// # Replicas
//
// A replica is a data file holding the block's bytes and a meta file
// holding their checksums:
//
//	version          uint16  1
//	checksum type    uint8   2 (CRC32C)
//	bytes per sum    uint32  512
//	checksums        uint32 per 512-byte chunk of the data, the last
//	                 chunk possibly shorter (CRC32C, as on the wire)
//
// all big-endian; the header is 7 bytes, as HDFS's. A meta file whose
// length is not 7 + 4*ceil(len(data)/512) is not loaded.
//
// A replica is written into rbw/. When its last packet has arrived, the
// data and meta files are fsync'd, closed and renamed into finalized/
// (meta first, then data), and the finalized subdirectory is fsync'd;
// only then is the write acknowledged. A failed write removes its rbw
// files.
//
// On start every volume is scanned: whatever is in rbw/ is incomplete
// and is removed; the finalized replicas are loaded into the in-memory
// replica map (block ID to volume, generation stamp and length). A data
// file without its meta file, or the reverse, is removed; if two
// volumes hold the same block, the higher generation stamp is kept.
//
// New replicas go to the healthy volumes in turn. A volume whose disk
// fails an operation (anything but running out of space) is marked
// failed: its replicas leave the map (reported to the NameNode as
// deleted), it is named in every heartbeat's failed_volumes, and the
// other volumes keep serving.
//
// # The NameNode
//
// Serve registers with the NameNode (retrying with backoff while it is
// unreachable), sends a full block report, then heartbeats every
// HeartbeatInterval with a storage report and runs the commands in the
// replies: DELETE_BLOCKS, REREGISTER (register and report again) and
// COPY_BLOCKS (each block of the command is streamed, as stage
// TRANSFER, down a pipeline made of the command's targets in order).
// Finalized and deleted replicas are told to the NameNode in
// incremental block reports, batched and sent by their own goroutine so
// a slow NameNode never stalls a pipeline. A full report is sent every
// BlockReportInterval.
package datanode

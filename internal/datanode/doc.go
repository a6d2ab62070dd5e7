// Package datanode is cairn's DataNode: it stores block replicas on
// local disks, receives them down write pipelines and serves them to
// readers over the data-transfer protocol (package datatransfer), and
// keeps the NameNodes informed with registration, heartbeats and block
// reports. It never touches the namespace.
//
// Every connection it opens or accepts (its gRPC client of the
// NameNode, the pipeline forward, copies and recoveries, the
// data-transfer server's accept loop) is made by Config.Transport
// (package transport).
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
//	<dir>/current/containers/c_<seq>                     small replicas, see "Containers"
//
// where <id> and <genstamp> are decimal and A = (id>>16)&0x1f and
// B = (id>>8)&0x1f, so that no directory grows huge (as HDFS).
//
// VERSION is a text file of key=value lines:
//
//	layoutVersion=2
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
// files, unless its writer recovers pipelines (stages CREATE and
// RECOVERY with recoverable set, as the client always does): then the
// replica is cut to its whole chunks (data and checksums agreeing),
// fsync'd, closed and kept in rbw/ as an idle replica, waiting for a
// pipeline recovery (stage RECOVERY reopens it) or a lease recovery
// (RECOVER_BLOCK finalizes it). A copy received as TRANSFER_RBW is
// kept the same way when complete, and removed if it fails.
//
// A packet marked sync (a writer's Sync) is acknowledged only once the
// rbw data and meta files are fsync'd (and rbw/ itself, the first
// time). A sync may leave the replica off a chunk boundary: the
// writer's next packet starts at that chunk's boundary, and the
// replica is cut back to it (data and checksum) and the chunk written
// again, whole. A replica in rbw/ is served to readers up to the bytes
// written whole; its partial last chunk is copied, under the lock the
// receiver holds while it writes, and sent with a checksum computed
// afresh.
//
// On start every volume is scanned. Replicas in rbw/ are kept as idle
// replicas waiting for recovery ("replica waiting to be recovered" in
// HDFS): each is cut to the longest prefix its meta file covers whose
// last chunk matches its checksum (a torn write loses at most its last
// chunk, which no one acknowledged); one without a usable meta file is
// removed. They are listed in every full block report (rbw), and the
// NameNode has those deleted that no recovery will want: replicas of
// blocks now complete, deleted, or with an older generation stamp. The
// finalized replicas are loaded into the in-memory replica map (block
// ID to volume, generation stamp and length). A data file without its
// meta file, or the reverse, is removed; if two volumes hold the same
// block, the higher generation stamp is kept.
//
// New replicas go to the healthy volumes in turn. A volume whose disk
// fails an operation (anything but running out of space) is marked
// failed: its replicas leave the map (reported to the NameNode as
// deleted), it is named in every heartbeat's failed_volumes, and the
// other volumes keep serving. Volumes are also probed every heartbeat
// interval (at least 1s, at most 30s): their finalized/ and rbw/
// directories must exist and a file must be creatable under current/;
// a volume removed or unwritable is failed the same way. A full volume
// (ENOSPC) is not failed: the write that hit it fails with kind
// NoSpace, its error ack names this node, and the writer's pipeline
// recovery goes on without it. Config.VolumeCapacity is a test seam
// that makes a volume full after that many bytes.
//
// Layout 2 adds containers/ to layout 1; a volume of layout 1 is
// rewritten as 2 when the node starts, so that an older DataNode, which
// would not see the replicas in its containers, refuses it.
//
// # Containers
//
// A replica of at most Config.SmallBlockSize bytes (cairn datanode
// --small-block-size, 1 MiB by default; 0 turns the store off) is not
// given files of its own: it is appended, with its checksums, to the
// volume's current container file, and many replicas being finalized
// at once share one fsync (group commit). Storing a file replica costs
// two new files, two fsyncs, two renames and a directory fsync; a
// packed one costs a share of one fsync and no new inode.
//
// Which replicas: those of a write pipeline (stage CREATE) or a copy
// (TRANSFER) whose writer sends its window (OpWriteBlock.window, the
// packets it sends before waiting for an ack). The receiver holds the
// replica's bytes in memory and holds back the acks of its packets, at
// most window-1 of them, so that the writer can always send the rest.
// The last packet finalizes the replica into a container, and the held
// acks go out, in order, only then: an ack still means that the bytes
// are written, and the last one that they are durable. The replica is
// instead written to its rbw/ files (spilled), its held acks sent, and
// it goes on as any replica when it outgrows SmallBlockSize, when the
// writer syncs it, when a heartbeat packet comes (a writer gone quiet
// must get its acks), when window-1 acks are held, or when its pipeline
// fails (it is kept for recovery as an idle rbw replica). Acks are held
// at most min(a read timeout / 8, 1s) and for at most min(window,
// 80) - 1 packets: a slower writer, whose heartbeats would not come
// soon enough, gets the replica spilled and its acks. A DataNode
// killed while it holds a replica in memory has acknowledged none of
// it. Every node of a pipeline decides alike, and one that holds acks
// while its downstream does not (or the reverse) still acks in packet
// order; the nodes should all use the same SmallBlockSize.
//
// A container is c_<seq> (seq decimal, ten digits, from 1, never
// reused): a 16-byte file header, written and fsync'd (with the
// directory) before any record,
//
//	magic      uint32  0x43504b43 ("CPKC")
//	version    uint32  1
//	nonce      uint64  random, the container's own
//
// then a sequence of records, each:
//
//	magic      uint32  0x43504b31 ("CPK1")
//	kind       uint8   1: a replica, 2: a tombstone
//	reserved   3 bytes
//	block ID   uint64
//	gen stamp  uint64
//	field      uint64  replica: bytes of data; tombstone: the seq of the container of the record it kills
//	offset     uint64  tombstone: that record's offset there; replica: 0
//	header crc uint32  CRC32C of the nonce, the seq (uint32) and the record's offset (uint64), then the 40 bytes before it
//	checksums  replica only: uint32 CRC32C per 512-byte chunk of the data, as a meta file's
//	data       replica only
//
// all big-endian. Binding each header's CRC to its container's nonce
// and its own offset means that bytes that look like a record
// elsewhere (a replica's data holding a copy of one) never pass for
// one, when a load looks for the next record after damage. The store
// appends to one container at a time; past
// 256 MiB it is fsync'd and sealed, and a new one is created (and
// containers/ fsync'd). One writer goroutine per volume appends every
// request waiting with pwrite, then fsyncs once if any of them waits
// for durability, then answers them all.
//
// On start the containers are read in order of seq, header by header,
// into the replica map (block ID to container and offset). The last
// container, the one being appended to, is also checked against its
// checksums: a record whose checksums fail (torn by a crash before its
// fsync, so never acknowledged) is skipped and a tombstone appended for
// it (a later load, once the container is sealed, would not check it),
// and a record or header cut
// short at the end is cut off the file. A header that is bad (or whose
// record would run past the end) with a valid record header somewhere
// after it is damage, not a torn tail: the load skips to that record
// (the replicas in between are not listed, and the NameNode has them
// copied from other replicas), and the container is neither appended
// to nor compacted any more. A replica
// record is live unless a tombstone names its container and offset, and
// its block ID and generation stamp; of
// two live records of a block (a crash between two steps below) the
// newer generation stamp, then the later record, is kept and the other
// killed; a replica in files beside one in a container is settled the
// same way.
//
// Deleting a packed replica appends a tombstone, without waiting for an
// fsync (one lost to a crash brings the replica back, and the NameNode
// has it deleted again; a DataNode that closes writes and fsyncs those
// still queued). A volume that fails closes its container store.
// Every CompactInterval (a minute) each sealed
// container whose live records fill at most half of it, and none of
// whose records is still on its way into the replica map, is
// compacted: each record still its block's live replica is checked
// against its checksums, appended anew and moved in the replica map,
// all with the block claimed (so that no delete, unfinalize or restamp
// interleaves); the
// tombstones it holds for records of other containers still there are
// copied, everything is fsync'd, and the file is removed (and closed
// once the last reader holding it lets go). A container with a damaged
// record (found by a compaction, or a load that skipped damage) is not
// compacted; its damaged replica is the scanner's to report.
//
// A full disk fails the append that hit it (kind NoSpace, so the
// pipeline goes on without this node) and nothing else: later appends
// that fit succeed. Any other write or fsync error fails the volume.
//
// Recovery of a packed replica: a pipeline recovery that reopens it
// copies its data and checksums out to rbw/ files, fsyncs them, and
// then kills its record (a crash between the two leaves both; the load
// keeps the rbw copy if it is whole); a lease recovery that restamps it
// appends a record with the new generation stamp and kills the old
// one. The scanner, readers, the web download and copies read packed
// replicas through the same Replica handle as files (a section of the
// container); a damaged one is marked bad, and its deletion is a
// tombstone. Metrics: cairn_datanode_container_syncs_total and
// cairn_datanode_container_replicas_synced_total (their ratio is the
// replicas per fsync).
//
// # Reading a replica
//
// Code that reads a replica never opens its files: the store hands out
// a Replica (replica.go), a handle with the replica's block (ID,
// generation stamp, length), its state (finalized, or rbw for the
// TRANSFER_RBW source), its data and its checksums as io.ReaderAt (the
// checksum of chunk i at 4*i: the meta file past its header) and Close.
// The block sender, the copier, the scanner, the TRANSFER_RBW source
// and the web download read through it. The store is the volumes
// (volume: a data directory), the layout above, and the replica map
// (store: finalized, rbw and damaged replicas, one lock).
//
// # Web download
//
// GET /download?path=P (see package webui) is answered without the
// client: the DataNode asks the NameNode for the file's block
// locations (ClientProtocol GetBlockLocations, over its own sessions),
// redirects (307) to a DataNode holding the first block when it holds
// no replica of it (adding redirected=1, and a redirected request is
// always served here), and otherwise streams the whole file with its
// Content-Length: each block from its local replica, checksums
// checked, or from another DataNode holding it over the data-transfer
// protocol. A local replica found damaged is handled as the scanner
// handles it, and the block read elsewhere.
//
// # Scanner
//
// A block scanner starts a full pass over the finalized replicas every
// ScanInterval (24h by default; the first pass within 5 minutes of the
// start). It reads at most ScanBandwidth bytes per second (64 MiB/s),
// or faster if that would not fit a pass in the interval. For each
// replica it checks that the data file is there with the replica's
// length, that the meta file is there with the matching length and a
// valid header, and every checksum. A damaged replica (also one a read
// finds with its files missing or short) leaves the replica map at
// once, so it is no longer served nor listed in block reports, and is
// reported with ReportBadBlocks to the leader NameNode (see "Commands
// and the leader"; retried until a NameNode takes it).
// Its files stay until the NameNode, having had a good replica copied
// elsewhere, asks for its deletion; a replica that arrives for the same
// block replaces them.
//
// # Recovery
//
// The DataNode's part in pipeline recovery and in lease recovery (see
// package datatransfer, "Pipeline recovery" and "Block
// synchronization"):
//
//   - OpWriteBlock stage RECOVERY: the idle replica (its old writer
//     interrupted and waited for, if still running; or a finalized
//     replica of an older generation stamp, moved back to rbw/) is cut
//     to the given length, its meta file renamed to the new generation
//     stamp, and appended to.
//   - OpTransferBlock: the first len bytes of the local replica are
//     copied to the targets as stage TRANSFER_RBW.
//   - OpRecoverBlock and the RECOVER_BLOCK command: as a node, describe
//     the replica (stopping its writer), then cut, stamp and finalize it
//     (a finalized replica of the agreed length is only renamed to the
//     new generation stamp); as the primary, run the synchronization
//     and report it with CommitBlockSynchronization.
//
// A replica never takes a generation stamp older than the one it has,
// so a replica left behind by a failed pipeline stays recognizably
// stale.
//
// # The NameNode
//
// The DataNode keeps a session (nnSession, HDFS's BPServiceActor) with
// each NameNode of Config.NameNode (one address, or several separated
// by commas) and Config.NameNodes. Each session registers with its
// NameNode (retrying with backoff while it is unreachable), sends a
// full block report, then heartbeats every HeartbeatInterval with a
// storage report and runs the commands in the replies: DELETE_BLOCKS
// (finalized, damaged or idle rbw replicas), REREGISTER (register and
// report again), COPY_BLOCKS (each block of the command is streamed,
// as stage TRANSFER, down a pipeline made of the command's targets in
// order) and RECOVER_BLOCK (block synchronization as the primary, one
// at a time per block, whichever NameNode asked; the outcome goes to
// the leader, below). Finalized and deleted replicas are told to the
// NameNodes in incremental block reports: every change of the store
// goes into each session's own queue, batched and sent by that
// session's goroutine, so a slow NameNode never stalls a pipeline and
// one that is down holds back only its own reports (it gets them once
// back). A queue holds at most 100,000 events (after superseded ones
// are dropped); one more, and its events are dropped and the session
// sends a full block report instead, before its next incremental one
// (a full report stands for every change before it). A full report is
// sent to each every BlockReportInterval. The web download asks the
// sessions in turn, until a NameNode answers.
//
// # Commands and the leader
//
// The NameNodes of Config.NameNode are the members of one Raft group;
// only the leader's commands may be run (HDFS's BPOfferService runs
// the active NameNode's only, by transaction id; cairn uses the Raft
// term). Every heartbeat reply says the answering NameNode's term and
// whether it leads in it, and every command the term of the leader
// that issued it. The DataNode keeps the highest term of any reply,
// from any session, and the leader: the session whose latest reply
// claimed leadership. A claim is taken only for a term newer than that
// of the last claim taken (in Raft at most one member leads a term: of
// two claims of one term the first stands, and the second is logged);
// a leader whose reply says it no longer leads is no longer the
// leader. A reply's term and claim are taken in before its commands
// are judged (DataNode.acceptCommand). A command is run only if
//
//   - its session is the leader, and
//   - its term (the reply's, if it says none) is not older than the
//     highest term seen.
//
// So a deposed leader that does not know it yet is no longer obeyed
// once any NameNode has answered with a newer term, even before the
// new leader claims it. Before the DataNode has heard of a newer term,
// though, it obeys the last claim it knows. A command refused is
// acknowledged all the same, so that its NameNode stops sending it,
// but not remembered as run: sent again once its NameNode leads, it
// runs.
// Refusals are logged at Info once per session and term, with the
// terms, and counted (cairn_datanode_commands_refused_total). The one
// exception: a DataNode with a single NameNode runs the commands of
// replies that say no term (term 0: a NameNode of an older version),
// as before NameNode groups. Of several NameNodes, replies of term 0
// make no leader, and their commands are refused. REREGISTER is not
// judged: registration is with each NameNode, and any may ask for it.
//
// The calls only the leader takes go to the leader: the reports of
// damaged replicas (found by the scanner, a reader, or a COPY_BLOCKS
// copy; queued, and sent by one goroutine that retries with backoff
// until a NameNode takes them) and the outcome of a block recovery
// (CommitBlockSynchronization, to the leader whichever NameNode asked).
// Each is made with the leader's session first, if it is registered,
// then with each other registered session in the order of the
// configuration, until one takes it: a NameNode that cannot be reached
// or answers NotLeader leaves it to the next, any other answer is the
// answer. With no leader known (no claim yet, or NameNodes that send no
// term) every session is tried in that order. A refusal here does not
// change whom the DataNode takes for the leader; only heartbeat
// replies do.
//
// /status names the leader's address (namenodeLeader; empty if no
// NameNode has claimed the highest term seen) and that term
// (namenodeTerm), and the metrics cairn_datanode_namenode_leader (per
// NameNode, 1 for the leader) and cairn_datanode_namenode_term.
package datanode

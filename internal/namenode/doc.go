// Package namenode is cairn's NameNode: it keeps the namespace (the tree
// of directories and files and their blocks), knows which DataNodes hold
// which replicas, places new blocks, grants writers their leases, and
// answers clients and DataNodes over gRPC. It never touches block bytes.
//
// # Components
//
//   - namespace (namespace.go, apply.go): two parts under one RWMutex.
//     The replicated state (type replicated, embedded in namespace):
//     the inode tree, the counters (next inode ID, block ID and
//     generation stamp), the owner/group string table, the block map's
//     entries, the files under construction and the nodes being
//     decommissioned; what the log makes, the same on every member.
//     The local state beside it, rebuilt on each member from DataNode
//     reports: the replicas hung on the block map's entries, the
//     replicas held for lease recovery, the replication monitor's
//     state and the safe-mode counters. Reads (stat, list, block
//     locations) take the lock for reading and never wait for the log;
//     the state machine takes it for writing, briefly, once per batch
//     of log entries. Inodes are compact: children in a name-sorted
//     slice, owner and group as indexes into the string table, no full
//     paths, a file's size derived from its blocks. Every walk from the
//     root to a path goes through one resolver, replicated.resolve
//     (HDFS's INodesInPath: the chain of inodes of the path's
//     components), and every walk of a subtree through inode.walk.
//   - mutate (mutate.go): the one entry point of every replicated
//     change. The client operations (ops.go), pipeline and lease
//     recovery (recovery.go, lease.go) and decommissioning build a
//     command and hand it to mutate, which appends it to the log and
//     returns what applying it gave.
//   - the replicated log (raft.go, fsm.go, snapshot.go): every
//     namespace mutation is a command appended through hashicorp/raft
//     to raft-wal (Dir/raft/wal), with snapshots in
//     Dir/raft/snapshots. A mutation is acknowledged only once its
//     entry is committed (fsync'd) and applied; the apply result (a
//     value or a *cairn.Error) is the answer. Nothing is locked across
//     raft.Apply, so concurrent proposals are group-committed: the
//     leader batches up to 512 entries into one log write, and the
//     state machine (a raft.BatchingFSM) applies a batch under one
//     lock. A snapshot is the replicated state, whole: fsm.Snapshot
//     encodes it, and fsm.Restore decodes a new value and swaps it in
//     (namespace.replace), rebuilding the local state for it.
//   - registry (registry.go): DataNodes known since start, their
//     addresses, storage, heartbeat age, the list of the blocks each
//     holds, per-node queues of replicas to delete and of commands sent
//     and not yet acked (outbox.go); placement of new blocks.
//   - leases (lease.go): the last renewal time of each writer, in memory
//     on the leader, and the monitor that recovers abandoned files
//     (with block synchronization, recovery.go).
//   - safe mode (safemode.go).
//   - the gRPC adapters (rpc_client.go, rpc_admin.go, rpc_datanode.go,
//     rpc_recovery.go): one method per RPC of ClientProtocol,
//     AdminProtocol (report, fsck, safe mode, decommission;
//     ClientProtocol keeps deprecated copies of these for older
//     clients) and DatanodeProtocol, each decoding its request, calling
//     the Server method of the same name and converting errors with
//     protocol.ToStatus.
//   - Preload and SnapshotWriter (preload.go): a new NameNode directory
//     whose only state is a snapshot of a namespace generated outside
//     the NameNode (the bench's), written with the state machine's own
//     snapshot encoders.
//
// Errors from the namespace carry a kind and a message but no op or
// path: the caller at the edge (the client) adds its own, so that a
// client sees "stat /a: file does not exist", not a stutter.
//
// # Raft
//
// A new Dir is formatted with a VERSION file ("layout=1" and
// "cluster_id=CID-..." lines, written to a temporary file, fsync'd and
// renamed) and a Raft group of one member is bootstrapped. With
// Config.RaftAddr empty the NameNode is alone and uses an in-memory
// transport (it elects itself within 100 ms); with RaftAddr set it uses
// raft's network transport on that address, over connections made by
// Config.Transport (raftnet.go: plaintext TCP by default, as raft's own
// TCP transport; with TLS its listener requires a client certificate
// signed by the CA, as the RaftTransport service over the client RPC
// port does of its streams), so that more members can be added for HA
// later.
// Config.RaftTransport replaces either with a transport of the caller's,
// such as raft.NewInmemTransport for a group of NameNodes in one process.
// The gRPC server, too, is made by Config.Transport. Nothing assumes a
// single member: mutations (and lease renewals) on a member that is not
// the leader fail with cairn.NotLeader naming the leader, in the text
// and, when Config.RPCAddrs maps its Raft ID to its client RPC address,
// in the status's leader_hint (protocol.WithLeaderHint), for clients to
// follow; reads are answered from local state. A lone NameNode's New returns only
// once the whole log is replayed. Snapshots are taken every
// SnapshotThreshold entries; raft keeps min(SnapshotThreshold/2, 1024)
// entries behind the latest one. Restart loads the latest snapshot and
// replays the entries after it.
//
// Commands are deterministic: the leader chooses modification times,
// resolves defaults (replication, block size, mode) and picks the
// pipeline targets before proposing, and puts them in the command; the
// state machine allocates inode IDs, block IDs and generation stamps
// from counters in the state, and re-checks every condition (a path may
// have vanished since the leader looked), failing with the same error
// kind a check before proposing would have. A failed command stays in
// the log and fails the same way on replay.
//
// # Log command format
//
// Each raft log entry of type LogCommand holds one command:
//
//	version  byte     always 1
//	opcode   byte     1 mkdirs, 2 create, 3 addBlock, 4 complete,
//	                  5 abandonBlock, 6 rename, 7 delete, 8 setReplication,
//	                  9 setPermission, 10 setOwner, 11 setTimes, 12 closeFile,
//	                  13 setNodeAdmin, 14 newGenStamp, 15 updatePipeline,
//	                  16 fsync, 17 setXAttr, 18 removeXAttr, 19 concat,
//	                  20 tokenKey, 21 tokenPurge, 22 revokeToken,
//	                  23 createWithBlock
//	mask     uvarint  bit i set: field i follows
//	fields            present fields, in this order:
//	  0 path         string     (uvarint length, bytes)
//	  1 path2        string     rename destination
//	  2 clientName   string     lease holder
//	  3 owner        string
//	  4 group        string
//	  5 mode         uvarint    permission bits
//	  6 mtime        varint     unix nanoseconds
//	  7 replication  varint
//	  8 blockSize    varint
//	  9 fileID       uvarint    inode ID of the file being written
//	  10 flags       uvarint    1 overwrite, 2 createParent, 4 parents,
//	                            8 recursive, 16 touch, 32 hasBlock,
//	                            64 dropLast, 128 decommission,
//	                            256 exact, 512 leaseRecovery,
//	                            1024 removeFile
//	  11 block ID    uvarint    \
//	  12 block gs    uvarint     } previous (addBlock), last (complete,
//	  13 block len   varint     /  closeFile) or abandoned block
//	  14 targets     uvarint count, then count strings: the pipeline's
//	                 DataNode IDs (addBlock, createWithBlock)
//	  15 caller      string     the user the change is made for (the
//	                            request's identity; absent for the
//	                            NameNode's own changes)
//	  16 callerGroups uvarint count, then count strings: its groups
//	  17 rpcClient   string     the client id of the call (retry cache)
//	  18 rpcCall     uvarint    the call id
//	  19 xattrs      uvarint count, then count (name, value) string
//	                 pairs sorted by name: the extended attributes a
//	                 setXAttr sets or a removeXAttr removes (values
//	                 empty), or the one a delete must not find
//	  20 paths       uvarint count, then count strings: more paths
//	                 after path (concat's sources, in order)
//	  21 keyID       uvarint    a token signing key's ID
//	  22 secret      string     its secret (32 bytes)
//	  23 expires     varint     unix nanoseconds: when a key or a
//	                            revoked token expires
//	  24 tokenID     16 bytes   a revoked token's ID
//
// Absent fields are zero. Unknown versions, opcodes or field bits, and
// trailing bytes, are refused. New fields get new bits; numbers are
// never reused.
//
// What each command does:
//
//   - mkdirs(path, mode, owner, group, mtime, parents)
//   - create(path, mode, owner, group, mtime, replication, blockSize,
//     clientName, overwrite, createParent, touch): an open file leased to
//     clientName, or with touch an empty complete file (or the mtime of
//     an existing one).
//   - createWithBlock(create's fields but touch, targets): a create
//     and the addBlock of the new file's first block on targets, in
//     one step (a Create with AllocateBlock): if the create fails,
//     nothing is allocated. A new opcode rather than a flag of create,
//     so that a member whose binary predates it halts (see "Upgrades"
//     in docs/OPERATIONS.md) instead of making the file without its
//     block. The retry cache takes it and create for one call.
//   - addBlock(fileID, clientName, [previous], targets): commits the
//     previous block at its length and appends a new block with the
//     next block ID and generation stamp.
//   - complete(fileID, clientName, [last], mtime): commits the last block
//     and closes the file.
//   - abandonBlock(fileID, clientName, block): drops the uncommitted last
//     block.
//   - closeFile(fileID, clientName, [last block with the length to keep,
//     or dropLast], mtime, [targets], [removeFile]): lease recovery.
//     When the block carries a newer generation stamp than the file's
//     last block (block synchronization), the block takes it, replicas
//     reported with the old one are forgotten (and deleted on nodes not
//     in targets), and targets, the nodes that synchronized it, become
//     its replicas. With removeFile (a put's abandoned temporary) the
//     file is removed once closed, its blocks deleted.
//   - newGenStamp(fileID, [clientName], block: the last block's ID and
//     current generation stamp, [leaseRecovery]): allocates the next
//     generation stamp for a pipeline recovery (with the lease holder's
//     clientName) or a block synchronization (without); the block keeps
//     its own until updatePipeline or closeFile. With leaseRecovery the
//     file's lease passes to the NameNode (holder
//     "cairn-namenode-lease-recovery", a name no client may use), so
//     the old writer can no longer change the file (entries without
//     the flag, written before it existed, leave the holder alone).
//   - updatePipeline(fileID, clientName, block: ID and new generation
//     stamp, targets): the last block takes the new generation stamp
//     (one allocated after its current one) and targets as its
//     pipeline; replicas reported with the old one are forgotten, and
//     deleted on the nodes not in targets.
//   - fsync(fileID, clientName, block: ID, generation stamp and the
//     length its writer synced): the uncommitted last block of the file
//     counts that length (if longer than before) until it is committed:
//     the file's size includes it and readers are given those bytes.
//   - rename(path, path2, mtime, overwrite, exact, [fileID]): moves path to path2
//     with the semantics of mv (onto an existing directory: into it), or
//     with exact to exactly path2, which must then not be a directory
//     (HDFS rename2). Entries logged before exact existed have no flag
//     and keep mv semantics. overwrite replaces an existing file, never
//     a directory. With fileID (not 0) it is a compare-and-swap: the
//     file at path2 is replaced only if it is that inode (missing:
//     NotExist; another: Exist).
//   - delete(path, mtime, recursive, [xattrs]): with xattrs (one name),
//     refused (Exist) if the inode has that attribute.
//   - setReplication, setPermission, setOwner, setTimes.
//   - concat(path: the target, paths: the sources, mtime): the blocks
//     of the sources move, in order, onto the end of the target (their
//     block map entries now name it as their file), and the sources
//     are removed; the target keeps its inode, replication, block size,
//     mode and owner and takes mtime, as do its parent and the parents
//     of the sources. Blocks of length 0 (of the sources, and at the end
//     of the target) are dropped and deleted rather than moved, so
//     that only a file's last block may be empty. The target and the
//     sources must be distinct closed files, with at least one source;
//     otherwise nothing changes. (The leader also refuses more than
//     10000 sources; applying does not, so that the limit may change.)
//     See "Blocks of different lengths".
//   - setXAttr(path, xattrs, [xattrCreate], [xattrReplace]): sets all
//     the attributes or none (HDFS's flags: with xattrCreate none may
//     exist, with xattrReplace all must); removeXAttr(path, xattrs)
//     removes them, all of which must exist. Names are normalized
//     ("USER.x" is "user.x") before they are logged; at most 32 per
//     inode, each name and value at most 16 KiB together (xattr.go).
//   - setNodeAdmin(targets: one DataNode ID, decommission): with the
//     flag the node is being decommissioned, without it it is back in
//     service (see "Healing").
//   - tokenKey(keyID, secret, mtime: made, expires): a new token
//     signing key (tokens.go), which signs from then on; its ID is
//     above every earlier key's (refused otherwise). Secrets are in the
//     log and snapshots only: never logged nor shown.
//   - tokenPurge(mtime): drops the keys and the revocations whose
//     expiry is at or before mtime.
//   - revokeToken(tokenID, expires): the token is refused by every
//     member until expires (the token's own expiry), then forgotten.
//
// # Snapshot format
//
// A snapshot is the namespace without replica locations (DataNodes
// report those again):
//
//	magic        8 bytes "CAIRNNS\x00"
//	version      uvarint 4 (1 to 3 are still read)
//	nextInodeID  uvarint
//	nextBlockID  uvarint
//	nextGenStamp uvarint
//	nstrings     uvarint, then nstrings strings: the owner/group table;
//	             string 0 is ""
//	root         inode record
//	ndecom       uvarint (version 2 on), then ndecom strings, sorted:
//	             the IDs of the DataNodes being decommissioned
//	tokens       (version 4 on) nextKeyID uvarint (0: 1), nkeys
//	             uvarint, then per key in ascending ID order: id
//	             uvarint, secret string (32 bytes), created varint,
//	             expires varint (unix nanoseconds); then nrevoked
//	             uvarint, then per revoked token, sorted by ID: its ID
//	             (16 bytes), expires varint
//	crc          4 bytes little endian: CRC-32C (Castagnoli) of all
//	             the bytes before it
//
// Version 1 snapshots (without ndecom), version 2 (without extended
// attributes) and version 3 (without tokens) are still read.
//
// An inode record is, in pre-order:
//
//	kind   byte     0 directory, 1 file, 2 file under construction;
//	                or'ed with 0x80 when extended attributes follow
//	                mtime (version 3)
//	id     uvarint
//	name   string   "" for the root
//	mode   uvarint
//	owner  uvarint  index in the string table
//	group  uvarint
//	mtime  varint   unix nanoseconds
//	[xattrs: count uvarint (1 to 32), then count (name, value) string
//	        pairs sorted by name]
//	directory: count uvarint, then count inode records sorted by name
//	file:      replication uvarint, blockSize varint,
//	           [under construction: holder string, then a uvarint
//	           count and that many strings: the DataNode IDs of the
//	           last block's pipeline],
//	           nblocks uvarint, then per block: id uvarint,
//	           genStamp uvarint, len varint, committed byte (0 or 1)
//
// Snapshot serializes the replicated state to memory on raft's apply
// goroutine (reads go on meanwhile); Persist writes the bytes out while
// later entries are applied. The record encoders are shared with
// SnapshotWriter (Preload), so the format is written in one place.
//
// # Blocks and placement
//
// For a new block the leader picks the file's replication of distinct
// live DataNodes: one on the client's host first (the request's
// client_host, else the gRPC peer's address), then the least busy
// (active transfers plus blocks placed since its last heartbeat), then
// the one with the most room; never a stale, dead, decommissioning or
// full node (remaining below ReservedSpace) nor an excluded one. A
// replication above the number of registered DataNodes is refused
// (cairn.Invalid, naming both numbers); with fewer live nodes than
// asked, the block goes to those there are, and with none AddBlock fails
// with cairn.NotReplicated. The pipeline targets are the block's
// expected locations (they are in the addBlock command and in the
// snapshot, so a restart keeps them); when the writer commits the block
// (AddBlock with previous, or Complete) they become replicas at once,
// since each of them acknowledged the fsync'd block; DataNode reports
// confirm them.
//
// A Create with AllocateBlock places the file's first block by the
// same rule (client_host first, nothing excluded) and logs it with the
// file (createWithBlock); with no live DataNode it makes the file alone
// and leaves the block to AddBlock. To AddBlock the block is the
// file's first, as if allocated by it.
//
// An AddBlock whose previous block is the one before the file's
// uncommitted last block is a retry of an AddBlock whose answer was
// lost, and gets that last block again; unless its exclude list names a
// node of that block's pipeline: the writer then failed to set the
// pipeline up and could not abandon the block, so AddBlock abandons it
// (logging abandonBlock) and allocates another. AbandonBlock of a block
// the file no longer has succeeds (a retry).
//
// Block reports (full ones: finalized and idle unfinalized replicas;
// incremental ones: received, receiving, deleted) go through one
// reconciliation, namespace.reportReplica: a replica of an unknown
// block, or with an older generation stamp than its block's, is queued
// for deletion on its node; one of the uncommitted last block of a
// file being written that is unfinalized, or finalized with a newer
// generation stamp, is held for lease recovery (not counted, not given
// to readers); one of a committed block with a newer generation stamp
// is corrupt; an idle unfinalized one of a committed block at its
// generation stamp is a leftover and deleted (a receiving one is a
// copy in flight, or a report crossed by the finalized one); a
// finalized one at the block's generation stamp is a replica, corrupt
// if its length is not the committed one. A full report also forgets
// the node's replicas it no longer lists, through the node's list of
// blocks: it costs in proportion to the node's blocks. In an
// incremental report, a replica unfinalized goes before the same one
// finalized unless its generation stamp is newer, and deletions go
// last. Deleting files removes their blocks from the block map at once
// and queues them for deletion on every node that holds them;
// heartbeat replies carry at most 1000 per command. A node whose
// heartbeats stop is stale after StaleNodeTimeout (sorted last for
// reads, not chosen for writes) and dead after DeadNodeTimeout: its
// replicas are forgotten and its next heartbeat is answered REREGISTER,
// so that it registers again and sends a full block report, which is
// reconciled like any other.
//
// Every command a heartbeat reply carries (but REREGISTER) has an id
// unique for its node (ids start at the NameNode's start time, so they
// grow across restarts) and is kept in the node's outbox until the id
// comes back in a heartbeat's acked_commands: delivered at least once.
// Unacked, it is sent again in the first reply 1.5 heartbeat intervals
// after it was last sent, doubling each time up to 30s, if still
// wanted (a copy still pending from that node, the running attempt of
// a block recovery, deletions of replicas not counted good there); a
// deletion is also done with when the node reports the replica
// deleted. At most 256 commands are kept per node (the oldest go: each
// kind has its second chance). See outbox.go.
//
// # Blocks of different lengths
//
// A file written in one go has blocks of its block size but the last.
// Concat joins files without copying a byte, so a file may hold blocks
// of any lengths, short ones in the middle, and blocks longer than its
// own block size (a source's block size may be larger): the block
// size is only what a writer aims at. Nothing assumes more: a block's
// offset in its file is the sum of the lengths of the blocks before it
// (GetBlockLocations and GetFileInfo give each block with its offset,
// and readers look an offset up by those, never by dividing by the
// block size); reports, fsck, copies and the DataNodes' scanner judge
// a replica against its block's own committed length.
//
// # Healing
//
// The replication monitor (replication.go) keeps each committed block at
// its file's replication of good replicas on live (or stale) nodes in
// service. It judges only the blocks in an attention set, filled by the
// block map whenever a block's replicas or target change (a replica
// added, removed or marked corrupt, a node dead, setReplication), plus a
// full rescan when it starts leading or leaves safe mode, after a
// decommission or recommission, and every 10 minutes. Every heartbeat
// interval (at most 3s) it takes the set, most urgent first (one good
// replica left or none; then fewer than two thirds; then the rest;
// then surpluses), and:
//
//   - under-replicated: one COPY_BLOCKS command per block, queued for the
//     next heartbeat reply of a source holding a good replica (not
//     stale if it can, fewest copies in flight, fewer than
//     ReplicationStreams in flight), with targets chosen by placement
//     (live, with room, in service, not holding nor being rid of a
//     replica of the block). The copy is pending until each target
//     reports the replica; after ReplicationTimeout, or when the source
//     dies, it is retried, preferring other sources and targets. One
//     copy per block is in flight at a time.
//   - over-replicated (and no copy in flight, no replica on a stale
//     node): the surplus is forgotten and queued for deletion, from the
//     nodes with the least remaining space first; never below target.
//   - corrupt replicas (a wrong length in a report, a newer generation
//     stamp than the committed block's, or ReportBadBlocks from a reader
//     or a DataNode's scanner) stay in the block map marked corrupt, so
//     that a later report does not make them good, and are not given to
//     readers (unless every replica is corrupt: then they are, with
//     Corrupt set) nor counted live, nor ever copy sources. They are
//     deleted (with their own generation stamp) once the block has its
//     target of good replicas, or at once if good replicas remain and no
//     other node could take a copy.
//
// A replica forgotten and queued for deletion is remembered as invalid
// on its node (with its generation stamp) until the node confirms the
// deletion (or a full report no longer lists it, or lists another
// generation stamp): it does not count again meanwhile, and the node is
// not a copy target for that block. Reported again a second or more
// (twice the heartbeat interval if longer) after its deletion was
// queued, its deletion is queued again: a deletion lost with a reply,
// or taken by a node that crashed before doing it, is never lost for
// good.
//
// Decommissioning (decommission.go) is logged (setNodeAdmin), so that
// it survives a restart. A decommissioning node gets no new replicas;
// its replicas serve reads and are copy sources but do not count toward
// targets, so the monitor copies its blocks elsewhere. Once no committed
// block it holds (and no block being written through it) lacks good
// replicas elsewhere, it is decommissioned (checked at most once a
// second, through the node's list of blocks: in proportion to them) (in memory only: a restarted
// NameNode finds it again from the reports). Recommissioning makes its
// replicas count again; the surplus is trimmed.
//
// # Leases
//
// Create records the writer (client_name) in the log as the file's lease
// holder. Renewal times live in memory on the leader (Create, AddBlock,
// Complete and RenewLease renew); after a restart every open file's
// holder starts with a fresh renewal. A Create of a file another client
// is writing fails with cairn.LeaseConflict while that writer renews
// within LeaseSoftLimit. Past it (as HDFS's recoverLease), a Create
// without overwrite fails with cairn.Exist and changes nothing; a
// Create with overwrite recovers the lease: a file that can be closed
// at once is closed (and the Create goes on), otherwise block recovery
// starts and the Create fails with cairn.LeaseConflict ("file is being
// recovered ... retry later"). The lease monitor recovers the files of
// writers silent beyond LeaseHardLimit, and carries on recoveries under
// way.
//
// A file is closed at once, without block synchronization, only when
// that cannot lose an acknowledged byte: it has no uncommitted last
// block, or no node ever took that block (no pipeline node, no replica
// reported in any state): then it is dropped. Otherwise its last block
// is synchronized (recovery.go): an attempt logs a newGenStamp (whose
// leaseRecovery flag passes the lease to the NameNode) and queues a
// RECOVER_BLOCK command for a primary: the node of the block heard
// from last that is up, never one whose replica is known corrupt
// (marked, or queued for deletion); with only corrupt replicas, any
// live node, which need not hold one. The command names every node
// that may hold bytes of the block: its pipeline, its finalized
// replicas, its replicas held unfinalized or newer, but not the
// corrupt ones unless no other is left. The primary brings the
// replicas to a common length and the new generation stamp (see
// package datatransfer, "Block synchronization") and reports with
// CommitBlockSynchronization, which logs the closeFile. An attempt
// whose primary has not taken the command (acked it) within
// max(2 heartbeat intervals, 1s) is given to another node of the block,
// waiting twice as long each time, or, with no other, left to wait for
// that one; a primary that dies before taking it is replaced at once;
// neither uses up an attempt. An attempt whose primary took the
// command and did not report within max(10 heartbeat intervals, 5s) is
// used up, and the next waits a backoff (the pickup wait doubled per
// used-up attempt, at most 5 minutes). With no node of the block up,
// nothing happens until one is. After 3 used-up attempts, the file is
// closed with the replicas reported finalized at the newest generation
// stamp if they agree on a length (the block was written to its end);
// otherwise the file stays open and attempts go on: a last block a
// node may hold is never dropped nor cut.
//
// A file whose name is that of a put's temporary
// (".<name>._COPYING_.<8 hex digits>") is removed once its lease is
// recovered (closeFile with removeFile): its writer is gone, and the
// put never renamed it into place.
//
// Pipeline recovery (GetAdditionalDatanode, UpdateBlockForPipeline,
// UpdatePipeline) is driven by the writer; see package datatransfer,
// "Pipeline recovery".
//
// # Safe mode
//
// After a start the NameNode is read-only (mutations fail with
// cairn.SafeMode) until the namespace is loaded and the fraction of
// committed blocks with at least one good reported replica reaches
// SafeModeThreshold; it then stays in safe mode for SafeModeExtension
// and leaves. A namespace without blocks leaves at once. The SafeMode
// call gets the state, enters a manual safe mode (left only by a manual
// leave) or leaves (which also ends the start-up safe mode). The lease
// monitor does not run in safe mode.
package namenode

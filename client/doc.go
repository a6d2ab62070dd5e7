// Package client is the public Go client of cairn, a distributed file
// system in the manner of HDFS.
//
// A Client talks to the NameNode over a gRPC connection (one per
// member of a NameNode group) for the namespace (Stat, ReadDir, Mkdir, Rename, Remove, ...) and streams
// block bytes straight to and from the DataNodes over the
// data-transfer protocol (package internal/datatransfer): the NameNode
// never sees file data. A Stat or a listing page is one NameNode call.
//
// Every NameNode call goes through one invoker (invoke.go), which owns
// the connections, sends the caller's identity with the call, follows
// the leader of a NameNode group, and turns errors into *cairn.Error.
//
// # NameNode groups
//
// Dial takes one NameNode address or the addresses of the members of a
// NameNode group, separated by commas: "nn1:8020,nn2:8020,nn3:8020".
// Only the group's leader serves the namespace. The Client keeps one
// connection per member (opened when first used) and the member it
// believes leads (at first, the first of the list), and sends every
// call there:
//   - a member that does not lead refuses with cairn.NotLeader and,
//     when it knows, the leader's address: the call goes there at once
//     (an address not in the list, after the group's membership
//     changed, becomes a member for the Client's life);
//   - a refusal without a leader's address (an election is under way),
//     a member that cannot be reached (gRPC Unavailable: connection
//     refused, reset, a handshake that failed) or one shutting down
//     sends the call to the next member of the list;
//   - a member that neither answers nor fails (its host vanished, its
//     process is stopped) is given up after a bound of its own: 3s for
//     Dial's first call, 15s for the other namespace calls (admin
//     calls, such as a large fsck, are not bounded); while a call
//     waits, a connection silent for 5s is pinged and dropped 3s
//     later if the ping is not answered (gRPC keepalive);
//   - once every member has failed in a row, the Client waits before
//     the next round, 50ms at first and growing to 2s, with jitter.
//
// The member that answers is believed to lead until it fails. A call
// keeps looking until its context ends or, when the context has no
// deadline, for 60s from its first failure (WithFailoverTimeout); then
// its error is of kind cairn.Unavailable (cairn.NotLeader if the last
// member tried refused so) and names the addresses tried and the last
// failure. Dial looks the same way, bounded by its dial timeout, and
// succeeds as soon as the leader answers (only the leader answers
// Dial's first call, so the calls after it go there).
//
// A call that is tried again may have been carried out already: a
// create whose answer was lost with the leader. Every attempt of one
// call is sent with the same pair of gRPC metadata, "cairn-client-id"
// (random, fixed for the Client's life) and "cairn-call-id" (a counter
// of the Client's calls), and the group keeps a replicated retry cache
// under that pair: a retry of a call it already carried out gets that
// call's first answer. So any call, not only reads, is tried again.
//
// With a single address the Client behaves as before NameNode groups:
// a call is one attempt, with gRPC's own retries (about 3s) of the
// calls safe to repeat (reads and settings), and Dial keeps trying the
// one NameNode. A NotLeader refusal that names a leader is still
// followed, which makes the leader a second member.
//
// # Gateways
//
// A gateway (S3, WebHDFS, FUSE) serves many users and requests with one
// Client:
//   - AsUser(ctx, user, groups...) makes the calls under ctx for that
//     user: its identity travels in gRPC metadata ("cairn-user",
//     "cairn-groups"), and what it creates is owned by it.
//   - ListPage(ctx, dir, startAfter, limit) lists a directory one page
//     at a time, in order of name, and List iterates over it page by
//     page: no directory is held whole in memory (ReadDir does).
//   - Reader.ReadContext and ReadAtContext, Writer.WriteContext,
//     SyncContext and CloseContext run one call under a context of its
//     own; Read, ReadAt, Write, Sync and Close use the context given to
//     Open or Create. A Writer's call whose context ends while it runs
//     fails the Writer.
//   - Writer.Sync (HDFS's hsync): the bytes written so far are fsync'd
//     on every DataNode of the pipeline and their length given to the
//     NameNode (Fsync), so they survive a crash of anything and new
//     readers see them while the file is still being written.
//
// # Writing
//
// Create returns a Writer, an io.WriteCloser. Its bytes are cut into
// blocks of exactly the file's block size. The NameNode allocates the
// first block with the file, in the Create call itself
// (CreateRequest.allocate_block); for each later block the Writer asks
// for a new one (AddBlock, which also commits the previous block's
// length). So a file of one block costs two NameNode calls, Create and
// Complete, besides its pipeline. A first block unused when the file is
// closed empty is given back (AbandonBlock) before Complete; one held
// longer than a minute before the first Write is given back for a fresh
// AddBlock, its placement being stale; a NameNode that gives none (an
// older one, or one without a live DataNode) leaves it to AddBlock.
// Each block is streamed down the pipeline of DataNodes the NameNode
// chose, with a bounded window of 64 KiB packets in flight, so a
// Writer holds about one window in memory whatever the file size. A
// pipeline that cannot be set up is abandoned and another asked for
// without the DataNode that failed (up to 3 tries). Close waits until
// every DataNode of the last pipeline has acknowledged and fsync'd the
// last block, then completes the file at the NameNode, giving it the
// last block's length: after Close returns nil the file is durable and
// readable at its full length. A DataNode failing in the middle of a
// block is dropped from its pipeline and replaced (pipeline recovery,
// Writer.recoverPipeline); if no node of the pipeline is left, the
// Writer fails, and Abort removes the file.
//
// While a Writer is open the Client holds a lease on its file, renewed
// in the background every half of the NameNode's lease soft limit, so
// no other client can write it. Client.Close completes the files still
// open.
//
// # Reading
//
// Open returns a Reader: an io.Reader, io.ReaderAt and io.Seeker. It
// asks the NameNode for block locations ten blocks at a time, and reads
// each block from the nearest replica first with one stream per block
// for sequential reads. Every checksum is verified; bytes that fail one
// are never returned. When a DataNode cannot be reached or a replica
// fails its checksum, the Reader fails over to the next replica (and
// reports a corrupt one to the NameNode); when every replica has
// failed it asks the NameNode for fresh locations once, then fails with
// an error naming the block and the replicas tried: of kind
// cairn.Corrupt if they were all corrupt, cairn.Unavailable otherwise.
//
// # Errors
//
// Every error is a *cairn.Error carrying the operation, the path and a
// cairn.Kind. Kinds set by the NameNode cross the wire, so
// errors.Is(err, fs.ErrNotExist) works on a missing file and
// errors.Is(err, cairn.LeaseConflict) on a file another client writes.
// Paths are checked with cairn.ValidatePath before anything is sent.
// With one NameNode, the calls that are safe to repeat (reads and
// settings) are retried for a few seconds when it is unavailable; with
// a group, every call fails over as "NameNode groups" says. The
// connection to a restarted NameNode is re-established by itself.
//
// # io/fs
//
// FS returns an io/fs view of the namespace (fs.StatFS, fs.ReadDirFS,
// fs.ReadFileFS), so fs.WalkDir, fs.ReadFile, fs.Glob and http.FS work
// on a cluster. It passes testing/fstest.TestFS.
//
// Usage:
//
//	c, err := client.Dial(ctx, "namenode:8020")
//	if err != nil { ... }
//	defer c.Close()
//	w, err := c.Create(ctx, "/logs/today", &client.CreateOptions{CreateParent: true})
//	if err != nil { ... }
//	defer w.Abort() // a no-op after a successful Close
//	if _, err := io.Copy(w, src); err != nil { ... }
//	if err := w.Close(); err != nil { ... }
package client

// Package client is the public Go client of cairn, a distributed file
// system in the manner of HDFS.
//
// A Client talks to the NameNode over one gRPC connection for the
// namespace (Stat, ReadDir, Mkdir, Rename, Remove, ...) and streams
// block bytes straight to and from the DataNodes over the
// data-transfer protocol (package internal/datatransfer): the NameNode
// never sees file data. A Stat or a listing page is one NameNode call.
//
// Every NameNode call goes through one invoker (invoke.go), which owns
// the connection, sends the caller's identity with the call, and turns
// errors into *cairn.Error; it is the one place that will follow the
// leader of a NameNode group (a NameNode that does not lead refuses
// with cairn.NotLeader and the leader's address in the status).
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
// blocks of exactly the file's block size; for each block the Writer
// asks the NameNode for a new block (AddBlock, which also commits the
// previous block's length) and streams it down the pipeline of
// DataNodes the NameNode chose, with a bounded window of 64 KiB packets
// in flight, so a Writer holds about one window in memory whatever the
// file size. A pipeline that cannot be set up is abandoned and another
// asked for without the DataNode that failed (up to 3 tries). Close
// waits until every DataNode of the last pipeline has acknowledged and
// fsync'd the last block, then completes the file at the NameNode:
// after Close returns nil the file is durable and readable at its full
// length. A DataNode failing in the middle of a block fails the Writer
// (pipeline recovery is not implemented yet); Abort then removes the
// file.
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
// NameNode calls that are safe to repeat (reads and settings) are
// retried for a few seconds when the NameNode is unavailable, and the
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

// Package fusefs serves a cairn cluster as a local file system through
// FUSE (go-fuse v2's fs package), over the public client only: it turns
// the kernel's requests into calls of client.Client and its Readers and
// Writers, and never reaches into the NameNode or the DataNodes. The
// command 'cairn mount' (internal/cli) wires it to a mount point.
//
// # Mapping
//
// The mount shows the whole namespace: the local path MNT/a/b is the
// cairn path /a/b. A node's cairn path is its path in go-fuse's tree of
// the names the kernel knows (renames through the mount move it); its
// inode number is the file's cairn FileID, which stays with it through
// renames made anywhere and is never reused. Directories show size 4096
// and one link; files their length, st_blocks = ceil(size/512), and an
// I/O size (st_blksize) of 1 MiB, which cp and friends use as their
// buffer size. Access and change times are the modification time
// (cairn keeps no other). Owners and groups are names in cairn: a name
// with a local account is shown with its uid (gid), any other as the
// mounting user's (group's); chown maps a uid back to its local name,
// or to its decimal string when it has none.
//
//	request            client call
//	LOOKUP, GETATTR    Stat
//	READDIR(PLUS)      ListPage, 1000 entries a call, fetched as the kernel reads on
//	                   (the attributes of READDIRPLUS come from the page)
//	OPEN (read)        Open; READ: Reader.Read in order (with read-ahead), ReadAt after a jump
//	CREATE             Create (Overwrite with O_TRUNC, not with O_EXCL)
//	OPEN (write)       Stat; with O_TRUNC, Create with Overwrite
//	WRITE              Writer.Write
//	FLUSH, FSYNC       Writer.Sync
//	RELEASE            Writer.Close (Abort after a failed write), Reader.Close
//	SETATTR            Chmod, Chown, SetTimes; size: see "Writing"
//	MKDIR              Mkdir (+ Stat for the inode)
//	UNLINK, RMDIR      Remove
//	RENAME             RenameTo (Overwrite unless RENAME_NOREPLACE)
//	STATFS             DatanodeReport: the capacity and the space left of the
//	                   DataNodes not dead or decommissioned (raw bytes,
//	                   before replication), cached 2s
//
// Renaming a directory onto an empty directory is two NameNode calls
// (remove the target, rename), not one atomic step; every other rename
// is atomic and replaces a file target as POSIX does. A directory onto
// a non-empty one is ENOTEMPTY; RENAME_EXCHANGE is refused (EINVAL).
// Symbolic and hard links, device files and extended attributes are not
// supported: they fail with EOPNOTSUPP.
//
// # Writing: files are written once
//
// A cairn file is written once, from its start, in order. So:
//   - A new file (CREATE) or one opened with O_TRUNC is written by a
//     Writer; a WRITE must come at the end of what was written. A WRITE
//     before it (rewriting bytes) fails with EOPNOTSUPP and changes
//     nothing; one past it (after a seek beyond the end) fills the hole
//     with zeros first, as a sparse file reads.
//   - An existing file opened for writing without O_TRUNC cannot be
//     written: its first WRITE fails with EOPNOTSUPP (so does `echo x >>
//     existing`). Opening it succeeds (touch opens files for writing
//     just to set their times), and an existing empty file may be
//     written from offset 0: that is writing a new file.
//   - Truncation: the kernel truncates an O_TRUNC open of an existing
//     file with a SETATTR of size 0 after the OPEN; size 0 replaces the
//     file with a new empty one (Create with Overwrite), and the handle
//     writes it; a file's own size changes nothing; a larger size
//     extends a file being written with zeros; anything else is
//     EOPNOTSUPP.
//
// The errno is EOPNOTSUPP ("Operation not supported") for every write
// cairn cannot do: it says the operation, not the caller's rights, is
// the problem, where EPERM would suggest a permission to change.
//
// # FLUSH and RELEASE: when a file is whole
//
// close(2) sends a FLUSH, synchronously: close returns when the mount
// answers it. RELEASE comes after the last descriptor of an open file
// is gone (dup, dup2 and fork share one), asynchronously: close does
// not wait for it. And a FLUSH comes with the close of every duplicate,
// also before anything is written: a shell's `echo x > f` opens f,
// duplicates it onto its standard output and closes the original
// first; a command group `{ a; b; } > f` sees a FLUSH each time one of
// its commands exits, between the writes of the next.
//
// So FLUSH cannot end the file, or the writes after it would have no
// file to go to. FLUSH (and FSYNC) call Writer.Sync instead: every byte
// written so far is fsync'd on each DataNode of the pipeline, and its
// length given to the NameNode, which counts it in the file's size; a
// reader opening the file from then on (cairn fs cat, the Go client,
// another mount) reads all of it, while the file is still open for
// writing. RELEASE then closes the Writer, which completes the file. So
// when close(2) returns, the file's bytes are durable and readable
// whole elsewhere; for a moment after, until RELEASE is handled (a few
// milliseconds), the NameNode still shows it under construction (cairn
// fs stat says "being written", cairn admin fsck --open-files lists
// it), and another client's create with overwrite of it fails with a
// lease conflict. A FLUSH with nothing written since the last one does
// nothing. A Sync that fails makes close(2) fail with EIO.
//
// Renaming, removing or replacing a file after close(2) and before its
// RELEASE is safe: the Writer names its file by FileID. A modification
// time set before the completion (cp -p and rsync set it just before
// or after close) is set again after it, since the NameNode stamps a
// completed file with its own time.
//
// A file removed (or replaced) while open for writing behaves as an
// unlinked local file: fstat answers from what was written, and WRITE,
// FLUSH and close go on without error, into nothing, once the Writer
// finds its lease gone and a Stat confirms the path no longer holds
// its FileID.
//
// A WRITE or Sync that fails makes every later WRITE, FLUSH and
// FSYNC of the handle fail with the same errno, and RELEASE removes the
// file (Writer.Abort), rather than leave one that looks whole.
//
// # Reading
//
// The kernel sends one READ at a time per open file, in order of offset
// (go-fuse's SyncRead: the Reader streams a block sequentially, and
// reads out of order would each open a stream), of up to 1 MiB when the
// mount runs as root (it raises the mount's read_ahead_kb in sysfs from
// the kernel's 128 KiB). From the second READ in a row at the offset
// where the last ended, a goroutine reads ahead of the kernel, two
// chunks of 1 MiB; a READ elsewhere stops it and is served by
// Reader.ReadAt (small reads near each other from the Reader's window),
// and sequential READs from there go on through a stream again.
//
// # Caching
//
// The kernel keeps attributes, names and the absence of names for
// Config.AttrTimeout ('cairn mount --attr-timeout', 1s by default): a
// file changed through cairn fs or another mount shows through this one
// within that time. File data is not kept across opens (no
// FOPEN_KEEP_CACHE): an open of a file replaced elsewhere reads the new
// bytes, within the attributes' time for its size.
//
// # Errors
//
// Errors of kind (package cairn) become:
//
//	NotExist        ENOENT        Exist       EEXIST
//	NotEmpty        ENOTEMPTY     IsDir       EISDIR
//	NotDir          ENOTDIR       Permission  EACCES
//	Invalid         EINVAL        NoSpace     ENOSPC
//	SafeMode        EROFS         LeaseConflict EBUSY
//	Closed          EBADF         anything else (Unavailable, NotLeader,
//	                              Corrupt, IO, NotReplicated, Internal) EIO
//
// plus EROFS for every change on a read-only mount, ENAMETOOLONG for a
// name of more than 255 bytes and EOPNOTSUPP for the writes above. A
// write no DataNode has room for is ENOSPC when a DataNode's disk
// filled under it; when the NameNode already knows every DataNode is
// full, it refuses the block as NotReplicated ("no live datanodes"),
// which is EIO.
//
// No request waits forever: each NameNode call of a request is bounded
// by Config.OpTimeout (1 minute by default; a NameNode group's
// failover happens within it), and every wait on a DataNode by the
// client's data timeout (60s), after which the request fails with EIO.
// A request is not ended by the kernel's INTERRUPT (a signal to the
// caller): Go programs are sent signals all the time (the runtime's
// preemption), and an interrupted Write would fail its Writer, an
// interrupted rename leave the caller unsure whether it happened.
// Readers and Writers run under the mount's own context for the same
// reason.
//
// # Identity
//
// Every request reaches the NameNode as the client's user: the user
// who mounted (client.Dial's default, the OS user), who owns what the
// mount creates. With Config.AllowOther (FUSE's allow_other) other
// local users may use the mount; they act as the mounting user too,
// and the kernel checks the permission bits shown against their uid
// (default_permissions is set), the only check a cairn NameNode
// without permissions of its own makes.
//
// # Unmounting
//
// Server.Unmount unmounts (fusermount3 -u, or umount(2) as root); when
// files are still open it detaches the mount lazily (MNT_DETACH): it
// leaves the mount table at once, and its files are finished after a
// grace of 2s: their Writers are closed, so the files hold what was
// written and are complete. The FUSE connection ends when the process
// exits.
package fusefs

// Package webhdfs serves Apache Hadoop's WebHDFS REST API
// (hadoop-hdfs/src/site/markdown/WebHDFS.md) over cairn: requests
// /webhdfs/v1/<path>?op=... to the NameNode's web address, and the
// data itself to the DataNodes' web addresses, as HDFS does. It turns
// the protocol into calls of the public client package and back; it
// never reaches into the NameNode or the DataNode. NewNameNodeHandler
// and NewDataNodeHandler return the http.Handlers the NameNode and the
// DataNode mount at Prefix, each given a client by its host (Dialer)
// and, for the NameNode, the small NameNode interface.
//
// # Requests
//
// The path is what follows /webhdfs/v1, percent-decoded; nothing is
// "/". It must be a valid cairn path (cairn.ValidatePath): "..", ".",
// "//", NUL or a name longer than 255 bytes is an
// IllegalArgumentException (400); a single trailing slash is dropped, as
// Hadoop's Path drops it. Parameter names are case-insensitive, and so
// are op's value and booleans ("true", "false"); every parameter
// present is checked against its Hadoop domain, whether the operation
// uses it or not (parseRequest): offset ≥ 0, length ≥ 0, buffersize,
// blocksize and replication ≥ 1 (replication ≤ 32767), permission
// [0-1]?[0-7]{3} (the sticky bit is accepted and dropped: cairn keeps
// none), user.name and owner ^[A-Za-z_][A-Za-z0-9._-]*[$]?$,
// destination and each of sources an absolute, valid path,
// renameoptions OVERWRITE|NONE, xattr.name <namespace>.<name>, encoding
// text|hex|base64, flag CREATE|REPLACE, fsaction [r-][w-][x-].
//
// CHECKACCESS answers 200 for any existing path: cairn does not enforce
// permissions yet. GETFILEBLOCKLOCATIONS gives Hadoop's BlockLocation
// objects, every replica a DISK in /default-rack.
//
// An op that is not among Hadoop's operations of the request's method
// (GetOpParam.Op and so on; ops.go) is an IllegalArgumentException
// `Invalid value for webhdfs parameter "op": No enum constant
// org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.FOO`, as in
// Hadoop; one of Hadoop's that cairn does not serve (ACLs, snapshots,
// storage policies, erasure coding, symlinks, delegation tokens,
// TRUNCATE, ...) an UnsupportedOperationException (400).
//
// # Identity
//
// As Hadoop's pseudo authentication ("simple" mode): the user is
// user.name, trusted as given, and the calls are made for it
// (client.AsUser), so what it creates is its own; without user.name the
// user is DefaultUser, "dr.who", Hadoop's hadoop.http.staticuser.user.
// GETHOMEDIRECTORY answers /user/<user>. doas= is ignored: the request
// runs as user.name. On a secured cluster delegation= carries a cairn
// token: the calls carry it (client.WithCallToken) and act as its user,
// whatever user.name says; the redirects keep it.
//
// # Redirects
//
// A NameNode that does not lead its group answers every request with
// 307 to the same request at the leader's web address; when no leader
// is known, 403 StandbyException (which Hadoop's clients retry).
//
// OPEN and GETFILECHECKSUM answer 307 to a DataNode holding a replica
// of the block of offset (the first block for a checksum), nearest
// first as a client would read it, else to any live DataNode; CREATE
// and APPEND to a live DataNode picked at random. The DataNode's URL is
// http://<its web address>/webhdfs/v1/<path> (https:// when the
// request came over TLS: a cluster's nodes serve their web ports all
// with TLS or all without) with the request's
// parameters, op, user.name and namenoderpcaddress (the NameNode's RPC
// address, told as Hadoop tells it; the DataNode does not follow it: it
// calls the NameNodes it reports to). With noredirect=true the answer is
// 200 and {"Location": "<url>"} instead. A DataNode's web address on an
// unspecified host (0.0.0.0) is given with the host of its data
// address.
//
// # Writes
//
// CREATE is Hadoop's two steps. The first, to the NameNode, creates
// nothing: it refuses an existing file without overwrite=true, or a
// directory (403 FileAlreadyExistsException), and redirects. The
// second, the body PUT to the DataNode, writes the body to a temporary
// file beside the target, "<dir>/.<name>._COPYING_.<8 hex digits>" (as
// `cairn fs put` does; missing parents are created unless
// createparent=false, as HDFS's create does), through the client's normal pipeline, with the permission
// (default 644), replication and blocksize asked; once it is closed, the
// temporary is renamed onto exactly the target (replacing a file there
// only with overwrite=true). The answer is 201 Created with Location
// hdfs://<namenoderpcaddress><path>, as Hadoop's. An upload that fails
// or is cut short removes its temporary and leaves the target as it
// was. A client that sends nothing for DataNodeConfig.BodyTimeout (60s)
// is given up, and so are the uploads under way when the DataNode
// closes: they fail and remove their temporaries. A DataNode killed
// mid-upload leaves its temporary open until the NameNode's lease
// recovery removes it (it knows the name; after the lease hard limit,
// 1h by default): readers never see a partial file at the target.
//
// APPEND (POST; fsspec's writes use it) writes the body to a temporary
// the same way, closes it and concatenates it onto the target with the
// NameNode's concat: the target's blocks are kept, the new ones follow
// (a file's blocks may then differ in length), in one logged step, so
// readers see the file before or after the append, never part of it. An
// empty body changes nothing. A NameNode without concat makes APPEND
// and CONCAT UnsupportedOperationException (400).
//
// # Reads
//
// The DataNode's OPEN streams bytes [offset, offset+length) (to the end
// without length; length past the end is cut there) through the
// client's Reader: never the whole file in memory, buffersize bytes
// (clamped to 4 KiB-1 MiB; 64 KiB without it) at a time. offset past
// the end is 403 EOFException "Cannot seek after EOF"; offset at the
// end answers no bytes. The first bytes are read before the answer
// starts, so an error there is a RemoteException; an error after it
// aborts the connection, so the reader sees a short body against the
// Content-Length, never a wrong one.
//
// # JSON
//
// Bodies use Hadoop's names and types (json.go): FileStatus (accessTime,
// blockSize, childrenNum, fileId, group, length, modificationTime in
// milliseconds, owner, pathSuffix, permission as an octal string,
// replication, storagePolicy 0, type FILE or DIRECTORY; cairn keeps no
// access time: a file's accessTime is its modificationTime, a
// directory's 0, and a directory's blockSize, length and replication are
// 0), {"FileStatuses": {"FileStatus": [...]}}, {"DirectoryListing":
// {"partialListing": {"FileStatuses": ...}, "remainingEntries": N}} (a
// page of 1000; cairn knows whether more entries follow, not how many:
// N is 1 when some do, 0 on the last page), ContentSummary
// (directoryCount, fileCount, length, quota -1, spaceConsumed,
// spaceQuota -1, typeQuota {}: cairn has no quotas), {"boolean": b},
// {"Path": p}, FileChecksum, XAttrs ({"XAttrs": [{"name", "value"}]},
// values as XAttrCodec encodes them: "\"text\"" (the default), 0x<hex>,
// 0s<base64>), {"XAttrNames": "[\"user.a\"]"} (a JSON string holding a
// JSON array, as Hadoop's), FsServerDefaults.
//
// RENAME answers {"boolean": false} where HDFS's rename does (a missing
// source, an existing destination file, a missing destination parent),
// and moves the source into an existing destination directory; with
// renameoptions it is HDFS's rename2: exactly to destination, errors as
// exceptions, an empty 200. DELETE answers false for a missing path;
// SETREPLICATION false for a directory or a missing path.
//
// # Checksums
//
// GETFILECHECKSUM is HDFS's MD5MD5CRC32CastagnoliFileChecksum,
// "MD5-of-<crcPerBlock>MD5-of-512CRC32C" with 28 bytes in hex
// (fileChecksum in checksum.go says how it is made, HDFS's quirks
// included), so that a file copied between HDFS and cairn with the
// same block size should have the same checksum (checked against HDFS's
// value for an empty file; no HDFS was at hand for others). The
// DataNode computes it by reading
// the file through the client (the CRCs of the chunks it reads, checked
// against the stored ones): it costs a read of the file.
//
// # Errors
//
// An error is {"RemoteException": {"exception", "javaClassName",
// "message"}} with Hadoop's status (errors.go): FileNotFoundException
// 404; IllegalArgumentException and UnsupportedOperationException 400;
// SecurityException 401; AccessControlException,
// FileAlreadyExistsException, PathIsNotEmptyDirectoryException,
// ParentNotDirectoryException, AlreadyBeingCreatedException,
// SafeModeException, StandbyException, ChecksumException, EOFException
// and any other IOException 403; a cairn Internal error
// RuntimeException 500.
package webhdfs

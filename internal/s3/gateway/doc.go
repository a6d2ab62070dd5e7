// Package gateway is cairn's S3 gateway: an http.Handler that serves
// the S3 API over a cairn namespace through the public client, the
// server of `cairn s3`. The protocol pieces (signatures, bodies, XML,
// routing, the key mapping, the listing order, ETags, error bodies) are
// in packages s3 and s3/sigv4; this package maps S3 operations onto
// cairn calls and keeps all its state in the namespace, none in memory,
// so that several gateways can serve the same buckets behind a load
// balancer and a restart loses nothing.
//
// # Namespace mapping
//
// A bucket is the directory <root>/<bucket> (root "/s3" by default);
// ListBuckets lists the directories of the root whose names are valid
// bucket names. An object is the file at its key below the bucket:
// key "photos/2024/cat.jpg" of bucket "pics" is the file
// /s3/pics/photos/2024/cat.jpg, and the directories of its prefix are
// ordinary directories, made as needed. A file put there by `cairn fs`
// or the client is an object like any other, and an object written
// through S3 is an ordinary cairn file. A key ending in '/' (a folder
// marker, "photos/") is the directory itself; it holds no data, and is
// an object when a PUT made it (it is marked, see below) or when it is
// empty. Keys that cannot be paths ("a//b", "../x", segments over 255
// bytes, names beginning with ".cairn-s3") are refused with
// InvalidArgument, and a key longer than 1024 bytes with
// KeyTooLongError (s3.ValidateKey). S3 lets "a" and "a/b" both be
// objects; a tree cannot, so a PUT of one when the other exists is
// InvalidArgument, saying which (the tree is never changed by it).
//
// A DeleteObject of a file removes it, then removes the directories
// left empty up to (not including) the bucket's, except those marked,
// as S3 users expect prefixes to vanish with their last key. A delete
// of "dir/" removes the directory if it is empty, else only its mark.
//
// # Writes
//
// A PutObject streams the verified body (sigv4.NewBody) into a new file
// <bucket>/.cairn-s3/tmp/<random> (s3.TempPath), sets its attributes,
// and renames it onto the key, replacing the file there (RenameTo with
// overwrite): the object appears whole with its metadata, or not at
// all; a body that fails its checks (signature, Content-MD5,
// x-amz-checksum-*, length) aborts the file and leaves nothing. A PUT
// with If-None-Match "*" renames without overwriting, so that of two
// such PUTs exactly one succeeds (the other is PreconditionFailed); an
// If-Match is checked before the write. A
// CopyObject streams the source's bytes through the gateway the same
// way (a copy onto itself with REPLACE only changes the attributes).
// Copies and completions that take long answer 200 early and send
// spaces until their XML is ready, as S3 does.
//
// # Multipart uploads
//
// An upload is the directory <bucket>/.cairn-s3/uploads/<uploadID>,
// made under a temporary name with its attributes, then renamed into
// place:
//
//	user.s3.upload.key        the object key
//	user.s3.upload.owner      the cairn user who initiated it
//	user.s3.upload.initiated  the time, RFC 3339
//	user.s3.content-type      the object's metadata to be, as below
//	user.s3.headers
//
// Part n is the file <upload>/<nnnnn> (five digits), written like an
// object and renamed into place, with its ETag (the hex MD5 of its
// bytes) in user.s3.etag. CompleteMultipartUpload checks the parts
// (InvalidPart, InvalidPartOrder, EntityTooSmall below 5 MiB but for
// the last), records "<etag> <count> <SHA-256 of the part numbers>" in
// user.s3.upload.completing (a fixed size, whatever the number of
// parts), moves the blocks of parts 2..n onto part 1
// with client.Concat (one logged step on the NameNode; no byte is
// copied, and blocks keep their lengths), sets the object's attributes
// on the joined file and renames it onto the key, then removes the
// upload's directory with the parts not listed. A completion cut short
// after the concat (a gateway that died) is finished by the retry of
// the same request, found through the record; so is one cut short
// after its rename (the retry answers the ETag if the object is still
// the one made, and removes the upload). The ETag is S3's
// md5-of-part-md5s-N (s3.MultipartETag). ListMultipartUploads reads a
// bucket's uploads directory whole (one NameNode call per thousand
// uploads) and orders it by key, then upload ID.
//
// Run removes uploads initiated more than UploadMaxAge ago, and
// temporary files (failed writes) closed more than an hour ago or open
// for more than a day. A DeleteBucket is BucketNotEmpty while any
// object or upload is there, and removes <bucket>/.cairn-s3 with the
// bucket.
//
// # Attributes
//
// Objects keep what S3 returns about them in extended attributes of
// their file (or directory):
//
//	user.s3.etag          "<etag> <blocks-etag>" (s3.StoredETag)
//	user.s3.content-type  the Content-Type ("" is binary/octet-stream)
//	user.s3.headers       the other stored headers, one "Name: value"
//	                      a line: x-amz-meta-* (in lower case),
//	                      Content-Encoding (without aws-chunked),
//	                      Cache-Control, Content-Disposition,
//	                      Content-Language, Expires,
//	                      X-Amz-Website-Redirect-Location
//	user.s3.checksum      "<algorithm> <base64> <blocks-etag>": the
//	                      x-amz-checksum-* the body was verified against
//	user.s3.dir           on a directory made by a PUT of "key/"
//	user.s3.created       on a bucket's directory: its creation time
//
// Every PUT sets both user.s3.content-type and user.s3.headers, so a
// new version never inherits an older one's headers, and a copy with
// REPLACE changes them in one step. The ETag of a file is the stored
// one while the file still has the blocks it was computed for; a file
// written outside S3, or changed since (an append), has the ETag
// s3.BlocksETag of its blocks, stable until its content changes. A
// directory object's ETag is the MD5 of no bytes. Listings get every
// entry's blocks and attributes in the same NameNode call as the page
// (client.ListPageWith), so a page of keys costs one call per
// directory page.
//
// # Identity
//
// Every request is verified by SigV4 (headers or presigned URL; an
// unsigned request is AccessDenied) and acts as the cairn user of its
// credential (client.AsUser): what it makes is owned by that user.
// ListBuckets lists every bucket of the root.
//
// # Errors
//
// cairn's error kinds become S3 codes in one place (s3Error):
//
//	NotExist, NotDir       the operation's "no such" code: NoSuchKey,
//	                       NoSuchBucket or NoSuchUpload
//	Exist, IsDir, NotDir   at a key: InvalidArgument (see above);
//	                       at a bucket: BucketAlreadyOwnedByYou (the
//	                       directory is the user's) or BucketAlreadyExists
//	NotEmpty               BucketNotEmpty
//	Permission             AccessDenied
//	LeaseConflict          OperationAborted (written by another client)
//	SafeMode, Unavailable, ServiceUnavailable (503, Retry-After: clients
//	NotLeader,             retry)
//	NotReplicated, NoSpace
//	anything else          InternalError (500), its cause logged
//
// Unsupported subresources (?policy, ?tagging, ?cors, ?versions...)
// are NotImplemented, except the reads for which "none" is the true
// answer: GET ?acl (the owner has FULL_CONTROL), an object's GET
// ?tagging (no tags), a bucket's GET ?policy, ?cors, ?lifecycle and
// ?tagging (NoSuchBucketPolicy and the like), ?versioning (never
// enabled) and ?location. Server-side encryption and object lock
// headers are NotImplemented rather than ignored.
//
// Every answer carries x-amz-request-id, x-amz-id-2, Date and Server.
// Bodies are streamed both ways through four 256 KiB buffers, reads
// and writes in two goroutines so that hashing a body overlaps writing
// it to the DataNodes (and verifying a read, sending it); a GET that
// fails after its headers went out cuts the connection, so that the
// client sees a broken answer rather than a short object.
package gateway

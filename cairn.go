// Package cairn holds the vocabulary shared by every part of cairn, a
// distributed file system in the manner of HDFS: block and node
// identifiers, file metadata, block locations, the error type whose
// kinds cross the wire, and the shapes of the NameNode's answers that
// the NameNode and the client both speak (admin.go).
//
// It imports only the standard library, and nothing of cairn's own, so
// that the NameNode, the DataNode, the client and the protocol can all
// speak it without depending on each other.
package cairn

import (
	"io/fs"
	"time"
)

// BlockID names a block for its whole life. IDs are allocated by the
// NameNode through its replicated log and never reused.
type BlockID uint64

// GenStamp is a block's generation stamp. It is bumped whenever a
// replica's content may diverge (pipeline recovery, lease recovery), so
// a stale replica can never be mistaken for a current one.
type GenStamp uint64

// NodeID is a DataNode's stable identity, kept in its data directory so
// that a restarted DataNode is the same node.
type NodeID string

// ClusterID names a cluster. A DataNode formatted for one cluster is
// refused by the NameNode of another.
type ClusterID string

// Block is one block of a file: its ID, its generation stamp and its
// length in bytes.
type Block struct {
	ID       BlockID
	GenStamp GenStamp
	Len      int64
}

// DatanodeInfo says where a DataNode is.
type DatanodeInfo struct {
	ID       NodeID
	Addr     string // data-transfer address, host:port
	HTTPAddr string // web address, host:port; may be empty
}

// StorageReport is what a DataNode says of its storage when it
// registers and in every heartbeat.
type StorageReport struct {
	CapacityBytes   int64
	UsedBytes       int64 // by blocks
	RemainingBytes  int64
	ActiveTransfers int
	FailedVolumes   []string
}

// LocatedBlock is a block with the DataNodes that hold it, nearest
// first, and its offset in its file.
type LocatedBlock struct {
	Block     Block
	Offset    int64
	Locations []DatanodeInfo
	// Corrupt is true when every known replica of the block is corrupt.
	Corrupt bool
	// Token is the block access token the NameNode issued with the
	// block in secure mode, sent to the DataNodes with every
	// operation on it; nil otherwise. Its bytes are opaque to a
	// client.
	Token []byte
}

// FileInfo describes a file or a directory in the namespace.
type FileInfo struct {
	Path        string
	Name        string
	IsDir       bool
	Size        int64
	Replication int
	BlockSize   int64
	Owner       string
	Group       string
	Mode        fs.FileMode // permission bits only; IsDir carries the type
	ModTime     time.Time
	// UnderConstruction is true while a writer holds the file open.
	UnderConstruction bool
	// Blocks are the file's blocks in order. They are filled in only
	// by calls that ask for them.
	Blocks []LocatedBlock
	// Children is the number of entries of a directory.
	Children int
	// FileID is the file's inode number (HDFS's fileId): it stays with
	// the file through renames and is never reused, so it tells a file
	// from another put at its path later.
	FileID uint64
	// XAttrs are the extended attributes, by full name
	// ("user.mime_type"). They are filled in only by calls that ask for
	// them; nil otherwise.
	XAttrs map[string][]byte
}

// Defaults, as HDFS's.
const (
	DefaultBlockSize   = 128 << 20
	DefaultReplication = 3
	// ChunkSize is the number of data bytes covered by one CRC32C
	// checksum, on disk and on the wire.
	ChunkSize = 512
	// PacketSize is the number of data bytes in one data-transfer
	// packet.
	PacketSize = 64 << 10
	// MaxNameLen is the longest name of one path element, in bytes.
	MaxNameLen = 255
)

// Package checksum holds cairn's one CRC32C (Castagnoli) table, used
// for the chunk checksums of block data (package datatransfer, the
// DataNode's meta files) and for the NameNode's snapshot trailer.
// Package crc32 computes it with the CPU's instruction where there is
// one.
package checksum

import (
	"hash"
	"hash/crc32"
)

// table is never written after it is made.
var table = crc32.MakeTable(crc32.Castagnoli)

// Table returns the CRC32C table.
func Table() *crc32.Table { return table }

// CRC32C returns the CRC32C of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, table) }

// Update returns crc updated with the bytes of b.
func Update(crc uint32, b []byte) uint32 { return crc32.Update(crc, table, b) }

// New returns a hash computing the CRC32C of what is written to it.
func New() hash.Hash32 { return crc32.New(table) }

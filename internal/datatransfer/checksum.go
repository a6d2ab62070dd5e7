package datatransfer

import (
	"encoding/binary"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
)

// ChunkCRC returns the CRC32C of one chunk.
func ChunkCRC(chunk []byte) uint32 { return checksum.CRC32C(chunk) }

// ComputeSums writes into sums the checksum of every chunk of data:
// 4 bytes big-endian per ChunkSize bytes, the last chunk possibly
// shorter. sums must be at least SumsLen(len(data)) long.
func ComputeSums(sums, data []byte) {
	for i := 0; len(data) > 0; i += 4 {
		n := min(len(data), cairn.ChunkSize)
		binary.BigEndian.PutUint32(sums[i:], checksum.CRC32C(data[:n]))
		data = data[n:]
	}
}

// VerifySums checks every chunk of data against sums. It returns the
// index of the first chunk that does not match, or -1 if all do. Sums
// shorter than SumsLen(len(data)) fail at the first missing one.
func VerifySums(sums, data []byte) int {
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), cairn.ChunkSize)
		if 4*i+4 > len(sums) || binary.BigEndian.Uint32(sums[4*i:]) != checksum.CRC32C(data[:n]) {
			return i
		}
		data = data[n:]
	}
	return -1
}

package webhdfs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"strconv"

	"github.com/cairn-fs/cairn"
)

// fs644 is the permission of a file created without one.
const fs644 fs.FileMode = 0o644

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileChecksum computes HDFS's MD5MD5CRC32CastagnoliFileChecksum of a
// file whose blocks have the lengths given, reading its bytes from r:
//
//   - each block's MD5 is the MD5 of the CRC32Cs (4 bytes, big endian)
//     of its 512-byte chunks, the last one possibly short: the checksums
//     a DataNode keeps in a replica's .meta file;
//   - the file's MD5 is the MD5 of the blocks' MD5s one after another,
//     taken, as HDFS takes it (MD5Hash.digest(DataOutputBuffer.getData())),
//     over the whole buffer they were written to: 32 bytes at first,
//     doubled as needed, zeros after the MD5s;
//   - the algorithm is "MD5-of-<crcPerBlock>MD5-of-512CRC32C", where
//     crcPerBlock is the number of CRCs of the first block of a file of
//     several blocks and 0 for one block, and bytes are bytesPerCRC
//     (int32), crcPerBlock (int64) and the MD5, big endian: 28 bytes.
//
// The CRCs are computed again from the bytes read, which the client has
// checked against the stored ones: the same values. A file without
// blocks gives HDFS's answer for one: "MD5-of-0MD5-of-0CRC32" and the
// MD5 of 32 zero bytes.
func fileChecksum(r io.Reader, blockLens []int64) (FileChecksum, error) {
	var (
		md5s        []byte
		crcPerBlock int64
		buf         = make([]byte, 64<<10) // a multiple of ChunkSize
		crc         [4]byte
	)
	for i, n := range blockLens {
		h := md5.New()
		chunks := int64(0)
		for left := n; left > 0; {
			m, err := io.ReadFull(r, buf[:min(int64(len(buf)), left)])
			if err != nil {
				return FileChecksum{}, fmt.Errorf("reading block %d for its checksum: %w", i, err)
			}
			for off := 0; off < m; off += cairn.ChunkSize {
				binary.BigEndian.PutUint32(crc[:], crc32.Checksum(buf[off:min(off+cairn.ChunkSize, m)], castagnoli))
				h.Write(crc[:])
				chunks++
			}
			left -= int64(m)
		}
		if i == 0 && len(blockLens) > 1 {
			crcPerBlock = chunks
		}
		md5s = h.Sum(md5s)
	}
	bytesPerCRC, crcType := int32(cairn.ChunkSize), "CRC32C"
	if len(blockLens) == 0 {
		bytesPerCRC, crcType = 0, "CRC32"
	}
	// DataOutputBuffer's backing array: 32 bytes, doubled whenever the
	// next 16 do not fit.
	capacity := 32
	for capacity < len(md5s) {
		capacity *= 2
	}
	padded := make([]byte, capacity)
	copy(padded, md5s)
	fileMD5 := md5.Sum(padded)
	out := make([]byte, 0, 28)
	out = binary.BigEndian.AppendUint32(out, uint32(bytesPerCRC))
	out = binary.BigEndian.AppendUint64(out, uint64(crcPerBlock))
	out = append(out, fileMD5[:]...)
	return FileChecksum{
		Algorithm: fmt.Sprintf("MD5-of-%dMD5-of-%d%s", crcPerBlock, bytesPerCRC, crcType),
		Bytes:     hex.EncodeToString(out),
		Length:    len(out),
	}, nil
}

package datanode

import (
	"encoding/binary"
	"fmt"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// The meta file header; see doc.go.
const (
	metaVersion    = 1
	metaTypeCRC32C = 2
	metaHeaderLen  = 7
)

// metaHeader is the header of a meta file.
type metaHeader struct {
	Version          uint16
	ChecksumType     uint8
	BytesPerChecksum uint32
}

// appendMetaHeader appends the header every meta file starts with.
func appendMetaHeader(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, metaVersion)
	b = append(b, metaTypeCRC32C)
	return binary.BigEndian.AppendUint32(b, cairn.ChunkSize)
}

// parseMetaHeader checks a meta file header.
func parseMetaHeader(b []byte) (metaHeader, error) {
	if len(b) < metaHeaderLen {
		return metaHeader{}, fmt.Errorf("meta header of %d bytes, want %d", len(b), metaHeaderLen)
	}
	h := metaHeader{
		Version:          binary.BigEndian.Uint16(b),
		ChecksumType:     b[2],
		BytesPerChecksum: binary.BigEndian.Uint32(b[3:]),
	}
	if h.Version != metaVersion || h.ChecksumType != metaTypeCRC32C || h.BytesPerChecksum != cairn.ChunkSize {
		return h, fmt.Errorf("unsupported meta header: version %d, checksum type %d, %d bytes per checksum", h.Version, h.ChecksumType, h.BytesPerChecksum)
	}
	return h, nil
}

// metaLen is the length of the meta file of a replica of n bytes.
func metaLen(n int64) int64 {
	return metaHeaderLen + 4*((n+cairn.ChunkSize-1)/cairn.ChunkSize)
}

// sumOffset is where the checksum of the chunk holding block offset
// off is in the meta file.
func sumOffset(off int64) int64 { return metaHeaderLen + 4*(off/cairn.ChunkSize) }

// EncodeMeta returns the meta file of data: header and checksums.
func EncodeMeta(data []byte) []byte {
	b := appendMetaHeader(make([]byte, 0, metaLen(int64(len(data)))))
	sums := make([]byte, datatransfer.SumsLen(len(data)))
	datatransfer.ComputeSums(sums, data)
	return append(b, sums...)
}

// VerifyMeta checks data against a meta file. It returns the offset of
// the first chunk that does not match, or -1.
func VerifyMeta(meta, data []byte) (int64, error) {
	if _, err := parseMetaHeader(meta); err != nil {
		return 0, err
	}
	if int64(len(meta)) != metaLen(int64(len(data))) {
		return 0, fmt.Errorf("meta file of %d bytes for %d bytes of data", len(meta), len(data))
	}
	if bad := datatransfer.VerifySums(meta[metaHeaderLen:], data); bad >= 0 {
		return int64(bad) * cairn.ChunkSize, nil
	}
	return -1, nil
}

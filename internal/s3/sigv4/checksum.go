package sigv4

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"math/bits"
)

// The checksum algorithms of S3's x-amz-checksum-* headers and
// trailers. Every value is sent as the base64 of the big-endian digest.
const (
	ChecksumCRC32     = "crc32"     // CRC-32 (IEEE), 4 bytes
	ChecksumCRC32C    = "crc32c"    // CRC-32C (Castagnoli), 4 bytes
	ChecksumCRC64NVME = "crc64nvme" // CRC-64/NVME, 8 bytes
	ChecksumSHA1      = "sha1"      // 20 bytes
	ChecksumSHA256    = "sha256"    // 32 bytes
)

// crc64NVMEPoly is CRC-64/NVME's polynomial 0xad93d23594c93659 in the
// bit-reversed form hash/crc64 takes. CRC-64/NVME is reflected with
// initial value and final xor all ones, which is exactly what
// hash/crc64 does around its table, so crc64.New of this table is
// CRC-64/NVME (check value of "123456789": 0xae8b14860a799888).
var crc64NVMEPoly = bits.Reverse64(0xad93d23594c93659)

var (
	crc32cTable    = crc32.MakeTable(crc32.Castagnoli)
	crc64NVMETable = crc64.MakeTable(crc64NVMEPoly)
)

// NewChecksum returns a hash computing the named checksum algorithm
// (one of the Checksum constants), or nil for an unknown name.
func NewChecksum(algorithm string) hash.Hash {
	switch algorithm {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(crc32cTable)
	case ChecksumCRC64NVME:
		return crc64.New(crc64NVMETable)
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumSHA256:
		return sha256.New()
	}
	return nil
}

// checksumSize is the digest size of a known algorithm, 0 otherwise.
func checksumSize(algorithm string) int {
	switch algorithm {
	case ChecksumCRC32, ChecksumCRC32C:
		return 4
	case ChecksumCRC64NVME:
		return 8
	case ChecksumSHA1:
		return 20
	case ChecksumSHA256:
		return 32
	}
	return 0
}

// checksumName is the name S3 uses in messages ("CRC32", "SHA256").
func checksumName(algorithm string) string {
	switch algorithm {
	case ChecksumCRC32:
		return "CRC32"
	case ChecksumCRC32C:
		return "CRC32C"
	case ChecksumCRC64NVME:
		return "CRC64NVME"
	case ChecksumSHA1:
		return "SHA1"
	case ChecksumSHA256:
		return "SHA256"
	}
	return algorithm
}

// ChecksumHeader is the header (or trailer) name of an algorithm:
// "x-amz-checksum-crc32" and so on.
func ChecksumHeader(algorithm string) string { return "x-amz-checksum-" + algorithm }

package checksum

import (
	"hash/crc32"
	"testing"
)

// The check value of CRC-32C (RFC 3720, B.4): "123456789" sums to
// 0xE3069283.
func TestCRC32CCheckValue(t *testing.T) {
	in := []byte("123456789")
	const want = 0xE3069283
	if got := CRC32C(in); got != want {
		t.Errorf("CRC32C(%q) = %#x, want %#x", in, got, want)
	}
	if got := Update(Update(0, in[:4]), in[4:]); got != want {
		t.Errorf("Update in two steps = %#x, want %#x", got, want)
	}
	h := New()
	h.Write(in)
	if got := h.Sum32(); got != want {
		t.Errorf("New().Sum32() = %#x, want %#x", got, want)
	}
	if got := crc32.Checksum(in, Table()); got != want {
		t.Errorf("crc32.Checksum with Table() = %#x, want %#x", got, want)
	}
}

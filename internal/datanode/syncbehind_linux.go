package datanode

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range's dirty pages without waiting for it.
const syncFileRangeWrite = 0x2

// syncBehind starts writing bytes [off, off+n) of f to disk, so that
// the disk works while the block is still arriving and the fsync at
// its end has little left to do. Errors are left to that fsync.
func syncBehind(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}

//go:build !linux

package datanode

import "os"

// syncBehind does nothing where sync_file_range does not exist; the
// fsync at the end of the block does all the work.
func syncBehind(f *os.File, off, n int64) {}

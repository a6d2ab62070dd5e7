package bench

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/cairn-fs/cairn"
)

// dropCache evicts path from the page cache and says how: with all,
// the whole page cache through /proc/sys/vm/drop_caches when allowed
// (root); else the file's pages with posix_fadvise(POSIX_FADV_DONTNEED).
func dropCache(path string, all bool) (string, error) {
	unix.Sync()
	if all {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1\n"), 0); err == nil {
			return "drop_caches", nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", cairn.E("limits", path, cairn.IO, err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return "", cairn.E("limits", path, cairn.IO, err)
	}
	return "fadvise_dontneed", nil
}

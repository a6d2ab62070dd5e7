package fusefs

import (
	"errors"
	"syscall"

	"github.com/cairn-fs/cairn"
)

// toErrno turns an error of the client into the errno a FUSE request
// answers with; the table is in the package documentation.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	switch cairn.KindOf(err) {
	case cairn.NotExist:
		return syscall.ENOENT
	case cairn.Exist:
		return syscall.EEXIST
	case cairn.NotEmpty:
		return syscall.ENOTEMPTY
	case cairn.IsDir:
		return syscall.EISDIR
	case cairn.NotDir:
		return syscall.ENOTDIR
	case cairn.Permission:
		return syscall.EACCES
	case cairn.Invalid:
		return syscall.EINVAL
	case cairn.NoSpace:
		return syscall.ENOSPC
	case cairn.SafeMode:
		return syscall.EROFS
	case cairn.LeaseConflict:
		return syscall.EBUSY
	case cairn.Closed:
		return syscall.EBADF
	}
	// Unavailable, NotLeader, Corrupt, IO, NotReplicated, Internal,
	// a context that ended (the request's bound), and anything
	// unclassified.
	return syscall.EIO
}

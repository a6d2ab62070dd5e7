package fusefs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/cairn-fs/cairn"
)

func TestToErrno(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{cairn.E("stat", "/a", cairn.NotExist), syscall.ENOENT},
		{cairn.E("mkdir", "/a", cairn.Exist), syscall.EEXIST},
		{cairn.E("remove", "/d", cairn.NotEmpty), syscall.ENOTEMPTY},
		{cairn.E("open", "/d", cairn.IsDir), syscall.EISDIR},
		{cairn.E("stat", "/f/x", cairn.NotDir), syscall.ENOTDIR},
		{cairn.E("create", "/a", cairn.Permission), syscall.EACCES},
		{cairn.E("create", "/a", cairn.Invalid), syscall.EINVAL},
		{cairn.E("write", "/a", cairn.NoSpace), syscall.ENOSPC},
		{cairn.E("create", "/a", cairn.SafeMode), syscall.EROFS},
		{cairn.E("create", "/a", cairn.LeaseConflict), syscall.EBUSY},
		{cairn.E("write", "/a", cairn.Closed), syscall.EBADF},
		{cairn.E("read", "/a", cairn.Corrupt), syscall.EIO},
		{cairn.E("read", "/a", cairn.Unavailable), syscall.EIO},
		{cairn.E("stat", "/a", cairn.NotLeader), syscall.EIO},
		{fmt.Errorf("wrapped: %w", cairn.E("stat", "/a", cairn.NotExist)), syscall.ENOENT},
		{context.DeadlineExceeded, syscall.EIO},
		{syscall.EOPNOTSUPP, syscall.EOPNOTSUPP},
		{errors.New("anything"), syscall.EIO},
	} {
		if got := toErrno(tt.err); got != tt.want {
			t.Errorf("toErrno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/plain`:          "/mnt/plain",
		`/mnt/with\040space`:  "/mnt/with space",
		`/mnt/tab\011and\134`: "/mnt/tab\tand\\",
		`/mnt/short\04`:       `/mnt/short\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

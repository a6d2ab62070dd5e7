package fusefs

import (
	"context"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairn-fs/cairn"
)

// dirHandle lists a directory a page at a time (client.ListPage): a
// directory of any size costs the memory of one page.
type dirHandle struct {
	n    *node
	path string

	mu    sync.Mutex // guards the fields below
	dots  int        // "." and ".." given so far
	page  []cairn.FileInfo
	i     int    // next entry of page
	after string // name the next page starts after
	more  bool   // a page follows this one
	begun bool   // a page was fetched
	off   uint64 // entries given so far
	// last is the entry given last, which READDIRPLUS looks up next.
	last cairn.FileInfo
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileLookuper     = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileFsyncdirer   = (*dirHandle)(nil)
)

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{n: n, path: n.path()}, 0, 0
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next(ctx)
}

func (d *dirHandle) next(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if d.dots < 2 {
		d.dots++
		d.off++
		name := "."
		if d.dots == 2 {
			name = ".."
		}
		return &fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: d.n.StableAttr().Ino, Off: d.off}, 0
	}
	if d.i == len(d.page) {
		if d.begun && !d.more {
			return nil, 0
		}
		f := d.n.fsys
		octx, cancel := f.opCtx(ctx)
		page, more, err := f.c.ListPage(octx, d.path, d.after, listPage)
		cancel()
		if err != nil {
			return nil, toErrno(err)
		}
		d.begun = true
		d.page, d.i, d.more = page, 0, more && len(page) > 0
		if len(page) == 0 {
			return nil, 0
		}
		d.after = page[len(page)-1].Name
	}
	fi := d.page[d.i]
	d.i++
	d.off++
	d.last = fi
	mode := uint32(syscall.S_IFREG)
	if fi.IsDir {
		mode = syscall.S_IFDIR
	}
	return &fuse.DirEntry{Name: fi.Name, Mode: mode, Ino: fi.FileID, Off: d.off}, 0
}

// Lookup answers READDIRPLUS's lookup of the entry just given from the
// listing, without another NameNode call.
func (d *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	d.mu.Lock()
	fi := d.last
	d.mu.Unlock()
	if fi.Name != name {
		return d.n.Lookup(ctx, name, out)
	}
	ch := d.n.newChild(ctx, fi)
	d.n.fsys.fillAttr(fi, &out.Attr)
	ch.Operations().(*node).overlay(&out.Attr)
	return ch, 0
}

// Seekdir restarts the listing and skips off entries (telldir
// offsets count entries).
func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dots, d.page, d.i, d.after, d.more, d.begun, d.off = 0, nil, 0, "", false, false, 0
	for d.off < off {
		de, e := d.next(ctx)
		if e != 0 {
			return e
		}
		if de == nil {
			break
		}
	}
	return 0
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno { return 0 }

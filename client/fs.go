package client

import (
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/cairn-fs/cairn"
)

// FS returns a read-only io/fs view of the cluster's namespace, using
// ctx for every call. Names are relative and slash-separated, as io/fs
// requires: "." is the root "/", "a/b" is "/a/b". The view implements
// fs.StatFS, fs.ReadDirFS and fs.ReadFileFS; its files implement
// io.Seeker and io.ReaderAt, and its directories fs.ReadDirFile.
// Errors are *cairn.Error values naming the absolute path.
func (c *Client) FS(ctx context.Context) fs.FS {
	return &fsys{c: c, ctx: ctx}
}

type fsys struct {
	c   *Client
	ctx context.Context
}

var (
	_ fs.StatFS         = (*fsys)(nil)
	_ fs.ReadDirFS      = (*fsys)(nil)
	_ fs.ReadFileFS     = (*fsys)(nil)
	_ fs.ReadDirFile    = (*dirFile)(nil)
	_ io.Seeker         = (*file)(nil)
	_ io.ReaderAt       = (*file)(nil)
	_ fs.FileInfo       = fsInfo{}
	_ io.ReadSeekCloser = (*file)(nil)
)

// abs converts an io/fs name to a cairn path.
func abs(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", cairn.Errorf(op, name, cairn.Invalid, "invalid path %q", name)
	}
	if name == "." {
		return "/", nil
	}
	return "/" + name, nil
}

// Open opens a file or a directory.
func (f *fsys) Open(name string) (fs.File, error) {
	p, err := abs("open", name)
	if err != nil {
		return nil, err
	}
	r, fi, err := f.c.open(f.ctx, "open", p)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return &dirFile{fsys: f, info: fi}, nil
	}
	return &file{Reader: r}, nil
}

// Stat returns the metadata of a file or directory.
func (f *fsys) Stat(name string) (fs.FileInfo, error) {
	p, err := abs("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.c.Stat(f.ctx, p)
	if err != nil {
		return nil, err
	}
	return fsInfo{fi}, nil
}

// ReadDir returns a directory's entries sorted by name.
func (f *fsys) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := abs("readdir", name)
	if err != nil {
		return nil, err
	}
	return f.readDir(p)
}

func (f *fsys) readDir(p string) ([]fs.DirEntry, error) {
	list, err := f.c.ReadDir(f.ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(list))
	for i, fi := range list {
		out[i] = fs.FileInfoToDirEntry(fsInfo{fi})
	}
	return out, nil
}

// ReadFile reads a whole file.
func (f *fsys) ReadFile(name string) ([]byte, error) {
	p, err := abs("readfile", name)
	if err != nil {
		return nil, err
	}
	r, fi, err := f.c.open(f.ctx, "readfile", p)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, cairn.E("readfile", fi.Path, cairn.IsDir)
	}
	defer r.Close()
	buf := make([]byte, r.info.Size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, cairn.E("readfile", p, err)
	}
	return buf, nil
}

// file is a regular file of the io/fs view.
type file struct {
	*Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return fsInfo{f.Reader.Stat()}, nil }

// dirFile is a directory of the io/fs view. Its entries are listed on
// the first ReadDir.
type dirFile struct {
	fsys    *fsys
	info    cairn.FileInfo
	entries []fs.DirEntry // nil until listed
	listed  bool
	closed  bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fsInfo{d.info}, nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, cairn.E("read", d.info.Path, cairn.IsDir)
}

func (d *dirFile) Close() error {
	if d.closed {
		return cairn.E("close", d.info.Path, cairn.Closed)
	}
	d.closed = true
	return nil
}

// ReadDir returns the next n entries, or all the rest if n <= 0, as
// fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, cairn.E("readdir", d.info.Path, cairn.Closed)
	}
	if !d.listed {
		list, err := d.fsys.readDir(d.info.Path)
		if err != nil {
			return nil, err
		}
		d.entries, d.listed = list, true
	}
	if n <= 0 {
		rest := d.entries
		d.entries = d.entries[len(d.entries):]
		return rest, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n:n]
	d.entries = d.entries[n:]
	return out, nil
}

// fsInfo adapts a cairn.FileInfo to fs.FileInfo. Sys returns the
// cairn.FileInfo.
type fsInfo struct{ fi cairn.FileInfo }

func (i fsInfo) Name() string {
	if i.fi.Path == "/" || i.fi.Name == "" {
		return "."
	}
	return i.fi.Name
}

func (i fsInfo) Size() int64 {
	if i.fi.IsDir {
		return 0
	}
	return i.fi.Size
}

func (i fsInfo) Mode() fs.FileMode {
	if i.fi.IsDir {
		return fs.ModeDir | i.fi.Mode.Perm()
	}
	return i.fi.Mode.Perm()
}

func (i fsInfo) ModTime() time.Time { return i.fi.ModTime }
func (i fsInfo) IsDir() bool        { return i.fi.IsDir }
func (i fsInfo) Sys() any           { return i.fi }

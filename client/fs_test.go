package client_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"testing/iotest"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestFS(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})
	files := map[string][]byte{
		"top.txt":              []byte("hello, cairn\n"),
		"empty":                nil,
		"dir/a":                randomBytes(1, 1000),
		"dir/b":                randomBytes(2, testBlockSize+17),
		"dir/sub/c":            randomBytes(3, 3*cairn.ChunkSize),
		"dir/sub/deeper/d.bin": randomBytes(4, 2*testBlockSize),
		"other/e":              []byte("e"),
	}
	var names []string
	for name, data := range files {
		writeFile(t, ctx, cl, "/"+name, data, &client.CreateOptions{CreateParent: true})
		names = append(names, name)
	}
	if err := cl.MkdirAll(ctx, "/emptydir", 0); err != nil {
		t.Fatal(err)
	}
	fsys := cl.FS(ctx)
	if err := fstest.TestFS(fsys, names...); err != nil {
		t.Fatal(err)
	}

	for name, data := range files {
		got, err := fs.ReadFile(fsys, name)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("fs.ReadFile(%q) = %d bytes, %v; want %d bytes", name, len(got), err, len(data))
		}
	}
	if _, err := fs.Stat(fsys, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("fs.Stat(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := fsys.Open("/top.txt"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(/top.txt) = %v, want fs.ErrInvalid", err)
	}
	matches, err := fs.Glob(fsys, "dir/*")
	if err != nil || len(matches) != 3 {
		t.Errorf("fs.Glob(dir/*) = %v, %v; want 3 matches", matches, err)
	}
	info, err := fs.Stat(fsys, "dir/b")
	if err != nil || info.Size() != testBlockSize+17 || info.Mode() != 0o644 {
		t.Errorf("fs.Stat(dir/b) = %v, %v", info, err)
	}
	if fi, ok := info.Sys().(cairn.FileInfo); !ok || fi.Path != "/dir/b" {
		t.Errorf("Sys() = %#v, want the cairn.FileInfo of /dir/b", info.Sys())
	}
}

// TestReaderConformance runs the standard library's reader tests (Read,
// Seek, ReadAt in every combination) over a file of several blocks.
func TestReaderConformance(t *testing.T) {
	_, cl, ctx := setup(t, testcluster.Options{})
	data := randomBytes(9, 2*testBlockSize+cairn.ChunkSize+3)
	writeFile(t, ctx, cl, "/conform", data, nil)
	r, err := cl.Open(ctx, "/conform")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := iotest.TestReader(r, data); err != nil {
		t.Fatal(err)
	}
}

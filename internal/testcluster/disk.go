package testcluster

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

// Helpers that damage and find replicas on a DataNode's disk, for the
// tests that flip real bits: the in-process tests of this package and
// of the client, and the end-to-end tests, whose DataNodes run as
// processes in directories the test chose. They read the on-disk
// layout of package datanode (see its doc.go): a finalized replica is
// the file <dir>/current/finalized/subdir<A>/subdir<B>/blk_<id>, with
// its checksums in blk_<id>_<genstamp>.meta beside it.

// FlipByte inverts every bit of the byte at offset off of the file at
// path, as a bad disk would, failing the test if it cannot.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("flip byte %d of %s: %v", off, path, err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("flip byte %d of %s: %v", off, path, err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatalf("flip byte %d of %s: %v", off, path, err)
	}
}

// FinalizedReplicas maps the ID of every finalized replica found below
// the directories dirs (DataNode data directories, or directories
// holding several) to the paths of its data files, sorted. Files that
// are not finalized replicas (being written, checksums, temporaries)
// are left out, and so are the directories that cannot be read.
func FinalizedReplicas(dirs ...string) map[cairn.BlockID][]string {
	found := make(map[cairn.BlockID][]string)
	for _, dir := range dirs {
		walkFinalized(dir, found)
	}
	for _, files := range found {
		slices.Sort(files)
	}
	return found
}

func walkFinalized(dir string, found map[cairn.BlockID][]string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !inFinalized(p) {
			return nil
		}
		rest, ok := strings.CutPrefix(d.Name(), "blk_")
		if !ok {
			return nil
		}
		id, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return nil // blk_<id>_<gs>.meta or a temporary
		}
		found[cairn.BlockID(id)] = append(found[cairn.BlockID(id)], p)
		return nil
	})
}

// ReplicaFiles returns the data files of the finalized replicas of
// block id below the directories dirs, sorted.
func ReplicaFiles(id cairn.BlockID, dirs ...string) []string {
	var files []string
	name := fmt.Sprintf("blk_%d", id)
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == name && inFinalized(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	slices.Sort(files)
	return files
}

// ReplicaFile returns the data file of the one finalized replica of
// block id below dirs, failing the test if there is not exactly one.
func ReplicaFile(t testing.TB, id cairn.BlockID, dirs ...string) string {
	t.Helper()
	files := ReplicaFiles(id, dirs...)
	if len(files) != 1 {
		t.Fatalf("finalized replicas of block %d under %v: %v, want one", id, dirs, files)
	}
	return files[0]
}

// MetaFile returns the checksum file beside the data file of a
// finalized replica, failing the test if there is not exactly one.
func MetaFile(t testing.TB, dataFile string) string {
	t.Helper()
	m, err := filepath.Glob(dataFile + "_*.meta")
	if err != nil || len(m) != 1 {
		t.Fatalf("meta files of %s: %v, want one", dataFile, m)
	}
	return m[0]
}

// inFinalized reports whether path lies in a finalized/ directory.
func inFinalized(path string) bool {
	sep := string(filepath.Separator)
	return strings.Contains(path, sep+"finalized"+sep)
}

// ReplicaFiles returns the data files of the finalized replicas of
// block id on the disks of the given DataNodes (every DataNode if none
// is given), sorted.
func (c *Cluster) ReplicaFiles(id cairn.BlockID, nodes ...int) []string {
	if len(nodes) == 0 {
		for i := range c.NumDataNodes() {
			nodes = append(nodes, i)
		}
	}
	var dirs []string
	for _, i := range nodes {
		dirs = append(dirs, c.DataNodeDirs(i)...)
	}
	return ReplicaFiles(id, dirs...)
}

// ReplicaFile returns the data file of DataNode i's finalized replica
// of block id, failing the test if it has none.
func (c *Cluster) ReplicaFile(t testing.TB, i int, id cairn.BlockID) string {
	t.Helper()
	return ReplicaFile(t, id, c.DataNodeDirs(i)...)
}

// PackedReplica is a replica found in a DataNode's container store
// (datanode doc.go, "Containers"): the container file and where the
// replica's data starts there.
type PackedReplica struct {
	Path    string
	DataOff int64
	Len     int64
}

// PackedReplicas returns the live replica records of block id in the
// containers below dirs, sorted by path. It reads the container format
// of package datanode: 44-byte headers (magic "CPK1", kind, block ID,
// generation stamp, length or the tombstone's target, CRC), then for a
// replica its checksums and data. (It does not check the headers' CRCs,
// which bind each to its container's nonce and offset.)
func PackedReplicas(id cairn.BlockID, dirs ...string) []PackedReplica {
	type loc struct {
		path string
		off  int64
	}
	var out []PackedReplica
	for _, dir := range dirs {
		var files []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "c_") && filepath.Base(filepath.Dir(p)) == "containers" {
				files = append(files, p)
			}
			return nil
		})
		found := map[loc]PackedReplica{}
		killed := map[loc]bool{}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if len(b) < 16 || string(b[:4]) != "CPKC" {
				continue
			}
			// After the 16-byte file header ("CPKC", version, nonce).
			for off := int64(16); off+44 <= int64(len(b)); {
				h := b[off : off+44]
				if string(h[:4]) != "CPK1" {
					break
				}
				rid := cairn.BlockID(beUint64(h[8:]))
				n := int64(beUint64(h[24:]))
				switch h[4] {
				case 1:
					sums := 4 * ((n + cairn.ChunkSize - 1) / cairn.ChunkSize)
					if rid == id {
						found[loc{p, off}] = PackedReplica{Path: p, DataOff: off + 44 + sums, Len: n}
					}
					off += 44 + sums + n
				case 2:
					target := filepath.Join(filepath.Dir(p), fmt.Sprintf("c_%010d", n))
					killed[loc{target, int64(beUint64(h[32:]))}] = true
					off += 44
				default:
					off = int64(len(b))
				}
			}
		}
		for l, r := range found {
			if !killed[l] {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b PackedReplica) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// FlipReplicaByte flips byte off of the data of the one finalized
// replica of block id below dirs, in its own file or in a container,
// failing the test if there is not exactly one.
func FlipReplicaByte(t testing.TB, id cairn.BlockID, off int64, dirs ...string) {
	t.Helper()
	files, packed := ReplicaFiles(id, dirs...), PackedReplicas(id, dirs...)
	switch {
	case len(files) == 1 && len(packed) == 0:
		FlipByte(t, files[0], off)
	case len(files) == 0 && len(packed) == 1 && off < packed[0].Len:
		FlipByte(t, packed[0].Path, packed[0].DataOff+off)
	default:
		t.Fatalf("finalized replicas of block %d under %v: files %v, in containers %v; want one", id, dirs, files, packed)
	}
}

package datanode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
)

// A volume: one data directory, its VERSION file, and its health. The
// store keeps the volumes and the replica map; the files of a replica
// are laid out as in layout.go.

// volume is one data directory.
type volume struct {
	dir       string
	finalized string
	rbw       string

	// failed is set once an operation on the volume's disk failed;
	// guarded by store.mu.
	failed error
	// pack is the volume's container store, opened by the scan.
	pack *pack
	// used approximates the bytes of replica data on the volume, for
	// the Config.VolumeCapacity test seam.
	used atomic.Int64
}

// init creates the volume's directories and reads its VERSION file,
// which may not exist yet (nil map).
func (v *volume) init() (map[string]string, error) {
	for _, d := range []string{v.finalized, v.rbw} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(filepath.Join(v.dir, "VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kv := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("VERSION: bad line %q", line)
		}
		kv[k] = val
	}
	return kv, nil
}

// writeVersion replaces the VERSION file atomically.
func (v *volume) writeVersion(id cairn.NodeID, cluster cairn.ClusterID) error {
	content := fmt.Sprintf("layoutVersion=%d\nnodeID=%s\nclusterID=%s\n", layoutVersion, id, cluster)
	return atomicfile.Write(filepath.Join(v.dir, "VERSION"), []byte(content), 0o644)
}

// checkVolumes probes every healthy volume.
func (s *store) checkVolumes() {
	for _, v := range s.healthyVolumes() {
		s.checkVolume(v)
	}
}

// checkVolume probes a volume: its directories must be there and a
// file must be creatable in it. A volume that fails is marked failed
// (its replicas leave the map and are reported gone); a full one is
// not failed.
func (s *store) checkVolume(v *volume) {
	for _, dir := range []string{v.finalized, v.rbw} {
		fi, err := os.Stat(dir)
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", dir)
		}
		if err != nil {
			s.failVolume(v, err)
			return
		}
	}
	f, err := os.CreateTemp(filepath.Join(v.dir, "current"), ".probe-")
	if err == nil {
		name := f.Name()
		_, err = f.Write([]byte{0})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(name); err == nil {
			err = rerr
		}
	}
	if diskError(err) {
		s.failVolume(v, err)
	}
}

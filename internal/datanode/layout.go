package datanode

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cairn-fs/cairn"
)

// The on-disk layout of a volume; see doc.go, "Volumes" and "Replicas".

const layoutVersion = 2

// layoutVersions are the layouts a volume may be found in: 1 is 2's
// without containers, and is rewritten as 2 on start (a DataNode of
// layout 1 then refuses the volume, rather than ignore its containers).
var layoutVersions = []string{"1", "2"}

// packDir is the volume's container directory.
func (v *volume) packDir() string { return filepath.Join(v.dir, "current", "containers") }

func (v *volume) finalizedDir(id cairn.BlockID) string {
	return filepath.Join(v.finalized, fmt.Sprintf("subdir%d", (id>>16)&0x1f), fmt.Sprintf("subdir%d", (id>>8)&0x1f))
}

func dataName(id cairn.BlockID) string { return fmt.Sprintf("blk_%d", id) }

func metaName(id cairn.BlockID, gs cairn.GenStamp) string {
	return fmt.Sprintf("blk_%d_%d.meta", id, gs)
}

// checkMetaFile checks the header and the length of a meta file.
func checkMetaFile(path string, dataLen int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [metaHeaderLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("meta header: %w", err)
	}
	if _, err := parseMetaHeader(h[:]); err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() != metaLen(dataLen) {
		return fmt.Errorf("meta file of %d bytes for %d bytes of data", info.Size(), dataLen)
	}
	return nil
}

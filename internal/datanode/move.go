package datanode

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
)

// Moving a replica between rbw/ and finalized/ (finalize, and
// unfinalize for a pipeline recovery), and the start-up repair of a
// move a crash interrupted. See doc.go, "Moving a replica".

// moveSteps names the hook steps of a move.
type moveSteps struct{ metaMoved, dataMoved, done Step }

var (
	finalizeSteps   = moveSteps{StepFinalizeMetaMoved, StepFinalizeDataMoved, StepFinalizeDone}
	unfinalizeSteps = moveSteps{StepUnfinalizeMetaMoved, StepUnfinalizeDataMoved, StepUnfinalizeDone}
)

// movePair moves a replica's fsync'd meta and data files to their new
// names in another directory of the same volume: meta first, then
// data, then both directories are fsync'd. A crash between the renames
// leaves the pair split across the two directories, which the start-up
// repair puts back together (repairMoves); at no point is the replica
// in neither place. If the second rename fails the first is undone.
// moved reports whether files are no longer where they were (the move
// failed half-way, or only its fsyncs failed).
func (s *store) movePair(b cairn.Block, srcData, srcMeta, dstData, dstMeta string, st moveSteps) (moved bool, err error) {
	if err := os.Rename(srcMeta, dstMeta); err != nil {
		return false, err
	}
	err = s.hook(st.metaMoved, b)
	if err == nil {
		err = os.Rename(srcData, dstData)
	}
	if err != nil {
		if os.Rename(dstMeta, srcMeta) == nil {
			return false, err
		}
		return true, err
	}
	err = s.hook(st.dataMoved, b)
	if err == nil {
		err = syncDir(filepath.Dir(dstData))
	}
	if err == nil {
		err = syncDir(filepath.Dir(srcData))
	}
	if err == nil {
		err = s.hook(st.done, b)
	}
	return err != nil, err
}

// repairMoves puts back together, at start-up, the replicas whose move
// between rbw/ and finalized/ a crash interrupted: a data file in one
// directory whose meta file is in the other. Either way the pair is
// re-paired in finalized/:
//
//   - a data file in rbw/ without a meta file, whose block has in
//     finalized/ a meta file that pairs with it and no data file that
//     does: a finalize between its renames (the files were fsync'd
//     whole before the first), finished;
//   - a meta file in rbw/ without a data file, whose block has in
//     finalized/ a data file that it pairs with and no meta file that
//     does: an unfinalize between its renames, undone (the pipeline
//     recovery that moved it never got an answer).
//
// Files pair when the meta file has a valid header, the length that
// the data file's needs, and the checksum of the data's last chunk.
// Anything else is left to the usual rules of loadRbw and scan.
func (s *store) repairMoves(v *volume) {
	entries, err := os.ReadDir(v.rbw)
	if err != nil {
		return
	}
	datas := make(map[cairn.BlockID]bool)
	metas := make(map[cairn.BlockID][]string)
	for _, e := range entries {
		id, meta, ok := parseBlockFile(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		if meta {
			metas[id] = append(metas[id], e.Name())
		} else {
			datas[id] = true
		}
	}
	for id := range datas {
		if len(metas[id]) > 0 {
			continue
		}
		rd := filepath.Join(v.rbw, dataName(id))
		dir := v.finalizedDir(id)
		fData, fMetas := blockFiles(dir, id)
		if len(fMetas) == 0 {
			continue
		}
		m := filepath.Join(dir, fMetas[0])
		if !pairs(rd, m) || (fData != "" && pairs(filepath.Join(dir, fData), m)) {
			continue
		}
		s.rePair(v, id, rd, filepath.Join(dir, dataName(id)))
	}
	for id, ms := range metas {
		if datas[id] {
			continue
		}
		dir := v.finalizedDir(id)
		fData, fMetas := blockFiles(dir, id)
		if fData == "" {
			continue
		}
		fd := filepath.Join(dir, fData)
		if slices.ContainsFunc(fMetas, func(m string) bool { return pairs(fd, filepath.Join(dir, m)) }) {
			continue
		}
		slices.SortFunc(ms, func(a, b string) int { return cmpGS(metaGS(b), metaGS(a)) })
		rm := filepath.Join(v.rbw, ms[0])
		if !pairs(fd, rm) {
			continue
		}
		s.rePair(v, id, rm, filepath.Join(dir, ms[0]))
	}
}

// rePair moves the lone file from to its partner's directory, durably.
func (s *store) rePair(v *volume, id cairn.BlockID, from, to string) {
	err := os.Rename(from, to)
	if err == nil {
		err = syncDir(filepath.Dir(to))
	}
	if err == nil {
		err = syncDir(filepath.Dir(from))
	}
	if err != nil {
		s.log.Error("cannot repair a replica a crash left half moved", "block", id, "file", from, "err", err)
		return
	}
	s.log.Warn("repaired a replica a crash left half moved between rbw and finalized", "block", id, "moved", from, "to", to)
}

// parseBlockFile parses blk_<id> and blk_<id>_<gs>.meta.
func parseBlockFile(name string) (id cairn.BlockID, meta, ok bool) {
	rest, ok := strings.CutPrefix(name, "blk_")
	if !ok {
		return 0, false, false
	}
	if m, isMeta := strings.CutSuffix(rest, ".meta"); isMeta {
		idStr, gsStr, ok := strings.Cut(m, "_")
		n, err := strconv.ParseUint(idStr, 10, 64)
		if _, gerr := strconv.ParseUint(gsStr, 10, 64); !ok || err != nil || gerr != nil {
			return 0, false, false
		}
		return cairn.BlockID(n), true, true
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, false, false
	}
	return cairn.BlockID(n), false, true
}

// metaGS returns the generation stamp in a meta file's name, 0 if none.
func metaGS(name string) cairn.GenStamp {
	m := strings.TrimSuffix(name, ".meta")
	g, _ := strconv.ParseUint(m[strings.LastIndexByte(m, '_')+1:], 10, 64)
	return cairn.GenStamp(g)
}

func cmpGS(a, b cairn.GenStamp) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// blockFiles lists the files of block id in dir: its data file's name
// ("" if none) and its meta files' names, newest generation stamp
// first.
func blockFiles(dir string, id cairn.BlockID) (data string, metas []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil
	}
	for _, e := range entries {
		fid, meta, ok := parseBlockFile(e.Name())
		if e.IsDir() || !ok || fid != id {
			continue
		}
		if meta {
			metas = append(metas, e.Name())
		} else {
			data = e.Name()
		}
	}
	slices.SortFunc(metas, func(a, b string) int { return cmpGS(metaGS(b), metaGS(a)) })
	return data, metas
}

// removeBlockFiles removes the files of block id in dir.
func removeBlockFiles(dir string, id cairn.BlockID) {
	data, metas := blockFiles(dir, id)
	if data != "" {
		os.Remove(filepath.Join(dir, data))
	}
	for _, m := range metas {
		os.Remove(filepath.Join(dir, m))
	}
}

// pairs reports whether metaPath is the meta file of dataPath: a valid
// header, the length the data needs, and the data's last chunk matching
// its checksum.
func pairs(dataPath, metaPath string) bool {
	fi, err := os.Stat(dataPath)
	if err != nil || checkMetaFile(metaPath, fi.Size()) != nil {
		return false
	}
	n := fi.Size()
	if n == 0 {
		return true
	}
	last := (n - 1) / cairn.ChunkSize * cairn.ChunkSize
	buf := make([]byte, n-last)
	var sum [4]byte
	d, err := os.Open(dataPath)
	if err != nil {
		return false
	}
	defer d.Close()
	m, err := os.Open(metaPath)
	if err != nil {
		return false
	}
	defer m.Close()
	if readFull(d, buf, last) != nil || readFull(m, sum[:], sumOffset(last)) != nil {
		return false
	}
	return checksum.CRC32C(buf) == binary.BigEndian.Uint32(sum[:])
}

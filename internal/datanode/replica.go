package datanode

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cairn-fs/cairn"
)

// ReplicaState is the state of a replica handed out for reading; see
// doc.go, "Replica states".
type ReplicaState int

// The states of a replica handed out for reading.
const (
	// Finalized: complete, its length and generation stamp final.
	Finalized ReplicaState = iota + 1
	// BeingWritten: in rbw/, its length still growing or waiting for a
	// recovery to settle it.
	BeingWritten
)

func (s ReplicaState) String() string {
	switch s {
	case Finalized:
		return "finalized"
	case BeingWritten:
		return "rbw"
	}
	return fmt.Sprintf("ReplicaState(%d)", int(s))
}

// Replica is a replica opened for reading: the handle the block store
// hands to the code that reads replicas (the block sender, the scanner,
// the copier, the web download, the TRANSFER_RBW source), so that none
// of it knows the files behind it and a second store can sit beside
// the first.
type Replica interface {
	// Block is the replica's block: ID, generation stamp and length,
	// as of opening.
	Block() cairn.Block
	// State is the replica's state as of opening.
	State() ReplicaState
	// Data reads the block's bytes, [0, Block().Len).
	Data() io.ReaderAt
	// Checksums reads the CRC32C of every chunk of the data, 4 bytes
	// big-endian each: that of the chunk holding byte off is at
	// sumsAt(off).
	Checksums() io.ReaderAt
	// Close lets go of the replica.
	Close() error
}

// sumsAt is where the checksum of the chunk holding block offset off is
// in a Replica's Checksums.
func sumsAt(off int64) int64 { return 4 * (off / cairn.ChunkSize) }

// fileReplica is a Replica of the file store: its data file and its
// meta file (past the header).
type fileReplica struct {
	block   cairn.Block
	state   ReplicaState
	inc     uint64 // the finalized replica's incarnation (replica.inc); 0 for rbw
	vol     *volume
	data    *os.File
	meta    *os.File
	sums    sectionAt
	release func() // lets go of a claimed rbw replica; nil if none
}

var _ Replica = (*fileReplica)(nil)

func (r *fileReplica) Block() cairn.Block     { return r.block }
func (r *fileReplica) State() ReplicaState    { return r.state }
func (r *fileReplica) Data() io.ReaderAt      { return r.data }
func (r *fileReplica) Checksums() io.ReaderAt { return r.sums }

func (r *fileReplica) Close() error {
	err := errors.Join(r.data.Close(), r.meta.Close())
	if r.release != nil {
		r.release()
	}
	return err
}

// sectionAt reads a file from an offset on: the checksums of a meta
// file, past its header.
type sectionAt struct {
	f   *os.File
	off int64
}

func (s sectionAt) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, s.off+off) }

// openFiles opens a replica's data and meta files.
func openFiles(dataPath, metaPath string) (data, meta *os.File, err error) {
	if data, err = os.Open(dataPath); err != nil {
		return nil, nil, err
	}
	if meta, err = os.Open(metaPath); err != nil {
		data.Close()
		return nil, nil, err
	}
	return data, meta, nil
}

// openReplica opens the finalized replica of b, which must have b's
// generation stamp. inc is the replica's incarnation when it is in the
// map with that generation stamp (even if its files cannot be opened:
// then it is damaged), else 0.
func (s *store) openReplica(b cairn.Block) (r Replica, inc uint64, err error) {
	const op = "datanode.read"
	rep, ok := s.lookup(b.ID)
	if !ok {
		return nil, 0, cairn.Errorf(op, blockName(b), cairn.NotExist, "no such replica")
	}
	if rep.gs != b.GenStamp {
		return nil, 0, cairn.Errorf(op, blockName(b), cairn.NotExist, "replica has generation stamp %d", rep.gs)
	}
	if rep.pk != nil {
		pr, err := s.openPacked(b, rep)
		if err != nil {
			// Compacted between the lookup and the open: it moved.
			return s.reopenReplica(b)
		}
		return pr, rep.inc, nil
	}
	dp, mp := rep.files(b.ID)
	data, meta, err := openFiles(dp, mp)
	if err != nil {
		return nil, rep.inc, s.readErr(op, rep, b, err)
	}
	return &fileReplica{
		block: cairn.Block{ID: b.ID, GenStamp: rep.gs, Len: rep.len},
		state: Finalized,
		inc:   rep.inc,
		vol:   rep.vol,
		data:  data,
		meta:  meta,
		sums:  sectionAt{meta, metaHeaderLen},
	}, rep.inc, nil
}

// reopenReplica opens the finalized replica of b once more, after its
// container was compacted away under the first open.
func (s *store) reopenReplica(b cairn.Block) (Replica, uint64, error) {
	rep, ok := s.lookup(b.ID)
	if !ok || rep.gs != b.GenStamp {
		return nil, 0, cairn.Errorf("datanode.read", blockName(b), cairn.NotExist, "no such replica")
	}
	if rep.pk == nil {
		return s.openReplica(b)
	}
	pr, err := s.openPacked(b, rep)
	if err != nil {
		return nil, 0, err
	}
	return pr, rep.inc, nil
}

// checkDisk probes the volume of r after an error reading it, so that a
// failing disk is found (checkVolume).
func (s *store) checkDisk(r Replica) {
	switch r := r.(type) {
	case *fileReplica:
		if r.vol != nil {
			s.checkVolume(r.vol)
		}
	case *packReplica:
		s.checkVolume(r.vol)
	}
}

// readFull reads len(p) bytes at off, treating a short file as
// io.ErrUnexpectedEOF.
func readFull(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// openChecked opens the finalized replica of b for the scanner, after
// checking its files as this store lays them out: data and meta files
// there, of the right sizes, the meta header valid. If something is
// wrong it returns what instead of a replica. inc is the incarnation
// of the replica checked; 0 (and no reason) if there is no replica of
// b with its generation stamp.
func (s *store) openChecked(b cairn.Block) (r Replica, inc uint64, reason string) {
	rep, ok := s.lookup(b.ID)
	if !ok || rep.gs != b.GenStamp {
		return nil, 0, ""
	}
	if rep.pk != nil {
		// A container's records are whole by construction (the load
		// checks them); the checksums tell the rest.
		pr, err := s.openPacked(b, rep)
		if err != nil {
			return nil, 0, ""
		}
		if end := rep.pk.off + rep.pk.c.recordLen(rep.len); end > rep.pk.c.size.Load() {
			pr.Close()
			return nil, rep.inc, fmt.Sprintf("container %s ends before the record", rep.pk.c.path)
		}
		return pr, rep.inc, ""
	}
	dp, mp := rep.files(b.ID)
	fi, err := os.Stat(dp)
	switch {
	case missing(err):
		return nil, rep.inc, "block file missing"
	case err != nil:
		s.checkVolume(rep.vol)
		return nil, rep.inc, fmt.Sprintf("block file: %v", err)
	case fi.Size() != rep.len:
		return nil, rep.inc, fmt.Sprintf("block file has %d bytes, want %d", fi.Size(), rep.len)
	}
	mf, err := os.Open(mp)
	switch {
	case missing(err):
		return nil, rep.inc, "meta file missing"
	case err != nil:
		s.checkVolume(rep.vol)
		return nil, rep.inc, fmt.Sprintf("meta file: %v", err)
	}
	fail := func(reason string) (Replica, uint64, string) {
		mf.Close()
		return nil, rep.inc, reason
	}
	mi, err := mf.Stat()
	if err != nil {
		return fail(fmt.Sprintf("meta file: %v", err))
	}
	if mi.Size() != metaLen(rep.len) {
		return fail(fmt.Sprintf("meta file has %d bytes, want %d", mi.Size(), metaLen(rep.len)))
	}
	var h [metaHeaderLen]byte
	if _, err := io.ReadFull(mf, h[:]); err != nil {
		return fail(fmt.Sprintf("meta header: %v", err))
	}
	if _, err := parseMetaHeader(h[:]); err != nil {
		return fail(err.Error())
	}
	df, err := os.Open(dp)
	if err != nil {
		if missing(err) {
			return fail("block file missing")
		}
		return fail(fmt.Sprintf("block file: %v", err))
	}
	return &fileReplica{
		block: cairn.Block{ID: b.ID, GenStamp: rep.gs, Len: rep.len},
		state: Finalized,
		inc:   rep.inc,
		vol:   rep.vol,
		data:  df,
		meta:  mf,
		sums:  sectionAt{mf, metaHeaderLen},
	}, rep.inc, ""
}

package namenode

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
)

// fsm is the Raft state machine: it applies logged commands to the
// namespace, and saves and restores it as snapshots.
type fsm struct {
	ns  *namespace
	log *slog.Logger
	// halt, if set (a member of a group), is called once when an entry
	// cannot be decoded (a newer NameNode wrote it): the member stops
	// applying rather than diverge from the others, which can. The
	// entries after it are not applied either.
	halt   func(error)
	halted bool // guarded by raft's apply goroutine
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply applies one committed entry.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in order, under one acquisition
// of the namespace lock.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	cmds := make([]command, len(logs))
	ok := make([]bool, len(logs))
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		if f.halted {
			out[i] = errf(cairn.Unavailable, "log entry %d not applied: this member stopped at an entry it cannot read", l.Index)
			continue
		}
		c, err := decodeCommand(l.Data)
		if err != nil && f.halt != nil {
			f.halted = true
			err = fmt.Errorf("log entry %d cannot be read by this binary (%v): this member stops applying the log; upgrade it to the version of the others", l.Index, err)
			f.log.Error("undecodable log entry: member halted", "index", l.Index, "err", err)
			out[i] = errf(cairn.Unavailable, "%v", err)
			go f.halt(err)
			continue
		}
		if err != nil {
			// A command this binary cannot read: applying the rest
			// would diverge from the leader, but refusing to start is
			// worse for an operator. Say so loudly.
			f.log.Error("undecodable log entry skipped", "index", l.Index, "err", err)
			out[i] = errf(cairn.Internal, "log entry %d: %v", l.Index, err)
			continue
		}
		cmds[i], ok[i] = c, true
	}
	f.ns.mu.Lock()
	for i := range logs {
		if ok[i] {
			out[i] = f.ns.applyOnce(&cmds[i])
		}
	}
	f.ns.mu.Unlock()
	return out
}

// Snapshot serializes the replicated state. Raft calls it on the goroutine that
// applies entries, so the namespace is still while it runs; the bytes
// are written out by Persist, concurrently with later applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.ns.mu.RLock()
	data := f.ns.encodeSnapshot()
	f.ns.mu.RUnlock()
	return &fsmSnapshot{data: data}, nil
}

// Restore replaces the replicated state with a snapshot's, whole: it
// decodes a new value and swaps it in. Replica locations are forgotten:
// DataNodes report them again.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	fresh, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	f.ns.mu.Lock()
	f.ns.replace(fresh)
	f.ns.mu.Unlock()
	f.log.Info("namespace restored from snapshot", "files", fresh.files, "dirs", fresh.dirs, "blocks", len(fresh.blocks))
	return nil
}

type fsmSnapshot struct{ data []byte }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.data = nil }

package namenode

import (
	"context"

	"github.com/cairn-fs/cairn"
)

// Concat moves the blocks of srcs, in order, onto the end of target and
// removes srcs, in one logged command (HDFS's concat): no byte is
// copied, and a reader sees either the files before or the joined
// target after. Every file must exist, be a closed file, and be named
// once; the target keeps its ID, replication, block size, permissions
// and owner, and takes the command's time as its modification time.
// Unlike HDFS's first concat, the sources may be anywhere and their
// blocks need not be full: the target may then hold blocks of
// different lengths (and longer than its own block size). Blocks of
// length 0 are dropped rather than moved, so that no empty block sits
// between others; a source without blocks is simply removed. Moved
// blocks take the target's replication: the replication monitor adds
// or removes replicas of those whose source had another.
func (s *Server) Concat(ctx context.Context, target string, srcs []string) error {
	if err := s.writable(); err != nil {
		return err
	}
	if len(srcs) > maxConcatSources {
		return errf(cairn.Invalid, "%d source files: at most %d in one concat", len(srcs), maxConcatSources)
	}
	c := command{op: opConcat, path: target, paths: srcs, mtime: s.now().UnixNano()}
	// A retry of a concat that succeeded finds its sources gone: it is
	// answered from the retry cache before the checks.
	if v, done := s.answered(ctx, &c); done {
		_, err := result(v)
		return err
	}
	s.ns.mu.RLock()
	_, _, err := s.ns.checkConcat(s.readChecker(ctx), target, srcs)
	s.ns.mu.RUnlock()
	if err != nil {
		return err
	}
	_, err = s.mutate(ctx, &c)
	return err
}

// maxConcatSources bounds the sources of one concat, and so the size
// of its log entry and the time it holds the namespace lock. Checked at
// the leader only: applying a logged command never depends on a limit
// a later version might raise.
const maxConcatSources = 10000

// checkConcat checks the paths of a concat and resolves them: the
// target and the sources are distinct closed files, and there is at
// least one source. It checks pc's permissions as HDFS's concat does:
// write on the target, and on each source read, and write on its
// directory (with its sticky bit). It runs at the leader before
// proposing and again when the command is applied. The caller holds
// ns.mu.
func (r *replicated) checkConcat(pc *checker, target string, srcs []string) (*inode, []*inode, error) {
	if err := validPath(target); err != nil {
		return nil, nil, err
	}
	if len(srcs) == 0 {
		return nil, nil, errf(cairn.Invalid, "no source files")
	}
	t, err := r.lookupChecked(pc, target)
	if err != nil {
		return nil, nil, err
	}
	if err := pc.check(r, target, t, accWrite); err != nil {
		return nil, nil, err
	}
	if err := r.concatFile(t, ""); err != nil {
		return nil, nil, err
	}
	files := make([]*inode, 0, len(srcs))
	// Clean paths name inodes one to one: a path given twice is the
	// only way to name a file twice.
	seen := make(map[string]struct{}, len(srcs))
	for _, p := range srcs {
		if err := validPath(p); err != nil {
			return nil, nil, err
		}
		if p == target {
			return nil, nil, errf(cairn.Invalid, "target %s is also a source", p)
		}
		if _, dup := seen[p]; dup {
			return nil, nil, errf(cairn.Invalid, "source %s is given twice", p)
		}
		seen[p] = struct{}{}
		f, err := r.lookupChecked(pc, p)
		if err != nil {
			if cairn.KindOf(err) == cairn.NotExist {
				return nil, nil, errf(cairn.NotExist, "source %s does not exist", p)
			}
			return nil, nil, err
		}
		if err := pc.check(r, p, f, accRead); err != nil {
			return nil, nil, err
		}
		if err := pc.check(r, cairn.Dir(p), f.parent, accWrite|accExec); err != nil {
			return nil, nil, err
		}
		if err := pc.sticky(r, p, f.parent, f); err != nil {
			return nil, nil, err
		}
		if err := r.concatFile(f, p); err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	return t, files, nil
}

// concatFile checks that n, the target (src "") or the source src of a
// concat, is a closed file whose blocks are all committed.
func (r *replicated) concatFile(n *inode, src string) error {
	what := "target"
	if src != "" {
		what = "source " + src
	}
	switch {
	case n.isDir():
		return errf(cairn.IsDir, "%s is a directory", what)
	case n.underConstruction() || r.uc[n.id] != nil:
		return errf(cairn.LeaseConflict, "%s is open for writing: close it first", what)
	}
	for _, b := range n.blocks {
		if !b.committed {
			// A closed file has none: a bug elsewhere. Refused, not
			// made worse.
			return errf(cairn.Internal, "%s has uncommitted block %d", what, b.id)
		}
	}
	return nil
}

// applyConcat moves the blocks of the sources onto the end of the
// target and removes the sources (see Server.Concat).
func (ns *namespace) applyConcat(c *command) any {
	t, srcs, err := ns.checkConcat(checkerOf(c), c.path, c.paths)
	if err != nil {
		return err
	}
	// An empty last block of the target would no longer be last.
	for k := len(t.blocks); k > 0 && t.blocks[k-1].len == 0; k-- {
		ns.removeBlock(t.blocks[k-1], nil)
		t.blocks[k-1] = nil
		t.blocks = t.blocks[:k-1]
	}
	for _, f := range srcs {
		for _, b := range f.blocks {
			if b.len == 0 {
				ns.removeBlock(b, nil)
				continue
			}
			b.file = t
			t.blocks = append(t.blocks, b)
			if f.repl != t.repl {
				// The replication monitor adds or removes replicas
				// to match the target's replication.
				ns.touch(b.id)
			}
		}
		f.blocks = nil
		parent := f.parent
		parent.removeChild(f)
		parent.mtime = c.mtime
		ns.files--
	}
	t.mtime = c.mtime
	t.parent.mtime = c.mtime
	return nil
}

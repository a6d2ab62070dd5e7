package fusefs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Defaults of a Config.
const (
	DefaultAttrTimeout = time.Second
	DefaultOpTimeout   = time.Minute
	// statfsTTL is how long a DatanodeReport answers statfs.
	statfsTTL = 2 * time.Second
	// listPage is how many entries one NameNode call of a readdir
	// fetches.
	listPage = 1000
	// maxIO is the largest READ and WRITE request the kernel sends
	// (its own limit is 1 MiB).
	maxIO = 1 << 20
	// blockSizeHint is st_blksize, the I/O size cp and friends use.
	blockSizeHint = 1 << 20
	// unmountGrace is how long Unmount waits for the files still open
	// after a lazy unmount to be closed before it finishes their
	// writers itself.
	unmountGrace = 2 * time.Second
)

// Config configures a mount.
type Config struct {
	// Client is the cluster's client; required. The mount does not
	// close it.
	Client *client.Client
	// Source names the cluster in the mount table (the first column
	// of df and /proc/mounts); "" gives "cairn".
	Source string
	// ReadOnly refuses every change with EROFS (and mounts ro).
	ReadOnly bool
	// AllowOther lets users other than the mounting one use the mount
	// (FUSE's allow_other; for a non-root user /etc/fuse.conf must say
	// user_allow_other). The kernel then checks permission bits
	// (default_permissions) against the owners shown; every request
	// still reaches the NameNode as the mounting user.
	AllowOther bool
	// AttrTimeout is how long the kernel keeps attributes, names and
	// the absence of names; 0: DefaultAttrTimeout, negative: not at all.
	AttrTimeout time.Duration
	// OpTimeout bounds each NameNode call of a request; 0:
	// DefaultOpTimeout.
	OpTimeout time.Duration
	// UID and GID are the mounting user's, shown for owners with no
	// local account; 0 and 0 take the process's own.
	UID, GID uint32
	// Debug logs every FUSE request (go-fuse's debug log) at Debug.
	Debug bool
}

// fsys is the state of one mount shared by its nodes.
type fsys struct {
	c   *client.Client
	cfg Config
	log *slog.Logger
	ids *identities
	// ctx is the life of the mount: Readers and Writers run under
	// it, not under a request's context, so that an interrupted
	// request (a signal to the caller) cannot fail a file mid-write.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards the fields below
	handles map[*handle]struct{}
	closed  bool
	statAt  time.Time
	statOut fuse.StatfsOut
}

// opCtx returns the context of one NameNode call made for a request:
// the request's values, not its cancellation (see ctx above), and a
// bound of its own.
func (f *fsys) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), f.cfg.OpTimeout)
}

// addHandle registers an open file; it fails once the mount is
// shutting down.
func (f *fsys) addHandle(h *handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return syscall.ESHUTDOWN
	}
	f.handles[h] = struct{}{}
	return nil
}

func (f *fsys) removeHandle(h *handle) {
	f.mu.Lock()
	delete(f.handles, h)
	f.mu.Unlock()
}

// shutdown finishes every file still open: writers are closed, so
// their files are complete with the bytes written so far.
func (f *fsys) shutdown() {
	f.mu.Lock()
	f.closed = true
	open := make([]*handle, 0, len(f.handles))
	for h := range f.handles {
		open = append(open, h)
	}
	f.mu.Unlock()
	for _, h := range open {
		if h.writing() {
			f.log.Warn("file still open at unmount: completing it with the bytes written so far", "path", h.n.path())
		}
		h.finish()
	}
	f.cancel()
}

// Server is a mounted file system.
type Server struct {
	fsys *fsys
	srv  *fuse.Server
	dir  string
	log  *slog.Logger
	done chan struct{} // closed when the FUSE connection ends

	once sync.Once
}

// Mount mounts the cluster of cfg.Client on dir and serves it until
// Unmount, or until someone else unmounts it (fusermount3 -u). It
// checks dir first and fails with a one-line error when it is missing,
// not a directory, already a mount point, or when FUSE is missing.
func Mount(dir string, cfg Config, lg *slog.Logger) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("no client")
	}
	if cfg.AttrTimeout == 0 {
		cfg.AttrTimeout = DefaultAttrTimeout
	}
	if cfg.AttrTimeout < 0 {
		cfg.AttrTimeout = 0
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.UID == 0 && cfg.GID == 0 {
		cfg.UID, cfg.GID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	if cfg.Source == "" {
		cfg.Source = "cairn"
	}
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := CheckMountPoint(abs); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fsys{
		c: cfg.Client, cfg: cfg, log: lg, ids: newIdentities(cfg.UID, cfg.GID),
		ctx: ctx, cancel: cancel, handles: make(map[*handle]struct{}),
	}
	timeout := cfg.AttrTimeout
	var mopts []string
	if cfg.ReadOnly {
		mopts = append(mopts, "ro")
	}
	if cfg.AllowOther {
		mopts = append(mopts, "default_permissions")
	}
	goLog := log.New(&logWriter{lg}, "", 0)
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther: cfg.AllowOther,
			Options:    mopts,
			FsName:     cfg.Source,
			Name:       "cairn",
			MaxWrite:   maxIO,
			// One READ at a time per open file, in order of offset:
			// the client's Reader streams a block sequentially, and
			// reads arriving out of order would each open a stream.
			SyncRead: true,
			// cairn keeps no security labels; and without this the
			// kernel asks for security.capability before every WRITE.
			IgnoreSecurityLabels: true,
			DisableXAttrs:        true,
			DirectMount:          os.Geteuid() == 0,
			Debug:                cfg.Debug,
			Logger:               goLog,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             cfg.UID,
		GID:             cfg.GID,
		Logger:          goLog,
	}
	root := &node{fsys: f}
	srv, err := fs.Mount(abs, root, opts)
	if err != nil {
		cancel()
		return nil, cairn.Errorf("mount", abs, cairn.IO, "%s", oneLine(err.Error()))
	}
	if err := raiseReadAhead(abs); err != nil {
		lg.Debug("read-ahead left at the kernel's default", "err", err)
	}
	s := &Server{fsys: f, srv: srv, dir: abs, log: lg, done: make(chan struct{})}
	go func() {
		srv.Wait()
		close(s.done)
	}()
	return s, nil
}

// Dir returns the mount point.
func (s *Server) Dir() string { return s.dir }

// Done is closed when the mount ends: after Unmount, or when someone
// else unmounted it.
func (s *Server) Done() <-chan struct{} { return s.done }

// Unmount unmounts the file system and finishes the files still open
// (their writers are closed: their files hold what was written). When
// files are open the mount is detached lazily (MNT_DETACH): it leaves
// the mount table at once, and the FUSE connection ends when this
// process exits or the files are closed. Unmount is safe to call more
// than once and after the mount ended by itself.
func (s *Server) Unmount() error {
	var err error
	s.once.Do(func() { err = s.unmount() })
	return err
}

func (s *Server) unmount() error {
	select {
	case <-s.done:
		s.fsys.shutdown()
		return nil
	default:
	}
	uerr := s.srv.Unmount()
	if uerr == nil {
		s.fsys.shutdown()
		return nil
	}
	s.log.Info("unmount: busy, detaching lazily", "dir", s.dir, "err", oneLine(uerr.Error()))
	if err := lazyUnmount(s.dir); err != nil {
		s.fsys.shutdown()
		return cairn.Errorf("unmount", s.dir, cairn.IO, "%s", oneLine(err.Error()))
	}
	// Give the files still open a moment to be closed by their users.
	select {
	case <-s.done:
	case <-time.After(unmountGrace):
	}
	s.fsys.shutdown()
	return nil
}

// raiseReadAhead lets the kernel read ahead maxIO at a time on the
// mount at dir, instead of its default of 128 KiB: READ requests of
// 1 MiB rather than 128 KiB cut the round trips of a sequential read by
// eight. It is the read_ahead_kb of the mount's backing device in
// sysfs, which only root may write; for others it stays.
func raiseReadAhead(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(p, []byte(fmt.Sprint(maxIO>>10)), 0)
}

// lazyUnmount detaches the mount at dir even with files open.
func lazyUnmount(dir string) error {
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err == nil {
			return nil
		}
	}
	bin, err := fusermount()
	if err != nil {
		return err
	}
	out, err := exec.Command(bin, "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -u -z: %v: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// fusermount finds the setuid helper that mounts for users other than
// root.
func fusermount() (string, error) {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		if p := "/bin/" + name; isExec(p) {
			return p, nil
		}
	}
	return "", errors.New("fusermount3 not found: install fuse3")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// CheckMountPoint says, as an error of op "mount" on dir, why dir
// cannot be mounted on: it is missing, not a directory, already a mount
// point (or a stale one), or FUSE itself is missing (/dev/fuse, or
// fusermount3 for a user other than root).
func CheckMountPoint(dir string) error {
	const op = "mount"
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return cairn.Errorf(op, dir, cairn.Unavailable, "busy: a stale FUSE mount is there (its server died); unmount it with 'fusermount3 -u %s'", dir)
	case errors.Is(err, os.ErrNotExist):
		return cairn.Errorf(op, dir, cairn.NotExist, "mount point does not exist")
	case err != nil:
		return cairn.Errorf(op, dir, cairn.IO, "%v", errors.Unwrap(err))
	case !fi.IsDir():
		return cairn.Errorf(op, dir, cairn.NotDir, "mount point is not a directory")
	}
	real := dir
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		real = r
	}
	if mounted, err := isMountPoint(real); err == nil && mounted {
		return cairn.Errorf(op, dir, cairn.Exist, "mount point is busy: something is already mounted there")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return cairn.Errorf(op, dir, cairn.Unavailable, "/dev/fuse is missing: load the kernel's FUSE module (modprobe fuse), or in a container pass the device (--device /dev/fuse)")
	}
	if os.Geteuid() != 0 {
		if _, err := fusermount(); err != nil {
			return cairn.E(op, dir, cairn.Unavailable, err)
		}
	}
	return nil
}

// isMountPoint reports whether dir is the mount point of a mount of
// this process's mount namespace.
func isMountPoint(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == dir {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo
// (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// logWriter sends go-fuse's log lines to slog at Debug.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("fuse: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/fusefs"
)

type mountCmd struct {
	e           *env
	namenode    string
	readOnly    bool
	allowOther  bool
	attrTimeout time.Duration
	opTimeout   time.Duration
	dialTimeout time.Duration
	tlsCA       string
	tokenFile   string
	logLevel    levelValue
	debugFUSE   bool
}

func newMountCmd(e *env) *cobra.Command {
	m := &mountCmd{e: e, logLevel: levelValue(slog.LevelInfo)}
	cmd := &cobra.Command{
		Use:   "mount --namenode ADDR[,ADDR...] MOUNTPOINT [--read-only] [--allow-other] [--attr-timeout D]",
		Short: "Mount the cluster's namespace as a local file system (FUSE)",
		Long: `Mount the cluster's namespace on MOUNTPOINT, a directory, with FUSE,
and serve it in the foreground until SIGINT or SIGTERM, which unmount it
(lazily when files are still open: the mount leaves the mount table at
once, and the files still being written are completed with what was
written). 'fusermount3 -u MOUNTPOINT' unmounts it too.

cairn files are written once: a file is written from its start, in order,
after it is created or truncated (O_TRUNC). A write anywhere else, or to an
existing file opened without O_TRUNC, fails with EOPNOTSUPP. When close(2)
returns, the bytes written are on the DataNodes and every reader sees them.

Attributes and names are cached by the kernel for --attr-timeout: a change
made elsewhere shows through the mount within that time. Every request
reaches the NameNode as the user who mounted; with --allow-other, other
local users act as that user too (the kernel checks the permission bits
shown). The mounting user needs /dev/fuse and, unless root, fusermount3
(package fuse3; --allow-other also needs user_allow_other in
/etc/fuse.conf).

Every flag can also be set by CAIRN_<FLAG> or a key of the YAML --config
file, as for 'cairn namenode'.`,
		Args: exactArgs(1, "a mount point"),
		RunE: runE(m.run),
	}
	f := cmd.Flags()
	f.StringVar(&m.namenode, "namenode", defaultNameNode, "NameNode RPC address, or the addresses of a NameNode group separated by commas")
	f.BoolVar(&m.readOnly, "read-only", false, "refuse every change (EROFS)")
	f.BoolVar(&m.allowOther, "allow-other", false, "let other local users use the mount (they act as the mounting user)")
	f.DurationVar(&m.attrTimeout, "attr-timeout", fusefs.DefaultAttrTimeout, "how long the kernel caches attributes and names (0: not at all)")
	f.DurationVar(&m.opTimeout, "op-timeout", fusefs.DefaultOpTimeout, "bound of each NameNode call of a request, after which it fails with EIO")
	f.DurationVar(&m.dialTimeout, "dial-timeout", defaultDialTimeout, "how long to keep trying to reach the NameNode at start")
	f.StringVar(&m.tlsCA, "tls-ca", "", "CA certificate (PEM) of a cluster that uses TLS (env "+envTLSCA+"; empty: plaintext)")
	tokenFileFlag(f, &m.tokenFile)
	f.Var(&m.logLevel, "log-level", "log level: debug, info, warn or error")
	f.BoolVar(&m.debugFUSE, "debug-fuse", false, "log every FUSE request (at --log-level debug)")
	return cmd
}

func (m *mountCmd) run(ctx context.Context, args []string) error {
	const op = "mount"
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return fail(op, args[0], err)
	}
	if m.attrTimeout < 0 || m.opTimeout <= 0 {
		return usageError("--attr-timeout must not be negative and --op-timeout must be positive")
	}
	if err := fusefs.CheckMountPoint(dir); err != nil {
		return err
	}
	log := m.e.serverLogger(slog.Level(m.logLevel)).With("component", "mount")
	r := &remote{e: m.e, namenode: m.namenode, dialTimeout: m.dialTimeout, tlsCA: m.tlsCA, tokenFile: m.tokenFile}
	// The kernel gives each create the mode the process's own umask
	// left: the mount applies none of its own.
	c, err := r.dial(ctx, op, dir, client.WithUmask(0))
	if err != nil {
		return err
	}
	defer c.Close()
	attr := m.attrTimeout
	if attr == 0 {
		attr = -1 // fusefs: no caching
	}
	srv, err := fusefs.Mount(dir, fusefs.Config{
		Client:      c,
		Source:      "cairn:" + r.addr(),
		ReadOnly:    m.readOnly,
		AllowOther:  m.allowOther,
		AttrTimeout: attr,
		OpTimeout:   m.opTimeout,
		Debug:       m.debugFUSE,
	}, log)
	if err != nil {
		return err
	}
	log.Info("mounted", "dir", dir, "namenode", r.addr(), "read_only", m.readOnly, "attr_timeout", m.attrTimeout)
	select {
	case <-ctx.Done():
		log.Info("unmounting", "dir", dir)
	case <-srv.Done():
		log.Info("unmounted from outside", "dir", dir)
	}
	if err := srv.Unmount(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

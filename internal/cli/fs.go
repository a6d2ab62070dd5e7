package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// defaultNameNode is the NameNode address used when neither --namenode
// nor CAIRN_NAMENODE says otherwise: HDFS's RPC port on loopback, where
// 'cairn dev' and 'cairn namenode' listen by default.
const defaultNameNode = "127.0.0.1:8020"

// defaultDialTimeout is how long a client command keeps trying to
// reach the NameNode: long enough to ride over a NameNode restart or a
// burst of connections, short enough for a user at a terminal.
const defaultDialTimeout = 10 * time.Second

// remote holds the flags shared by the fs and admin commands.
type remote struct {
	e           *env
	namenode    string        // --namenode; empty: $CAIRN_NAMENODE, then defaultNameNode
	dialTimeout time.Duration // --dial-timeout
	tlsCA       string        // --tls-ca; empty: $CAIRN_TLS_CA, then plaintext
	tokenFile   string        // --token-file; empty: $CAIRN_TOKEN, then the user's token file
}

func (r *remote) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&r.namenode, "namenode", "",
		"NameNode RPC address host:port, or the addresses of a NameNode group separated by commas (default $CAIRN_NAMENODE, else "+defaultNameNode+")")
	cmd.PersistentFlags().DurationVar(&r.dialTimeout, "dial-timeout", defaultDialTimeout,
		"how long to keep trying to reach the NameNode")
	cmd.PersistentFlags().StringVar(&r.tlsCA, "tls-ca", "",
		"CA certificate (PEM) of a cluster that uses TLS: the servers must show certificates it signed (default $"+envTLSCA+", else plaintext)")
	tokenFileFlag(cmd.PersistentFlags(), &r.tokenFile)
}

// addr returns the NameNode address to use: one, or the members of a
// NameNode group separated by commas, as client.Dial takes them.
func (r *remote) addr() string {
	if r.namenode != "" {
		return r.namenode
	}
	if v := strings.TrimSpace(r.e.getenv("CAIRN_NAMENODE")); v != "" {
		return v
	}
	return defaultNameNode
}

// dial connects to the NameNode for the command op on path, so a
// failure reads "cairn: ls /: namenode 127.0.0.1:8020 unreachable:
// connection refused". The umask of what the command creates is
// $CAIRN_UMASK (octal, as HDFS's fs.permissions.umask-mode), else 022;
// extra options come after, and win.
func (r *remote) dial(ctx context.Context, op, path string, extra ...client.Option) (*client.Client, error) {
	addr := r.addr()
	if r.dialTimeout <= 0 {
		return nil, failf(op, path, cairn.Invalid, "invalid dial-timeout %v: must be positive", r.dialTimeout)
	}
	withTLS, err := r.e.clientTLSOption(op, r.tlsCA)
	if err != nil {
		return nil, err
	}
	tok, err := r.e.tokenOption(op, r.tokenFile)
	if err != nil {
		return nil, err
	}
	opts := []client.Option{client.WithDialTimeout(r.dialTimeout), withTLS, tok}
	if v := strings.TrimSpace(r.e.getenv("CAIRN_UMASK")); v != "" {
		m, err := parseMode(v)
		if err != nil || m&^fs.ModePerm != 0 {
			return nil, failf(op, path, cairn.Invalid, "invalid CAIRN_UMASK %q: want octal permission bits such as 022 or 077", v)
		}
		opts = append(opts, client.WithUmask(m))
	}
	c, err := client.Dial(ctx, addr, append(opts, extra...)...)
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, fail(op, path, ctx.Err())
	}
	if k := cairn.KindOf(err); k == cairn.Unavailable || k == cairn.Other {
		return nil, cairn.E(op, path, cairn.Unavailable,
			fmt.Errorf("namenode %s unreachable: %s", addr, dialCause(err)))
	}
	return nil, fail(op, path, err)
}

// dialCause extracts a short cause from a failed dial: the innermost
// message, with gRPC's wrapping reduced to its point.
func dialCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer before the dial timeout"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return "its certificate is not signed by the CA of --tls-ca"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "it does not speak TLS (a plaintext cluster: leave out --tls-ca)"
	case strings.Contains(msg, "error reading server preface"):
		return "the connection was closed at once (a TLS cluster? give --tls-ca or $" + envTLSCA + ")"
	case strings.Contains(msg, "x509: "):
		return msg[strings.Index(msg, "x509: "):]
	}
	for _, known := range []string{"connection refused", "no such host", "network is unreachable", "connection reset by peer", "i/o timeout"} {
		if strings.Contains(msg, known) {
			return known
		}
	}
	if strings.Contains(msg, "DeadlineExceeded") || strings.Contains(msg, "deadline exceeded") {
		return "no answer before the dial timeout"
	}
	if i := strings.LastIndex(msg, "desc = "); i >= 0 {
		msg = strings.Trim(msg[i+len("desc = "):], `"`)
	}
	return stripOpPath(msg)
}

// checkPath validates a cairn path given on the command line: paths
// are absolute and clean, and never rewritten.
func checkPath(op, p string) error {
	if err := cairn.ValidatePath(p); err != nil {
		return cairn.E(op, p, cairn.Invalid, err)
	}
	return nil
}

// checkPaths validates several cairn paths.
func checkPaths(op string, paths []string) error {
	for _, p := range paths {
		if err := checkPath(op, p); err != nil {
			return err
		}
	}
	return nil
}

// newFSCmd builds 'cairn fs' and its subcommands.
func newFSCmd(e *env) *cobra.Command {
	r := &remote{e: e}
	cmd := newGroupCmd("fs", "Work with files and directories (put, get, ls, ...)")
	cmd.Long = `Work with files and directories in a cairn cluster.

Paths in the cluster are absolute and clean ("/a/b", never "a/b", "/a/../b"
or "/a/"). The NameNode is --namenode, else $CAIRN_NAMENODE, else
` + defaultNameNode + `.`
	r.addFlags(cmd)
	cmd.AddCommand(
		newPutCmd(r),
		newGetCmd(r),
		newCatCmd(r),
		newTailCmd(r),
		newLsCmd(r),
		newDuCmd(r),
		newStatCmd(r),
		newMkdirCmd(r),
		newRmCmd(r),
		newMvCmd(r),
		newConcatCmd(r),
		newTouchCmd(r),
		newChmodCmd(r),
		newChownCmd(r),
		newSetrepCmd(r),
		newSetfattrCmd(r),
		newGetfattrCmd(r),
	)
	return cmd
}

// withClient dials for op on path and runs fn with the client, closing
// it after.
func (r *remote) withClient(ctx context.Context, op, path string, fn func(c *client.Client) error) error {
	c, err := r.dial(ctx, op, path)
	if err != nil {
		return err
	}
	err = fn(c)
	c.Close()
	return err
}

// firstOr returns args[0], or def when there is none.
func firstOr(args []string, def string) string {
	if len(args) > 0 {
		return args[0]
	}
	return def
}

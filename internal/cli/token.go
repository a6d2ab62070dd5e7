package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Where a client command finds its token (docs/OPERATIONS.md,
// "Tokens"): the file --token-file names, else $CAIRN_TOKEN, else the
// file cairn/token under the user's config directory
// (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux) if it
// exists; else it sends none, as a cluster in simple mode wants. A
// token file must be private: one that its group or others may access
// is refused, as ssh refuses such a private key.

// envToken is the environment variable holding a token.
const envToken = "CAIRN_TOKEN"

// maxTokenFile bounds the size of a token file.
const maxTokenFile = 4096

// token returns the token a client command sends, "" for none.
func (e *env) token(tokenFile string) (string, error) {
	if tokenFile != "" {
		return readTokenFile(tokenFile)
	}
	if v := strings.TrimSpace(e.getenv(envToken)); v != "" {
		return v, nil
	}
	dir := userConfigDir(e.getenv)
	if dir == "" {
		return "", nil // no config directory: no token there
	}
	tok, err := readTokenFile(filepath.Join(dir, "cairn", "token"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return tok, err
}

// readTokenFile reads a token from path: its first line, without
// blanks. Its errors are one line and never quote the file's content.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("token file %s: %w", path, fs.ErrNotExist)
		}
		return "", fmt.Errorf("token file %s: %s", path, reason(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file %s: %s", path, reason(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" { // (Windows has no such modes)
		return "", fmt.Errorf("token file %s: others may access it (mode %04o): it holds a secret; chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %s", path, reason(err))
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("token file %s: larger than %d bytes", path, maxTokenFile)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("token file %s: empty", path)
	}
	return tok, nil
}

// userConfigDir is os.UserConfigDir, reading the environment through
// getenv; "" when it cannot tell.
func userConfigDir(getenv func(string) string) string {
	switch runtime.GOOS {
	case "windows":
		return getenv("AppData")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support")
		}
	case "plan9":
		if h := getenv("home"); h != "" {
			return filepath.Join(h, "lib")
		}
	default:
		if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
			return d
		}
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".config")
		}
	}
	return ""
}

// tokenOption returns the client option of the command's token.
func (e *env) tokenOption(op, tokenFile string) (client.Option, error) {
	tok, err := e.token(tokenFile)
	if err != nil {
		return nil, cairn.E(op, cairn.Invalid, errors.New(oneLine(err.Error())))
	}
	if tok == "" {
		return nil, nil
	}
	return client.WithToken(tok), nil
}

// tokenFileFlag adds --token-file to a command's flags.
func tokenFileFlag(f interface {
	StringVar(*string, string, string, string)
}, p *string) {
	f.StringVar(p, "token-file", "", "file holding the token to authenticate with (default $"+envToken+", else cairn/token in the user's config directory)")
}

// newTokenCmd builds 'cairn admin token'.
func newTokenCmd(r *remote) *cobra.Command {
	cmd := newGroupCmd("token", "Create and revoke the tokens clients authenticate with (secure mode)")
	cmd.AddCommand(newTokenCreateCmd(r), newTokenRevokeCmd(r))
	return cmd
}

// tokenJSON is the output of 'cairn admin token create --json'. The
// field names are a contract with scripts.
type tokenJSON struct {
	Token   string `json:"token"`
	ID      string `json:"id"`
	User    string `json:"user"`
	Expires string `json:"expires"` // RFC 3339
}

func newTokenCreateCmd(r *remote) *cobra.Command {
	var (
		user   string
		ttl    time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create [--user NAME] [--ttl D] [--json]",
		Short: "Create a token",
		Long: `Create a token for --user (default: the caller, the user of the token the
command authenticates with) that lives --ttl (default: the NameNode's
--token-ttl, capped by its --token-max-lifetime). A superuser may create
tokens for anyone; another user only for itself, expiring no later than
the token it authenticates with.

The token's ID and expiry are printed first; the token itself is the last
line, so that 'cairn admin token create --user alice | tail -1 > FILE'
keeps it. Treat it as a password: whoever holds it acts as its user
until it expires or is revoked. --json prints one object {"token", "id",
"user", "expires" (RFC 3339)}.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			const op = "token create"
			if ttl < 0 {
				return usageError("invalid --ttl %v: must not be negative", ttl)
			}
			return r.withClient(ctx, op, user, func(c *client.Client) error {
				ti, err := c.CreateToken(ctx, user, ttl)
				if err != nil {
					return fail(op, user, err)
				}
				exp := ti.Expires.UTC().Format(time.RFC3339)
				if asJSON {
					return writeJSON(r.e.stdout, tokenJSON{Token: ti.Token, ID: ti.ID, User: ti.User, Expires: exp})
				}
				_, err = fmt.Fprintf(r.e.stdout, "Token %s for user %s, expires %s\n%s\n", ti.ID, ti.User, exp, ti.Token)
				return err
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "the user the token authenticates (default: the caller)")
	f.DurationVar(&ttl, "ttl", 0, "lifetime of the token (default: the NameNode's --token-ttl)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenRevokeCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID|TOKEN",
		Short: "Revoke a token",
		Long: `Revoke a token, named by its ID (as 'cairn admin token create' prints it) or
the token itself. When the command returns, no NameNode of the cluster
accepts the token any more. A superuser may revoke any token; another user
its own: by the token itself, or by the ID of the token it authenticates
with.`,
		Args: exactArgs(1, "one token ID or token"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "token revoke"
			arg := strings.TrimSpace(args[0])
			name := arg
			if strings.HasPrefix(name, "cairn1.") {
				name = "" // a secret: never in an error
			}
			return r.withClient(ctx, op, name, func(c *client.Client) error {
				if err := c.RevokeToken(ctx, arg); err != nil {
					return fail(op, name, err)
				}
				if name == "" {
					name = "the token"
				}
				_, err := fmt.Fprintf(r.e.stdout, "Revoked %s\n", name)
				return err
			})
		}),
	}
}

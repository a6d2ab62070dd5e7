package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairn-fs/cairn"
)

// Exit codes of Run.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or arguments
)

// env is what a command may touch of the outside world. Tests replace
// all of it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// getenv reads an environment variable; os.Getenv in production.
	getenv func(string) string
	// isTerminal reports whether w is a terminal, for the progress
	// bar.
	isTerminal func(w io.Writer) bool
	// logFormat is the --log-format of a server command: text or json
	// (config.go).
	logFormat string
}

// Run runs the cairn command with args (without the program name),
// prints at most one line of error to stderr, and returns the exit
// code: 0 on success, 1 when the command failed, 2 on a usage error.
// It never panics: a panic is turned into one line and exit code 1.
// ctx ends when the user interrupts; servers then shut down cleanly and
// client commands stop and clean up.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{
		stdin:      stdin,
		stdout:     stdout,
		stderr:     stderr,
		getenv:     os.Getenv,
		isTerminal: isTerminal,
	}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(e.stderr, "cairn: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = exitFailure
		}
	}()
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return e.report(ctx, cmd, err)
}

// report prints err as one line and returns the exit code.
func (e *env) report(ctx context.Context, cmd *cobra.Command, err error) int {
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.err != nil {
			fmt.Fprintln(e.stderr, errorLine(exit.err))
		}
		return exit.code
	}
	var rerr *runError
	if errors.As(err, &rerr) {
		err = rerr.err
		if ctx.Err() != nil {
			// Interrupted: say so instead of the error it caused.
			var ce *cairn.Error
			if errors.As(err, &ce) {
				err = &cairn.Error{Op: ce.Op, Path: ce.Path, Kind: ce.Kind, Err: errors.New("interrupted")}
			}
		}
		fmt.Fprintln(e.stderr, errorLine(err))
		return exitFailure
	}
	// Anything else comes from cobra or our argument checks: a usage
	// error.
	where := ""
	if cmd != nil && cmd.HasParent() {
		where = strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ") + ": "
	}
	help := "cairn --help"
	if cmd != nil {
		help = cmd.CommandPath() + " --help"
	}
	fmt.Fprintf(e.stderr, "cairn: %s%s (see '%s')\n", where, oneLine(err.Error()), help)
	return exitUsage
}

// errorLine formats a failure as the one line printed to stderr:
// "cairn: <op> <path>: <reason>".
func errorLine(err error) string {
	return "cairn: " + oneLine(err.Error())
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// runError marks an error returned by a command's own work (as opposed
// to a usage error found by cobra): it exits 1.
type runError struct{ err error }

func (r *runError) Error() string { return r.err.Error() }
func (r *runError) Unwrap() error { return r.err }

// exitError asks for a given exit code, printing err if not nil.
type exitError struct {
	code int
	err  error
}

func (x *exitError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit status %d", x.code)
	}
	return x.err.Error()
}

// usageErr is a bad argument found by a command itself; it exits 2,
// as cobra's own flag and argument errors do.
type usageErr struct{ msg string }

func (u *usageErr) Error() string { return u.msg }

// usageError builds a usage error.
func usageError(format string, args ...any) error {
	return &usageErr{fmt.Sprintf(format, args...)}
}

// runE adapts a command body to cobra, marking its errors as failures
// of the command rather than usage errors.
func runE(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := fn(cmd.Context(), args); err != nil {
			var exit *exitError
			var usage *usageErr
			if errors.As(err, &exit) || errors.As(err, &usage) {
				return err
			}
			return &runError{err}
		}
		return nil
	}
}

// fail rewraps err, which happened while doing op on path, as the
// *cairn.Error the user sees: the command's own verb and path, the
// kind of the cause, and the cause's message stripped of the
// "op path: " prefixes the layers below added.
func fail(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &cairn.Error{Op: op, Path: path, Kind: cairn.KindOf(err), Err: errors.New(reason(err))}
}

// failf builds a *cairn.Error for op on path with a formatted reason.
func failf(op, path string, kind cairn.Kind, format string, args ...any) error {
	return cairn.Errorf(op, path, kind, format, args...)
}

// reason is the part of err's message that says what went wrong,
// without the "op /path: " prefixes added on the way up (the CLI puts
// its own op and path in front).
func reason(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil {
		if _, isCairn := pe.Err.(*cairn.Error); !isCairn {
			return pe.Err.Error()
		}
	}
	var le *os.LinkError
	if errors.As(err, &le) && le.Err != nil {
		return le.Err.Error()
	}
	return stripOpPath(err.Error())
}

// stripOpPath removes leading "op /path: " prefixes from msg, as in
// "open /a: namenode.GetBlockLocations /a: file does not exist". An op
// is a word of letters, digits, '_' and '.'; a path starts with '/'
// and has no space.
func stripOpPath(msg string) string {
	for {
		rest, ok := cutOpPath(msg)
		if !ok || rest == "" {
			return msg
		}
		msg = rest
	}
}

func cutOpPath(msg string) (string, bool) {
	sp := strings.IndexByte(msg, ' ')
	if sp <= 0 {
		return "", false
	}
	op := msg[:sp]
	for i, r := range op {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '.')) {
			return "", false
		}
	}
	rest := msg[sp+1:]
	if !strings.HasPrefix(rest, "/") {
		return "", false
	}
	end := strings.Index(rest, ": ")
	if end < 0 || strings.ContainsAny(rest[:end], " \t\n") {
		return "", false
	}
	return rest[end+2:], true
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newRootCmd builds the whole command tree. Flags are bound to structs
// local to each command, so the tree can be built many times (once per
// Run).
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "cairn is a distributed file system in the manner of HDFS",
		Long: `cairn is a distributed file system in the manner of HDFS: a NameNode keeps
the namespace, DataNodes keep the blocks, and this one binary runs either
of them, a whole development cluster, or the client commands.

Start a cluster on this machine with 'cairn dev', then in another terminal
try 'cairn fs ls /'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          groupArgs,
		RunE:          groupRun,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(
		withConfig(e, newNameNodeCmd(e)),
		withConfig(e, newDataNodeCmd(e)),
		withConfig(e, newDevCmd(e)),
		withConfig(e, newMountCmd(e)),
		withConfig(e, newS3Cmd(e)),
		newFSCmd(e),
		newAdminCmd(e),
		newBenchCmd(e),
		newVersionCmd(e),
	)
	return root
}

// groupArgs refuses an unknown subcommand of a command that only
// groups others.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// groupRun shows the help of a command that only groups others.
func groupRun(cmd *cobra.Command, _ []string) error {
	return cmd.Help()
}

// newGroupCmd returns a command that only groups subcommands.
func newGroupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  groupArgs,
		RunE:  groupRun,
	}
}

// exactArgs, minArgs and rangeArgs check the number of arguments with
// messages naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("want %s, got %d argument%s", what, len(args), plural(len(args)))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError("want %s, got %d argument%s", what, len(args), plural(len(args)))
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError("want %s, got %d argument%s", what, len(args), plural(len(args)))
		}
		return nil
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

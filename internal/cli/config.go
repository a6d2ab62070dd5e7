package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/internal/config"
)

// Flags every server command has besides its own, and that are never
// read from a config file or the environment (but CAIRN_CONFIG names
// the file when --config is not given).
const (
	flagConfig      = "config"
	flagPrintConfig = "print-config"
	flagLogFormat   = "log-format"
)

// serverFlags holds the flags withConfig adds.
type serverFlags struct {
	config      string
	printConfig bool
	logFormat   logFormatValue
}

// withConfig gives a server command (namenode, datanode, dev) the
// configuration layers of package config and the flags that go with
// them: --config FILE, --print-config and --log-format. Before the
// command runs, every flag not given on the command line is taken from
// $CAIRN_<FLAG>, else from the config file, else keeps its default.
// --print-config prints the result as a config file and exits.
func withConfig(e *env, cmd *cobra.Command) *cobra.Command {
	sf := &serverFlags{logFormat: "text"}
	f := cmd.Flags()
	f.StringVar(&sf.config, flagConfig, "", "YAML config file; keys are flag names (env CAIRN_CONFIG)")
	f.BoolVar(&sf.printConfig, flagPrintConfig, false, "print the effective configuration (flags > env CAIRN_<FLAG> > config file > defaults) and exit")
	f.Var(&sf.logFormat, flagLogFormat, "log format: text or json")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		path := sf.config
		if path == "" {
			path = e.getenv(config.EnvName(flagConfig))
		}
		var file *config.File
		if path != "" {
			var err error
			if file, err = config.ReadFile(path); err != nil {
				return usageError("%s", oneLine(err.Error()))
			}
		}
		if err := config.Apply(c.Flags(), file, e.getenv, flagConfig, flagPrintConfig, "help"); err != nil {
			return usageError("%s", oneLine(err.Error()))
		}
		e.logFormat = string(sf.logFormat)
		if sf.printConfig {
			return runE(func(context.Context, []string) error {
				return config.Print(e.stdout, c.Flags(), flagConfig, flagPrintConfig, "help")
			})(c, args)
		}
		return run(c, args)
	}
	return cmd
}

// logFormatValue is a pflag.Value holding a log format: text or json.
type logFormatValue string

func (v *logFormatValue) String() string { return string(*v) }
func (v *logFormatValue) Type() string   { return "format" }
func (v *logFormatValue) Set(s string) error {
	switch f := strings.ToLower(s); f {
	case "text", "json":
		*v = logFormatValue(f)
		return nil
	}
	return fmt.Errorf("invalid log format %q: want text or json", s)
}

// serverLogger returns the logger of a server command: on stderr, at
// level, in the format of --log-format.
func (e *env) serverLogger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if e.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/internal/version"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0, "no arguments"),
		RunE: runE(func(_ context.Context, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, version.String())
			return err
		}),
	}
}

package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// newDecommissionCmd builds 'cairn admin decommission ADDR'.
func newDecommissionCmd(r *remote) *cobra.Command {
	var (
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "decommission [-w] ADDR",
		Short: "Take a DataNode out of service once its blocks are copied elsewhere",
		Long: `Take a DataNode out of service. ADDR is its data-transfer address host:port
or its ID, as 'cairn admin report' shows them. The NameNode stops placing new
blocks on it and copies every block it holds to other nodes while it still
serves reads; 'cairn admin report' then shows it decommissioning, and
decommissioned once no block depends on it: it can then be stopped with
nothing under-replicated. The decision is logged, so it survives a NameNode
restart. 'cairn admin recommission ADDR' undoes it.

With -w, wait until the node is decommissioned.`,
		Args: exactArgs(1, "one DataNode address"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "decommission"
			node := args[0]
			return r.withClient(ctx, op, node, func(c *client.Client) error {
				st, err := c.Decommission(ctx, node)
				if err != nil {
					return fail(op, node, err)
				}
				fmt.Fprintf(r.e.stdout, "Decommissioning %s (%s): %s\n", st.Addr, st.ID, st.State)
				if !wait || st.State == "decommissioned" {
					return nil
				}
				wctx, cancel := ctx, context.CancelFunc(func() {})
				if timeout > 0 {
					wctx, cancel = context.WithTimeout(ctx, timeout)
				}
				defer cancel()
				for {
					rep, err := c.DatanodeReport(wctx)
					if err == nil {
						for _, d := range rep.Datanodes {
							if d.ID == st.ID && d.State == "decommissioned" {
								fmt.Fprintf(r.e.stdout, "%s (%s) is decommissioned\n", d.Addr, d.ID)
								return nil
							}
							if d.ID == st.ID && d.State != "decommissioning" && d.State != "stale" {
								return failf(op, node, cairn.Invalid, "the node is %s, no longer decommissioning", d.State)
							}
						}
					}
					select {
					case <-wctx.Done():
						if ctx.Err() != nil {
							return fail(op, node, ctx.Err())
						}
						return failf(op, node, cairn.NotReplicated, "still decommissioning after %v", timeout)
					case <-time.After(200 * time.Millisecond):
					}
				}
			})
		}),
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the node is decommissioned")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up waiting after this long (0: wait until interrupted)")
	return cmd
}

// newRecommissionCmd builds 'cairn admin recommission ADDR'.
func newRecommissionCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "recommission ADDR",
		Short: "Put a decommissioning or decommissioned DataNode back in service",
		Long: `Put a decommissioning or decommissioned DataNode back in service. ADDR is its
data-transfer address host:port or its ID. Its replicas count again; any
surplus this makes is deleted from the fullest nodes.`,
		Args: exactArgs(1, "one DataNode address"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "recommission"
			node := args[0]
			return r.withClient(ctx, op, node, func(c *client.Client) error {
				st, err := c.Recommission(ctx, node)
				if err != nil {
					return fail(op, node, err)
				}
				fmt.Fprintf(r.e.stdout, "Recommissioned %s (%s): %s\n", st.Addr, st.ID, st.State)
				return nil
			})
		}),
	}
}

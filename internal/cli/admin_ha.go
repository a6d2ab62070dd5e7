package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// newHACmd builds 'cairn admin ha' and its subcommands.
func newHACmd(r *remote) *cobra.Command {
	cmd := newGroupCmd("ha", "Show and change the NameNode group (status, add, remove, transfer)")
	cmd.AddCommand(newHAStatusCmd(r), newHAAddCmd(r), newHARemoveCmd(r), newHATransferCmd(r))
	return cmd
}

func newHAStatusCmd(r *remote) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the members of the NameNode group, the leader and their state",
		Long: `Show the members of the NameNode group as the NameNode asked (--namenode) sees
them: the leader, the Raft term, and for each member its state (leader,
follower, candidate, or unreachable when the NameNode asked cannot reach
it), whether it votes, the last entry of its log, the last entry it has
applied, and how long ago it last heard from the leader. A NameNode alone
shows a group of one, which it leads.

--json prints one object {"leader": RPC address ("" if none is known),
"term": N, "members": [{"address", "id", "state", "last_index",
"applied_index", "last_contact_ms" (-1: unknown), "voter"}]}.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			const op = "ha status"
			return r.withClient(ctx, op, "", func(c *client.Client) error {
				st, err := c.HAStatus(ctx)
				if err != nil {
					return haFail(op, "", err)
				}
				if st.Members == nil {
					st.Members = []client.HAMember{}
				}
				if asJSON {
					return writeJSON(r.e.stdout, st)
				}
				return printHAStatus(r.e.stdout, st)
			})
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printHAStatus prints a group's status as a table. The lag of a member
// is the leader's last log entry less the member's last applied one.
func printHAStatus(w io.Writer, st client.HAStatus) error {
	var b strings.Builder
	leader := st.Leader
	if leader == "" {
		leader = "none known"
	}
	fmt.Fprintf(&b, "Leader: %s\nTerm: %d\n", leader, st.Term)
	if st.Self != "" {
		fmt.Fprintf(&b, "Answered by: %s (it has seen %d leadership change%s)\n", st.Self, st.Failovers, plural(int(st.Failovers)))
	}
	var leaderLast uint64
	for _, m := range st.Members {
		if m.Address == st.Leader && m.State == cairn.HALeader {
			leaderLast = m.LastIndex
		}
	}
	b.WriteByte('\n')
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tVOTER\tLAST INDEX\tAPPLIED\tLAG\tLAST CONTACT")
	for _, m := range st.Members {
		voter := "yes"
		if !m.Voter {
			voter = "no"
		}
		last, applied, lag, contact := "-", "-", "-", "-"
		if m.State != cairn.HAUnreachable {
			last, applied = strconv.FormatUint(m.LastIndex, 10), strconv.FormatUint(m.AppliedIndex, 10)
			if leaderLast > 0 {
				lag = strconv.FormatInt(int64(leaderLast)-int64(m.AppliedIndex), 10)
			}
		}
		if m.LastContactMs >= 0 && m.State != cairn.HALeader {
			contact = (time.Duration(m.LastContactMs) * time.Millisecond).String() + " ago"
		}
		name := m.Address
		if m.Address == st.Self {
			name += " (this)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, m.State, voter, last, applied, lag, contact)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func newHAAddCmd(r *remote) *cobra.Command {
	var nonvoter bool
	cmd := &cobra.Command{
		Use:   "add ADDR [--nonvoter]",
		Short: "Add a NameNode to the group",
		Long: `Add the NameNode at ADDR (its RPC address host:port, which names it in the
group) to the group. Start it first with --rpc-addr ADDR --join and a fresh
directory: it waits to be added, then receives the namespace from the
leader. With --nonvoter it only follows the log, without voting; add it
again without --nonvoter to make it a voter once it has caught up (see
'cairn admin ha status'), so that the group's quorum never waits for a
member still copying the log. The leader makes the change.`,
		Args: exactArgs(1, "one NameNode address"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "ha add"
			addr := args[0]
			return r.withClient(ctx, op, addr, func(c *client.Client) error {
				if err := c.HAAddMember(ctx, addr, nonvoter); err != nil {
					return haFail(op, addr, err)
				}
				as := "a voter"
				if nonvoter {
					as = "a nonvoter"
				}
				fmt.Fprintf(r.e.stdout, "Added %s to the group as %s\n", addr, as)
				return nil
			})
		}),
	}
	cmd.Flags().BoolVar(&nonvoter, "nonvoter", false, "add it as a member that does not vote")
	return cmd
}

func newHARemoveCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ADDR",
		Short: "Remove a NameNode from the group",
		Long: `Remove the member at ADDR (its RPC address host:port) from the group. The
leader makes the change; a leader asked to remove itself first hands
leadership to another voter. Stop the removed NameNode afterwards: it no
longer serves. To bring it back, start it on a fresh directory with --join
and add it again.`,
		Args: exactArgs(1, "one NameNode address"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "ha remove"
			addr := args[0]
			return r.withClient(ctx, op, addr, func(c *client.Client) error {
				if err := c.HARemoveMember(ctx, addr); err != nil {
					return haFail(op, addr, err)
				}
				fmt.Fprintf(r.e.stdout, "Removed %s from the group\n", addr)
				return nil
			})
		}),
	}
}

func newHATransferCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer [ADDR]",
		Short: "Hand leadership of the group to another NameNode",
		Long: `Ask the leader to hand leadership to the voter at ADDR (its RPC address
host:port), or without ADDR to the most up-to-date other voter, and print
the new leader.`,
		Args: rangeArgs(0, 1, "at most one NameNode address"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "ha transfer"
			addr := firstOr(args, "")
			return r.withClient(ctx, op, addr, func(c *client.Client) error {
				leader, err := c.HATransferLeadership(ctx, addr)
				if err != nil {
					return haFail(op, addr, err)
				}
				if leader == "" {
					fmt.Fprintln(r.e.stdout, "Leadership handed over; the new leader is not known yet")
					return nil
				}
				fmt.Fprintf(r.e.stdout, "The leader is now %s\n", leader)
				return nil
			})
		}),
	}
}

// haFail is fail for the ha commands, whose argument is an address
// rather than a path: the client's own "op addr: " in front of the
// reason goes too, as fail drops "op /path: ".
func haFail(op, addr string, err error) error {
	var ce *cairn.Error
	if errors.As(err, &ce) && ce.Op != "" && ce.Err != nil {
		return &cairn.Error{Op: op, Path: addr, Kind: cairn.KindOf(err), Err: errors.New(reason(ce.Err))}
	}
	return fail(op, addr, err)
}

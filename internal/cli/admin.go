package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// newAdminCmd builds 'cairn admin' and its subcommands.
func newAdminCmd(e *env) *cobra.Command {
	r := &remote{e: e}
	cmd := newGroupCmd("admin", "Administer the cluster (report, fsck, safemode, decommission, ha, certs, token)")
	r.addFlags(cmd)
	cmd.AddCommand(newReportCmd(r), newFsckCmd(r), newSafeModeCmd(r))
	cmd.AddCommand(newDecommissionCmd(r), newRecommissionCmd(r))
	cmd.AddCommand(newHACmd(r), newCertsCmd(e))
	cmd.AddCommand(newTokenCmd(r))
	return cmd
}

// reportJSON is the output of 'cairn admin report --json'. The field
// names are a contract with scripts: never rename them.
type reportJSON struct {
	ClusterID                string `json:"clusterId"`
	SafeMode                 bool   `json:"safeMode"`
	LiveDatanodes            int    `json:"liveDatanodes"`
	StaleDatanodes           int    `json:"staleDatanodes"`
	DeadDatanodes            int    `json:"deadDatanodes"`
	DecommissioningDatanodes int    `json:"decommissioningDatanodes"`
	DecommissionedDatanodes  int    `json:"decommissionedDatanodes"`
	// The byte totals are over the DataNodes that are not dead.
	CapacityBytes            int64                `json:"capacityBytes"`
	UsedBytes                int64                `json:"usedBytes"`
	RemainingBytes           int64                `json:"remainingBytes"`
	PendingDeletionBlocks    int64                `json:"pendingDeletionBlocks"`
	PendingReplicationBlocks int64                `json:"pendingReplicationBlocks"`
	Datanodes                []datanodeReportJSON `json:"datanodes"`
}

// datanodeReportJSON is one DataNode in reportJSON.
type datanodeReportJSON struct {
	ID              string   `json:"id"`
	Addr            string   `json:"addr"`
	HTTPAddr        string   `json:"httpAddr"`
	State           string   `json:"state"` // live, stale, dead, decommissioning, decommissioned
	CapacityBytes   int64    `json:"capacityBytes"`
	UsedBytes       int64    `json:"usedBytes"`
	RemainingBytes  int64    `json:"remainingBytes"`
	Blocks          int64    `json:"blocks"`
	LastHeartbeat   string   `json:"lastHeartbeat"` // RFC 3339; empty if never
	ActiveTransfers int      `json:"activeTransfers"`
	FailedVolumes   []string `json:"failedVolumes"`
}

func newReportJSON(rep client.ClusterReport) reportJSON {
	out := reportJSON{
		ClusterID:                string(rep.ClusterID),
		SafeMode:                 rep.SafeMode,
		PendingDeletionBlocks:    rep.PendingDeletionBlocks,
		PendingReplicationBlocks: rep.PendingReplicationBlocks,
		Datanodes:                make([]datanodeReportJSON, 0, len(rep.Datanodes)),
	}
	for _, d := range rep.Datanodes {
		switch d.State {
		case "live":
			out.LiveDatanodes++
		case "stale":
			out.StaleDatanodes++
		case "dead":
			out.DeadDatanodes++
		case "decommissioning":
			out.DecommissioningDatanodes++
		case "decommissioned":
			out.DecommissionedDatanodes++
		}
		if d.State != "dead" {
			out.CapacityBytes += d.CapacityBytes
			out.UsedBytes += d.UsedBytes
			out.RemainingBytes += d.RemainingBytes
		}
		hb := ""
		if !d.LastHeartbeat.IsZero() {
			hb = d.LastHeartbeat.UTC().Format(time.RFC3339)
		}
		failed := d.FailedVolumes
		if failed == nil {
			failed = []string{}
		}
		out.Datanodes = append(out.Datanodes, datanodeReportJSON{
			ID:              string(d.ID),
			Addr:            d.Addr,
			HTTPAddr:        d.HTTPAddr,
			State:           d.State,
			CapacityBytes:   d.CapacityBytes,
			UsedBytes:       d.UsedBytes,
			RemainingBytes:  d.RemainingBytes,
			Blocks:          d.Blocks,
			LastHeartbeat:   hb,
			ActiveTransfers: d.ActiveTransfers,
			FailedVolumes:   failed,
		})
	}
	return out
}

func newReportCmd(r *remote) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report [--json]",
		Short: "Show the cluster's capacity and its DataNodes",
		Long: `Show the cluster's capacity and its DataNodes.

--json prints one object with liveDatanodes, staleDatanodes, deadDatanodes,
capacityBytes, usedBytes, remainingBytes (totals over the DataNodes not
dead), safeMode, clusterId, pendingDeletionBlocks, pendingReplicationBlocks
and datanodes: a list of {id, addr, httpAddr, state, capacityBytes,
usedBytes, remainingBytes, blocks, lastHeartbeat (RFC 3339),
activeTransfers, failedVolumes}.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			const op = "report"
			return r.withClient(ctx, op, "", func(c *client.Client) error {
				rep, err := c.DatanodeReport(ctx)
				if err != nil {
					return fail(op, "", err)
				}
				out := newReportJSON(rep)
				if asJSON {
					return writeJSON(r.e.stdout, out)
				}
				return printReport(r.e.stdout, out, time.Now())
			})
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printReport(w io.Writer, rep reportJSON, now time.Time) error {
	var b strings.Builder
	pct := func(part, whole int64) string {
		if whole <= 0 {
			return "0.00%"
		}
		return fmt.Sprintf("%.2f%%", 100*float64(part)/float64(whole))
	}
	onOff := map[bool]string{true: "ON", false: "OFF"}
	fmt.Fprintf(&b, "Cluster ID: %s\n", rep.ClusterID)
	fmt.Fprintf(&b, "Safe mode: %s\n", onOff[rep.SafeMode])
	fmt.Fprintf(&b, "Configured Capacity: %d (%s)\n", rep.CapacityBytes, humanBytes(rep.CapacityBytes))
	fmt.Fprintf(&b, "DFS Used: %d (%s)\n", rep.UsedBytes, humanBytes(rep.UsedBytes))
	fmt.Fprintf(&b, "DFS Remaining: %d (%s)\n", rep.RemainingBytes, humanBytes(rep.RemainingBytes))
	fmt.Fprintf(&b, "DFS Used%%: %s\n", pct(rep.UsedBytes, rep.CapacityBytes))
	fmt.Fprintf(&b, "Pending deletion blocks: %d\n", rep.PendingDeletionBlocks)
	fmt.Fprintf(&b, "Pending replication blocks: %d\n", rep.PendingReplicationBlocks)
	for _, state := range []string{"live", "stale", "dead", "decommissioning", "decommissioned"} {
		var nodes []datanodeReportJSON
		for _, d := range rep.Datanodes {
			if d.State == state {
				nodes = append(nodes, d)
			}
		}
		if len(nodes) == 0 && state != "live" && state != "dead" {
			continue
		}
		fmt.Fprintf(&b, "\n%s datanodes (%d):\n", strings.ToUpper(state[:1])+state[1:], len(nodes))
		for _, d := range nodes {
			fmt.Fprintf(&b, "\nName: %s (%s)\n", d.Addr, d.ID)
			if d.HTTPAddr != "" {
				fmt.Fprintf(&b, "HTTP: %s\n", d.HTTPAddr)
			}
			fmt.Fprintf(&b, "State: %s\n", d.State)
			fmt.Fprintf(&b, "Capacity: %d (%s)\n", d.CapacityBytes, humanBytes(d.CapacityBytes))
			fmt.Fprintf(&b, "Used: %d (%s, %s)\n", d.UsedBytes, humanBytes(d.UsedBytes), pct(d.UsedBytes, d.CapacityBytes))
			fmt.Fprintf(&b, "Remaining: %d (%s)\n", d.RemainingBytes, humanBytes(d.RemainingBytes))
			fmt.Fprintf(&b, "Blocks: %d\n", d.Blocks)
			fmt.Fprintf(&b, "Active transfers: %d\n", d.ActiveTransfers)
			if len(d.FailedVolumes) > 0 {
				fmt.Fprintf(&b, "Failed volumes: %s\n", strings.Join(d.FailedVolumes, ", "))
			}
			if d.LastHeartbeat != "" {
				ago := ""
				if t, err := time.Parse(time.RFC3339, d.LastHeartbeat); err == nil {
					ago = fmt.Sprintf(" (%s ago)", now.Sub(t).Round(time.Second))
				}
				fmt.Fprintf(&b, "Last heartbeat: %s%s\n", d.LastHeartbeat, ago)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fsckJSON is the output of 'cairn admin fsck --json'. The field names
// are a contract with scripts: never rename them.
type fsckJSON struct {
	Path                  string `json:"path"`
	Status                string `json:"status"` // HEALTHY or CORRUPT
	Files                 int64  `json:"files"`
	Directories           int64  `json:"directories"`
	Blocks                int64  `json:"blocks"`
	TotalSize             int64  `json:"totalSize"`
	UnderReplicatedBlocks int64  `json:"underReplicatedBlocks"`
	CorruptBlocks         int64  `json:"corruptBlocks"`
	MissingBlocks         int64  `json:"missingBlocks"`
	OpenFiles             int64  `json:"openFiles"`
	LiveDatanodes         int    `json:"liveDatanodes"`
	// FileDetails is present with --files, --blocks, --locations or
	// --open-files.
	FileDetails []fsckFileJSON `json:"fileDetails,omitempty"`
}

type fsckFileJSON struct {
	Path        string          `json:"path"`
	Size        int64           `json:"size"`
	Replication int             `json:"replication"`
	Open        bool            `json:"open"`
	Status      string          `json:"status"` // HEALTHY, UNDER_REPLICATED, CORRUPT, MISSING
	Blocks      []fsckBlockJSON `json:"blocks,omitempty"`
	// Of an open file: the client holding its lease, and the
	// milliseconds since it last renewed it.
	LeaseHolder string `json:"leaseHolder,omitempty"`
	LeaseAgeMs  *int64 `json:"leaseAgeMs,omitempty"`
}

type fsckBlockJSON struct {
	ID              uint64   `json:"id"`
	GenStamp        uint64   `json:"genStamp"`
	Size            int64    `json:"size"`
	State           string   `json:"state"`
	LiveReplicas    int      `json:"liveReplicas"`
	CorruptReplicas int      `json:"corruptReplicas"`
	Locations       []string `json:"locations,omitempty"`
}

func newFsckJSON(path string, rep client.FsckReport) fsckJSON {
	out := fsckJSON{
		Path:                  path,
		Status:                rep.Status,
		Files:                 rep.Files,
		Directories:           rep.Directories,
		Blocks:                rep.Blocks,
		TotalSize:             rep.TotalSize,
		UnderReplicatedBlocks: rep.UnderReplicatedBlocks,
		CorruptBlocks:         rep.CorruptBlocks,
		MissingBlocks:         rep.MissingBlocks,
		OpenFiles:             rep.OpenFiles,
		LiveDatanodes:         rep.LiveDatanodes,
	}
	for _, f := range rep.FileDetails {
		ff := fsckFileJSON{Path: f.Path, Size: f.Size, Replication: f.Replication, Open: f.Open, Status: f.Status}
		if f.Open && f.LeaseHolder != "" {
			age := f.LeaseAge.Milliseconds()
			ff.LeaseHolder, ff.LeaseAgeMs = f.LeaseHolder, &age
		}
		for _, b := range f.Blocks {
			fb := fsckBlockJSON{
				ID:              uint64(b.Block.ID),
				GenStamp:        uint64(b.Block.GenStamp),
				Size:            b.Block.Len,
				State:           b.State,
				LiveReplicas:    b.LiveReplicas,
				CorruptReplicas: b.CorruptReplicas,
			}
			for _, l := range b.Locations {
				fb.Locations = append(fb.Locations, l.Addr)
			}
			ff.Blocks = append(ff.Blocks, fb)
		}
		out.FileDetails = append(out.FileDetails, ff)
	}
	return out
}

type fsckCmd struct {
	r    *remote
	json bool
	opts client.FsckOptions
}

func newFsckCmd(r *remote) *cobra.Command {
	f := &fsckCmd{r: r}
	cmd := &cobra.Command{
		Use:   "fsck [PATH] [--json] [--files] [--blocks] [--locations] [--open-files]",
		Short: "Check the health of files and blocks",
		Long: `Check the health of the files and blocks below PATH (default /), as hdfs
fsck does. The exit code is 0 when the file system under PATH is HEALTHY
and 1 when it is CORRUPT (a block is missing or every replica is corrupt).

--json prints one object with status, files, directories, blocks,
totalSize, underReplicatedBlocks, corruptBlocks, missingBlocks, openFiles,
liveDatanodes and, with a listing flag, fileDetails: a list of {path,
size, replication, open, status, blocks: [{id, genStamp, size, state,
liveReplicas, corruptReplicas, locations}], and for an open file
leaseHolder (the client writing it) and leaseAgeMs (since it last
renewed its lease)}. --open-files lists each open file with its lease
holder and how long ago the lease was renewed; a writer gone for longer
than the NameNode's lease hard limit has its file recovered (closed,
and removed if it is a put's temporary).`,
		Args: rangeArgs(0, 1, "at most one PATH"),
		RunE: runE(f.run),
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print JSON")
	fl.BoolVar(&f.opts.Files, "files", false, "list every file checked")
	fl.BoolVar(&f.opts.Blocks, "blocks", false, "list every block of each file")
	fl.BoolVar(&f.opts.Locations, "locations", false, "list where each block's replicas are")
	fl.BoolVar(&f.opts.OpenFiles, "open-files", false, "include files being written")
	return cmd
}

func (f *fsckCmd) run(ctx context.Context, args []string) error {
	const op = "fsck"
	p := firstOr(args, "/")
	if err := checkPath(op, p); err != nil {
		return err
	}
	// Blocks and locations are listed per file.
	if f.opts.Locations {
		f.opts.Blocks = true
	}
	if f.opts.Blocks {
		f.opts.Files = true
	}
	return f.r.withClient(ctx, op, p, func(c *client.Client) error {
		start := time.Now()
		rep, err := c.Fsck(ctx, p, f.opts)
		if err != nil {
			return fail(op, p, err)
		}
		out := newFsckJSON(p, rep)
		if f.json {
			if err := writeJSON(f.r.e.stdout, out); err != nil {
				return err
			}
		} else if err := printFsck(f.r.e.stdout, out, f.opts, f.r.addr(), start, time.Now()); err != nil {
			return err
		}
		if out.Status != cairn.FsckHealthy {
			return &exitError{code: exitFailure, err: failf(op, p, cairn.Corrupt,
				"the filesystem under path '%s' is %s", p, out.Status)}
		}
		return nil
	})
}

func printFsck(w io.Writer, rep fsckJSON, opts client.FsckOptions, namenode string, start, end time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Connecting to namenode at %s\n", namenode)
	fmt.Fprintf(&b, "FSCK started for path %s at %s\n", rep.Path, start.Format(time.RFC1123))
	for _, f := range rep.FileDetails {
		open := ""
		if f.Open {
			open = " OPENFORWRITE"
			if f.LeaseHolder != "" && f.LeaseAgeMs != nil {
				open += fmt.Sprintf(" (lease holder %s, renewed %s ago)", f.LeaseHolder,
					(time.Duration(*f.LeaseAgeMs) * time.Millisecond).Round(time.Millisecond))
			}
		}
		status := "OK"
		if f.Status != "" && f.Status != cairn.FsckHealthy {
			status = f.Status
		}
		fmt.Fprintf(&b, "%s %d bytes, replicated: replication=%d, %d block(s)%s:  %s\n",
			f.Path, f.Size, f.Replication, len(f.Blocks), open, status)
		if opts.Blocks || f.Status != cairn.FsckHealthy {
			// Without --blocks, the NameNode lists only the blocks
			// with problems, and the numbers are not their indexes.
			for i, blk := range f.Blocks {
				fmt.Fprintf(&b, "%d. blk_%d_%d len=%d Live_repl=%d", i, blk.ID, blk.GenStamp, blk.Size, blk.LiveReplicas)
				if blk.CorruptReplicas > 0 {
					fmt.Fprintf(&b, " Corrupt_repl=%d", blk.CorruptReplicas)
				}
				if blk.State != "" && blk.State != cairn.FsckHealthy {
					fmt.Fprintf(&b, " %s", blk.State)
				}
				if opts.Locations {
					fmt.Fprintf(&b, " [%s]", strings.Join(blk.Locations, ", "))
				}
				b.WriteByte('\n')
			}
		}
	}
	fmt.Fprintf(&b, "\nStatus: %s\n", rep.Status)
	fmt.Fprintf(&b, " Number of data-nodes:\t%d\n", rep.LiveDatanodes)
	fmt.Fprintf(&b, " Total size:\t%d B\n", rep.TotalSize)
	fmt.Fprintf(&b, " Total files:\t%d\n", rep.Files)
	fmt.Fprintf(&b, " Total directories:\t%d\n", rep.Directories)
	fmt.Fprintf(&b, " Total blocks (validated):\t%d\n", rep.Blocks)
	fmt.Fprintf(&b, " Under-replicated blocks:\t%d\n", rep.UnderReplicatedBlocks)
	fmt.Fprintf(&b, " Corrupt blocks:\t%d\n", rep.CorruptBlocks)
	fmt.Fprintf(&b, " Missing blocks:\t%d\n", rep.MissingBlocks)
	fmt.Fprintf(&b, " Open files:\t%d\n", rep.OpenFiles)
	fmt.Fprintf(&b, "FSCK ended at %s in %d milliseconds\n", end.Format(time.RFC1123), end.Sub(start).Milliseconds())
	fmt.Fprintf(&b, "\nThe filesystem under path '%s' is %s\n", rep.Path, rep.Status)
	_, err := io.WriteString(w, b.String())
	return err
}

func newSafeModeCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "safemode get|enter|leave|wait",
		Short: "Show, enter or leave safe mode, or wait until it is off",
		Long: `Show, enter or leave the NameNode's safe mode (read-only), or wait until it
is off. Prints "Safe mode is ON" or "Safe mode is OFF". A safe mode
entered by hand lasts until left by hand.`,
		ValidArgs: []string{"get", "enter", "leave", "wait"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("want one of get, enter, leave, wait, got %d arguments", len(args))
			}
			switch args[0] {
			case "get", "enter", "leave", "wait":
				return nil
			}
			return usageError("unknown action %q: want get, enter, leave or wait", args[0])
		},
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "safemode"
			action := args[0]
			return r.withClient(ctx, op, action, func(c *client.Client) error {
				if action == "wait" {
					if err := c.WaitSafeModeOff(ctx); err != nil {
						return fail(op, action, err)
					}
					fmt.Fprintln(r.e.stdout, "Safe mode is OFF")
					return nil
				}
				st, err := c.SafeMode(ctx, action)
				if err != nil {
					return fail(op, action, err)
				}
				if st.On {
					fmt.Fprintln(r.e.stdout, "Safe mode is ON")
					if action == "get" && st.Reason != "" {
						fmt.Fprintln(r.e.stdout, st.Reason)
					}
				} else {
					fmt.Fprintln(r.e.stdout, "Safe mode is OFF")
				}
				return nil
			})
		}),
	}
}

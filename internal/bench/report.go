package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of the JSON report; it changes when a
// field changes meaning or goes away (new fields may appear any time).
const ReportVersion = 1

// Report is the result of a run: one JSON document with --json. Each
// benchmark's section is present only if it ran. Summary repeats every
// headline figure beside the limit that bounds it and its target.
type Report struct {
	Version   int              `json:"version"`
	Start     time.Time        `json:"start"`
	Seconds   float64          `json:"seconds"`
	Machine   Machine          `json:"machine"`
	Cluster   string           `json:"cluster,omitempty"`
	Limits    *LimitsResult    `json:"limits,omitempty"`
	Write     *Throughput      `json:"write,omitempty"`
	Read      *Throughput      `json:"read,omitempty"`
	Meta      *MetaResult      `json:"meta,omitempty"`
	Small     *SmallResult     `json:"small,omitempty"`
	Namespace *NamespaceResult `json:"namespace,omitempty"`
	Summary   []Row            `json:"summary"`
	Notes     []string         `json:"notes,omitempty"`
}

// Machine describes the machine the run was on.
type Machine struct {
	Hostname  string `json:"hostname"`
	CPUs      int    `json:"cpus"`
	GOMAXPROC int    `json:"gomaxprocs"`
	CPUModel  string `json:"cpu_model,omitempty"`
	MemBytes  int64  `json:"mem_bytes,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Go        string `json:"go"`
	// LoadAvg and LoadAvgEnd are the 1-minute load averages at the
	// start and end of the run: other work on the machine makes the
	// figures noisy.
	LoadAvg    float64 `json:"loadavg_start"`
	LoadAvgEnd float64 `json:"loadavg_end"`
}

// Row is one headline figure: its value, the machine limit that bounds
// it and their ratio, and the target it is held to.
type Row struct {
	Bench  string  `json:"bench"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	// Limit names the bound (empty: none measured); LimitValue is in
	// Unit; Ratio is Value/LimitValue.
	Limit      string  `json:"limit,omitempty"`
	LimitValue float64 `json:"limit_value,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"`
	// Target is the goal: on the ratio when TargetOf is "ratio", else
	// on the value; at least Target, or at most with TargetMax.
	Target    float64 `json:"target,omitempty"`
	TargetOf  string  `json:"target_of,omitempty"`
	TargetMax bool    `json:"target_max,omitempty"`
	Met       *bool   `json:"met,omitempty"`
}

func (r *Row) judge(target float64, of string, isMax bool) {
	r.Target, r.TargetOf, r.TargetMax = target, of, isMax
	v := r.Value
	if of == "ratio" {
		v = r.Ratio
	}
	met := v >= target
	if isMax {
		met = v <= target
	}
	r.Met = &met
}

// summarize builds the summary rows from the sections.
func (rep *Report) summarize() []Row {
	var rows []Row
	lim := rep.Limits
	if l := lim; l != nil {
		rows = append(rows,
			Row{Bench: Limits, Metric: "disk sequential write + fsync", Value: l.DiskWrite, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: fmt.Sprintf("disk write + fsync, %d writers at once", l.Replication), Value: l.DiskWriteParallel, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: fmt.Sprintf("rf%d write limit (best disk write / %d)", l.Replication, l.Replication), Value: l.WriteLimit, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: "disk sequential read, cold (" + l.ColdMethod + ")", Value: l.DiskReadCold, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: "disk sequential read, warm", Value: l.DiskReadWarm, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: "one loopback TCP stream", Value: l.LoopbackTCP, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: "CRC32C, 512-byte chunks", Value: l.CRC32C, Unit: "MiB/s"},
			Row{Bench: Limits, Metric: "4 KiB append + fsync, one writer", Value: l.FsyncPerSecond, Unit: "/s"},
			Row{Bench: Limits, Metric: "new replicas (2 files, fsync'd, renamed), 16 writers", Value: l.ReplicasPerSecond, Unit: "/s"},
			Row{Bench: Limits, Metric: "1 KiB appends, group-committed fsyncs, 16 writers", Value: l.GroupCommitPerSecond, Unit: "/s"},
			Row{Bench: Limits, Metric: "loopback TCP connections with 1 KiB answer, 16 clients", Value: l.ConnectsPerSecond, Unit: "/s"},
			Row{Bench: Limits, Metric: "loopback TCP round trips with 1 KiB answer, 16 clients", Value: l.RoundTripsPerSecond, Unit: "/s"},
		)
	}
	if w := rep.Write; w != nil {
		r := Row{Bench: Write, Metric: fmt.Sprintf("put %s x %d client(s), rf%d, fsync'd (CPU %.2f s/GiB)", sizeString(w.FileBytes), w.Clients, w.Replication, w.CPUPerGiB), Value: w.TotalMiBs, Unit: "MiB/s"}
		if lim != nil {
			limit := max(lim.DiskWrite, lim.DiskWriteParallel) / float64(max(w.Replication, 1))
			r.Limit = fmt.Sprintf("rf%d disk write limit (disk / %d)", w.Replication, w.Replication)
			r.LimitValue, r.Ratio = round1(limit), ratio(w.TotalMiBs, limit)
			if w.Replication == 3 {
				r.judge(0.60, "ratio", false)
			}
		}
		rows = append(rows, r,
			Row{Bench: Write, Metric: "put first-byte latency p50", Value: w.FirstByte.P50, Unit: "ms"})
	}
	if rd := rep.Read; rd != nil {
		r := Row{Bench: Read, Metric: fmt.Sprintf("get %s x %d client(s) (CPU %.2f s/GiB)", sizeString(rd.FileBytes), rd.Clients, rd.CPUPerGiB), Value: rd.TotalMiBs, Unit: "MiB/s"}
		if lim != nil {
			r.Limit, r.LimitValue, r.Ratio = "one loopback TCP stream", lim.LoopbackTCP, ratio(rd.TotalMiBs, lim.LoopbackTCP)
			r.judge(0.40, "ratio", false)
		}
		rows = append(rows, r)
		if lim != nil {
			rows = append(rows, Row{Bench: Read, Metric: "get vs warm disk read", Value: rd.TotalMiBs, Unit: "MiB/s",
				Limit: "disk sequential read, warm", LimitValue: lim.DiskReadWarm, Ratio: ratio(rd.TotalMiBs, lim.DiskReadWarm)})
		}
		rows = append(rows, Row{Bench: Read, Metric: "get first-byte latency p50", Value: rd.FirstByte.P50, Unit: "ms"})
	}
	if m := rep.Meta; m != nil {
		for _, op := range m.Ops {
			r := Row{Bench: Meta, Metric: fmt.Sprintf("%s, %d clients/%d conn (p50 %.2f ms, p99 %.2f ms, CPU %.0f us/op%s)", op.Op, m.Clients, m.Connections, op.Latency.P50, op.Latency.P99, op.CPUMicros, nnCPUNote(op.NameNodeCPUMicros)), Value: op.PerSecond, Unit: "ops/s"}
			switch op.Op {
			case "create":
				if lim != nil {
					r.Limit, r.LimitValue, r.Ratio = "fsyncs/s, one writer", lim.FsyncPerSecond, ratio(op.PerSecond, lim.FsyncPerSecond)
				}
				if m.Clients == 16 {
					r.judge(20000, "value", false)
				}
			case "stat":
				r.judge(50000, "value", false)
			}
			rows = append(rows, r)
		}
		if ls := m.LsProcess; ls != nil {
			r := Row{Bench: Meta, Metric: fmt.Sprintf("%s as a process, wall time p50 of %d (p99 %.1f ms)", ls.Command, ls.Runs, ls.Latency.P99), Value: ls.Latency.P50, Unit: "ms"}
			r.judge(20, "value", true)
			rows = append(rows, r)
		}
	}
	if s := rep.Small; s != nil {
		for _, z := range s.Sizes {
			w := Row{Bench: Small, Metric: fmt.Sprintf("write %s files, rf%d, %d clients (CPU %.0f us/file%s)", sizeString(z.FileBytes), s.Replication, s.Clients, z.Write.CPUMicros, nnCPUNote(z.Write.NameNodeCPUMicros)), Value: z.Write.PerSecond, Unit: "files/s"}
			r := Row{Bench: Small, Metric: fmt.Sprintf("read %s files, %d clients (CPU %.0f us/file%s)", sizeString(z.FileBytes), s.Clients, z.Read.CPUMicros, nnCPUNote(z.Read.NameNodeCPUMicros)), Value: z.Read.PerSecond, Unit: "files/s"}
			if lim != nil {
				wl, bound := lim.smallWriteLimit(s.Clients, s.Replication)
				w.Limit = bound
				w.LimitValue, w.Ratio = math.Round(wl), ratio(z.Write.PerSecond, wl)
				rl := lim.RoundTripsPerSecond / 2
				r.Limit, r.LimitValue, r.Ratio = "loopback round trips/s / 2", math.Round(rl), ratio(z.Read.PerSecond, rl)
			}
			if z.FileBytes == 1<<10 && s.Replication == 3 {
				w.judge(3800, "value", false)
				r.judge(17000, "value", false)
			}
			rows = append(rows, w, r)
		}
	}
	if n := rep.Namespace; n != nil {
		heap := Row{Bench: Namespace, Metric: fmt.Sprintf("NameNode heap per one-block file, %d files", n.Files), Value: round1(n.HeapPerFile), Unit: "bytes"}
		restart := Row{Bench: Namespace, Metric: fmt.Sprintf("restart to out of safe mode, %d files", n.Files), Value: n.Restart.Seconds, Unit: "s"}
		if n.Files >= 1_000_000 {
			heap.judge(300, "value", true)
			restart.judge(5, "value", true)
		}
		rows = append(rows, heap,
			Row{Bench: Namespace, Metric: "snapshot size", Value: float64(n.SnapshotBytes), Unit: "bytes"},
			restart)
	}
	return rows
}

// WriteJSON writes the report as one indented JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the summary as a table for people, with the notes
// below it.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCH\tMETRIC\tRESULT\tLIMIT\tRATIO\tTARGET\t")
	for _, r := range rep.Summary {
		limit, rat, target := "", "", ""
		if r.Limit != "" {
			limit = fmt.Sprintf("%s %s (%s)", number(r.LimitValue), r.Unit, r.Limit)
			rat = strconv.FormatFloat(r.Ratio, 'f', 2, 64)
		}
		if r.Met != nil {
			op := ">="
			if r.TargetMax {
				op = "<="
			}
			if r.TargetOf == "ratio" {
				target = fmt.Sprintf("%s %.2f", op, r.Target)
			} else {
				target = fmt.Sprintf("%s %s", op, number(r.Target))
			}
			if *r.Met {
				target += " met"
			} else {
				target += " MISSED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t\n", r.Bench, r.Metric, number(r.Value), r.Unit, limit, rat, target)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	if rep.Limits != nil {
		notes = append(notes, rep.Limits.Notes...)
	}
	notes = append(notes, rep.Notes...)
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	_, err := fmt.Fprintf(w, "machine: %d CPUs (%s), %s RAM, %s; load average %.2f at start, %.2f at end; %.1fs in all\n",
		rep.Machine.CPUs, rep.Machine.CPUModel, sizeString(rep.Machine.MemBytes), rep.Machine.Go, rep.Machine.LoadAvg, rep.Machine.LoadAvgEnd, rep.Seconds)
	return err
}

// number formats a figure for the table: thousands separated, one
// decimal below 100.
func number(f float64) string {
	if f < 100 && f > -100 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sizeString formats a byte count as 1 GiB, 64 KiB or 1000 B.
func sizeString(n int64) string {
	for _, u := range []struct {
		name string
		v    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return fmt.Sprintf("%d %s", n/u.v, u.name)
		}
		if n >= u.v {
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.v), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// nnCPUNote names the NameNode's CPU per operation, when measured.
func nnCPUNote(us float64) string {
	if us == 0 {
		return ""
	}
	return fmt.Sprintf(", NameNode %.0f us/op", us)
}

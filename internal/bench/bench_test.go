package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // a part of the error; empty: valid
	}{
		{"zero values are the published sizes", Config{}, ""},
		{"negative clients are refused", Config{Clients: -1}, "clients"},
		{"replication above the local datanodes is refused", Config{Replication: 4}, "replication 4"},
		{"replication above the datanodes of a remote cluster is its business", Config{NameNode: "h:1", Replication: 4}, ""},
		{"a block size not a multiple of 512 is refused", Config{BlockSize: 1000}, "block size"},
		{"a negative small file size is refused", Config{SmallSizes: []int64{-1}}, "small file size"},
		{"too many namespace files are refused", Config{NamespaceFiles: 1 << 31}, "namespace files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New(%+v) = %v, want no error", tt.cfg, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || cairn.KindOf(err) != cairn.Invalid):
				t.Errorf("New(%+v) = %v, want an Invalid error about %q", tt.cfg, err, tt.want)
			}
		})
	}
	r, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.cfg; c.Size != 1<<30 || c.MetaClients != 16 || c.NamespaceFiles != 1_000_000 || c.LimitBytes != c.Size || len(c.SmallSizes) != 2 {
		t.Errorf("defaults = %+v, want a 1 GiB file, 16 meta clients, 1M files", c)
	}
	if _, err := r.Run(context.Background(), "nope"); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("Run(nope) = %v, want Invalid", err)
	}
}

func TestLatency(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := latencyOf(ds)
	if got.P50 != 50 || got.P99 != 99 || got.Max != 100 {
		t.Errorf("latencyOf(1..100 ms) = %+v, want p50 50, p99 99, max 100", got)
	}
	if got := latencyOf(nil); got != (Latency{}) {
		t.Errorf("latencyOf(nil) = %+v, want zero", got)
	}
	if got := spreadOf([]float64{3, 1, 2}); got != (Spread{Min: 1, Mean: 2, Max: 3}) {
		t.Errorf("spreadOf(3, 1, 2) = %+v", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{{0.5, "0.5"}, {99.9, "99.9"}, {1234, "1,234"}, {1234567.6, "1,234,568"}, {-4321, "-4,321"}} {
		if got := number(tt.f); got != tt.want {
			t.Errorf("number(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{{1 << 30, "1 GiB"}, {64 << 10, "64 KiB"}, {1000, "1000 B"}, {1536, "1.5 KiB"}} {
		if got := sizeString(tt.n); got != tt.want {
			t.Errorf("sizeString(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestNamespace loads a small synthetic namespace: the snapshot written
// in the NameNode's documented format must load, with every file and
// block, and the NameNode must leave safe mode on the simulated
// reports.
func TestNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NameNode twice")
	}
	r, err := New(Config{NamespaceFiles: 2345}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), Namespace)
	if err != nil {
		t.Fatalf("Run(namespace) = %v", err)
	}
	ns := rep.Namespace
	if ns == nil || ns.Files != 2345 || ns.Dirs != 5 || ns.SnapshotBytes <= 0 || ns.Load.Seconds <= 0 || ns.Restart.Seconds <= 0 {
		t.Fatalf("namespace = %+v", ns)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "heap per one-block file, 2345 files") {
		t.Errorf("table lacks the heap row:\n%s", table.String())
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Namespace == nil || back.Namespace.Files != 2345 {
		t.Errorf("JSON round trip = %+v, %v", back.Namespace, err)
	}
}

func TestLocalCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	ctx := context.Background()
	l, err := StartLocal(ctx, LocalConfig{Dir: t.TempDir(), DataNodes: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, l.NameNodeAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writeFile(ctx, c, "/f", []byte("hello"), 5, &client.CreateOptions{Replication: 2}, nil); err != nil {
		t.Fatalf("write to the local cluster: %v", err)
	}
	if n, _, err := readFile(ctx, c, "/f", 5, make([]byte, 16), nil); err != nil || n != 5 {
		t.Fatalf("read from the local cluster = %d, %v", n, err)
	}
	if _, _, err := readFile(ctx, c, "/f", 6, make([]byte, 16), nil); cairn.KindOf(err) != cairn.Corrupt {
		t.Errorf("read of a short file = %v, want Corrupt", err)
	}
	c.Close()
	dir := l.Dir()
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close, %s: %v, want it removed", dir, err)
	}
	if _, err := StartLocal(ctx, LocalConfig{DataNodes: 65}, nil); cairn.KindOf(err) != cairn.Invalid {
		t.Errorf("StartLocal(65 datanodes) = %v, want Invalid", err)
	}
}

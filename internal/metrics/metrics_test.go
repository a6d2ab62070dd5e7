package metrics_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

// scrape fetches a node's /metrics and returns each sample by its full
// name with labels, as written: `cairn_x_total{op="create"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, resp.Status)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		samples[line[:i]] = v
	}
	return samples
}

// sum adds the samples whose name is name and whose labels contain
// every one of labels.
func sum(samples map[string]float64, name string, labels ...string) float64 {
	total := 0.0
	for k, v := range samples {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if ok {
			total += v
		}
	}
	return total
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsMoveWhenBytesAreWritten(t *testing.T) {
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 2, Replication: 2, BlockSize: 256 << 10})
	nn := tc.NameNodeHTTPAddr()
	dns := []string{tc.DataNodeHTTPAddr(0), tc.DataNodeHTTPAddr(1)}
	dnSum := func(name string) float64 {
		total := 0.0
		for _, a := range dns {
			total += sum(scrape(t, a), name)
		}
		return total
	}
	beforeNN := scrape(t, nn)
	beforeWritten, beforeBlocks := dnSum("cairn_datanode_bytes_written_total"), dnSum("cairn_datanode_blocks_written_total")
	beforeRead := dnSum("cairn_datanode_bytes_read_total")

	const size = 600 << 10 // three blocks of 256 KiB
	data := []byte(strings.Repeat("0123456789abcdef", size/16))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := tc.Client(t)
	w, err := c.Create(ctx, "/metrics-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := c.Open(ctx, "/metrics-test")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, r); err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	r.Close()

	if got := dnSum("cairn_datanode_bytes_written_total") - beforeWritten; got != 2*size {
		t.Errorf("datanodes' bytes_written_total moved by %v, want %d (two replicas of %d bytes)", got, 2*size, size)
	}
	if got := dnSum("cairn_datanode_blocks_written_total") - beforeBlocks; got != 6 {
		t.Errorf("datanodes' blocks_written_total moved by %v, want 6 (two replicas of three blocks)", got)
	}
	if got := dnSum("cairn_datanode_bytes_read_total") - beforeRead; got < size {
		t.Errorf("datanodes' bytes_read_total moved by %v, want at least %d", got, size)
	}

	afterNN := scrape(t, nn)
	moved := func(name string, labels ...string) float64 {
		return sum(afterNN, name, labels...) - sum(beforeNN, name, labels...)
	}
	// The file's first block comes with its create (createWithBlock),
	// the two others from AddBlock.
	if got := moved("cairn_namenode_namespace_operations_total", `op="createWithBlock"`, `result="ok"`); got != 1 {
		t.Errorf("namespace_operations_total{op=createWithBlock} moved by %v, want 1", got)
	}
	if got := moved("cairn_namenode_namespace_operations_total", `op="addBlock"`); got != 2 {
		t.Errorf("namespace_operations_total{op=addBlock} moved by %v, want 2", got)
	}
	if got := moved("cairn_namenode_rpc_duration_seconds_count", `method="AddBlock"`, `code="OK"`); got != 2 {
		t.Errorf("rpc_duration_seconds_count{method=AddBlock} moved by %v, want 2", got)
	}
	if got := moved("cairn_namenode_raft_commit_duration_seconds_count"); got < 4 {
		t.Errorf("raft_commit_duration_seconds_count moved by %v, want at least 4 (create with a block, 2 addBlock, complete)", got)
	}
	for name, want := range map[string]float64{
		"cairn_namenode_files":                   1,
		"cairn_namenode_blocks":                  3,
		"cairn_namenode_under_replicated_blocks": 0,
		"cairn_namenode_missing_blocks":          0,
		"cairn_namenode_safe_mode":               0,
		"cairn_namenode_raft_leader":             1,
	} {
		if got := sum(afterNN, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sum(afterNN, "cairn_namenode_datanodes", `state="live"`); got != 2 {
		t.Errorf("cairn_namenode_datanodes{state=live} = %v, want 2", got)
	}
	for i := range 2 {
		id := string(tc.DataNode(i).ID())
		if _, ok := afterNN[`cairn_namenode_datanode_heartbeat_age_seconds{addr="`+tc.DataNodeAddr(i)+`",node="`+id+`"}`]; !ok {
			t.Errorf("no heartbeat age for datanode %s", id)
		}
	}
	if sum(afterNN, "go_goroutines") == 0 || sum(afterNN, "process_start_time_seconds") == 0 {
		t.Errorf("Go runtime or process metrics missing")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	tc := testcluster.Start(t, testcluster.Options{DataNodes: 1, Replication: 1})
	for _, addr := range []string{tc.NameNodeHTTPAddr(), tc.DataNodeHTTPAddr(0)} {
		if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
			t.Errorf("GET %s/healthz = %d %q, want 200", addr, code, body)
		}
		// The DataNode is ready once it has registered and sent its
		// first block report, a moment after the NameNode counts it
		// live.
		tc.WaitFor(t, addr+"/readyz to answer 200", func(context.Context) (bool, error) {
			code, _ := get(t, "http://"+addr+"/readyz")
			return code == http.StatusOK, nil
		})
	}
	// In safe mode the NameNode is alive but not ready.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tc.Client(t)
	if _, err := c.SafeMode(ctx, "enter"); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, "http://"+tc.NameNodeHTTPAddr()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "safe mode") {
		t.Errorf("GET /readyz in safe mode = %d %q, want 503 saying safe mode", code, body)
	}
	if code, _ := get(t, "http://"+tc.NameNodeHTTPAddr()+"/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz in safe mode = %d, want 200", code)
	}
	if _, err := c.SafeMode(ctx, "leave"); err != nil {
		t.Fatal(err)
	}
}

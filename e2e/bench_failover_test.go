package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// TestBenchFailover runs 'cairn bench failover' as a user would, for
// two kills of the leader: each round names a new leader other than the
// member killed, times the first write after the kill, and the steady
// load loses no write.
func TestBenchFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("kills NameNode processes; skipped with -short")
	}
	cmd := exec.Command(binary, "bench", "failover", "--failovers", "2", "--json", "--dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cairn bench failover: %v\n%s", err, stderr.String())
	}
	var res struct {
		NameNodes int `json:"namenodes"`
		Rounds    []struct {
			Killed       string  `json:"killed"`
			Leader       string  `json:"new_leader"`
			ElectionMs   float64 `json:"election_ms"`
			FirstWriteMs float64 `json:"first_write_ms"`
		} `json:"rounds"`
		FirstWrite struct {
			Max float64 `json:"max"`
		} `json:"first_write_ms"`
		LoadWrites   int64 `json:"load_writes"`
		LoadFailures int64 `json:"load_failures"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("cairn bench failover --json printed %q: %v", stdout.String(), err)
	}
	if res.NameNodes != 3 || len(res.Rounds) != 2 {
		t.Fatalf("result: %d namenodes, %d rounds; want 3 and 2:\n%s", res.NameNodes, len(res.Rounds), stdout.String())
	}
	for i, r := range res.Rounds {
		if r.Killed == "" || r.Leader == "" || r.Leader == r.Killed {
			t.Errorf("round %d: killed %q, new leader %q", i+1, r.Killed, r.Leader)
		}
		if r.FirstWriteMs <= 0 || r.ElectionMs <= 0 {
			t.Errorf("round %d: election %v ms, first write %v ms; want both measured", i+1, r.ElectionMs, r.FirstWriteMs)
		}
	}
	if res.FirstWrite.Max <= 0 {
		t.Errorf("summary first_write_ms.max = %v", res.FirstWrite.Max)
	}
	if res.LoadWrites == 0 || res.LoadFailures != 0 {
		t.Errorf("steady load: %d writes, %d failed; want writes and no failure", res.LoadWrites, res.LoadFailures)
	}
	t.Logf("failover first write: %v ms, %v ms", res.Rounds[0].FirstWriteMs, res.Rounds[1].FirstWriteMs)
}

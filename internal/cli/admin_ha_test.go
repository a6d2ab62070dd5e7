package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// startNameNodeGroup starts a group of n NameNodes in this process, each
// on its own loopback address, and returns their RPC addresses.
func startNameNodeGroup(t *testing.T, n int) []string {
	t.Helper()
	var lis []net.Listener
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis = append(lis, l)
		addrs = append(addrs, l.Addr().String())
	}
	for i := range n {
		s, err := namenode.New(namenode.Config{
			Dir:              t.TempDir(),
			Peers:            addrs,
			RPCAddr:          addrs[i],
			HeartbeatTimeout: time.Second, // not shorter: a starved machine would lose leaders
			ElectionTimeout:  time.Second,
		}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("namenode %d: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go s.Serve(ctx, lis[i])
		t.Cleanup(func() {
			cancel()
			s.Close()
		})
	}
	return addrs
}

// haStatusJSON is the contract of 'cairn admin ha status --json'.
type haStatusJSON struct {
	Leader  string `json:"leader"`
	Term    uint64 `json:"term"`
	Members []struct {
		Address       string `json:"address"`
		ID            string `json:"id"`
		State         string `json:"state"`
		LastIndex     uint64 `json:"last_index"`
		AppliedIndex  uint64 `json:"applied_index"`
		LastContactMs int64  `json:"last_contact_ms"`
		Voter         bool   `json:"voter"`
	} `json:"members"`
}

// checkHAKeys checks that the JSON has exactly the keys of the
// contract.
func checkHAKeys(t *testing.T, out string) {
	t.Helper()
	var raw struct {
		Members []map[string]any `json:"members"`
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("ha status --json: bad JSON %q: %v", out, err)
	}
	json.Unmarshal([]byte(out), &raw)
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	if got, want := keys(top), []string{"leader", "members", "term"}; !slices.Equal(got, want) {
		t.Errorf("ha status --json has keys %v, want %v", got, want)
	}
	want := []string{"address", "applied_index", "id", "last_contact_ms", "last_index", "state", "voter"}
	for _, m := range raw.Members {
		if got := keys(m); !slices.Equal(got, want) {
			t.Errorf("a member in ha status --json has keys %v, want %v", got, want)
		}
	}
}

func TestHACommandsOnANameNodeAlone(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 1, Replication: 1})
	out := tc.must("admin", "ha", "status", "--json")
	checkHAKeys(t, out)
	var st haStatusJSON
	json.Unmarshal([]byte(out), &st)
	if len(st.Members) != 1 || st.Leader != tc.nn || st.Members[0].Address != tc.nn || st.Members[0].State != "leader" ||
		!st.Members[0].Voter || st.Term == 0 {
		t.Errorf("ha status --json of a NameNode alone = %s, want one voter %s that leads", out, tc.nn)
	}
	out = tc.must("admin", "ha", "status")
	for _, want := range []string{"Leader: " + tc.nn, "MEMBER", tc.nn + " (this)", "leader"} {
		if !strings.Contains(out, want) {
			t.Errorf("ha status lacks %q:\n%s", want, out)
		}
	}
	tc.fails("runs alone (no --peers)", "admin", "ha", "add", "127.0.0.1:9")
	tc.fails("runs alone (no --peers)", "admin", "ha", "remove", "127.0.0.1:9")
	tc.fails("runs alone (no --peers)", "admin", "ha", "transfer")
	tc.fails("want one NameNode address", "admin", "ha", "add")
	tc.fails("at most one NameNode address", "admin", "ha", "transfer", "a:1", "b:2")
	tc.fails("unknown command", "admin", "ha", "promote")
}

func TestHACommandsOnAGroup(t *testing.T) {
	addrs := startNameNodeGroup(t, 3)
	tc := &testCLI{t: t, nn: addrs[0]}
	var st haStatusJSON
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := tc.must("admin", "ha", "status", "--json")
		checkHAKeys(t, out)
		st = haStatusJSON{}
		json.Unmarshal([]byte(out), &st)
		followers := 0
		for _, m := range st.Members {
			if m.State == "follower" {
				followers++
			}
		}
		if st.Leader != "" && followers == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader and two followers within 20s: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got []string
	for _, m := range st.Members {
		got = append(got, m.Address)
		if !m.Voter || m.ID != m.Address {
			t.Errorf("member %+v: want a voter whose ID is its address", m)
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(addrs)); !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}

	// Hand leadership to a follower, through the leader.
	leader := &testCLI{t: t, nn: st.Leader}
	to := addrs[0]
	if to == st.Leader {
		to = addrs[1]
	}
	// The member raft elected serves as leader a moment later.
	for {
		out, errOut, code := leader.cairn(nil, "admin", "ha", "transfer", to)
		if code == 0 {
			if !strings.Contains(out, "The leader is now "+to) {
				t.Errorf("ha transfer %s printed %q", to, out)
			}
			break
		}
		checkOneLine(t, []string{"admin", "ha", "transfer", to}, errOut, "ha transfer "+to+": name node is not the leader")
		if time.Now().After(deadline) {
			t.Fatalf("ha transfer %s: %s", to, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := (&testCLI{t: t, nn: to}).must("admin", "ha", "status")
	if !strings.Contains(out, "Leader: "+to) {
		t.Errorf("ha status on the new leader:\n%s", out)
	}
}

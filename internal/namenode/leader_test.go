package namenode

import (
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// TestRenewLeaseNeedsTheLeader: only the leader keeps leases, so a
// member that does not lead refuses a renewal with NotLeader instead of
// pretending the lease was renewed.
func TestRenewLeaseNeedsTheLeader(t *testing.T) {
	s := newServer(t)
	if err := s.RenewLease(bg, "c1"); err != nil {
		t.Fatalf("RenewLease on the leader = %v", err)
	}
	if err := s.rn.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	err := s.RenewLease(bg, "c1")
	wantKind(t, "RenewLease on a non-leader", err, cairn.NotLeader)
	// A member alone knows no other leader: no hint.
	if h := protocol.LeaderHint(protocol.FromStatus("renewlease", "c1", protocol.ToStatus(err))); h != "" {
		t.Errorf("leader hint of a member that knows no leader = %q, want empty", h)
	}
	wantKind(t, "RenewLease with an empty name on a non-leader", s.RenewLease(bg, ""), cairn.Invalid)
}

func TestLeaderRPCAddr(t *testing.T) {
	addrs := map[string]string{"nn1": "10.0.0.1:8020", "nn2": "10.0.0.2:8020"}
	for _, tt := range []struct {
		name, leader, self string
		addrs              map[string]string
		want               string
	}{
		{"the leader's address when it is known", "nn2", "nn1", addrs, "10.0.0.2:8020"},
		{"nothing when no leader is known", "", "nn1", addrs, ""},
		{"nothing when the leader is not in the map", "nn3", "nn1", addrs, ""},
		{"nothing without a map", "nn2", "nn1", nil, ""},
		{"never itself", "nn1", "nn1", addrs, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := leaderRPCAddr(tt.addrs, tt.leader, tt.self); got != tt.want {
				t.Errorf("leaderRPCAddr(%v, %q, %q) = %q, want %q", tt.addrs, tt.leader, tt.self, got, tt.want)
			}
		})
	}
}

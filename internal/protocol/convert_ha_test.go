package protocol

import (
	"testing"

	"github.com/cairn-fs/cairn"
)

func TestHAStatusConversionRoundTrip(t *testing.T) {
	m := cairn.HAMember{Address: "nn1:8020", ID: "nn1:8020", State: cairn.HAFollower, LastIndex: 12, AppliedIndex: 11,
		LastContactMs: 40, Voter: true, HTTPAddr: "nn1:9870"}
	roundTrip(t, m, HAMemberToProto, HAMemberFromProto)
	roundTrip(t, cairn.HAStatus{Leader: "nn2:8020", Term: 3, Members: []cairn.HAMember{m, m}, Self: "nn1:8020", Failovers: 2},
		HAStatusToProto, HAStatusFromProto)
}

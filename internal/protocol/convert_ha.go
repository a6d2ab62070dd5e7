package protocol

import "github.com/cairn-fs/cairn"

// Conversions of the NameNode group's status (cairn.HAStatus) to and
// from its wire message, as in convert_report.go.

// HAMemberToProto encodes one member of a group status.
func HAMemberToProto(m cairn.HAMember) *HAMember {
	return &HAMember{
		Address:       m.Address,
		Id:            m.ID,
		State:         m.State,
		LastIndex:     m.LastIndex,
		AppliedIndex:  m.AppliedIndex,
		LastContactMs: m.LastContactMs,
		Voter:         m.Voter,
		HttpAddress:   m.HTTPAddr,
	}
}

// HAMemberFromProto decodes one member of a group status.
func HAMemberFromProto(p *HAMember) cairn.HAMember {
	return cairn.HAMember{
		Address:       p.GetAddress(),
		ID:            p.GetId(),
		State:         p.GetState(),
		LastIndex:     p.GetLastIndex(),
		AppliedIndex:  p.GetAppliedIndex(),
		LastContactMs: p.GetLastContactMs(),
		Voter:         p.GetVoter(),
		HTTPAddr:      p.GetHttpAddress(),
	}
}

// HAStatusToProto encodes the answer of HAStatus.
func HAStatusToProto(s cairn.HAStatus) *HAStatusResponse {
	p := &HAStatusResponse{Leader: s.Leader, Term: s.Term, Self: s.Self, Failovers: s.Failovers}
	for _, m := range s.Members {
		p.Members = append(p.Members, HAMemberToProto(m))
	}
	return p
}

// HAStatusFromProto decodes the answer of HAStatus.
func HAStatusFromProto(p *HAStatusResponse) cairn.HAStatus {
	s := cairn.HAStatus{Leader: p.GetLeader(), Term: p.GetTerm(), Self: p.GetSelf(), Failovers: p.GetFailovers()}
	for _, m := range p.GetMembers() {
		s.Members = append(s.Members, HAMemberFromProto(m))
	}
	return s
}

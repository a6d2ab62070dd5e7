package protocol

import (
	"errors"
	"io/fs"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
)

func TestStatusRoundTrip(t *testing.T) {
	for _, kind := range []cairn.Kind{cairn.NotExist, cairn.Exist, cairn.Invalid, cairn.LeaseConflict, cairn.SafeMode, cairn.NotEmpty} {
		serverErr := cairn.E("namenode.Create", "/a/b", kind)
		wire := ToStatus(serverErr)
		// What a client sees went through the gRPC status encoding.
		st, _ := status.FromError(wire)
		got := FromStatus("create", "/a/b", status.ErrorProto(st.Proto()))
		if cairn.KindOf(got) != kind {
			t.Errorf("FromStatus(ToStatus(%v)) has kind %v, want %v", serverErr, cairn.KindOf(got), kind)
		}
	}
	got := FromStatus("stat", "/x", ToStatus(cairn.E("namenode.GetFileInfo", "/x", cairn.NotExist)))
	if !errors.Is(got, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false after crossing the wire", got)
	}
	if got, want := got.Error(), "stat /x: file does not exist"; got != want {
		t.Errorf("error after crossing the wire = %q, want %q", got, want)
	}
	other := FromStatus("mkdir", "/a/b/c", ToStatus(cairn.Errorf("namenode.Mkdirs", "/a/b", cairn.NotDir, "is a file")))
	if got, want := other.Error(), "mkdir /a/b/c: /a/b: is a file"; got != want {
		t.Errorf("error about another path = %q, want %q", got, want)
	}
	if got := FromStatus("ls", "/", status.Error(codes.Unavailable, "connection refused")); cairn.KindOf(got) != cairn.Unavailable {
		t.Errorf("a transport failure has kind %v, want Unavailable", cairn.KindOf(got))
	}
	if err := ErrorFromStatus("read", "blk_1", StatusFromError(cairn.E("x", cairn.Corrupt))); cairn.KindOf(err) != cairn.Corrupt {
		t.Errorf("data-transfer status lost its kind: %v", err)
	}
	if ErrorFromStatus("read", "blk_1", nil) != nil {
		t.Error("a nil status is not success")
	}
}

// TestLeaderHintRoundTrip: a NameNode's not-leader refusal carries the
// leader's address across the wire in the status, not in its text.
func TestLeaderHintRoundTrip(t *testing.T) {
	refusal := WithLeaderHint(cairn.Errorf("", "", cairn.NotLeader, "not the leader"), "10.0.0.2:8020")
	wire := ToStatus(refusal)
	st, _ := status.FromError(wire)
	if st.Code() != codes.Unavailable {
		t.Errorf("code of a not-leader refusal = %v, want Unavailable", st.Code())
	}
	got := FromStatus("mkdir", "/a", status.ErrorProto(st.Proto()))
	if k := cairn.KindOf(got); k != cairn.NotLeader {
		t.Errorf("kind after the wire = %v, want NotLeader", k)
	}
	if h := LeaderHint(got); h != "10.0.0.2:8020" {
		t.Errorf("LeaderHint(%v) = %q, want %q", got, h, "10.0.0.2:8020")
	}
	if got, want := got.Error(), "mkdir /a: not the leader"; got != want {
		t.Errorf("error after the wire = %q, want %q", got, want)
	}
	// The hint survives wrapping on the server side too.
	wrapped := cairn.E("namenode.Mkdirs", "/a", WithLeaderHint(cairn.Errorf("", "", cairn.NotLeader, "no"), "h:1"))
	if h := LeaderHint(FromStatus("mkdir", "/a", ToStatus(wrapped))); h != "h:1" {
		t.Errorf("hint of a wrapped refusal = %q, want h:1", h)
	}

	// Without a known leader, and on other errors, there is no hint.
	for _, err := range []error{
		WithLeaderHint(cairn.Errorf("", "", cairn.NotLeader, "no leader"), ""),
		cairn.E("x", "/a", cairn.NotExist),
	} {
		if h := LeaderHint(FromStatus("op", "/a", ToStatus(err))); h != "" {
			t.Errorf("LeaderHint of %v = %q, want empty", err, h)
		}
	}
	if WithLeaderHint(nil, "h:1") != nil {
		t.Error("WithLeaderHint(nil) is not nil")
	}
}

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

package cairn

import (
	"errors"
	"io/fs"
	"testing"
)

func TestErrorIs(t *testing.T) {
	err := E("open", "/a/b", NotExist)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false, want true", err)
	}
	if !errors.Is(err, NotExist) {
		t.Errorf("errors.Is(%v, NotExist) = false, want true", err)
	}
	if errors.Is(err, fs.ErrExist) {
		t.Errorf("errors.Is(%v, fs.ErrExist) = true, want false", err)
	}
	if got, want := err.Error(), "open /a/b: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := E("client.Open", err)
	if KindOf(wrapped) != NotExist || !errors.Is(wrapped, fs.ErrNotExist) {
		t.Errorf("wrapped error %v lost its kind", wrapped)
	}
	if got := Errorf("mkdir", "/x", Exist, "parent is a file").Error(); got != "mkdir /x: parent is a file" {
		t.Errorf("Errorf message = %q", got)
	}
}

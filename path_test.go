package cairn

import (
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	good := []string{"/", "/a", "/a/b", "/a b/c.d", "/.hidden", "/" + strings.Repeat("x", 255)}
	bad := []string{"", "rel/path", "/a/../b", "/a/./b", "//x", "/a/", "/a//b", "/a\x00b", "/" + strings.Repeat("x", 256), ".."}
	for _, p := range good {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		err := ValidatePath(p)
		if err == nil {
			t.Errorf("ValidatePath(%q) = nil, want error", p)
			continue
		}
		if !strings.HasPrefix(err.Error(), "invalid path") {
			t.Errorf("ValidatePath(%q) = %q, want it to start with %q", p, err, "invalid path")
		}
	}
}

func TestDirBaseJoin(t *testing.T) {
	tests := []struct{ p, dir, base string }{
		{"/", "/", "/"},
		{"/a", "/", "a"},
		{"/a/b/c", "/a/b", "c"},
	}
	for _, tt := range tests {
		if got := Dir(tt.p); got != tt.dir {
			t.Errorf("Dir(%q) = %q, want %q", tt.p, got, tt.dir)
		}
		if got := Base(tt.p); got != tt.base {
			t.Errorf("Base(%q) = %q, want %q", tt.p, got, tt.base)
		}
		if tt.p != "/" {
			if got := Join(tt.dir, tt.base); got != tt.p {
				t.Errorf("Join(%q, %q) = %q, want %q", tt.dir, tt.base, got, tt.p)
			}
		}
	}
	if !IsWithin("/a/b", "/a") || IsWithin("/ab", "/a") || !IsWithin("/a", "/") || !IsWithin("/a", "/a") {
		t.Error("IsWithin is wrong")
	}
}

// FuzzValidatePath checks that every path ValidatePath accepts splits
// into valid names and joins back to itself.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "//x", "/a/../b", "rel", "/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		q := "/"
		for _, name := range SplitPath(p) {
			if err := ValidateName(name); err != nil {
				t.Fatalf("ValidatePath(%q) accepted a bad name %q: %v", p, name, err)
			}
			q = Join(q, name)
		}
		if q != p {
			t.Fatalf("rejoined %q as %q", p, q)
		}
		if p != "/" && Join(Dir(p), Base(p)) != p {
			t.Fatalf("Join(Dir, Base) of %q is not itself", p)
		}
	})
}

package cli

import (
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"4096B", 4096},
		{"64KiB", 64 << 10},
		{"32MiB", 32 << 20},
		{"32mib", 32 << 20},
		{"1GiB", 1 << 30},
		{"2TiB", 2 << 40},
		{"128m", 128 << 20},
		{"128M", 128 << 20},
		{"4k", 4 << 10},
		{"1g", 1 << 30},
		{"10KB", 10_000},
		{"10MB", 10_000_000},
		{"1GB", 1_000_000_000},
		{" 3MiB ", 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSizeRefusesBadInput(t *testing.T) {
	for _, in := range []string{"", "12XB", "MiB", "-1", "1.5GiB", "ten", "9999999999999999999", "9000000PiB", "1 2"} {
		t.Run(in, func(t *testing.T) {
			got, err := parseSize(in)
			if err == nil {
				t.Fatalf("parseSize(%q) = %d, nil, want an error", in, got)
			}
			if !strings.Contains(err.Error(), "invalid size") {
				t.Errorf("parseSize(%q) error %q does not say invalid size", in, err)
			}
		})
	}
}

func TestSizeValueRoundTrips(t *testing.T) {
	for _, n := range []int64{0, 512, 1 << 10, 3 << 20, 128 << 20, 1 << 30, 1000} {
		v := sizeValue(n)
		var back sizeValue
		if err := back.Set(v.String()); err != nil || back != v {
			t.Errorf("sizeValue(%d).String() = %q, parses back to %d, %v", n, v.String(), back, err)
		}
	}
}

func TestLevelValue(t *testing.T) {
	var v levelValue
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		if err := v.Set(in); err != nil || slog.Level(v) != want {
			t.Errorf("levelValue.Set(%q) = %v, %v, want %v", in, slog.Level(v), err, want)
		}
	}
	if err := v.Set("loud"); err == nil {
		t.Errorf("levelValue.Set(%q) = nil, want an error", "loud")
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in    string
		want  fs.FileMode
		octal string
	}{
		{"644", 0o644, "0644"},
		{"0644", 0o644, "0644"},
		{"0o755", 0o755, "0755"},
		{"600", 0o600, "0600"},
		{"7", 0o7, "0007"},
		{"0", 0, "0000"},
		{"1777", 0o777 | fs.ModeSticky, "1777"},
		{"4755", 0o755 | fs.ModeSetuid, "4755"},
		{"2750", 0o750 | fs.ModeSetgid, "2750"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMode(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("parseMode(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
			if o := octalMode(got); o != tt.octal {
				t.Errorf("octalMode(%v) = %q, want %q", got, o, tt.octal)
			}
		})
	}
	for _, bad := range []string{"", "8", "999", "rwx", "u+x", "17777", "-644", "0o"} {
		if got, err := parseMode(bad); err == nil {
			t.Errorf("parseMode(%q) = %v, nil, want an error", bad, got)
		}
	}
}

func TestPermString(t *testing.T) {
	tests := []struct {
		dir  bool
		mode fs.FileMode
		want string
	}{
		{false, 0o644, "-rw-r--r--"},
		{true, 0o755, "drwxr-xr-x"},
		{false, 0o600, "-rw-------"},
		{true, 0o777 | fs.ModeSticky, "drwxrwxrwt"},
		{true, 0o776 | fs.ModeSticky, "drwxrwxrwT"},
		{false, 0o755 | fs.ModeSetuid, "-rwsr-xr-x"},
		{false, 0o644 | fs.ModeSetgid, "-rw-r-Sr--"},
	}
	for _, tt := range tests {
		if got := permString(tt.dir, tt.mode); got != tt.want {
			t.Errorf("permString(%v, %v) = %q, want %q", tt.dir, tt.mode, got, tt.want)
		}
	}
}

func TestParseOwner(t *testing.T) {
	tests := []struct {
		in, owner, group string
	}{
		{"alice", "alice", ""},
		{"alice:staff", "alice", "staff"},
		{":staff", "", "staff"},
		{"alice:", "alice", ""},
	}
	for _, tt := range tests {
		owner, group, err := parseOwner(tt.in)
		if err != nil || owner != tt.owner || group != tt.group {
			t.Errorf("parseOwner(%q) = %q, %q, %v, want %q, %q", tt.in, owner, group, err, tt.owner, tt.group)
		}
	}
	for _, bad := range []string{"", ":", "a:b:c", "al ice", "a/b:c"} {
		if o, g, err := parseOwner(bad); err == nil {
			t.Errorf("parseOwner(%q) = %q, %q, nil, want an error", bad, o, g)
		}
	}
}

func TestHumanSizes(t *testing.T) {
	tests := []struct {
		n           int64
		short, long string
	}{
		{0, "0", "0 B"},
		{512, "512", "512 B"},
		{1023, "1023", "1023 B"},
		{1024, "1K", "1.0 KiB"},
		{1536, "1.5K", "1.5 KiB"},
		{128 << 20, "128M", "128.0 MiB"},
		{3<<30 + 200<<20, "3.2G", "3.2 GiB"},
		{1 << 40, "1T", "1.0 TiB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.n); got != tt.short {
			t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.short)
		}
		if got := humanBytes(tt.n); got != tt.long {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.long)
		}
	}
}

func TestSplitDirs(t *testing.T) {
	got := splitDirs(" /a, /b ,,/c")
	if strings.Join(got, "|") != "/a|/b|/c" {
		t.Errorf("splitDirs = %q, want [/a /b /c]", got)
	}
	if got := splitDirs(" , "); len(got) != 0 {
		t.Errorf("splitDirs(\" , \") = %q, want none", got)
	}
}

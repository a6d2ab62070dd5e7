package cli

import (
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// unitMultiplier returns the multiplier of a size suffix (lower-cased):
// binary with "i" (KiB) and in the short forms (k, m, g, as HDFS's
// dfs.blocksize), decimal with "B" alone (KB, MB, GB).
func unitMultiplier(unit string) (int64, bool) {
	switch unit {
	case "", "b":
		return 1, true
	case "k", "kib":
		return 1 << 10, true
	case "m", "mib":
		return 1 << 20, true
	case "g", "gib":
		return 1 << 30, true
	case "t", "tib":
		return 1 << 40, true
	case "p", "pib":
		return 1 << 50, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	case "pb":
		return 1e15, true
	}
	return 0, false
}

// parseSize parses a byte count: a whole number with an optional
// suffix: 4096, 64KiB, 32MiB, 1GiB, 128m (binary), 10MB (decimal).
// Suffixes are case-insensitive.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: want a whole number of bytes with an optional unit such as KiB, MiB or GiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := unitMultiplier(unit)
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)", s, t[i:])
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// sizeValue is a pflag.Value holding a size parsed by parseSize, so a
// bad size is a flag error naming the flag and the value.
type sizeValue int64

func (v *sizeValue) String() string { return formatSizeFlag(int64(*v)) }
func (v *sizeValue) Type() string   { return "size" }
func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}

// formatSizeFlag writes a size the way a user would type it.
func formatSizeFlag(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// levelValue is a pflag.Value holding a log level: debug, info, warn or
// error.
type levelValue slog.Level

func (v *levelValue) String() string { return strings.ToLower(slog.Level(*v).String()) }
func (v *levelValue) Type() string   { return "level" }
func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("invalid log level %q: want debug, info, warn or error", s)
	}
	*v = levelValue(l)
	return nil
}

// humanSize formats a byte count compactly with binary units, as
// ls -h does: 512, 1.5K, 128M, 3.2G.
func humanSize(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10)
	}
	units := "KMGTPE"
	f := float64(n)
	u := -1
	for math.Abs(f) >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if math.Abs(f) >= 10 {
		s = strconv.FormatFloat(f, 'f', 0, 64)
	}
	s = strings.TrimSuffix(s, ".0")
	return s + string(units[u])
}

// humanBytes formats a byte count with a binary unit and one decimal,
// for progress bars and reports: 512 B, 1.5 KiB, 128.0 MiB.
func humanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	u := -1
	for math.Abs(f) >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
}

// parseMode parses an octal permission such as 644, 0644, 0o644 or
// 1777. The setuid, setgid and sticky bits (4000, 2000, 1000) map to
// fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky.
func parseMode(s string) (fs.FileMode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if t == "" || len(t) > 5 {
		return 0, fmt.Errorf("invalid mode %q: want an octal number such as 644 or 0755", s)
	}
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q: want an octal number such as 644 or 0755", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// octalMode formats a mode's permission and special bits as a
// four-digit octal string, such as "0644" or "1777".
func octalMode(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// permString formats a mode as ls -l does: drwxr-xr-x, -rw-r--r--,
// with s/S and t/T for the special bits.
func permString(isDir bool, m fs.FileMode) string {
	b := []byte("----------")
	if isDir {
		b[0] = 'd'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(pos int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[pos] == 'x' {
			b[pos] = lower
		} else {
			b[pos] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}

// parseOwner parses chown's OWNER[:GROUP]: "alice", "alice:staff",
// ":staff" (group only) or "alice:" (owner only). An empty result
// means unchanged.
func parseOwner(s string) (owner, group string, err error) {
	owner, group, _ = strings.Cut(s, ":")
	if owner == "" && group == "" {
		return "", "", fmt.Errorf("invalid owner %q: want OWNER, OWNER:GROUP or :GROUP", s)
	}
	for _, name := range []string{owner, group} {
		if strings.ContainsAny(name, ": \t\n/") || strings.IndexByte(name, 0) >= 0 {
			return "", "", fmt.Errorf("invalid owner %q: names may not contain ':', '/' or spaces", s)
		}
	}
	return owner, group, nil
}

// splitAddrs parses a comma-separated list of host:port addresses
// given by flag: spaces around entries are dropped; an empty entry, an
// entry that is not host:port, or a duplicate is a usage error.
func splitAddrs(flag, list string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, usageError("invalid %s %q: empty address in the list", flag, list)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, usageError("invalid %s %q: %s is not host:port", flag, list, a)
		}
		if slices.Contains(out, a) {
			return nil, usageError("invalid %s %q: %s is listed twice", flag, list, a)
		}
		out = append(out, a)
	}
	return out, nil
}

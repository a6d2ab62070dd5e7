// Package version says which cairn this is, for 'cairn version', the
// web UI and the cairn_build_info metric.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is cairn's release version.
const Version = "0.1.0-dev"

// Revision returns the VCS revision the binary was built from, cut to
// 12 digits, with "-dirty" if the tree was modified; empty if the build
// did not record one.
func Revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// String says the version, the revision if known, and the Go version
// and platform: "cairn version 0.1.0-dev (0123456789ab) go1.26 linux/amd64".
func String() string {
	v := "cairn version " + Version
	if rev := Revision(); rev != "" {
		v += " (" + rev + ")"
	}
	return fmt.Sprintf("%s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

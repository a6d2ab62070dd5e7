package cairn

import (
	"fmt"
	"strings"
)

// ValidatePath checks that p is an absolute, clean cairn path: it starts
// with "/", has no empty, "." or ".." elements, no NUL byte, no element
// longer than MaxNameLen bytes, and no trailing slash (except "/"
// itself). cairn never cleans a path silently: "/a/../b" and "//x" are
// refused, so that what is stored is exactly what was asked for.
func ValidatePath(p string) error {
	if p == "/" {
		return nil
	}
	if p == "" {
		return fmt.Errorf("invalid path %q: empty", p)
	}
	if p[0] != '/' {
		return fmt.Errorf("invalid path %q: not absolute", p)
	}
	for _, name := range strings.Split(p[1:], "/") {
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("invalid path %q: %v", p, err)
		}
	}
	return nil
}

// ValidateName checks one path element.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q not allowed", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("name contains NUL")
	case strings.IndexByte(name, '/') >= 0:
		return fmt.Errorf("name contains '/'")
	}
	return nil
}

// SplitPath returns the elements of a valid path; "/" has none.
func SplitPath(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// Dir returns the parent of a valid path; the parent of "/" is "/".
func Dir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Base returns the last element of a valid path; the base of "/" is "/".
func Base(p string) string {
	if p == "/" {
		return "/"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// Join joins a valid directory path and a name.
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// IsWithin reports whether p is dir or lies below it.
func IsWithin(p, dir string) bool {
	if dir == "/" || p == dir {
		return true
	}
	return strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/'
}

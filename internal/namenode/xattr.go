package namenode

import (
	"context"
	"slices"
	"strings"

	"github.com/cairn-fs/cairn"
)

// Extended attributes, as HDFS's XAttrs: a name "<namespace>.<name>"
// and a value of bytes, kept with the inode, changed by logged
// commands and carried in snapshots. Only the user and trusted
// namespaces exist (HDFS's system, security and raw belong to features
// cairn does not have); a namespace is case-insensitive and stored in
// lower case, the rest of the name is kept as given.
//
// Limits, as HDFS's defaults: at most maxXAttrsPerInode attributes per
// inode (dfs.namenode.fs-limits.max-xattrs-per-inode) and at most
// maxXAttrSize bytes of name and value together
// (dfs.namenode.fs-limits.max-xattr-size).
const (
	maxXAttrsPerInode = 32
	maxXAttrSize      = 16384
)

// xattr is one extended attribute; the value is a string so that it is
// immutable once stored.
type xattr struct {
	name  string
	value string
}

// xattrList is an inode's attributes, sorted by name. An inode without
// any has a nil list, so that they cost one pointer per inode.
type xattrList struct {
	items []xattr
}

func (l *xattrList) find(name string) (int, bool) {
	if l == nil {
		return 0, false
	}
	return slices.BinarySearchFunc(l.items, name, func(x xattr, name string) int { return strings.Compare(x.name, name) })
}

// normalizeXAttrName checks an attribute name and lower-cases its
// namespace.
func normalizeXAttrName(name string) (string, error) {
	ns, rest, ok := strings.Cut(name, ".")
	if !ok || rest == "" {
		return "", errf(cairn.Invalid, "xattr name %q must be prefixed with user. or trusted. and have a name after it", name)
	}
	switch lns := strings.ToLower(ns); lns {
	case "user", "trusted":
		return lns + "." + rest, nil
	case "system", "security", "raw":
		return "", errf(cairn.Invalid, "xattr namespace %s of %q is not supported: cairn has user and trusted", lns, name)
	}
	return "", errf(cairn.Invalid, "xattr name %q must be prefixed with user. or trusted.", name)
}

// checkXAttrs validates and normalizes the attributes of a set (values
// too) or a remove (names only), before they are logged.
func checkXAttrs(attrs []xattr, withValues bool) ([]xattr, error) {
	if len(attrs) == 0 {
		return nil, errf(cairn.Invalid, "no xattr given")
	}
	if len(attrs) > maxXAttrsPerInode {
		return nil, errf(cairn.Invalid, "%d xattrs given, at most %d are allowed per file", len(attrs), maxXAttrsPerInode)
	}
	out := make([]xattr, len(attrs))
	for i, a := range attrs {
		name, err := normalizeXAttrName(a.name)
		if err != nil {
			return nil, err
		}
		if withValues && len(name)+len(a.value) > maxXAttrSize {
			return nil, errf(cairn.Invalid, "xattr %s is too big: name and value have %d bytes, at most %d are allowed", name, len(name)+len(a.value), maxXAttrSize)
		}
		out[i] = xattr{name: name, value: a.value}
	}
	slices.SortFunc(out, func(a, b xattr) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(out); i++ {
		if out[i].name == out[i-1].name {
			return nil, errf(cairn.Invalid, "xattr %s given twice", out[i].name)
		}
	}
	return out, nil
}

// XAttr flags of a set: flagXAttrCreate fails if an attribute exists,
// flagXAttrReplace if one does not.
const (
	flagXAttrCreate  uint64 = 1 << 11
	flagXAttrReplace uint64 = 1 << 12
)

// SetXAttrs sets attributes of p in one logged command, with HDFS's
// create and replace flags (neither or both: either).
func (s *Server) SetXAttrs(ctx context.Context, p string, attrs []xattr, create, replace bool) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	attrs, err := checkXAttrs(attrs, true)
	if err != nil {
		return err
	}
	c := command{op: opSetXAttr, path: p, xattrs: attrs}
	if create && !replace {
		c.flags |= flagXAttrCreate
	}
	if replace && !create {
		c.flags |= flagXAttrReplace
	}
	_, err = s.mutate(ctx, &c)
	return err
}

// RemoveXAttr removes one attribute of p; one p does not have is
// NotExist.
func (s *Server) RemoveXAttr(ctx context.Context, p, name string) error {
	if err := validPath(p); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	attrs, err := checkXAttrs([]xattr{{name: name}}, false)
	if err != nil {
		return err
	}
	c := command{op: opRemoveXAttr, path: p, xattrs: attrs}
	_, err = s.mutate(ctx, &c)
	return err
}

// GetXAttrs returns the named attributes of p, or all with no name; a
// name p does not have is NotExist, as in HDFS.
func (s *Server) GetXAttrs(ctx context.Context, p string, names []string) (map[string][]byte, error) {
	if err := validPath(p); err != nil {
		return nil, err
	}
	want := make([]string, len(names))
	for i, n := range names {
		name, err := normalizeXAttrName(n)
		if err != nil {
			return nil, err
		}
		want[i] = name
	}
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return nil, err
	}
	if err := pc.checkXAttrAccess(&s.ns.replicated, p, n, want, accRead); err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return pc.visibleXAttrs(n.xattrMap()), nil
	}
	out := make(map[string][]byte, len(want))
	for _, name := range want {
		i, ok := n.xattrs.find(name)
		if !ok {
			return nil, errf(cairn.NotExist, "%s has no xattr %s", p, name)
		}
		out[name] = []byte(n.xattrs.items[i].value)
	}
	return out, nil
}

// ListXAttrs returns the names of p's attributes, sorted.
func (s *Server) ListXAttrs(ctx context.Context, p string) ([]string, error) {
	if err := validPath(p); err != nil {
		return nil, err
	}
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	pc := s.readChecker(ctx)
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	n, err := s.ns.lookupChecked(pc, p)
	if err != nil {
		return nil, err
	}
	// As HDFS's listXAttrs, the names need search permission on the
	// parent only (checked on the way); trusted ones are hidden.
	var names []string
	if n.xattrs != nil {
		for _, x := range n.xattrs.items {
			if pc != nil && strings.HasPrefix(x.name, "trusted.") {
				continue
			}
			names = append(names, x.name)
		}
	}
	return names, nil
}

// xattrMap copies n's attributes into a map (empty, not nil, if none).
func (n *inode) xattrMap() map[string][]byte {
	m := map[string][]byte{}
	if n.xattrs != nil {
		for _, x := range n.xattrs.items {
			m[x.name] = []byte(x.value)
		}
	}
	return m
}

func (ns *namespace) applySetXAttr(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	attrs, err := checkXAttrs(c.xattrs, true)
	if err != nil {
		return err
	}
	pc := checkerOf(c)
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	if err := pc.checkXAttrAccess(&ns.replicated, c.path, n, xattrNames(attrs), accWrite); err != nil {
		return err
	}
	added := 0
	for _, a := range attrs {
		_, exists := n.xattrs.find(a.name)
		switch {
		case exists && c.flags&flagXAttrCreate != 0:
			return errf(cairn.Exist, "xattr %s of %s already exists", a.name, c.path)
		case !exists && c.flags&flagXAttrReplace != 0:
			return errf(cairn.NotExist, "xattr %s of %s does not exist", a.name, c.path)
		case !exists:
			added++
		}
	}
	have := 0
	if n.xattrs != nil {
		have = len(n.xattrs.items)
	}
	if have+added > maxXAttrsPerInode {
		return errf(cairn.Invalid, "%s would have %d xattrs, at most %d are allowed", c.path, have+added, maxXAttrsPerInode)
	}
	// Build the new list whole, so that a failure above leaves the old.
	l := &xattrList{}
	if n.xattrs != nil {
		l.items = slices.Clone(n.xattrs.items)
	}
	for _, a := range attrs {
		if i, ok := l.find(a.name); ok {
			l.items[i].value = a.value
		} else {
			l.items = slices.Insert(l.items, i, a)
		}
	}
	n.xattrs = l
	return nil
}

func (ns *namespace) applyRemoveXAttr(c *command) any {
	if err := validPath(c.path); err != nil {
		return err
	}
	attrs, err := checkXAttrs(c.xattrs, false)
	if err != nil {
		return err
	}
	pc := checkerOf(c)
	n, err := ns.lookupChecked(pc, c.path)
	if err != nil {
		return err
	}
	if err := pc.checkXAttrAccess(&ns.replicated, c.path, n, xattrNames(attrs), accWrite); err != nil {
		return err
	}
	for _, a := range attrs {
		if _, ok := n.xattrs.find(a.name); !ok {
			return errf(cairn.NotExist, "xattr %s of %s does not exist", a.name, c.path)
		}
	}
	l := &xattrList{items: slices.Clone(n.xattrs.items)}
	for _, a := range attrs {
		i, _ := l.find(a.name)
		l.items = slices.Delete(l.items, i, i+1)
	}
	if len(l.items) == 0 {
		l = nil
	}
	n.xattrs = l
	return nil
}

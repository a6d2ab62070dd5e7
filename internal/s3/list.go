package s3

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
)

// Entry is one name in a directory of a bucket, as a Lister returns it.
type Entry struct {
	Name  string
	IsDir bool
	// Marker says that a directory is also the object "name/": it was
	// made by a PUT of a key ending in '/'. An empty directory is such
	// an object whether marked or not (see doc.go).
	Marker  bool
	Size    int64
	ModTime time.Time
	// Sys is the Lister's own data for the entry (the gateway keeps the
	// cairn file information and what it needs for the ETag there); List
	// passes it through untouched.
	Sys any
}

// Lister reads the directories of one bucket. Paths are relative to the
// bucket: "" is the bucket's directory, "a/b" a directory inside it.
// The gateway implements it with the cairn client; tests with an
// in-memory tree.
type Lister interface {
	// List returns, sorted by name (byte-wise), at most limit entries
	// of the directory dir whose names are greater than startAfter, and
	// whether more follow. startAfter is compared byte-wise and need not
	// be a name that exists, nor a valid name: it holds neither '/' nor
	// NUL and has at most cairn.MaxNameLen bytes, but may hold bytes a
	// name may not (0xff, say). A dir that does not exist or is not a
	// directory is an error matching fs.ErrNotExist.
	List(ctx context.Context, dir, startAfter string, limit int) (entries []Entry, more bool, err error)
	// Lookup returns the entry called name in dir, and false if there
	// is none (or dir does not exist or is not a directory).
	Lookup(ctx context.Context, dir, name string) (e Entry, ok bool, err error)
}

// ListRequest is a listing of the keys of a bucket, as ListObjects and
// ListObjectsV2 ask for it.
type ListRequest struct {
	// Prefix restricts the listing to keys that begin with it.
	Prefix string
	// Delimiter, if not empty, rolls up every key that holds it after
	// the prefix into one common prefix: the key up to and including
	// the first occurrence.
	Delimiter string
	// After lists only keys (and common prefixes) after it: the marker
	// of ListObjects, the start-after or the decoded continuation token
	// of ListObjectsV2. If it lies inside a common prefix (it holds the
	// delimiter after the prefix), that whole common prefix is past.
	After string
	// MaxKeys is the most keys and common prefixes returned; 0 returns
	// none (and IsTruncated false), as S3.
	MaxKeys int
	// PageSize is the most entries asked of one Lister.List call; 0
	// means DefaultPageSize.
	PageSize int
}

// DefaultPageSize is the default number of entries per Lister.List.
const DefaultPageSize = 1000

// ListedKey is one key of a listing and the entry that makes it: a
// file, or a directory standing for the key "dir/".
type ListedKey struct {
	Key   string
	Entry Entry
}

// ListResult is one page of a listing.
type ListResult struct {
	Keys           []ListedKey
	CommonPrefixes []string
	// IsTruncated says that more keys or common prefixes follow.
	IsTruncated bool
	// Next is the last key or common prefix of the page when it is
	// truncated: ListObjects's NextMarker, and what
	// EncodeContinuationToken makes ListObjectsV2's token of. Empty
	// otherwise.
	Next string
}

// EncodeContinuationToken makes an opaque ListObjectsV2 continuation
// token of ListResult.Next.
func EncodeContinuationToken(next string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1" + next))
}

// DecodeContinuationToken is the inverse of EncodeContinuationToken; a
// token it did not make is InvalidArgument.
func DecodeContinuationToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) == 0 || b[0] != '1' {
		return "", &Error{Code: InvalidArgument, Message: "The continuation token provided is incorrect",
			ArgumentName: "continuation-token", ArgumentValue: truncateKey(token)}
	}
	return string(b[1:]), nil
}

// List returns one page of the keys of a bucket in S3's order: byte-wise
// by whole key, which is not the order of a directory walk (see doc.go
// for the algorithm). It reads only the directories and entries it needs:
// a common prefix of delimiter '/' is a directory it does not enter, and
// each directory is read in pages from where the listing resumes.
// Memory is bounded by the page size and the depth of the keys.
func List(ctx context.Context, l Lister, req ListRequest) (*ListResult, error) {
	res := &ListResult{}
	if req.MaxKeys <= 0 {
		return res, nil
	}
	w := &walker{ctx: ctx, l: l, prefix: req.Prefix, delim: req.Delimiter, pageSize: req.PageSize, want: req.MaxKeys + 1}
	if w.pageSize <= 0 {
		w.pageSize = DefaultPageSize
	}
	if err := w.start(req.After); err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		it, ok, err := w.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if n == req.MaxKeys {
			res.IsTruncated = true
			break
		}
		if it.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, it.key)
		} else {
			res.Keys = append(res.Keys, ListedKey{Key: it.key, Entry: it.entry})
		}
		res.Next = it.key
		w.want--
	}
	if !res.IsTruncated {
		res.Next = ""
	}
	return res, nil
}

// item is one key or common prefix the walker produces, in order.
type item struct {
	key    string
	prefix bool // a common prefix
	entry  Entry
}

// walker produces the keys of a bucket that begin with prefix, in
// byte-wise order, rolling them up by delimiter. It is a depth-first
// walk of the directories under the prefix; see doc.go.
type walker struct {
	ctx      context.Context
	l        Lister
	prefix   string
	delim    string
	pageSize int
	want     int // items still wanted, to size List calls

	levels  []*level // the directories being walked, innermost last
	pending []item   // items to produce before walking on
	lastCP  string   // last common prefix produced
}

// level is one directory of the walk.
type level struct {
	dir  string // path relative to the bucket
	base string // the key prefix of its entries: dir + "/", or ""

	// namePrefix restricts the outermost level to the names that can
	// make keys beginning with the listing's prefix.
	namePrefix string

	// stack holds the directories already read whose keys (name + "/")
	// sort after names still to come: their names are prefixes of those
	// names followed by a byte below '/'. Each is a prefix of the next,
	// so the last one has the smallest key.
	stack []Entry

	page   []Entry // entries read and not yet taken, in name order
	cursor string  // the last name taken: the next List starts after it
	more   bool    // List has (or may have) entries after cursor
	skip   string  // names beginning with it are past (a common prefix)

	self       Entry // the directory's own entry
	selfKey    bool  // its key (base) is in the listing's range
	selfMarker bool  // it is marked, and its key was already produced
	visible    bool  // it has an entry that is listed
}

// nameLimit makes a startAfter string of s that selects the same names
// and keeps the Lister contract. No name holds NUL, so the names after
// s are the names after s cut at its first NUL; no name is longer than
// cairn.MaxNameLen, so they are the names after s[:MaxNameLen].
func nameLimit(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > cairn.MaxNameLen {
		return s[:cairn.MaxNameLen]
	}
	return s
}

// joinRel joins a relative directory and a name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// validDirPath reports whether every segment of a relative directory
// path can be part of a key.
func validDirPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > cairn.MaxNameLen || Hidden(seg) {
			return false
		}
	}
	return true
}

// start positions the walk at the first key after `after` that begins
// with the prefix.
func (w *walker) start(after string) error {
	prefix := w.prefix
	pdir := prefix[:strings.LastIndex(prefix, "/")+1] // "" or "a/b/"
	pname := prefix[len(pdir):]
	dirPath := strings.TrimSuffix(pdir, "/")
	if pdir != "" && !validDirPath(dirPath) || len(pname) > cairn.MaxNameLen {
		return nil // no key can begin with this prefix
	}
	// Start at the prefix itself, inclusive, or after `after`.
	s, inclusive := prefix, true
	if after >= prefix {
		if !strings.HasPrefix(after, prefix) {
			return nil // after is past every key with the prefix
		}
		s, inclusive = after, false
		if w.delim != "" {
			if i := strings.Index(after[len(prefix):], w.delim); i >= 0 {
				// after is inside a common prefix, which is past: go
				// beyond every key that begins with it. No key holds
				// 0xff (keys are UTF-8).
				s = after[:len(prefix)+i+len(w.delim)] + "\xff"
			}
		}
	}
	top := &level{dir: dirPath, base: pdir, namePrefix: pname, more: true}
	w.levels = []*level{top}
	if pdir != "" && pname == "" && inclusive {
		// The prefix names a directory, whose own key "dir/" (if it is
		// a marker or empty) is the first key of the listing.
		parent, name := "", dirPath
		if i := strings.LastIndex(dirPath, "/"); i >= 0 {
			parent, name = dirPath[:i], dirPath[i+1:]
		}
		e, ok, err := w.lookup(parent, name)
		if err != nil {
			return err
		}
		if !ok || !e.IsDir {
			w.levels = nil
			return nil
		}
		top.self, top.selfKey = e, true
		if e.Marker {
			top.selfMarker = true
			w.pending = append(w.pending, item{key: pdir, entry: e})
		}
	}
	return w.seek(top, s[len(pdir):], inclusive)
}

// seek positions level L (just created, nothing read) at the keys after
// rel, a key relative to L.base; with inclusive, at rel itself.
func (w *walker) seek(L *level, rel string, inclusive bool) error {
	c, rest, hasSlash := strings.Cut(rel, "/")
	// Directories named by a prefix c[:j] of c followed by a byte below
	// '/' have keys c[:j]+"/" after rel, although their names come
	// before c: they go on the stack, shortest first.
	for j := max(1, len(L.namePrefix)); j < len(c) && j <= cairn.MaxNameLen; j++ {
		if c[j] >= '/' || Hidden(c[:j]) {
			continue
		}
		e, ok, err := w.lookup(L.dir, c[:j])
		if err != nil {
			return err
		}
		if ok && e.IsDir {
			L.stack = append(L.stack, e)
			L.visible = true
		}
	}
	if hasSlash {
		// Names between c and c+"/" (c followed by a byte below '/')
		// have keys before rel; resume after them. The names after
		// c+".\xff" that are not after c+"/" are not UTF-8, hence
		// hidden.
		L.cursor = nameLimit(c + ".\xff")
		// c itself, if a directory, has keys on both sides of rel.
		if c != "" && len(c) <= cairn.MaxNameLen && !Hidden(c) && !strings.HasPrefix(rest, "\xff") {
			e, ok, err := w.lookup(L.dir, c)
			if err != nil {
				return err
			}
			if ok && e.IsDir {
				L.visible = true
				child := &level{dir: joinRel(L.dir, c), base: L.base + c + "/", more: true, self: e, selfMarker: e.Marker}
				w.levels = append(w.levels, child)
				return w.seek(child, rest, false)
			}
		}
		return nil
	}
	L.cursor = nameLimit(c)
	if c == "" || len(c) > cairn.MaxNameLen || Hidden(c) || !strings.HasPrefix(c, L.namePrefix) {
		return nil
	}
	e, ok, err := w.lookup(L.dir, c)
	if err != nil || !ok {
		return err
	}
	switch {
	case e.IsDir:
		// Its key c+"/" is after rel.
		L.stack = append(L.stack, e)
		L.visible = true
	case inclusive:
		L.page = []Entry{e}
	}
	return nil
}

func (w *walker) lookup(dir, name string) (Entry, bool, error) {
	e, ok, err := w.l.Lookup(w.ctx, dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("s3: listing %q: %w", joinRel(dir, name), err)
	}
	if ok && e.Name != name {
		return Entry{}, false, fmt.Errorf("s3: listing %q: the lister returned the entry %q", joinRel(dir, name), e.Name)
	}
	return e, ok, nil
}

// keyOf is the key an entry of L sorts by: its name, or name+"/" for a
// directory.
func dirKey(e Entry) string { return e.Name + "/" }

func entryKey(e Entry) string {
	if e.IsDir {
		return dirKey(e)
	}
	return e.Name
}

// next produces the next key or common prefix, or false at the end.
func (w *walker) next() (item, bool, error) {
	if len(w.pending) > 0 {
		it := w.pending[0]
		w.pending = w.pending[1:]
		return it, true, nil
	}
	for len(w.levels) > 0 {
		L := w.levels[len(w.levels)-1]
		e, ok, err := w.peek(L)
		if err != nil {
			return item{}, false, err
		}
		// A deferred directory whose key comes first goes first.
		if n := len(L.stack); n > 0 && (!ok || dirKey(L.stack[n-1]) < entryKey(e)) {
			d := L.stack[n-1]
			L.stack = L.stack[:n-1]
			if it, ok := w.enter(L, d); ok {
				return it, true, nil
			}
			continue
		}
		if !ok {
			// The directory is done. If nothing in it was listed, it
			// stands for the key "dir/" (unless that was produced
			// already as a marker, or is out of range).
			w.levels = w.levels[:len(w.levels)-1]
			if L.selfKey && !L.visible && !L.selfMarker {
				return item{key: L.base, entry: L.self}, true, nil
			}
			continue
		}
		L.page = L.page[1:]
		L.cursor = e.Name
		if Hidden(e.Name) {
			continue
		}
		L.visible = true
		if e.IsDir {
			L.stack = append(L.stack, e)
			continue
		}
		if it, ok := w.produce(L, L.base+e.Name, e); ok {
			return it, true, nil
		}
	}
	return item{}, false, nil
}

// produce turns the key of a file (or of a marked or empty directory)
// into the item to return, rolling it up into a common prefix if it
// holds the delimiter. False means it was rolled into the common prefix
// just produced.
func (w *walker) produce(L *level, key string, e Entry) (item, bool) {
	if w.delim != "" {
		if i := strings.Index(key[len(w.prefix):], w.delim); i >= 0 {
			return w.commonPrefix(L, key[:len(w.prefix)+i+len(w.delim)])
		}
	}
	return item{key: key, entry: e}, true
}

// commonPrefix produces a common prefix once and arranges for the walk
// to skip every other key that begins with it.
func (w *walker) commonPrefix(L *level, cp string) (item, bool) {
	if cp == w.lastCP {
		return item{}, false
	}
	w.lastCP = cp
	if len(cp) > len(L.base) {
		if q := cp[len(L.base):]; !strings.Contains(q, "/") {
			// cp ends inside the names of L: every name beginning with q
			// makes keys beginning with cp.
			L.skip = q
			for n := len(L.stack); n > 0 && strings.HasPrefix(L.stack[n-1].Name, q); n-- {
				L.stack = L.stack[:n-1]
			}
		}
	}
	return item{key: cp, prefix: true}, true
}

// enter handles a directory of L whose turn has come: it is rolled up
// into a common prefix if its keys all hold the delimiter, and entered
// otherwise.
func (w *walker) enter(L *level, d Entry) (item, bool) {
	kp := L.base + d.Name + "/"
	if w.delim != "" {
		if i := strings.Index(kp[len(w.prefix):], w.delim); i >= 0 {
			// Every key below d holds the delimiter at the same place:
			// one common prefix, and no need to look inside.
			return w.commonPrefix(L, kp[:len(w.prefix)+i+len(w.delim)])
		}
	}
	child := &level{dir: joinRel(L.dir, d.Name), base: kp, more: true, self: d, selfKey: true, selfMarker: d.Marker}
	// Bound memory: a deep walk keeps no more than a few unread entries
	// per level; the rest is read again from the cursor later.
	if len(L.page) > keepOnDescend {
		L.page = nil
		L.more = true
	}
	w.levels = append(w.levels, child)
	if d.Marker {
		return item{key: kp, entry: d}, true
	}
	return item{}, false
}

// keepOnDescend is how many unread entries a level keeps while the walk
// is inside one of its directories.
const keepOnDescend = 32

// peek returns the next entry of L not yet taken and not skipped,
// reading a page if needed.
func (w *walker) peek(L *level) (Entry, bool, error) {
	for {
		for len(L.page) > 0 {
			e := L.page[0]
			if !strings.HasPrefix(e.Name, L.namePrefix) {
				// Names come in order: past the prefix's range.
				L.page, L.more = nil, false
				break
			}
			if L.skip != "" && strings.HasPrefix(e.Name, L.skip) {
				L.page = L.page[1:]
				L.cursor = e.Name
				continue
			}
			return e, true, nil
		}
		if !L.more {
			return Entry{}, false, nil
		}
		after := L.cursor
		if L.skip != "" {
			if s := nameLimit(L.skip + "\xff"); s > after {
				after = s
			}
		}
		limit := min(w.pageSize, max(w.want, 16))
		entries, more, err := w.l.List(w.ctx, L.dir, after, limit)
		if errors.Is(err, fs.ErrNotExist) {
			L.page, L.more = nil, false
			return Entry{}, false, nil
		}
		if err != nil {
			return Entry{}, false, fmt.Errorf("s3: listing %q: %w", L.dir, err)
		}
		prev := after
		for _, e := range entries {
			if e.Name <= prev || strings.ContainsAny(e.Name, "/\x00") || e.Name == "" {
				return Entry{}, false, fmt.Errorf("s3: listing %q: the lister returned %q after %q, out of order or not a name", L.dir, e.Name, prev)
			}
			prev = e.Name
		}
		L.page, L.more = entries, more && len(entries) > 0
	}
}

package s3

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

// memTree is a bucket as an in-memory directory tree: the real input of
// the listing algorithm (the gateway's Lister reads a cairn directory
// tree the same way). It checks the Lister contract and counts what the
// walk reads.
type memTree struct {
	t    testing.TB
	dirs map[string]*memDir // by path relative to the bucket; "" is the bucket

	lists   int            // List calls
	listed  map[string]int // List calls per directory
	fetched int            // entries returned by List
	lookups int
}

type memDir struct {
	entries map[string]Entry
	names   []string // sorted
}

func newTree(t testing.TB) *memTree {
	return &memTree{t: t, dirs: map[string]*memDir{"": {entries: map[string]Entry{}}}, listed: map[string]int{}}
}

func (m *memTree) put(dir string, e Entry) {
	d := m.dirs[dir]
	if _, ok := d.entries[e.Name]; !ok {
		i := sort.SearchStrings(d.names, e.Name)
		d.names = append(d.names, "")
		copy(d.names[i+1:], d.names[i:])
		d.names[i] = e.Name
	}
	d.entries[e.Name] = e
}

// mkdir makes the directory p and its parents; false if a file is in
// the way.
func (m *memTree) mkdir(p string) bool {
	if p == "" {
		return true
	}
	if _, ok := m.dirs[p]; ok {
		return true
	}
	parent, name := "", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		parent, name = p[:i], p[i+1:]
	}
	if !m.mkdir(parent) {
		return false
	}
	if e, ok := m.dirs[parent].entries[name]; ok && !e.IsDir {
		return false
	}
	m.put(parent, Entry{Name: name, IsDir: true, Sys: p})
	m.dirs[p] = &memDir{entries: map[string]Entry{}}
	return true
}

// file adds the file p; false if the path is taken by a directory or a
// parent is a file.
func (m *memTree) file(p string) bool {
	parent, name := "", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		parent, name = p[:i], p[i+1:]
	}
	if !m.mkdir(parent) {
		return false
	}
	if e, ok := m.dirs[parent].entries[name]; ok && e.IsDir {
		return false
	}
	m.put(parent, Entry{Name: name, Size: int64(len(p)), Sys: p})
	return true
}

// marker makes the directory p and marks it as the object "p/".
func (m *memTree) marker(p string) bool {
	if !m.mkdir(p) {
		return false
	}
	parent, name := "", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		parent, name = p[:i], p[i+1:]
	}
	e := m.dirs[parent].entries[name]
	e.Marker = true
	m.dirs[parent].entries[name] = e
	return true
}

// add adds a key the way the gateway would store it: a key ending in
// '/' is a marked directory, any other a file. Keys that cannot be
// paths, or that collide with what is there, are left out (false).
func (m *memTree) add(key string) bool {
	if ValidateKey(key) != nil {
		return false
	}
	if d, ok := strings.CutSuffix(key, "/"); ok {
		return m.marker(d)
	}
	return m.file(key)
}

func (m *memTree) List(_ context.Context, dir, startAfter string, limit int) ([]Entry, bool, error) {
	if strings.ContainsAny(startAfter, "/\x00") || len(startAfter) > cairn.MaxNameLen {
		m.t.Errorf("List(%q, startAfter %q): startAfter breaks the Lister contract", dir, startAfter)
	}
	if limit <= 0 {
		m.t.Errorf("List(%q): limit %d", dir, limit)
	}
	d, ok := m.dirs[dir]
	if !ok {
		return nil, false, fs.ErrNotExist
	}
	m.lists++
	m.listed[dir]++
	i := sort.Search(len(d.names), func(i int) bool { return d.names[i] > startAfter })
	var out []Entry
	for ; i < len(d.names) && len(out) < limit; i++ {
		out = append(out, d.entries[d.names[i]])
	}
	m.fetched += len(out)
	return out, i < len(d.names), nil
}

func (m *memTree) Lookup(_ context.Context, dir, name string) (Entry, bool, error) {
	m.lookups++
	d, ok := m.dirs[dir]
	if !ok {
		return Entry{}, false, nil
	}
	e, ok := d.entries[name]
	return e, ok, nil
}

// keys is the brute-force key set of the tree: every visible file, and
// every directory that is marked or has no visible entry as "dir/",
// sorted byte-wise.
func (m *memTree) keys() []string {
	var keys []string
	var walk func(dir, base string) bool
	walk = func(dir, base string) bool {
		visible := false
		d := m.dirs[dir]
		for _, n := range d.names {
			if Hidden(n) {
				continue
			}
			visible = true
			e := d.entries[n]
			if !e.IsDir {
				keys = append(keys, base+n)
				continue
			}
			if sub := walk(joinRel(dir, n), base+n+"/"); e.Marker || !sub {
				keys = append(keys, base+n+"/")
			}
		}
		return visible
	}
	walk("", "")
	sort.Strings(keys)
	return keys
}

// bruteList lists sorted keys as S3 defines it, by a scan of all of
// them.
func bruteList(keys []string, req ListRequest) *ListResult {
	res := &ListResult{}
	if req.MaxKeys <= 0 {
		return res
	}
	type it struct {
		key string
		cp  bool
	}
	var items []it
	for _, k := range keys {
		if !strings.HasPrefix(k, req.Prefix) || k <= req.After {
			continue
		}
		if req.Delimiter != "" {
			if i := strings.Index(k[len(req.Prefix):], req.Delimiter); i >= 0 {
				cp := k[:len(req.Prefix)+i+len(req.Delimiter)]
				if cp <= req.After || len(items) > 0 && items[len(items)-1].key == cp {
					continue
				}
				items = append(items, it{cp, true})
				continue
			}
		}
		items = append(items, it{k, false})
	}
	if len(items) > req.MaxKeys {
		items = items[:req.MaxKeys]
		res.IsTruncated = true
		res.Next = items[len(items)-1].key
	}
	for _, i := range items {
		if i.cp {
			res.CommonPrefixes = append(res.CommonPrefixes, i.key)
		} else {
			res.Keys = append(res.Keys, ListedKey{Key: i.key})
		}
	}
	return res
}

// summary is a ListResult reduced to what is compared.
func summary(r *ListResult) string {
	var b strings.Builder
	for _, k := range r.Keys {
		fmt.Fprintf(&b, "K %q\n", k.Key)
	}
	for _, p := range r.CommonPrefixes {
		fmt.Fprintf(&b, "P %q\n", p)
	}
	fmt.Fprintf(&b, "truncated=%v next=%q", r.IsTruncated, r.Next)
	return b.String()
}

func mustList(t testing.TB, l Lister, req ListRequest) *ListResult {
	t.Helper()
	res, err := List(context.Background(), l, req)
	if err != nil {
		t.Fatalf("List(%+v) = %v", req, err)
	}
	return res
}

// checkEntries checks that each listed key carries the entry it comes
// from.
func checkEntries(t testing.TB, res *ListResult) {
	t.Helper()
	for _, k := range res.Keys {
		if got := k.Entry.Sys.(string); got != strings.TrimSuffix(k.Key, "/") {
			t.Errorf("key %q carries the entry of %q", k.Key, got)
		}
		if k.Entry.IsDir != strings.HasSuffix(k.Key, "/") {
			t.Errorf("key %q: entry IsDir=%v", k.Key, k.Entry.IsDir)
		}
	}
}

func keysOf(r *ListResult) []string {
	out := []string{}
	for _, k := range r.Keys {
		out = append(out, k.Key)
	}
	return out
}

func TestListOrderIsByteWiseByWholeKey(t *testing.T) {
	m := newTree(t)
	for _, k := range []string{"a/b", "a-b", "a.c", "a0", "a", "b", "a/b-c", "a/b/c", "a/b.c", "é", "z", "a b", "a!"} {
		m.add(k) // "a" collides with the directory a, "a/b/c" with the file a/b: left out
	}
	got := keysOf(mustList(t, m, ListRequest{MaxKeys: 1000}))
	want := []string{"a b", "a!", "a-b", "a.c", "a/b", "a/b-c", "a/b.c", "a0", "b", "z", "é"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %q\nwant %q", got, want)
	}
	// A directory walk would give a/... before a-b.
	if !reflect.DeepEqual(got, m.keys()) {
		t.Errorf("keys = %q, brute force %q", got, m.keys())
	}
}

func TestListTable(t *testing.T) {
	m := newTree(t)
	for _, k := range []string{
		"photos/2023-12/a.jpg", "photos/2024/jan/a.jpg", "photos/2024/jan/b.jpg", "photos/2024-01.txt",
		"photos/2024.txt", "photos/20240101/x", "photos/readme", "docs/", "docs/guide.md", "empty-marker/",
		"notes/a-1", "notes/a-2", "notes/a/b", "notes/a.b", "top.txt", "日本/東京.txt", "日本語.txt",
	} {
		if !m.add(k) {
			t.Fatalf("add(%q) failed", k)
		}
	}
	m.mkdir("bare")                     // an empty directory: the key "bare/"
	m.file("hidden/.cairn-s3/tmp/x")    // only hidden entries: the key "hidden/"
	m.file(".cairn-s3/uploads/u/00001") // the gateway's state: never listed
	m.file("photos/.cairn-s3.part")
	m.file("bad\xffname")    // not UTF-8: hidden
	m.file("ctrl\x01/inner") // not XML: hidden, with what is under it

	cases := []struct {
		name     string
		req      ListRequest
		keys     []string
		prefixes []string
		next     string
	}{
		{"everything", ListRequest{MaxKeys: 1000}, []string{
			"bare/", "docs/", "docs/guide.md", "empty-marker/", "hidden/", "notes/a-1", "notes/a-2", "notes/a.b", "notes/a/b",
			"photos/2023-12/a.jpg", "photos/2024-01.txt", "photos/2024.txt", "photos/2024/jan/a.jpg", "photos/2024/jan/b.jpg",
			"photos/20240101/x", "photos/readme", "top.txt", "日本/東京.txt", "日本語.txt"}, nil, ""},
		{"the root with delimiter /", ListRequest{Delimiter: "/", MaxKeys: 1000}, []string{"top.txt", "日本語.txt"},
			[]string{"bare/", "docs/", "empty-marker/", "hidden/", "notes/", "photos/", "日本/"}, ""},
		{"a prefix ending mid-segment", ListRequest{Prefix: "photos/2024", MaxKeys: 1000}, []string{
			"photos/2024-01.txt", "photos/2024.txt", "photos/2024/jan/a.jpg", "photos/2024/jan/b.jpg", "photos/20240101/x"}, nil, ""},
		{"a prefix ending mid-segment, with delimiter", ListRequest{Prefix: "photos/2024", Delimiter: "/", MaxKeys: 1000},
			[]string{"photos/2024-01.txt", "photos/2024.txt"}, []string{"photos/2024/", "photos/20240101/"}, ""},
		{"a directory prefix with delimiter", ListRequest{Prefix: "notes/", Delimiter: "/", MaxKeys: 1000},
			[]string{"notes/a-1", "notes/a-2", "notes/a.b"}, []string{"notes/a/"}, ""},
		{"another delimiter", ListRequest{Prefix: "notes/", Delimiter: "-", MaxKeys: 1000},
			[]string{"notes/a.b", "notes/a/b"}, []string{"notes/a-"}, ""},
		{"a delimiter of several bytes", ListRequest{Delimiter: "/2024", MaxKeys: 1000}, []string{
			"bare/", "docs/", "docs/guide.md", "empty-marker/", "hidden/", "notes/a-1", "notes/a-2", "notes/a.b", "notes/a/b",
			"photos/2023-12/a.jpg", "photos/readme", "top.txt", "日本/東京.txt", "日本語.txt"}, []string{"photos/2024"}, ""},
		{"a marked directory as prefix lists itself", ListRequest{Prefix: "docs/", MaxKeys: 1000}, []string{"docs/", "docs/guide.md"}, nil, ""},
		{"an empty directory as prefix lists itself", ListRequest{Prefix: "bare/", MaxKeys: 1000}, []string{"bare/"}, nil, ""},
		{"after a marker", ListRequest{Prefix: "docs/", After: "docs/", MaxKeys: 1000}, []string{"docs/guide.md"}, nil, ""},
		{"after a key that does not exist", ListRequest{After: "photos/2024-", MaxKeys: 3}, []string{
			"photos/2024-01.txt", "photos/2024.txt", "photos/2024/jan/a.jpg"}, nil, "photos/2024/jan/a.jpg"},
		{"after a key whose directory comes later", ListRequest{After: "photos/2024-01.txt", Delimiter: "/", Prefix: "photos/", MaxKeys: 1000},
			[]string{"photos/2024.txt", "photos/readme"}, []string{"photos/2024/", "photos/20240101/"}, ""},
		{"after a key inside a common prefix", ListRequest{Prefix: "photos/", After: "photos/2024/jan/a.jpg", Delimiter: "/", MaxKeys: 1000},
			[]string{"photos/readme"}, []string{"photos/20240101/"}, ""},
		{"after a common prefix", ListRequest{After: "notes/", Delimiter: "/", MaxKeys: 1000}, []string{"top.txt", "日本語.txt"}, []string{"photos/", "日本/"}, ""},
		{"after everything with the prefix", ListRequest{Prefix: "docs/", After: "e", MaxKeys: 1000}, nil, nil, ""},
		{"after something before the prefix", ListRequest{Prefix: "notes/a-", After: "a", MaxKeys: 1000}, []string{"notes/a-1", "notes/a-2"}, nil, ""},
		{"truncated", ListRequest{Delimiter: "/", MaxKeys: 2}, nil, []string{"bare/", "docs/"}, "docs/"},
		{"no keys asked", ListRequest{MaxKeys: 0}, nil, nil, ""},
		{"a prefix through a file", ListRequest{Prefix: "top.txt/x", MaxKeys: 1000}, nil, nil, ""},
		{"a prefix of a missing directory", ListRequest{Prefix: "nowhere/", MaxKeys: 1000}, nil, nil, ""},
		{"a prefix with an empty segment", ListRequest{Prefix: "photos//", MaxKeys: 1000}, nil, nil, ""},
		{"a prefix into the gateway's state", ListRequest{Prefix: ".cairn-s3/", MaxKeys: 1000}, nil, nil, ""},
		{"a prefix of the reserved prefix", ListRequest{Prefix: "photos/.c", MaxKeys: 1000}, nil, nil, ""},
		{"a unicode prefix", ListRequest{Prefix: "日本", Delimiter: "/", MaxKeys: 1000}, []string{"日本語.txt"}, []string{"日本/"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mustList(t, m, c.req)
			checkEntries(t, res)
			want := &ListResult{CommonPrefixes: c.prefixes, IsTruncated: c.next != "", Next: c.next}
			for _, k := range c.keys {
				want.Keys = append(want.Keys, ListedKey{Key: k})
			}
			if summary(res) != summary(want) {
				t.Errorf("List(%+v) =\n%s\nwant\n%s", c.req, summary(res), summary(want))
			}
			if brute := bruteList(m.keys(), c.req); summary(res) != summary(brute) {
				t.Errorf("List(%+v) =\n%s\nbrute force\n%s", c.req, summary(res), summary(brute))
			}
		})
	}
}

// pageAll lists everything in pages of n, resuming from Next as
// ListObjectsV2 does with its continuation token.
func pageAll(t testing.TB, l Lister, req ListRequest, n int) (keys, prefixes []string, pages int) {
	t.Helper()
	req.MaxKeys = n
	for pages = 1; ; pages++ {
		res := mustList(t, l, req)
		keys = append(keys, keysOf(res)...)
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return keys, prefixes, pages
		}
		if len(res.Keys)+len(res.CommonPrefixes) != n {
			t.Fatalf("a truncated page of %d items, want %d", len(res.Keys)+len(res.CommonPrefixes), n)
		}
		after, err := DecodeContinuationToken(EncodeContinuationToken(res.Next))
		if err != nil || after != res.Next {
			t.Fatalf("continuation token of %q decodes to %q, %v", res.Next, after, err)
		}
		req.After = after
		if pages > 100000 {
			t.Fatal("listing does not end")
		}
	}
}

func TestListPaging(t *testing.T) {
	m := newTree(t)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		m.add(randomKey(r))
	}
	all := m.keys()
	for _, req := range []ListRequest{{}, {Delimiter: "/"}, {Prefix: "a"}, {Prefix: "a/", Delimiter: "/"}, {Delimiter: "-"}, {Delimiter: "b/"}} {
		full := bruteList(all, ListRequest{Prefix: req.Prefix, Delimiter: req.Delimiter, MaxKeys: 1 << 30})
		for _, n := range []int{1, 2, 7, 1000} {
			keys, prefixes, _ := pageAll(t, m, req, n)
			if !reflect.DeepEqual(append([]string{}, keys...), append([]string{}, keysOf(full)...)) || !reflect.DeepEqual(prefixes, full.CommonPrefixes) {
				t.Errorf("%+v in pages of %d: %d keys %d prefixes, want %d and %d", req, n, len(keys), len(prefixes), len(full.Keys), len(full.CommonPrefixes))
			}
		}
	}
}

func TestContinuationTokenRefusesForgeries(t *testing.T) {
	for _, tok := range []string{"", "!!!", "MGFiYw", EncodeContinuationToken("x")[1:]} {
		if _, err := DecodeContinuationToken(tok); !isCode(err, InvalidArgument) {
			t.Errorf("DecodeContinuationToken(%q) = %v, want InvalidArgument", tok, err)
		}
	}
}

func TestListReadsOnlyWhatItNeeds(t *testing.T) {
	m := newTree(t)
	for d := 0; d < 50; d++ {
		for f := 0; f < 40; f++ {
			m.file(fmt.Sprintf("dir%02d/file%03d", d, f))
		}
	}
	for f := 0; f < 5000; f++ {
		m.file(fmt.Sprintf("flat/%05d", f))
		m.file(fmt.Sprintf("grouped/g-%05d", f))
	}
	m.file("grouped/h")

	t.Run("a common prefix of / is a directory not entered", func(t *testing.T) {
		m.listed = map[string]int{}
		res := mustList(t, m, ListRequest{Delimiter: "/", MaxKeys: 1000})
		if len(res.CommonPrefixes) != 52 {
			t.Fatalf("%d common prefixes, want 52", len(res.CommonPrefixes))
		}
		for dir := range m.listed {
			if dir != "" {
				t.Errorf("the listing read the directory %q", dir)
			}
		}
	})
	t.Run("a page reads about as many entries as it returns", func(t *testing.T) {
		for _, after := range []string{"", "flat/02500", "flat/024"} {
			m.fetched, m.lists = 0, 0
			res := mustList(t, m, ListRequest{Prefix: "flat/", After: after, MaxKeys: 10})
			if len(res.Keys) != 10 || !res.IsTruncated {
				t.Fatalf("after %q: %d keys, truncated %v", after, len(res.Keys), res.IsTruncated)
			}
			if m.fetched > 32 || m.lists > 2 {
				t.Errorf("after %q: a page of 10 read %d entries in %d List calls", after, m.fetched, m.lists)
			}
		}
	})
	t.Run("a common prefix inside names skips them unread", func(t *testing.T) {
		m.fetched = 0
		res := mustList(t, m, ListRequest{Prefix: "grouped/", Delimiter: "-", MaxKeys: 1000})
		if want := []string{"grouped/g-"}; !reflect.DeepEqual(res.CommonPrefixes, want) || !reflect.DeepEqual(keysOf(res), []string{"grouped/h"}) {
			t.Fatalf("List = %s", summary(res))
		}
		if m.fetched > 2000 {
			t.Errorf("rolling up 5000 names into one common prefix read %d entries", m.fetched)
		}
	})
	t.Run("resuming does not walk from the start", func(t *testing.T) {
		m.listed = map[string]int{}
		mustList(t, m, ListRequest{After: "dir40/file020", MaxKeys: 5})
		for dir := range m.listed {
			if dir < "dir40" && dir != "" {
				t.Errorf("resuming after dir40/file020 read %q", dir)
			}
		}
	})
}

func TestListMemoryStaysBoundedInDeepTrees(t *testing.T) {
	// Every level holds many entries and the first is a directory: a
	// walk that kept each level's page would hold depth × page entries.
	m := newTree(t)
	dir := ""
	for depth := 0; depth < 40; depth++ {
		for f := 0; f < 300; f++ {
			m.file(joinRel(dir, fmt.Sprintf("f%03d", f)))
		}
		dir = joinRel(dir, "d")
		m.mkdir(dir)
	}
	w := &walker{ctx: context.Background(), l: m, pageSize: 1000, want: 1 << 20}
	if err := w.start(""); err != nil {
		t.Fatal(err)
	}
	maxHeld := 0
	for n := 0; ; n++ {
		_, ok, err := w.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		held := 0
		for _, L := range w.levels[:max(0, len(w.levels)-1)] {
			held += len(L.page) + len(L.stack)
		}
		maxHeld = max(maxHeld, held)
	}
	if limit := 40 * (keepOnDescend + 1); maxHeld > limit {
		t.Errorf("the walk held %d entries in outer levels, want at most %d", maxHeld, limit)
	}
}

// randomKey makes keys from an alphabet that exercises the ordering:
// bytes below '/' ('-', '.', ' ', '!'), '/', bytes above it, multi-byte
// UTF-8, and the reserved prefix.
func randomKey(r *rand.Rand) string {
	atoms := []string{"a", "b", "-", ".", "/", "0", "~", " ", "!", "é", "日", "a/", "b/", ReservedPrefix}
	var b strings.Builder
	for n := 1 + r.Intn(6); n > 0; n-- {
		b.WriteString(atoms[r.Intn(len(atoms))])
	}
	return b.String()
}

func randomTree(t testing.TB, r *rand.Rand, n int) *memTree {
	m := newTree(t)
	for i := 0; i < n; i++ {
		switch k := randomKey(r); r.Intn(10) {
		case 0:
			if d := strings.Trim(k, "/"); ValidateKey(d) == nil {
				m.mkdir(d) // an empty directory, or one made before its entries
			}
		case 1:
			// A name no key can have, inside a directory that may have
			// nothing else: it must be hidden, with all below it.
			if d := strings.Trim(k, "/"); ValidateKey(d) == nil {
				bad := []string{ReservedPrefix + "-part", "\xffbad", "ctl\x01", ReservedPrefix + "/deep/x"}[r.Intn(4)]
				m.file(d + "/" + bad)
			}
		default:
			m.add(k)
		}
	}
	return m
}

func TestListMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for round := 0; round < 3000; round++ {
		m := randomTree(t, r, 1+r.Intn(60))
		all := m.keys()
		req := ListRequest{MaxKeys: 1 + r.Intn(8), PageSize: 1 + r.Intn(5)}
		if r.Intn(2) == 0 {
			p := randomKey(r)
			req.Prefix = p[:r.Intn(len(p)+1)]
		}
		if r.Intn(2) == 0 {
			req.Delimiter = []string{"/", "-", "a", "b/", ".", "é"}[r.Intn(6)]
		}
		if r.Intn(2) == 0 {
			if len(all) > 0 && r.Intn(2) == 0 {
				req.After = all[r.Intn(len(all))]
			} else {
				req.After = randomKey(r)
			}
		}
		got := mustList(t, m, req)
		checkEntries(t, got)
		if want := bruteList(all, req); summary(got) != summary(want) {
			t.Fatalf("keys %q\nList(%+v) =\n%s\nbrute force:\n%s", all, req, summary(got), summary(want))
		}
	}
}

// FuzzList builds a tree and a request from the input and checks List
// against the brute-force scan of all keys.
func FuzzList(f *testing.F) {
	f.Add([]byte("a/b\x00a-b\x00a.c\x00a0"), "", "/", "", uint8(3))
	f.Add([]byte("x/\x00x/y\x00x-y/z\x00.cairn-s3/u"), "x", "-", "x-", uint8(1))
	f.Add([]byte("日本/a\x00日本語\x00é/"), "日", "/", "", uint8(9))
	f.Fuzz(func(t *testing.T, keys []byte, prefix, delim, after string, max uint8) {
		m := newTree(t)
		for _, k := range strings.Split(string(keys), "\x00") {
			if d, ok := strings.CutSuffix(k, "//"); ok {
				if ValidateKey(d) == nil {
					m.mkdir(d) // an unmarked directory
				}
				continue
			}
			m.add(k)
		}
		req := ListRequest{Prefix: prefix, Delimiter: delim, After: after, MaxKeys: int(max % 12), PageSize: 1 + int(max%5)}
		got, err := List(context.Background(), m, req)
		if err != nil {
			t.Fatalf("List(%+v) = %v", req, err)
		}
		if want := bruteList(m.keys(), req); summary(got) != summary(want) {
			t.Fatalf("keys %q\nList(%+v) =\n%s\nbrute force:\n%s", m.keys(), req, summary(got), summary(want))
		}
	})
}

package webhdfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// noFollow is an HTTP client that shows redirects instead of following
// them.
var noFollow = &http.Client{
	Timeout:       time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// do sends one request and reads the whole answer.
func do(t testing.TB, method, u string, body []byte) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, u, err)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// endpoint is a WebHDFS endpoint of a test cluster.
type endpoint struct {
	t    testing.TB
	base string // http://host:port/webhdfs/v1
}

func (w endpoint) url(p, op string, params ...string) string {
	q := url.Values{"op": {op}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Add(params[i], params[i+1])
	}
	return w.base + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

func (w endpoint) do(method, p, op string, body []byte, params ...string) answer {
	w.t.Helper()
	return do(w.t, method, w.url(p, op, params...), body)
}

// want checks an answer's status.
func want(t testing.TB, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s = %s, want status %d", what, a, status)
	}
}

// wantJSON checks an answer's status and decodes its JSON body.
func wantJSON(t testing.TB, what string, a answer, status int, v any) {
	t.Helper()
	want(t, what, a, status)
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want application/json", what, ct)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s: body %s: %v", what, a.body, err)
	}
}

// wantException checks an error answer: its status and RemoteException.
func wantException(t testing.TB, what string, a answer, status int, exception, class string) string {
	t.Helper()
	var body struct {
		RemoteException map[string]any
	}
	wantJSON(t, what, a, status, &body)
	re := body.RemoteException
	if re["exception"] != exception || re["javaClassName"] != class {
		t.Fatalf("%s = %s, want %s (%s)", what, a, exception, class)
	}
	msg, ok := re["message"].(string)
	if !ok || len(re) != 3 {
		t.Fatalf("%s: RemoteException %v, want exactly exception, javaClassName and message (a string)", what, re)
	}
	return msg
}

// create writes a file in Hadoop's two steps and returns the second
// step's answer.
func (w endpoint) create(p string, data []byte, params ...string) answer {
	w.t.Helper()
	a := w.do("PUT", p, "CREATE", nil, params...)
	want(w.t, "CREATE "+p+" (step 1)", a, http.StatusTemporaryRedirect)
	if len(a.body) != 0 {
		w.t.Fatalf("CREATE %s (step 1): body %q, want none", p, a.body)
	}
	loc := a.header.Get("Location")
	if loc == "" {
		w.t.Fatalf("CREATE %s (step 1): no Location", p)
	}
	return do(w.t, "PUT", loc, data)
}

// open reads a file in two steps.
func (w endpoint) open(p string, params ...string) answer {
	w.t.Helper()
	a := w.do("GET", p, "OPEN", nil, params...)
	if a.status != http.StatusTemporaryRedirect {
		return a
	}
	return do(w.t, "GET", a.header.Get("Location"), nil)
}

// start starts a cluster whose users are all superusers (members of
// the supergroup on the NameNode's host), so that the protocol's tests
// act as any user they like; TestWebHDFSPermissions checks refusals.
func start(t *testing.T, opts testcluster.Options) (*testcluster.Cluster, endpoint) {
	adjust := opts.NameNode
	opts.NameNode = func(cfg *namenode.Config) {
		cfg.Groups = func(string) []string { return []string{"supergroup"} }
		if adjust != nil {
			adjust(cfg)
		}
	}
	c := testcluster.Start(t, opts)
	c.WaitLeader(t)
	share(t, c)
	return c, endpoint{t: t, base: "http://" + c.NameNodeHTTPAddr() + "/webhdfs/v1"}
}

// share makes the root directory writable by everyone, as the tests'
// users (alice, bob, dr.who) write there; the NameNode's superuser (the
// OS user running the test) owns it.
func share(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	if err := c.Client(t).Chmod(context.Background(), "/", 0o777); err != nil {
		t.Fatal(err)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestWebHDFS drives every operation over real HTTP against a test
// cluster (1 MiB blocks, replication 3) and checks the answers' JSON
// field by field, as Hadoop's WebHDFS document gives them.
func TestWebHDFS(t *testing.T) {
	c, w := start(t, testcluster.Options{})
	cl := c.Client(t)
	ctx := context.Background()
	data := randBytes(2<<20 + 12345) // three blocks, the last one short

	t.Run("a two-step create writes the file and answers 201 with its location", func(t *testing.T) {
		a := w.do("PUT", "/dir/a.bin", "CREATE", nil, "user.name", "alice", "permission", "640", "replication", "2", "blocksize", "1048576")
		want(t, "CREATE step 1", a, http.StatusTemporaryRedirect)
		loc, err := url.Parse(a.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if loc.Path != "/webhdfs/v1/dir/a.bin" || q.Get("op") != "CREATE" || q.Get("user.name") != "alice" ||
			q.Get("namenoderpcaddress") == "" || q.Get("permission") != "640" {
			t.Fatalf("CREATE step 1: Location %s, want the DataNode's /webhdfs/v1/dir/a.bin with op, user.name, namenoderpcaddress and the parameters", loc)
		}
		isDN := false
		for i := range c.NumDataNodes() {
			isDN = isDN || loc.Host == c.DataNodeHTTPAddr(i)
		}
		if !isDN {
			t.Fatalf("CREATE step 1: Location host %s is no DataNode's web address", loc.Host)
		}
		if _, err := cl.Stat(ctx, "/dir/a.bin"); err == nil {
			t.Fatalf("CREATE step 1 created the file")
		}
		a = do(t, "PUT", loc.String(), data)
		want(t, "CREATE step 2", a, http.StatusCreated)
		if got := a.header.Get("Location"); !strings.HasSuffix(got, "/dir/a.bin") {
			t.Fatalf("CREATE step 2: Location %q, want the file's", got)
		}
		fi, err := cl.Stat(ctx, "/dir/a.bin")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size != int64(len(data)) || fi.Owner != "alice" || fi.Mode.Perm() != 0o640 || fi.Replication != 2 || fi.BlockSize != 1<<20 {
			t.Fatalf("Stat = %+v, want %d bytes, alice's, 0640, replication 2, 1 MiB blocks", fi, len(data))
		}
		entries, err := cl.ReadDir(ctx, "/dir")
		if err != nil || len(entries) != 1 {
			t.Fatalf("ReadDir(/dir) = %v, %v: want the file alone (no temporary left)", entries, err)
		}
	})

	t.Run("OPEN redirects to a DataNode holding the block of the offset and honours offset and length", func(t *testing.T) {
		a := w.do("GET", "/dir/a.bin", "OPEN", nil, "offset", "1500000")
		want(t, "OPEN", a, http.StatusTemporaryRedirect)
		loc, _ := url.Parse(a.header.Get("Location"))
		fi, err := cl.StatBlocks(ctx, "/dir/a.bin")
		if err != nil {
			t.Fatal(err)
		}
		holds := false
		for _, lb := range fi.Blocks {
			if lb.Offset <= 1500000 && 1500000 < lb.Offset+lb.Block.Len {
				for _, l := range lb.Locations {
					holds = holds || l.HTTPAddr == loc.Host
				}
			}
		}
		if !holds || loc.Query().Get("offset") != "1500000" {
			t.Fatalf("OPEN offset 1500000: Location %s, want a DataNode holding the second block, with the offset", loc)
		}
		for _, tc := range []struct {
			params   []string
			from, to int
		}{
			{nil, 0, len(data)},
			{[]string{"offset", "1000"}, 1000, len(data)},
			{[]string{"offset", "1048000", "length", "2000"}, 1048000, 1050000},
			{[]string{"offset", "5", "length", "0"}, 5, 5},
			{[]string{"length", "10", "buffersize", "4096"}, 0, 10},
			{[]string{"offset", fmt.Sprint(len(data))}, len(data), len(data)},
			{[]string{"offset", "100", "length", "999999999"}, 100, len(data)},
		} {
			a := w.open("/dir/a.bin", tc.params...)
			want(t, fmt.Sprintf("OPEN %v", tc.params), a, http.StatusOK)
			if !bytes.Equal(a.body, data[tc.from:tc.to]) {
				t.Fatalf("OPEN %v: %d bytes, want bytes [%d, %d) of the file", tc.params, len(a.body), tc.from, tc.to)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Fatalf("OPEN %v: Content-Type %q", tc.params, ct)
			}
		}
		msg := wantException(t, "OPEN past the end", w.open("/dir/a.bin", "offset", fmt.Sprint(len(data)+1)), 403, "EOFException", "java.io.EOFException")
		if msg != "Cannot seek after EOF" {
			t.Fatalf("OPEN past the end: message %q", msg)
		}
		wantException(t, "OPEN of a missing file", w.open("/dir/none"), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		wantException(t, "OPEN of a directory", w.open("/dir"), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		wantException(t, "OPEN with a negative offset", w.open("/dir/a.bin", "offset", "-1"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "OPEN with a bad length", w.open("/dir/a.bin", "length", "x"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
	})

	t.Run("GETFILEBLOCKLOCATIONS and CHECKACCESS", func(t *testing.T) {
		var bl struct {
			BlockLocations struct{ BlockLocation []map[string]any }
		}
		wantJSON(t, "GETFILEBLOCKLOCATIONS", w.do("GET", "/dir/a.bin", "GETFILEBLOCKLOCATIONS", nil, "offset", "1048577", "length", "10"), 200, &bl)
		l := bl.BlockLocations.BlockLocation
		if len(l) != 1 || l[0]["offset"] != float64(1<<20) || l[0]["length"] != float64(1<<20) || l[0]["corrupt"] != false ||
			len(l[0]["hosts"].([]any)) != 2 || len(l[0]["names"].([]any)) != 2 || l[0]["storageTypes"].([]any)[0] != "DISK" {
			t.Fatalf("GETFILEBLOCKLOCATIONS offset=1048577 length=10 = %v, want the second block on its 2 DataNodes", l)
		}
		wantJSON(t, "GETFILEBLOCKLOCATIONS", w.do("GET", "/dir/a.bin", "GETFILEBLOCKLOCATIONS", nil), 200, &bl)
		if len(bl.BlockLocations.BlockLocation) != 3 {
			t.Fatalf("GETFILEBLOCKLOCATIONS = %v, want 3 blocks", bl)
		}
		want(t, "CHECKACCESS", w.do("GET", "/dir/a.bin", "CHECKACCESS", nil, "fsaction", "rw-"), 200)
		wantException(t, "CHECKACCESS with a bad fsaction", w.do("GET", "/dir/a.bin", "CHECKACCESS", nil, "fsaction", "rwz"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "CHECKACCESS of a missing file", w.do("GET", "/dir/none", "CHECKACCESS", nil, "fsaction", "r--"), 404, "FileNotFoundException", "java.io.FileNotFoundException")
	})

	t.Run("GETFILESTATUS answers Hadoop's FileStatus, field by field", func(t *testing.T) {
		var got map[string]map[string]any
		wantJSON(t, "GETFILESTATUS", w.do("GET", "/dir/a.bin", "GETFILESTATUS", nil), 200, &got)
		fi, _ := cl.Stat(ctx, "/dir/a.bin")
		st := got["FileStatus"]
		wantStatus := map[string]any{
			"accessTime": float64(fi.ModTime.UnixMilli()), "blockSize": float64(1 << 20), "childrenNum": float64(0),
			"fileId": float64(fi.FileID), "group": fi.Group, "length": float64(len(data)),
			"modificationTime": float64(fi.ModTime.UnixMilli()), "owner": "alice", "pathSuffix": "",
			"permission": "640", "replication": float64(2), "storagePolicy": float64(0), "type": "FILE",
		}
		if !reflect.DeepEqual(st, wantStatus) || len(got) != 1 {
			t.Fatalf("GETFILESTATUS = %v, want {FileStatus: %v}", got, wantStatus)
		}
		wantJSON(t, "GETFILESTATUS of a directory", w.do("GET", "/dir", "GETFILESTATUS", nil), 200, &got)
		if st := got["FileStatus"]; st["type"] != "DIRECTORY" || st["childrenNum"] != float64(1) || st["permission"] != "755" ||
			st["length"] != float64(0) || st["replication"] != float64(0) || st["blockSize"] != float64(0) {
			t.Fatalf("GETFILESTATUS of a directory = %v", st)
		}
		wantJSON(t, "GETFILESTATUS of /", do(t, "GET", w.base+"/?op=GETFILESTATUS", nil), 200, &got)
		if got["FileStatus"]["type"] != "DIRECTORY" {
			t.Fatalf("GETFILESTATUS of / = %v", got)
		}
		wantJSON(t, "GETFILESTATUS of /webhdfs/v1", do(t, "GET", w.base+"?op=getfilestatus", nil), 200, &got)
		msg := wantException(t, "GETFILESTATUS of a missing file", w.do("GET", "/dir/none", "GETFILESTATUS", nil), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		if msg != "File does not exist: /dir/none" {
			t.Fatalf("GETFILESTATUS of a missing file: message %q", msg)
		}
	})

	t.Run("MKDIRS, LISTSTATUS and LISTSTATUS_BATCH", func(t *testing.T) {
		var b map[string]bool
		wantJSON(t, "MKDIRS", w.do("PUT", "/list/sub", "MKDIRS", nil, "permission", "700", "user.name", "bob"), 200, &b)
		if !reflect.DeepEqual(b, map[string]bool{"boolean": true}) {
			t.Fatalf("MKDIRS = %v", b)
		}
		wantJSON(t, "MKDIRS again", w.do("PUT", "/list/sub", "MKDIRS", nil), 200, &b)
		if !b["boolean"] {
			t.Fatalf("MKDIRS of an existing directory = %v", b)
		}
		fi, err := cl.Stat(ctx, "/list/sub")
		if err != nil || fi.Owner != "bob" || fi.Mode.Perm() != 0o700 {
			t.Fatalf("Stat(/list/sub) = %+v, %v: want bob's, 0700", fi, err)
		}
		wantException(t, "MKDIRS of a file", w.do("PUT", "/dir/a.bin", "MKDIRS", nil), 403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException")
		wantException(t, "MKDIRS under a file", w.do("PUT", "/dir/a.bin/x", "MKDIRS", nil), 403, "ParentNotDirectoryException", "org.apache.hadoop.fs.ParentNotDirectoryException")
		var names []string
		for i := range 5 {
			n := fmt.Sprintf("f%d", i)
			names = append(names, n)
			want(t, "CREATE", w.create("/list/"+n, []byte(n)), 201)
		}
		names = append(names, "sub")
		var ls struct {
			FileStatuses struct{ FileStatus []map[string]any }
		}
		wantJSON(t, "LISTSTATUS", w.do("GET", "/list", "LISTSTATUS", nil), 200, &ls)
		var got []string
		for _, st := range ls.FileStatuses.FileStatus {
			got = append(got, st["pathSuffix"].(string))
		}
		if !reflect.DeepEqual(got, names) {
			t.Fatalf("LISTSTATUS /list = %v, want %v", got, names)
		}
		wantJSON(t, "LISTSTATUS of a file", w.do("GET", "/list/f0", "LISTSTATUS", nil), 200, &ls)
		if len(ls.FileStatuses.FileStatus) != 1 || ls.FileStatuses.FileStatus[0]["pathSuffix"] != "" || ls.FileStatuses.FileStatus[0]["length"] != float64(2) {
			t.Fatalf("LISTSTATUS of a file = %v", ls)
		}
		wantJSON(t, "LISTSTATUS of an empty directory", w.do("GET", "/list/sub", "LISTSTATUS", nil), 200, &ls)
		if ls.FileStatuses.FileStatus == nil || len(ls.FileStatuses.FileStatus) != 0 {
			t.Fatalf("LISTSTATUS of an empty directory = %s, want an empty array", w.do("GET", "/list/sub", "LISTSTATUS", nil).body)
		}
		wantException(t, "LISTSTATUS of a missing directory", w.do("GET", "/none", "LISTSTATUS", nil), 404, "FileNotFoundException", "java.io.FileNotFoundException")

		var batch struct {
			DirectoryListing struct {
				PartialListing struct {
					FileStatuses struct{ FileStatus []map[string]any }
				} `json:"partialListing"`
				RemainingEntries *int `json:"remainingEntries"`
			}
		}
		wantJSON(t, "LISTSTATUS_BATCH", w.do("GET", "/list", "LISTSTATUS_BATCH", nil, "startAfter", "f2"), 200, &batch)
		got = nil
		for _, st := range batch.DirectoryListing.PartialListing.FileStatuses.FileStatus {
			got = append(got, st["pathSuffix"].(string))
		}
		if !reflect.DeepEqual(got, []string{"f3", "f4", "sub"}) || batch.DirectoryListing.RemainingEntries == nil || *batch.DirectoryListing.RemainingEntries != 0 {
			t.Fatalf("LISTSTATUS_BATCH startAfter=f2 = %v (remaining %v), want [f3 f4 sub], 0 remaining", got, batch.DirectoryListing.RemainingEntries)
		}
	})

	t.Run("LISTSTATUS_BATCH pages a large directory", func(t *testing.T) {
		for i := range 1005 {
			if err := cl.Touch(ctx, fmt.Sprintf("/big/%04d", i)); err != nil {
				if err := cl.MkdirAll(ctx, "/big", 0); err != nil {
					t.Fatal(err)
				}
				if err := cl.Touch(ctx, fmt.Sprintf("/big/%04d", i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		var batch struct {
			DirectoryListing struct {
				PartialListing struct {
					FileStatuses struct{ FileStatus []map[string]any }
				} `json:"partialListing"`
				RemainingEntries int `json:"remainingEntries"`
			}
		}
		seen, after := 0, ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatalf("LISTSTATUS_BATCH: more than 3 pages")
			}
			wantJSON(t, "LISTSTATUS_BATCH", w.do("GET", "/big", "LISTSTATUS_BATCH", nil, "startAfter", after), 200, &batch)
			l := batch.DirectoryListing.PartialListing.FileStatuses.FileStatus
			seen += len(l)
			if batch.DirectoryListing.RemainingEntries == 0 {
				break
			}
			after = l[len(l)-1]["pathSuffix"].(string)
		}
		if seen != 1005 {
			t.Fatalf("LISTSTATUS_BATCH pages held %d entries, want 1005", seen)
		}
		var ls struct {
			FileStatuses struct{ FileStatus []map[string]any }
		}
		wantJSON(t, "LISTSTATUS", w.do("GET", "/big", "LISTSTATUS", nil), 200, &ls)
		if len(ls.FileStatuses.FileStatus) != 1005 {
			t.Fatalf("LISTSTATUS /big: %d entries, want 1005", len(ls.FileStatuses.FileStatus))
		}
	})

	t.Run("overwrite=false on an existing file is FileAlreadyExistsException 403, overwrite=true replaces it", func(t *testing.T) {
		msg := wantException(t, "CREATE of an existing file", w.do("PUT", "/list/f0", "CREATE", nil), 403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException")
		if !strings.Contains(msg, "/list/f0") {
			t.Fatalf("message %q does not name the file", msg)
		}
		wantException(t, "CREATE of a directory", w.do("PUT", "/list/sub", "CREATE", nil, "overwrite", "true"), 403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException")
		want(t, "CREATE overwrite=true", w.create("/list/f0", []byte("new"), "overwrite", "true"), 201)
		if a := w.open("/list/f0"); string(a.body) != "new" {
			t.Fatalf("OPEN after overwrite = %s", a)
		}
		// A second step sent to an existing file (another writer came
		// first) fails the same way and leaves the file as it was.
		loc := w.do("PUT", "/list/race", "CREATE", nil).header.Get("Location")
		want(t, "CREATE", w.create("/list/race", []byte("first")), 201)
		wantException(t, "a second step onto a file created meanwhile", do(t, "PUT", loc, []byte("second")), 403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException")
		if a := w.open("/list/race"); string(a.body) != "first" {
			t.Fatalf("OPEN = %s, want the first writer's bytes", a)
		}
	})

	t.Run("createparent=false needs the parent", func(t *testing.T) {
		a := w.do("PUT", "/noparent/x", "CREATE", nil, "createparent", "false")
		want(t, "CREATE step 1", a, http.StatusTemporaryRedirect)
		wantException(t, "CREATE step 2 without a parent", do(t, "PUT", a.header.Get("Location"), []byte("x")), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		if _, err := cl.Stat(ctx, "/noparent"); err == nil {
			t.Fatalf("createparent=false made the parent")
		}
		want(t, "CREATE with parents", w.create("/noparent/x", []byte("x")), 201)
	})

	t.Run("noredirect=true answers 200 with the Location in JSON", func(t *testing.T) {
		var loc map[string]string
		wantJSON(t, "CREATE noredirect", w.do("PUT", "/nr/x", "CREATE", nil, "noredirect", "true"), 200, &loc)
		if len(loc) != 1 || !strings.Contains(loc["Location"], "/webhdfs/v1/nr/x?") {
			t.Fatalf("CREATE noredirect = %v", loc)
		}
		want(t, "CREATE step 2", do(t, "PUT", loc["Location"], []byte("hello")), 201)
		wantJSON(t, "OPEN noredirect", w.do("GET", "/nr/x", "OPEN", nil, "noredirect", "true"), 200, &loc)
		if a := do(t, "GET", loc["Location"], nil); string(a.body) != "hello" {
			t.Fatalf("OPEN at %s = %s", loc["Location"], a)
		}
	})

	t.Run("an upload cut short leaves no file and no temporary", func(t *testing.T) {
		loc := w.do("PUT", "/cut/x", "CREATE", nil).header.Get("Location")
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("PUT", loc, pr)
		req.ContentLength = 10 << 20
		done := make(chan error, 1)
		go func() {
			resp, err := noFollow.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			done <- err
		}()
		pw.Write(randBytes(3 << 20))
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-done
		c.WaitFor(t, "the temporary to go", func(ctx context.Context) (bool, error) {
			entries, err := cl.ReadDir(ctx, "/cut")
			return err == nil && len(entries) == 0, nil
		})
	})

	t.Run("GETCONTENTSUMMARY, GETQUOTAUSAGE, GETHOMEDIRECTORY, GETTRASHROOT, GETSERVERDEFAULTS", func(t *testing.T) {
		var cs map[string]map[string]any
		wantJSON(t, "GETCONTENTSUMMARY", w.do("GET", "/dir", "GETCONTENTSUMMARY", nil), 200, &cs)
		wantCS := map[string]any{
			"directoryCount": float64(1), "fileCount": float64(1), "length": float64(len(data)), "quota": float64(-1),
			"spaceConsumed": float64(2 * len(data)), "spaceQuota": float64(-1), "typeQuota": map[string]any{},
		}
		if !reflect.DeepEqual(cs["ContentSummary"], wantCS) {
			t.Fatalf("GETCONTENTSUMMARY = %v, want %v", cs, wantCS)
		}
		wantJSON(t, "GETQUOTAUSAGE", w.do("GET", "/dir", "GETQUOTAUSAGE", nil), 200, &cs)
		if cs["QuotaUsage"]["fileAndDirectoryCount"] != float64(2) {
			t.Fatalf("GETQUOTAUSAGE = %v", cs)
		}
		var p map[string]string
		wantJSON(t, "GETHOMEDIRECTORY", w.do("GET", "/", "GETHOMEDIRECTORY", nil, "user.name", "carol"), 200, &p)
		if !reflect.DeepEqual(p, map[string]string{"Path": "/user/carol"}) {
			t.Fatalf("GETHOMEDIRECTORY = %v", p)
		}
		wantJSON(t, "GETHOMEDIRECTORY", w.do("GET", "/", "GETHOMEDIRECTORY", nil), 200, &p)
		if p["Path"] != "/user/dr.who" {
			t.Fatalf("GETHOMEDIRECTORY without user.name = %v", p)
		}
		wantJSON(t, "GETTRASHROOT", w.do("GET", "/x", "GETTRASHROOT", nil, "user.name", "carol"), 200, &p)
		if p["Path"] != "/user/carol/.Trash" {
			t.Fatalf("GETTRASHROOT = %v", p)
		}
		var d map[string]map[string]any
		wantJSON(t, "GETSERVERDEFAULTS", w.do("GET", "/", "GETSERVERDEFAULTS", nil), 200, &d)
		if d["FsServerDefaults"]["blockSize"] != float64(1<<20) || d["FsServerDefaults"]["replication"] != float64(3) || d["FsServerDefaults"]["bytesPerChecksum"] != float64(512) {
			t.Fatalf("GETSERVERDEFAULTS = %v", d)
		}
	})

	t.Run("GETFILECHECKSUM is MD5-of-MD5-of-CRC32C, computed on a DataNode", func(t *testing.T) {
		a := w.do("GET", "/dir/a.bin", "GETFILECHECKSUM", nil)
		want(t, "GETFILECHECKSUM", a, http.StatusTemporaryRedirect)
		var sum map[string]map[string]any
		wantJSON(t, "GETFILECHECKSUM at the DataNode", do(t, "GET", a.header.Get("Location"), nil), 200, &sum)
		fc := sum["FileChecksum"]
		if fc["algorithm"] != "MD5-of-2048MD5-of-512CRC32C" || fc["length"] != float64(28) || len(fc["bytes"].(string)) != 56 ||
			!strings.HasPrefix(fc["bytes"].(string), "00000200"+"0000000000000800") {
			t.Fatalf("GETFILECHECKSUM = %v", fc)
		}
		// The same bytes written again give the same checksum; other
		// bytes another.
		want(t, "CREATE", w.create("/dir/b.bin", data, "blocksize", "1048576"), 201)
		var sum2 map[string]map[string]any
		wantJSON(t, "GETFILECHECKSUM", do(t, "GET", w.do("GET", "/dir/b.bin", "GETFILECHECKSUM", nil).header.Get("Location"), nil), 200, &sum2)
		if !reflect.DeepEqual(sum, sum2) {
			t.Fatalf("GETFILECHECKSUM of a copy = %v, want %v", sum2, sum)
		}
		want(t, "CREATE", w.create("/dir/empty", nil), 201)
		wantJSON(t, "GETFILECHECKSUM of an empty file", do(t, "GET", w.do("GET", "/dir/empty", "GETFILECHECKSUM", nil).header.Get("Location"), nil), 200, &sum)
		if fc := sum["FileChecksum"]; fc["algorithm"] != "MD5-of-0MD5-of-0CRC32" || fc["bytes"] != "00000000000000000000000070bc8f4b72a86921468bf8e8441dce51" {
			t.Fatalf("GETFILECHECKSUM of an empty file = %v, want HDFS's", fc)
		}
		if err := cl.Remove(ctx, "/dir/b.bin"); err != nil {
			t.Fatal(err)
		}
		if err := cl.Remove(ctx, "/dir/empty"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("extended attributes", func(t *testing.T) {
		set := func(name, value, flag string) answer {
			return w.do("PUT", "/dir/a.bin", "SETXATTR", nil, "xattr.name", name, "xattr.value", value, "flag", flag)
		}
		want(t, "SETXATTR text", set("user.a", `"hello"`, "CREATE"), 200)
		want(t, "SETXATTR hex", set("user.b", "0x0102ff", "CREATE"), 200)
		want(t, "SETXATTR base64", set("user.c", "0sAAEC", "CREATE"), 200)
		wantException(t, "SETXATTR CREATE of an existing one", set("user.a", "x", "CREATE"), 403, "IOException", "java.io.IOException")
		wantException(t, "SETXATTR REPLACE of a missing one", set("user.z", "x", "REPLACE"), 403, "IOException", "java.io.IOException")
		wantException(t, "SETXATTR without a flag", w.do("PUT", "/dir/a.bin", "SETXATTR", nil, "xattr.name", "user.q", "xattr.value", "1"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "SETXATTR of a bad name", set("nons", "x", "CREATE"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		want(t, "SETXATTR REPLACE", set("user.a", `"hi"`, "REPLACE"), 200)
		v, err := cl.GetXAttrs(ctx, "/dir/a.bin")
		if err != nil || string(v["user.a"]) != "hi" || string(v["user.b"]) != "\x01\x02\xff" || string(v["user.c"]) != "\x00\x01\x02" {
			t.Fatalf("GetXAttrs = %q, %v", v, err)
		}
		var xs struct{ XAttrs []map[string]string }
		wantJSON(t, "GETXATTRS", w.do("GET", "/dir/a.bin", "GETXATTRS", nil), 200, &xs)
		wantX := []map[string]string{{"name": "user.a", "value": `"hi"`}, {"name": "user.b", "value": "\"\x01\x02\ufffd\""}, {"name": "user.c", "value": "\"\x00\x01\x02\""}}
		if !reflect.DeepEqual(xs.XAttrs, wantX) {
			t.Fatalf("GETXATTRS = %q, want %q", xs.XAttrs, wantX)
		}
		wantJSON(t, "GETXATTRS hex", w.do("GET", "/dir/a.bin", "GETXATTRS", nil, "xattr.name", "user.b", "encoding", "hex"), 200, &xs)
		if !reflect.DeepEqual(xs.XAttrs, []map[string]string{{"name": "user.b", "value": "0x0102ff"}}) {
			t.Fatalf("GETXATTRS hex = %v", xs.XAttrs)
		}
		wantJSON(t, "GETXATTRS base64 of two", w.do("GET", "/dir/a.bin", "GETXATTRS", nil, "xattr.name", "user.c", "xattr.name", "user.a", "encoding", "BASE64"), 200, &xs)
		if !reflect.DeepEqual(xs.XAttrs, []map[string]string{{"name": "user.a", "value": "0saGk="}, {"name": "user.c", "value": "0sAAEC"}}) {
			t.Fatalf("GETXATTRS base64 = %v", xs.XAttrs)
		}
		wantException(t, "GETXATTRS of a missing one", w.do("GET", "/dir/a.bin", "GETXATTRS", nil, "xattr.name", "user.nope"), 403, "IOException", "java.io.IOException")
		var names map[string]string
		wantJSON(t, "LISTXATTRS", w.do("GET", "/dir/a.bin", "LISTXATTRS", nil), 200, &names)
		if !reflect.DeepEqual(names, map[string]string{"XAttrNames": `["user.a","user.b","user.c"]`}) {
			t.Fatalf("LISTXATTRS = %v", names)
		}
		want(t, "REMOVEXATTR", w.do("PUT", "/dir/a.bin", "REMOVEXATTR", nil, "xattr.name", "user.b"), 200)
		wantException(t, "REMOVEXATTR of a missing one", w.do("PUT", "/dir/a.bin", "REMOVEXATTR", nil, "xattr.name", "user.b"), 403, "IOException", "java.io.IOException")
		wantException(t, "LISTXATTRS of a missing file", w.do("GET", "/nope", "LISTXATTRS", nil), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		wantJSON(t, "LISTXATTRS", w.do("GET", "/dir", "LISTXATTRS", nil), 200, &names)
		if names["XAttrNames"] != "[]" {
			t.Fatalf("LISTXATTRS of a directory without any = %v", names)
		}
	})

	t.Run("SETPERMISSION, SETOWNER, SETREPLICATION, SETTIMES", func(t *testing.T) {
		a := w.do("PUT", "/dir/a.bin", "SETPERMISSION", nil, "permission", "600")
		want(t, "SETPERMISSION", a, 200)
		if len(a.body) != 0 {
			t.Fatalf("SETPERMISSION: body %q, want none", a.body)
		}
		want(t, "SETOWNER", w.do("PUT", "/dir/a.bin", "SETOWNER", nil, "owner", "dave", "group", "staff"), 200)
		wantException(t, "SETOWNER of nobody", w.do("PUT", "/dir/a.bin", "SETOWNER", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "SETPERMISSION 999", w.do("PUT", "/dir/a.bin", "SETPERMISSION", nil, "permission", "999"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		var b map[string]bool
		wantJSON(t, "SETREPLICATION", w.do("PUT", "/dir/a.bin", "SETREPLICATION", nil, "replication", "3"), 200, &b)
		if !b["boolean"] {
			t.Fatalf("SETREPLICATION = %v", b)
		}
		wantJSON(t, "SETREPLICATION of a directory", w.do("PUT", "/dir", "SETREPLICATION", nil, "replication", "3"), 200, &b)
		if b["boolean"] {
			t.Fatalf("SETREPLICATION of a directory = %v, want false", b)
		}
		mtime := time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC)
		want(t, "SETTIMES", w.do("PUT", "/dir/a.bin", "SETTIMES", nil, "modificationtime", fmt.Sprint(mtime.UnixMilli()), "accesstime", "-1"), 200)
		fi, err := cl.Stat(ctx, "/dir/a.bin")
		if err != nil || fi.Mode.Perm() != 0o600 || fi.Owner != "dave" || fi.Group != "staff" || fi.Replication != 3 || !fi.ModTime.Equal(mtime) {
			t.Fatalf("Stat = %+v, %v: want 0600, dave:staff, replication 3, mtime %v", fi, err, mtime)
		}
		wantException(t, "SETTIMES of a missing file", w.do("PUT", "/nope", "SETTIMES", nil, "modificationtime", "1"), 404, "FileNotFoundException", "java.io.FileNotFoundException")
	})

	t.Run("RENAME and DELETE answer booleans as Hadoop's", func(t *testing.T) {
		want(t, "CREATE", w.create("/mv/a", []byte("a")), 201)
		var b map[string]bool
		wantJSON(t, "RENAME", w.do("PUT", "/mv/a", "RENAME", nil, "destination", "/mv/b"), 200, &b)
		if !b["boolean"] {
			t.Fatalf("RENAME = %v", b)
		}
		wantJSON(t, "RENAME of a missing file", w.do("PUT", "/mv/a", "RENAME", nil, "destination", "/mv/c"), 200, &b)
		if b["boolean"] {
			t.Fatalf("RENAME of a missing file = %v, want false", b)
		}
		wantException(t, "RENAME without a destination", w.do("PUT", "/mv/b", "RENAME", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "RENAME to a relative path", w.do("PUT", "/mv/b", "RENAME", nil, "destination", "x"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		want(t, "CREATE", w.create("/mv/c", []byte("c")), 201)
		wantJSON(t, "RENAME onto a file", w.do("PUT", "/mv/b", "RENAME", nil, "destination", "/mv/c"), 200, &b)
		if b["boolean"] {
			t.Fatalf("RENAME onto a file = %v, want false", b)
		}
		wantException(t, "RENAME onto a file with renameoptions=NONE", w.do("PUT", "/mv/b", "RENAME", nil, "destination", "/mv/c", "renameoptions", "NONE"), 403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException")
		want(t, "RENAME with renameoptions=OVERWRITE", w.do("PUT", "/mv/b", "RENAME", nil, "destination", "/mv/c", "renameoptions", "OVERWRITE"), 200)
		if a := w.open("/mv/c"); string(a.body) != "a" {
			t.Fatalf("OPEN after RENAME OVERWRITE = %s", a)
		}
		wantException(t, "DELETE of a non-empty directory", w.do("DELETE", "/mv", "DELETE", nil), 403, "PathIsNotEmptyDirectoryException", "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException")
		wantJSON(t, "DELETE recursive", w.do("DELETE", "/mv", "DELETE", nil, "recursive", "true"), 200, &b)
		if !b["boolean"] {
			t.Fatalf("DELETE recursive = %v", b)
		}
		wantJSON(t, "DELETE of /", w.do("DELETE", "/", "DELETE", nil, "recursive", "true"), 200, &b)
		if b["boolean"] {
			t.Fatalf("DELETE of / = %v, want false", b)
		}
		if _, err := cl.Stat(ctx, "/dir/a.bin"); err != nil {
			t.Fatalf("after DELETE of /: %v", err)
		}
		wantJSON(t, "DELETE of a missing path", w.do("DELETE", "/mv", "DELETE", nil, "recursive", "true"), 200, &b)
		if b["boolean"] {
			t.Fatalf("DELETE of a missing path = %v, want false", b)
		}
	})

	t.Run("unknown and unsupported operations and bad paths", func(t *testing.T) {
		msg := wantException(t, "GET op=FOO", w.do("GET", "/", "FOO", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		if !strings.HasPrefix(msg, `Invalid value for webhdfs parameter "op"`) {
			t.Fatalf("GET op=FOO: message %q", msg)
		}
		wantException(t, "GET op=MKDIRS", w.do("GET", "/x", "MKDIRS", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "no op", do(t, "GET", w.base+"/x", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "TRUNCATE", w.do("POST", "/dir/a.bin", "TRUNCATE", nil, "newlength", "1"), 400, "UnsupportedOperationException", "java.lang.UnsupportedOperationException")
		wantException(t, "CREATESYMLINK", w.do("PUT", "/dir/l", "CREATESYMLINK", nil, "destination", "/dir/a.bin"), 400, "UnsupportedOperationException", "java.lang.UnsupportedOperationException")
		for _, p := range []string{"/a/../b", "/a//b", "/a/./b", "/a/%00b"} {
			wantException(t, "GETFILESTATUS "+p, do(t, "GET", w.base+p+"?op=GETFILESTATUS", nil), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		}
		wantException(t, "a bad user.name", w.do("GET", "/", "GETFILESTATUS", nil, "user.name", "a b"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		wantException(t, "a bad boolean", w.do("PUT", "/x", "CREATE", nil, "overwrite", "yes"), 400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
		// A delegation token is ignored until cairn has security.
		want(t, "GETFILESTATUS with delegation", w.do("GET", "/", "GETFILESTATUS", nil, "delegation", "abc"), 200)
		// Percent-encoded names are decoded.
		want(t, "CREATE of a name with a space and a %", w.create("/enc/a b%c", []byte("x")), 201)
		if _, err := cl.Stat(ctx, "/enc/a b%c"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CONCAT and APPEND", func(t *testing.T) {
		want(t, "CREATE", w.create("/cat/t", []byte("one ")), 201)
		want(t, "CREATE", w.create("/cat/s1", []byte("two ")), 201)
		want(t, "CREATE", w.create("/cat/s2", []byte("three")), 201)
		a := w.do("POST", "/cat/t", "CONCAT", nil, "sources", "/cat/s1,/cat/s2")
		want(t, "CONCAT", a, 200)
		if a := w.open("/cat/t"); string(a.body) != "one two three" {
			t.Fatalf("OPEN after CONCAT = %s", a)
		}
		a = w.do("POST", "/cat/t", "APPEND", nil)
		want(t, "APPEND step 1", a, http.StatusTemporaryRedirect)
		want(t, "APPEND step 2", do(t, "POST", a.header.Get("Location"), []byte(" four")), 200)
		if a := w.open("/cat/t"); string(a.body) != "one two three four" {
			t.Fatalf("OPEN after APPEND = %s", a)
		}
		wantException(t, "APPEND to a missing file", w.do("POST", "/cat/none", "APPEND", nil), 404, "FileNotFoundException", "java.io.FileNotFoundException")
		entries, _ := cl.ReadDir(ctx, "/cat")
		if len(entries) != 1 {
			t.Fatalf("ReadDir(/cat) = %v, want t alone", entries)
		}
	})
}

// TestWebHDFSFollowerRedirects: in a NameNode group, a member that does
// not lead sends every request to the leader's web address, which
// serves it.
func TestWebHDFSFollowerRedirects(t *testing.T) {
	c, _ := start(t, testcluster.Options{NameNodes: 3})
	lead := c.WaitLeader(t)
	https := c.NameNodeHTTPAddrs()
	follower := (lead + 1) % len(https)
	f := endpoint{t: t, base: "http://" + https[follower] + "/webhdfs/v1"}
	a := f.do("PUT", "/g/x", "MKDIRS", nil, "user.name", "erin")
	want(t, "MKDIRS at a follower", a, http.StatusTemporaryRedirect)
	loc, _ := url.Parse(a.header.Get("Location"))
	if loc.Host != https[lead] || loc.Path != "/webhdfs/v1/g/x" || loc.Query().Get("op") != "MKDIRS" || loc.Query().Get("user.name") != "erin" {
		t.Fatalf("MKDIRS at a follower: Location %s, want the same request at the leader's %s", loc, https[lead])
	}
	var b map[string]bool
	wantJSON(t, "MKDIRS at the leader", do(t, "PUT", loc.String(), nil), 200, &b)
	// A client that follows redirects (curl -L) writes and reads
	// through a follower.
	req, _ := http.NewRequest("PUT", f.url("/g/x/file", "CREATE", "user.name", "erin"), bytes.NewReader([]byte("through a follower")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("CREATE following redirects through a follower: status %d", resp.StatusCode)
	}
	resp, err = http.Get(f.url("/g/x/file", "OPEN"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "through a follower" {
		t.Fatalf("OPEN through a follower = %d %q", resp.StatusCode, body)
	}
	var ls struct {
		FileStatuses struct{ FileStatus []map[string]any }
	}
	wantJSON(t, "LISTSTATUS at the leader", do(t, "GET", "http://"+https[lead]+"/webhdfs/v1/g/x?op=LISTSTATUS", nil), 200, &ls)
	if len(ls.FileStatuses.FileStatus) != 1 || ls.FileStatuses.FileStatus[0]["owner"] != "erin" {
		t.Fatalf("LISTSTATUS = %v", ls)
	}
}

// TestWebHDFSPermissions: WebHDFS acts as the user.name of each request
// (dr.who without one), and the NameNode's refusals are Hadoop's
// AccessControlException, 403.
func TestWebHDFSPermissions(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Replication: 1})
	c.WaitLeader(t)
	w := endpoint{t: t, base: "http://" + c.NameNodeHTTPAddr() + "/webhdfs/v1"}
	cl := c.Client(t)
	ctx := context.Background()
	if err := cl.Mkdir(ctx, "/home", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cl.Mkdir(ctx, "/home/alice", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cl.Chown(ctx, "/home/alice", "alice", ""); err != nil {
		t.Fatal(err)
	}
	want(t, "CREATE as alice in her home", w.create("/home/alice/secret", []byte("hers"), "user.name", "alice", "permission", "600"), http.StatusCreated)
	for _, user := range []string{"bob", ""} {
		var params []string
		if user != "" {
			params = []string{"user.name", user}
		}
		who := user
		if who == "" {
			who = "dr.who"
		}
		msg := wantException(t, "OPEN of alice's 0600 file as "+who, w.do("GET", "/home/alice/secret", "OPEN", nil, params...), http.StatusForbidden,
			"AccessControlException", "org.apache.hadoop.security.AccessControlException")
		if !strings.Contains(msg, "user="+who) {
			t.Errorf("refusal %q does not name user=%s", msg, who)
		}
		wantException(t, "DELETE of alice's file as "+who, w.do("DELETE", "/home/alice/secret", "DELETE", nil, params...), http.StatusForbidden,
			"AccessControlException", "org.apache.hadoop.security.AccessControlException")
		// As Hadoop's, the NameNode's step only redirects; the
		// DataNode's, which creates, is refused.
		wantException(t, "CREATE in alice's home as "+who, w.create("/home/alice/x", []byte("no"), params...), http.StatusForbidden,
			"AccessControlException", "org.apache.hadoop.security.AccessControlException")
	}
	a := w.open("/home/alice/secret", "user.name", "alice")
	if a.status != http.StatusOK || string(a.body) != "hers" {
		t.Errorf("OPEN as alice = %v, want her bytes", a)
	}
}

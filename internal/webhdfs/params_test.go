package webhdfs

import (
	"bytes"
	"errors"
	"io/fs"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{"/webhdfs/v1", "/"},
		{"/webhdfs/v1/", "/"},
		{"/webhdfs/v1/a", "/a"},
		{"/webhdfs/v1/a/b/", "/a/b"},
		{"/webhdfs/v1/a b/c%d", "/a b/c%d"},
		{"/webhdfs/v1/a//b", ""},
		{"/webhdfs/v1/a/../b", ""},
		{"/webhdfs/v1/./b", ""},
		{"/webhdfs/v1/a/b//", ""},
		{"/webhdfs/v1//", ""},
		{"/webhdfs/v1/a\x00b", ""},
		{"/webhdfs/v1/" + strings.Repeat("x", 256), ""},
		{"/webhdfs/v1x", ""},
		{"/webhdfs/v2/a", ""},
	} {
		got, err := parsePath(tc.in)
		if tc.want == "" {
			var ex *Exception
			if !errors.As(err, &ex) || ex.Status != 400 || ex.Name != "IllegalArgumentException" {
				t.Errorf("parsePath(%q) = %q, %v, want IllegalArgumentException", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parsePath(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	r, err := parseRequest("PUT", "/webhdfs/v1/x", "OP=create&User.Name=alice&overwrite=TRUE&permission=0640&replication=2&blocksize=1048576&buffersize=4096&noredirect=true")
	if err != nil {
		t.Fatal(err)
	}
	if r.op != "CREATE" || r.user != "alice" || !r.overwrite || r.permission != 0o640 || !r.hasPerm || r.replication != 2 ||
		r.blockSize != 1<<20 || r.bufferSize != 4096 || !r.noRedirect || r.length != -1 || r.modTime != -1 {
		t.Fatalf("parseRequest = %+v", r)
	}
	r, err = parseRequest("PUT", "/webhdfs/v1/x", "op=SETXATTR&xattr.name=user.a&xattr.value=0x00ff&flag=create,REPLACE")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.xattrValue, []byte{0, 0xff}) || r.xattrFlag != "CREATE,REPLACE" || !reflect.DeepEqual(r.xattrNames, []string{"user.a"}) {
		t.Fatalf("parseRequest = %+v", r)
	}
	r, err = parseRequest("POST", "/webhdfs/v1/x", "op=CONCAT&sources=/a,/b/c")
	if err != nil || !reflect.DeepEqual(r.sources, []string{"/a", "/b/c"}) {
		t.Fatalf("parseRequest(CONCAT) = %+v, %v", r, err)
	}
	for _, q := range []string{
		"",                                    // no op
		"op=OPEN&offset=-1",                   // below the domain
		"op=OPEN&length=1e3",                  // not a radix-10 long
		"op=OPEN&offset=99999999999999999999", // overflow
		"op=CREATE&overwrite=yes",             // not a boolean
		"op=CREATE&permission=888",            // not octal
		"op=CREATE&permission=12345",          // too long
		"op=CREATE&replication=0",             // below 1
		"op=CREATE&replication=40000",         // above 32767
		"op=OPEN&user.name=a%20b",             // not a user name
		"op=OPEN&user.name=1abc",              // not a user name
		"op=RENAME&destination=rel",           // not absolute
		"op=RENAME&destination=/a/../b",       // not clean
		"op=RENAME&renameoptions=FORCE",       // no such option
		"op=CONCAT&sources=/a,,/b",            // empty source
		"op=SETXATTR&xattr.name=nons",         // no namespace
		"op=SETXATTR&xattr.name=user.",        // no name
		"op=SETXATTR&flag=UPSERT",             // no such flag
		"op=GETXATTRS&encoding=rot13",         // no such encoding
		"op=SETXATTR&xattr.value=0xzz",        // bad hex
		"op=SETXATTR&xattr.value=0s%25%25",    // bad base64
		"op=LISTSTATUS_BATCH&startAfter=a/b",  // not a name
		"op=OPEN&%zz",                         // bad escape
	} {
		r, err := parseRequest("GET", "/webhdfs/v1/x", q)
		var ex *Exception
		if !errors.As(err, &ex) || ex.Status != 400 || ex.Class != "java.lang.IllegalArgumentException" {
			t.Errorf("parseRequest(%q) = %+v, %v, want IllegalArgumentException", q, r, err)
		}
	}
}

func TestCheckOp(t *testing.T) {
	served := map[string]bool{"GET OPEN": true}
	for _, tc := range []struct {
		method, op string
		status     int
		name       string
	}{
		{"GET", "OPEN", 0, ""},
		{"GET", "FOO", 400, "IllegalArgumentException"},
		{"GET", "MKDIRS", 400, "IllegalArgumentException"},
		{"GET", "GETACLSTATUS", 400, "UnsupportedOperationException"},
		{"PATCH", "OPEN", 405, "UnsupportedOperationException"},
	} {
		err := checkOp(tc.method, tc.op, served)
		var ex *Exception
		if tc.status == 0 {
			if err != nil {
				t.Errorf("checkOp(%s, %s) = %v, want nil", tc.method, tc.op, err)
			}
			continue
		}
		if !errors.As(err, &ex) || ex.Status != tc.status || ex.Name != tc.name {
			t.Errorf("checkOp(%s, %s) = %v, want %d %s", tc.method, tc.op, err, tc.status, tc.name)
		}
	}
	err := checkOp("GET", "FOO", served)
	if want := `Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.FOO`; err.(*Exception).Message != want {
		t.Errorf("checkOp(GET, FOO) message %q, want %q", err.(*Exception).Message, want)
	}
}

func TestToException(t *testing.T) {
	for _, tc := range []struct {
		kind   cairn.Kind
		status int
		class  string
	}{
		{cairn.NotExist, 404, "java.io.FileNotFoundException"},
		{cairn.Exist, 403, "org.apache.hadoop.fs.FileAlreadyExistsException"},
		{cairn.Invalid, 400, "java.lang.IllegalArgumentException"},
		{cairn.Permission, 403, "org.apache.hadoop.security.AccessControlException"},
		{cairn.NotEmpty, 403, "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"},
		{cairn.SafeMode, 403, "org.apache.hadoop.hdfs.server.namenode.SafeModeException"},
		{cairn.NotLeader, 403, "org.apache.hadoop.ipc.StandbyException"},
		{cairn.Unavailable, 403, "java.io.IOException"},
		{cairn.Internal, 500, "java.lang.RuntimeException"},
	} {
		ex := toException(cairn.E("stat", "/x", tc.kind))
		if ex.Status != tc.status || ex.Class != tc.class || !strings.HasSuffix(ex.Class, "."+ex.Name) {
			t.Errorf("toException(%v) = %+v, want %d %s", tc.kind, ex, tc.status, tc.class)
		}
	}
	if ex := toException(fs.ErrClosed); ex.Status != 403 {
		t.Errorf("toException(fs.ErrClosed) = %+v, want 403 IOException", ex)
	}
}

func TestXAttrCodec(t *testing.T) {
	v := []byte("a\x00\xff")
	for _, enc := range []string{"hex", "base64"} {
		s := encodeXAttrValue(v, enc)
		got, err := decodeXAttrValue(s)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("decode(encode(%q, %s) = %q) = %q, %v", v, enc, s, got, err)
		}
	}
	if s := encodeXAttrValue([]byte("hi"), ""); s != `"hi"` {
		t.Errorf("encodeXAttrValue(hi, text) = %s", s)
	}
	for in, want := range map[string]string{`"quoted"`: "quoted", "bare": "bare", "0X41": "A", "0sQQ==": "A", `"`: `"`} {
		if got, err := decodeXAttrValue(in); err != nil || string(got) != want {
			t.Errorf("decodeXAttrValue(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestFileChecksum(t *testing.T) {
	// One block: crcPerBlock 0; the MD5 of the one block MD5 padded to
	// 32 bytes.
	data := bytes.Repeat([]byte("cairn"), 300) // 1500 bytes: 3 chunks, the last short
	one, err := fileChecksum(bytes.NewReader(data), []int64{1500})
	if err != nil {
		t.Fatal(err)
	}
	if one.Algorithm != "MD5-of-0MD5-of-512CRC32C" || one.Length != 28 || !strings.HasPrefix(one.Bytes, "000002000000000000000000") {
		t.Fatalf("fileChecksum(one block) = %+v", one)
	}
	two, err := fileChecksum(bytes.NewReader(data), []int64{1024, 476})
	if err != nil {
		t.Fatal(err)
	}
	if two.Algorithm != "MD5-of-2MD5-of-512CRC32C" || two.Bytes == one.Bytes {
		t.Fatalf("fileChecksum(two blocks) = %+v", two)
	}
	if _, err := fileChecksum(bytes.NewReader(data[:100]), []int64{1500}); err == nil {
		t.Fatalf("fileChecksum of a short file: no error")
	}
}

// FuzzParseRequest: whatever arrives from the network, the parser
// answers a request whose path is a valid cairn path, or an
// *Exception with a status, a Java class and a message; it never
// panics.
func FuzzParseRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"/webhdfs/v1/a/b", "op=OPEN&offset=1&length=2&buffersize=4096&user.name=alice"},
		{"/webhdfs/v1/", "op=LISTSTATUS_BATCH&startAfter=x"},
		{"/webhdfs/v1/x", "op=CREATE&overwrite=true&permission=1755&replication=3&blocksize=134217728&noredirect=true"},
		{"/webhdfs/v1/x", "op=RENAME&destination=/y&renameoptions=OVERWRITE,NONE"},
		{"/webhdfs/v1/x", "op=SETXATTR&xattr.name=user.a&xattr.value=%220x%22&flag=CREATE&encoding=hex"},
		{"/webhdfs/v1/x", "op=CONCAT&sources=/a,/b"},
		{"/webhdfs/v1/a/../b", "op=GETFILESTATUS"},
		{"/webhdfs/v1//a", "op=DELETE&recursive=TRUE"},
		{"/webhdfs/v1/x", "op=SETTIMES&modificationtime=-1&accesstime=1"},
		{"/webhdfs/v1/x", "op=OPEN&%zz=1;a=b"},
	} {
		f.Add("GET", s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string) {
		r, err := parseRequest(method, path, rawQuery)
		if err != nil {
			var ex *Exception
			if !errors.As(err, &ex) || ex.Status == 0 || ex.Name == "" || !strings.HasSuffix(ex.Class, "."+ex.Name) || r != nil {
				t.Fatalf("parseRequest(%q, %q) = %v, %v: want an *Exception alone", path, rawQuery, r, err)
			}
			return
		}
		if err := cairn.ValidatePath(r.path); err != nil {
			t.Fatalf("parseRequest(%q, %q): path %q: %v", path, rawQuery, r.path, err)
		}
		if r.op == "" || r.op != strings.ToUpper(r.op) || r.offset < 0 || r.length < -1 || r.replication < 0 || r.blockSize < 0 {
			t.Fatalf("parseRequest(%q, %q) = %+v", path, rawQuery, r)
		}
		if r.destination != "" {
			if err := cairn.ValidatePath(r.destination); err != nil {
				t.Fatalf("parseRequest(%q, %q): destination %q: %v", path, rawQuery, r.destination, err)
			}
		}
		for _, s := range r.sources {
			if err := cairn.ValidatePath(s); err != nil {
				t.Fatalf("parseRequest(%q, %q): source %q: %v", path, rawQuery, s, err)
			}
		}
		if r.user != "" && !userPattern.MatchString(r.user) {
			t.Fatalf("parseRequest(%q, %q): user %q", path, rawQuery, r.user)
		}
		// The path a DataNode is sent to parses back to the same path.
		u := url.URL{Path: Prefix + r.path}
		back, err := url.PathUnescape(u.EscapedPath())
		if err != nil || (r.path != "/" && back != Prefix+r.path) {
			t.Fatalf("path %q escapes to %q and back to %q, %v", r.path, u.EscapedPath(), back, err)
		}
	})
}

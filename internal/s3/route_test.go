package s3

import (
	"crypto/md5"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

func TestParseTarget(t *testing.T) {
	domains := []string{"s3.example.com", "localhost"}
	for _, c := range []struct {
		host, target string
		want         Target
		code         ErrorCode
	}{
		{"127.0.0.1:9000", "/", Target{}, ""},
		{"127.0.0.1:9000", "/bucket", Target{Bucket: "bucket"}, ""},
		{"127.0.0.1:9000", "/bucket/", Target{Bucket: "bucket"}, ""},
		{"127.0.0.1:9000", "/bucket/dir/key.txt", Target{Bucket: "bucket", Key: "dir/key.txt"}, ""},
		{"127.0.0.1:9000", "/bucket/a%20b/c%2Fd", Target{Bucket: "bucket", Key: "a b/c/d"}, ""},
		{"127.0.0.1:9000", "/bucket//x/../y", Target{Bucket: "bucket", Key: "/x/../y"}, ""},
		{"127.0.0.1:9000", "/bucket/dir/", Target{Bucket: "bucket", Key: "dir/"}, ""},
		{"s3.example.com", "/bucket/k", Target{Bucket: "bucket", Key: "k"}, ""},
		{"bucket.s3.example.com", "/", Target{Bucket: "bucket", VirtualHosted: true}, ""},
		{"my.dotted.bucket.s3.example.com:443", "/a/b", Target{Bucket: "my.dotted.bucket", Key: "a/b", VirtualHosted: true}, ""},
		{"Bucket.S3.Example.COM", "/k", Target{Bucket: "bucket", Key: "k", VirtualHosted: true}, ""},
		{"bucket.localhost:9000", "//k", Target{Bucket: "bucket", Key: "/k", VirtualHosted: true}, ""},
		{"other.example.org", "/bucket/k", Target{Bucket: "bucket", Key: "k"}, ""},
		{"127.0.0.1", "/Bad_Bucket/k", Target{}, InvalidBucketName},
		{"127.0.0.1", "//k", Target{}, InvalidURI},
		{"BAD_bucket.s3.example.com", "/k", Target{}, InvalidBucketName},
	} {
		r := httptest.NewRequest("GET", "http://"+c.host+c.target, nil)
		got, err := ParseTarget(r, domains)
		if c.code != "" {
			if !isCode(err, c.code) {
				t.Errorf("ParseTarget(%s%s) = %+v, %v; want %s", c.host, c.target, got, err, c.code)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseTarget(%s%s) = %+v, %v; want %+v", c.host, c.target, got, err, c.want)
		}
	}
}

func TestValidateBucketName(t *testing.T) {
	for _, ok := range []string{"abc", "my-bucket", "my.bucket.name", "a1b", "123", strings.Repeat("a", 63), "xn-a", "bucket-s3alias1"} {
		if err := ValidateBucketName(ok); err != nil {
			t.Errorf("ValidateBucketName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", strings.Repeat("a", 64), "Bucket", "my_bucket", "-bucket", "bucket-", ".bucket", "bucket.",
		"my..bucket", "192.168.5.4", "xn--bucket", "sthree-bucket", "amzn-s3-demo-x", "b-s3alias", "b--ol-s3", "b.mrap", "b--x-s3", "b--table-s3", "bück", "a b c"} {
		if err := ValidateBucketName(bad); !isCode(err, InvalidBucketName) {
			t.Errorf("ValidateBucketName(%q) = %v, want InvalidBucketName", bad, err)
		}
	}
}

func TestObjectPath(t *testing.T) {
	for _, c := range []struct {
		root, bucket, key string
		path              string
		dir               bool
		code              ErrorCode
	}{
		{"/s3", "bkt", "k", "/s3/bkt/k", false, ""},
		{"/", "bkt", "a/b/c.txt", "/bkt/a/b/c.txt", false, ""},
		{"/s3", "bkt", "dir/", "/s3/bkt/dir", true, ""},
		{"/s3", "bkt", "dir/sub/", "/s3/bkt/dir/sub", true, ""},
		{"/s3", "bkt", "ünïcödé/鍵 (1)~!", "/s3/bkt/ünïcödé/鍵 (1)~!", false, ""},
		{"/s3", "bkt", "a\tb\r\nc", "/s3/bkt/a\tb\r\nc", false, ""},
		{"/s3", "bkt", "", "", false, InvalidArgument},
		{"/s3", "bkt", "/leading", "", false, InvalidArgument},
		{"/s3", "bkt", "a//b", "", false, InvalidArgument},
		{"/s3", "bkt", "a/./b", "", false, InvalidArgument},
		{"/s3", "bkt", "a/..", "", false, InvalidArgument},
		{"/s3", "bkt", "..", "", false, InvalidArgument},
		{"/s3", "bkt", "dir//", "", false, InvalidArgument},
		{"/s3", "bkt", "/", "", false, InvalidArgument},
		{"/s3", "bkt", ".cairn-s3/uploads/x", "", false, InvalidArgument},
		{"/s3", "bkt", "a/.cairn-s3-part", "", false, InvalidArgument},
		{"/s3", "bkt", "nul\x00byte", "", false, InvalidArgument},
		{"/s3", "bkt", "ctl\x01", "", false, InvalidArgument},
		{"/s3", "bkt", "bad\xffutf8", "", false, InvalidArgument},
		{"/s3", "bkt", "\uffff", "", false, InvalidArgument},
		{"/s3", "bkt", strings.Repeat("a", 256), "", false, InvalidArgument},
		{"/s3", "bkt", strings.Repeat("a/", 512) + "b", "", false, KeyTooLongError},
		{"/s3", "Bad", "k", "", false, InvalidBucketName},
	} {
		p, dir, err := ObjectPath(c.root, c.bucket, c.key)
		if c.code != "" {
			if !isCode(err, c.code) {
				t.Errorf("ObjectPath(%q, %q, %q) = %q, %v; want %s", c.root, c.bucket, c.key, p, err, c.code)
			}
			continue
		}
		if err != nil || p != c.path || dir != c.dir {
			t.Errorf("ObjectPath(%q, %q, %q) = %q, %v, %v; want %q, %v", c.root, c.bucket, c.key, p, dir, err, c.path, c.dir)
			continue
		}
		if cairn.ValidatePath(p) != nil {
			t.Errorf("ObjectPath(%q) = %q, which cairn refuses", c.key, p)
		}
		if k, ok := KeyOf(c.root+"/"+c.bucket, p, dir); c.root != "/" && (!ok || k != c.key) {
			t.Errorf("KeyOf(%q) = %q, %v; want %q", p, k, ok, c.key)
		}
	}
	if err := ValidateKey(strings.Repeat("x", 1025)); !isCode(err, KeyTooLongError) {
		t.Errorf("a 1025-byte key: %v", err)
	}
	if _, ok := KeyOf("/s3/bkt", "/s3/bkt/.cairn-s3/tmp/x", false); ok {
		t.Error("KeyOf gives a key to the gateway's state")
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"a/b", "dir/", "a//b", "./x", ".cairn-s3", "é/日", "x\x00"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p, dir, err := ObjectPath("/s3", "bucket", key)
		if err != nil {
			if c := AsError(err).Code; c != InvalidArgument && c != KeyTooLongError {
				t.Fatalf("ObjectPath(%q) = %v", key, err)
			}
			return
		}
		if cairn.ValidatePath(p) != nil {
			t.Fatalf("ObjectPath(%q) = %q, refused by cairn", key, p)
		}
		if k, ok := KeyOf("/s3/bucket", p, dir); !ok || k != key {
			t.Fatalf("KeyOf(ObjectPath(%q)) = %q, %v", key, k, ok)
		}
	})
}

func TestUploadPaths(t *testing.T) {
	id := NewUploadID()
	if !validUploadID(id) || id == NewUploadID() {
		t.Fatalf("NewUploadID = %q", id)
	}
	up, err := UploadPath("/s3", "bkt", id)
	if err != nil || up != "/s3/bkt/.cairn-s3/uploads/"+id {
		t.Errorf("UploadPath = %q, %v", up, err)
	}
	pp, err := PartPath("/s3", "bkt", id, 42)
	if err != nil || pp != up+"/00042" {
		t.Errorf("PartPath = %q, %v", pp, err)
	}
	for _, bad := range []string{"", "../../etc", strings.ToUpper(id), id + "0", "zz" + id[2:]} {
		if _, err := UploadPath("/s3", "bkt", bad); !isCode(err, NoSuchUpload) {
			t.Errorf("UploadPath(%q) = %v, want NoSuchUpload", bad, err)
		}
	}
	for _, n := range []int{0, 10001, -1} {
		if _, err := PartPath("/s3", "bkt", id, n); !isCode(err, InvalidArgument) {
			t.Errorf("PartPath(part %d) = %v", n, err)
		}
	}
	tp, err := TempPath("/", "bkt")
	if err != nil || !strings.HasPrefix(tp, "/bkt/.cairn-s3/tmp/") || cairn.ValidatePath(tp) != nil {
		t.Errorf("TempPath = %q, %v", tp, err)
	}
	for _, p := range []string{up, pp, tp} {
		if _, ok := KeyOf("/s3/bkt", p, false); ok {
			t.Errorf("%q is not hidden", p)
		}
	}
}

func TestETags(t *testing.T) {
	if got := ETag(md5.Sum([]byte("hello"))); got != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("ETag(hello) = %s", got)
	}
	// md5-of-part-md5s-N, computed by hand.
	p1, p2 := md5.Sum([]byte("part one")), md5.Sum([]byte("part two"))
	joined := md5.Sum(append(p1[:], p2[:]...))
	want := hex.EncodeToString(joined[:]) + "-2"
	got, err := MultipartETag([]string{QuoteETag(ETag(p1)), ETag(p2)})
	if err != nil || got != want {
		t.Errorf("MultipartETag = %s, %v; want %s", got, err, want)
	}
	if _, err := MultipartETag([]string{"abc-2"}); !isCode(err, InvalidPart) {
		t.Errorf("MultipartETag of a non-MD5 = %v", err)
	}
	if _, err := MultipartETag(nil); !isCode(err, InvalidPart) {
		t.Errorf("MultipartETag of nothing = %v", err)
	}

	blocks := []cairn.Block{{ID: 1, GenStamp: 1001, Len: 128 << 20}, {ID: 2, GenStamp: 1001, Len: 5}}
	e := BlocksETag(blocks)
	if e != BlocksETag(append([]cairn.Block{}, blocks...)) || !strings.HasSuffix(e, "-2") || len(e) != 34 {
		t.Errorf("BlocksETag = %q, not stable or not of the form hex-N", e)
	}
	for _, changed := range [][]cairn.Block{
		{{ID: 1, GenStamp: 1001, Len: 128 << 20}, {ID: 2, GenStamp: 1002, Len: 5}}, // recovered: new generation stamp
		{{ID: 1, GenStamp: 1001, Len: 128 << 20}, {ID: 2, GenStamp: 1001, Len: 6}}, // appended
		{{ID: 1, GenStamp: 1001, Len: 128 << 20}, {ID: 3, GenStamp: 1001, Len: 5}}, // rewritten
		blocks[:1],
	} {
		if BlocksETag(changed) == e {
			t.Errorf("BlocksETag(%v) = BlocksETag(%v)", changed, blocks)
		}
	}
	if BlocksETag(nil) != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("BlocksETag of an empty file = %s, want the MD5 of nothing", BlocksETag(nil))
	}

	stored := StoredETag("5d41402abc4b2a76b9719d911017c592", blocks)
	if got := FileETag(stored, blocks); got != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("FileETag of an unchanged file = %s", got)
	}
	if got := FileETag(stored, blocks[:1]); got != BlocksETag(blocks[:1]) {
		t.Errorf("FileETag of a changed file = %s, want the blocks' ETag", got)
	}
	if got := FileETag("", blocks); got != e {
		t.Errorf("FileETag without a stored ETag = %s", got)
	}

	for _, c := range []struct {
		header string
		match  bool
	}{
		{`"abc"`, true}, {`abc`, true}, {`W/"abc"`, true}, {`"x", "abc"`, true}, {`*`, true}, {`"abd"`, false}, {``, false},
	} {
		if MatchETag(c.header, QuoteETag("abc")) != c.match {
			t.Errorf("MatchETag(%q) = %v", c.header, !c.match)
		}
	}
}

package gateway

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn/internal/s3"
)

// multipartETag computes S3's md5-of-part-md5s-N.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

func completeBody(parts map[int]string, order ...int) []byte {
	var b strings.Builder
	b.WriteString("<CompleteMultipartUpload>")
	for _, n := range order {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, parts[n])
	}
	b.WriteString("</CompleteMultipartUpload>")
	return []byte(b.String())
}

func (e *env) createUpload(bucket, key string, h map[string]string) string {
	e.t.Helper()
	var res s3.InitiateMultipartUploadResult
	unmarshal(e.t, e.ok(req{method: "POST", target: "/" + bucket + "/" + escapeKey(key) + "?uploads", h: h}), &res)
	if res.Bucket != bucket || res.Key != key || len(res.UploadID) != 32 {
		e.t.Fatalf("CreateMultipartUpload = %+v", res)
	}
	return res.UploadID
}

func (e *env) uploadPart(bucket, key, id string, n int, data []byte) string {
	e.t.Helper()
	res := e.ok(req{method: "PUT", target: fmt.Sprintf("/%s/%s?partNumber=%d&uploadId=%s", bucket, escapeKey(key), n, id), body: data, unsigned: true})
	if want := `"` + md5hex(data) + `"`; res.h.Get("ETag") != want {
		e.t.Errorf("UploadPart %d ETag = %s, want %s", n, res.h.Get("ETag"), want)
	}
	return res.h.Get("ETag")
}

// TestMultipart uploads parts that are not multiples of the block size
// (so the joined file has blocks of different lengths), restarts the
// gateway in the middle, and completes through the new one.
func TestMultipart(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/mpu"})
	const key = "videos/big movie.bin"
	partSize := MinPartSize + 12345
	parts := [][]byte{randomBytes(10, partSize), randomBytes(11, partSize), randomBytes(12, partSize), randomBytes(13, 777)}
	id := e.createUpload("mpu", key, map[string]string{"Content-Type": "video/x-test", "X-Amz-Meta-Title": "movie"})
	etags := map[int]string{}
	for i, p := range parts[:3] {
		etags[i+1] = e.uploadPart("mpu", key, id, i+1, p)
	}
	// Part 2 uploaded again replaces the first upload of it.
	etags[2] = e.uploadPart("mpu", key, id, 2, parts[1])

	t.Run("the upload and its parts are listed, by another gateway too", func(t *testing.T) {
		e.restart()
		var ups s3.ListMultipartUploadsResult
		unmarshal(t, e.ok(req{method: "GET", target: "/mpu?uploads"}), &ups)
		if len(ups.Uploads) != 1 || ups.Uploads[0].Key != key || ups.Uploads[0].UploadID != id || ups.Uploads[0].Owner.ID != "alice" {
			t.Errorf("ListMultipartUploads = %+v", ups.Uploads)
		}
		var lp s3.ListPartsResult
		unmarshal(t, e.ok(req{method: "GET", target: "/mpu/" + escapeKey(key) + "?uploadId=" + id + "&max-parts=2"}), &lp)
		if len(lp.Parts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 || lp.Parts[0].ETag != etags[1] || lp.Parts[1].Size != int64(partSize) {
			t.Errorf("ListParts max-parts 2 = %+v truncated %v next %d", lp.Parts, lp.IsTruncated, lp.NextPartNumberMarker)
		}
		var rest s3.ListPartsResult
		unmarshal(t, e.ok(req{method: "GET", target: "/mpu/" + escapeKey(key) + "?uploadId=" + id + "&part-number-marker=2"}), &rest)
		if len(rest.Parts) != 1 || rest.Parts[0].PartNumber != 3 || rest.IsTruncated {
			t.Errorf("ListParts after 2 = %+v", rest.Parts)
		}
		// Not listed as objects.
		var list s3.ListBucketResultV2
		unmarshal(t, e.ok(req{method: "GET", target: "/mpu?list-type=2"}), &list)
		if len(list.Contents) != 0 {
			t.Errorf("an upload in progress is listed as %+v", list.Contents)
		}
	})
	etags[4] = e.uploadPart("mpu", key, id, 4, parts[3])

	t.Run("completions that S3 refuses", func(t *testing.T) {
		target := "/mpu/" + escapeKey(key) + "?uploadId=" + id
		e.fails(req{method: "POST", target: target, body: completeBody(etags, 2, 1)}, 400, "InvalidPartOrder")
		bad := map[int]string{1: etags[1], 2: `"00000000000000000000000000000000"`}
		e.fails(req{method: "POST", target: target, body: completeBody(bad, 1, 2)}, 400, "InvalidPart")
		e.fails(req{method: "POST", target: target, body: completeBody(map[int]string{1: etags[1], 9: etags[1]}, 1, 9)}, 400, "InvalidPart")
		e.fails(req{method: "POST", target: target, body: completeBody(etags, 4, 1)}, 400, "InvalidPartOrder")
		e.fails(req{method: "POST", target: target, body: completeBody(etags, 1, 4, 2)}, 400, "")
		e.fails(req{method: "POST", target: target, body: []byte("<CompleteMultipartUpload>")}, 400, "MalformedXML")
		e.fails(req{method: "POST", target: "/mpu/other-key?uploadId=" + id, body: completeBody(etags, 1)}, 404, "NoSuchUpload")
		e.fails(req{method: "POST", target: "/mpu/x?uploadId=not-an-id", body: completeBody(etags, 1)}, 404, "NoSuchUpload")
	})
	t.Run("a small part that is not the last is EntityTooSmall", func(t *testing.T) {
		id2 := e.createUpload("mpu", "small", nil)
		s1 := e.uploadPart("mpu", "small", id2, 1, []byte("tiny"))
		s2 := e.uploadPart("mpu", "small", id2, 2, []byte("tiny too"))
		e.fails(req{method: "POST", target: "/mpu/small?uploadId=" + id2, body: completeBody(map[int]string{1: s1, 2: s2}, 1, 2)}, 400, "EntityTooSmall")
		e.ok(req{method: "DELETE", target: "/mpu/small?uploadId=" + id2})
		e.fails(req{method: "GET", target: "/mpu/small?uploadId=" + id2}, 404, "NoSuchUpload")
		e.fails(req{method: "PUT", target: "/mpu/small?partNumber=1&uploadId=" + id2, body: []byte("late")}, 404, "NoSuchUpload")
	})
	t.Run("completing joins the parts with their md5-of-md5s ETag and metadata", func(t *testing.T) {
		var res s3.CompleteMultipartUploadResult
		unmarshal(t, e.ok(req{method: "POST", target: "/mpu/" + escapeKey(key) + "?uploadId=" + id, body: completeBody(etags, 1, 2, 3, 4)}), &res)
		want := multipartETag(parts...)
		if res.ETag != want || res.Key != key || res.Bucket != "mpu" || !strings.HasSuffix(res.Location, "/mpu/videos/big+movie.bin") {
			t.Errorf("CompleteMultipartUpload = %+v, want ETag %s", res, want)
		}
		got := e.ok(req{method: "GET", target: "/mpu/" + escapeKey(key)})
		all := bytes.Join(parts, nil)
		if !bytes.Equal(got.body, all) {
			t.Fatalf("the completed object has %d bytes, not the %d of its parts (or not the same)", len(got.body), len(all))
		}
		if got.h.Get("ETag") != want || got.h.Get("Content-Type") != "video/x-test" || got.h.Get("X-Amz-Meta-Title") != "movie" {
			t.Errorf("GET: ETag %s, type %q, title %q", got.h.Get("ETag"), got.h.Get("Content-Type"), got.h.Get("X-Amz-Meta-Title"))
		}
		// A range across the joint of two parts.
		rg := e.ok(req{method: "GET", target: "/mpu/" + escapeKey(key), h: map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", partSize-10, partSize+10)}})
		if !bytes.Equal(rg.body, all[partSize-10:partSize+11]) {
			t.Error("a range across two parts differs")
		}
		fi, err := e.cl.StatBlocks(e.ctx, "/s3/mpu/videos/big movie.bin")
		if err != nil {
			t.Fatal(err)
		}
		lengths := map[int64]bool{}
		for _, b := range fi.Blocks {
			lengths[b.Block.Len] = true
		}
		if len(lengths) < 3 {
			t.Errorf("the joined file's blocks have lengths %v; the test wants parts of several block lengths", lengths)
		}
		if e.exists("/s3/mpu/.cairn-s3/uploads/" + id) {
			t.Error("the upload's directory is still there")
		}
		e.fails(req{method: "GET", target: "/mpu/" + escapeKey(key) + "?uploadId=" + id}, 404, "NoSuchUpload")
		var list s3.ListBucketResultV2
		unmarshal(t, e.ok(req{method: "GET", target: "/mpu?list-type=2&prefix=videos/"}), &list)
		if len(list.Contents) != 1 || list.Contents[0].ETag != want || list.Contents[0].Size != int64(len(all)) {
			t.Errorf("listing = %+v", list.Contents)
		}
	})
	t.Run("UploadPartCopy copies ranges of an object into parts", func(t *testing.T) {
		all := bytes.Join(parts, nil)
		id3 := e.createUpload("mpu", "copied", nil)
		src := "/mpu/" + escapeKey(key)
		var p1, p2 s3.CopyPartResult
		unmarshal(t, e.ok(req{method: "PUT", target: "/mpu/copied?partNumber=1&uploadId=" + id3,
			h: map[string]string{"X-Amz-Copy-Source": src, "X-Amz-Copy-Source-Range": fmt.Sprintf("bytes=0-%d", MinPartSize-1)}}), &p1)
		unmarshal(t, e.ok(req{method: "PUT", target: "/mpu/copied?partNumber=2&uploadId=" + id3,
			h: map[string]string{"X-Amz-Copy-Source": src, "X-Amz-Copy-Source-Range": fmt.Sprintf("bytes=%d-%d", MinPartSize, MinPartSize+99)}}), &p2)
		if p1.ETag != `"`+md5hex(all[:MinPartSize])+`"` {
			t.Errorf("copied part ETag = %s", p1.ETag)
		}
		e.fails(req{method: "PUT", target: "/mpu/copied?partNumber=3&uploadId=" + id3,
			h: map[string]string{"X-Amz-Copy-Source": src, "X-Amz-Copy-Source-Range": fmt.Sprintf("bytes=0-%d", len(all))}}, 416, "InvalidRange")
		e.ok(req{method: "POST", target: "/mpu/copied?uploadId=" + id3, body: completeBody(map[int]string{1: p1.ETag, 2: p2.ETag}, 1, 2)})
		if got := e.get("mpu", "copied"); !bytes.Equal(got, all[:MinPartSize+100]) {
			t.Errorf("the object of copied parts differs (%d bytes)", len(got))
		}
	})
}

// TestCompletionResumes: a completion cut short after its concat (the
// gateway died) is finished by the client's retry.
func TestCompletionResumes(t *testing.T) {
	e := newEnv(t)
	e.g.minPartSize = 1
	e.ok(req{method: "PUT", target: "/res"})
	id := e.createUpload("res", "k", nil)
	parts := [][]byte{[]byte("first part "), []byte("second part "), []byte("third")}
	etags := map[int]string{}
	for i, p := range parts {
		etags[i+1] = e.uploadPart("res", "k", id, i+1, p)
	}
	// What the dead gateway did: the record, then the concat.
	up := "/s3/res/.cairn-s3/uploads/" + id
	want := multipartETag(parts...)
	if err := e.cl.SetXAttrs(e.ctx, up, map[string][]byte{xaUploadCompleting: []byte(completionRecord(strings.Trim(want, `"`), []int{1, 2, 3}))}); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.Concat(e.ctx, up+"/00001", up+"/00002", up+"/00003"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	e.g.minPartSize = 1
	e.fails(req{method: "POST", target: "/res/k?uploadId=" + id, body: completeBody(etags, 1, 2)}, 400, "InvalidPart")
	var res s3.CompleteMultipartUploadResult
	unmarshal(t, e.ok(req{method: "POST", target: "/res/k?uploadId=" + id, body: completeBody(etags, 1, 2, 3)}), &res)
	if res.ETag != want || string(e.get("res", "k")) != string(bytes.Join(parts, nil)) {
		t.Errorf("resumed completion: ETag %s (want %s), object %q", res.ETag, want, e.get("res", "k"))
	}

	// A gateway that died after the rename, before removing the upload:
	// the retry succeeds and removes it.
	id2 := e.createUpload("res", "k2", nil)
	for i, p := range parts {
		etags[i+1] = e.uploadPart("res", "k2", id2, i+1, p)
	}
	up2 := "/s3/res/.cairn-s3/uploads/" + id2
	if err := e.cl.SetXAttrs(e.ctx, up2, map[string][]byte{xaUploadCompleting: []byte(completionRecord(strings.Trim(want, `"`), []int{1, 2, 3}))}); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.Concat(e.ctx, up2+"/00001", up2+"/00002", up2+"/00003"); err != nil {
		t.Fatal(err)
	}
	fi, err := e.cl.StatBlocks(e.ctx, up2+"/00001")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cl.SetXAttrs(e.ctx, up2+"/00001", map[string][]byte{xaETag: []byte(s3.StoredETag(strings.Trim(want, `"`), blocksOf(fi)))}); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.RenameTo(e.ctx, up2+"/00001", "/s3/res/k2", nil); err != nil {
		t.Fatal(err)
	}
	var res2 s3.CompleteMultipartUploadResult
	unmarshal(t, e.ok(req{method: "POST", target: "/res/k2?uploadId=" + id2, body: completeBody(etags, 1, 2, 3)}), &res2)
	if res2.ETag != want || e.exists(up2) {
		t.Errorf("retried completion: ETag %s (want %s), upload left %v", res2.ETag, want, e.exists(up2))
	}
	e.fails(req{method: "POST", target: "/res/k2?uploadId=" + id2, body: completeBody(etags, 1, 2, 3)}, 404, "NoSuchUpload")
}

// TestListUploads pages through uploads with the key and upload ID
// markers, with and without a delimiter.
func TestListUploads(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/ups"})
	ids := map[string][]string{}
	for _, k := range []string{"a/1", "a/2", "b", "b", "c d"} {
		ids[k] = append(ids[k], e.createUpload("ups", k, nil))
	}
	slices.Sort(ids["b"])
	page := func(q string) s3.ListMultipartUploadsResult {
		var res s3.ListMultipartUploadsResult
		unmarshal(t, e.ok(req{method: "GET", target: "/ups?uploads&" + q}), &res)
		return res
	}
	var got []string
	q := "max-uploads=1"
	for n := 0; ; n++ {
		if n > 10 {
			t.Fatal("the listing does not end")
		}
		res := page(q)
		for _, u := range res.Uploads {
			got = append(got, u.Key+" "+u.UploadID)
		}
		if !res.IsTruncated {
			break
		}
		q = "max-uploads=1&key-marker=" + escapeKey(res.NextKeyMarker) + "&upload-id-marker=" + res.NextUploadIDMarker
	}
	want := []string{"a/1 " + ids["a/1"][0], "a/2 " + ids["a/2"][0], "b " + ids["b"][0], "b " + ids["b"][1], "c d " + ids["c d"][0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("uploads paged one by one = %q, want %q", got, want)
	}
	res := page("delimiter=/")
	if len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0].Prefix != "a/" || len(res.Uploads) != 3 {
		t.Errorf("with delimiter: prefixes %+v, %d uploads", res.CommonPrefixes, len(res.Uploads))
	}
	res = page("prefix=a/&max-uploads=1")
	if len(res.Uploads) != 1 || res.Uploads[0].Key != "a/1" || !res.IsTruncated || res.NextKeyMarker != "a/1" {
		t.Errorf("prefix a/: %+v truncated %v next %q", res.Uploads, res.IsTruncated, res.NextKeyMarker)
	}
}

// The completion record has a fixed size: S3 allows 10,000 parts, whose
// numbers would not fit in an extended attribute (16 KiB), and tells a
// retry of the same list from another list.
func TestCompletionRecordFitsAnyUpload(t *testing.T) {
	order := make([]int, 10000)
	for i := range order {
		order[i] = i + 1
	}
	rec := completionRecord("0123456789abcdef0123456789abcdef-10000", order)
	if len(rec)+len(xaUploadCompleting) > 1024 {
		t.Errorf("the record of 10,000 parts has %d bytes", len(rec))
	}
	etag, same, ok := parseCompletionRecord(rec, order)
	if !ok || !same || etag != "0123456789abcdef0123456789abcdef-10000" {
		t.Errorf("parse(record, same list) = %q, %v, %v", etag, same, ok)
	}
	other := append(order[:9999:9999], 10001)
	if _, same, ok := parseCompletionRecord(rec, other); !ok || same {
		t.Errorf("parse(record, other list) = same %v, ok %v", same, ok)
	}
	if _, same, _ := parseCompletionRecord(rec, order[:9999]); same {
		t.Error("a shorter list matches the record")
	}
}

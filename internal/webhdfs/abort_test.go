package webhdfs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestWebHDFSOpenAbortsOnALateError: an OPEN whose file cannot be read
// to its end (the only replica of a later block is gone) sends the bytes
// it has and then breaks the connection: the reader sees its body end
// short of the Content-Length, an error, never a body it could take
// for the whole file.
func TestWebHDFSOpenAbortsOnALateError(t *testing.T) {
	c, w := start(t, testcluster.Options{Replication: 1})
	cl := c.Client(t)
	ctx := context.Background()
	data := randBytes(3 << 20)
	// A file whose first and last blocks are on different DataNodes.
	var path string
	var first, last int
	for try := 0; path == ""; try++ {
		if try == 20 {
			t.Fatalf("no file of 20 had its first and last blocks on different DataNodes")
		}
		p := fmt.Sprintf("/abort/f%d", try)
		want(t, "CREATE", w.create(p, data), 201)
		fi, err := cl.StatBlocks(ctx, p)
		if err != nil || len(fi.Blocks) != 3 {
			t.Fatalf("StatBlocks(%s) = %+v, %v", p, fi, err)
		}
		first, last = -1, -1
		for i := range c.NumDataNodes() {
			for _, lb := range fi.Blocks {
				if lb.Locations[0].ID == c.DataNode(i).ID() && lb.Offset == 0 {
					first = i
				}
				if lb.Locations[0].ID == c.DataNode(i).ID() && lb.Offset == 2<<20 {
					last = i
				}
			}
		}
		if first != last {
			path = p
		}
	}
	c.StopDataNode(t, last)
	a := w.do("GET", path, "OPEN", nil)
	want(t, "OPEN", a, http.StatusTemporaryRedirect)
	loc, _ := url.Parse(a.header.Get("Location"))
	if loc.Host != c.DataNodeHTTPAddr(first) {
		t.Fatalf("OPEN redirected to %s, want the first block's DataNode %s", loc.Host, c.DataNodeHTTPAddr(first))
	}
	resp, err := http.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
		t.Fatalf("OPEN at the DataNode: status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("OPEN read %d bytes without an error; want the connection broken before the third block", len(got))
	}
	if len(got) > 2<<20 || string(got) != string(data[:len(got)]) {
		t.Fatalf("OPEN read %d bytes (%v), want at most the first two blocks, as written", len(got), err)
	}
}

package testcluster_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The tests of this file download files through the web endpoint of a
// DataNode (GET /download?path=P), as a browser sent there by the
// NameNode's page would.

// download GETs path from the DataNode at httpAddr, following
// redirects, and returns the status, the body, the Content-Length and
// the redirects taken.
func download(t *testing.T, httpAddr, path string) (status int, body []byte, length int64, hops []string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Host)
		if len(via) > 3 {
			return fmt.Errorf("%d redirects", len(via))
		}
		return nil
	}}
	resp, err := c.Get("http://" + httpAddr + "/download?path=" + url.QueryEscape(path))
	if err != nil {
		t.Fatalf("GET /download?path=%s from %s: %v", path, httpAddr, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /download?path=%s from %s: reading the body: %v", path, httpAddr, err)
	}
	return resp.StatusCode, body, resp.ContentLength, hops
}

// holders returns, for each block ID, the indexes of the DataNodes with
// a finalized replica of it.
func holders(c *testcluster.Cluster) map[cairn.BlockID][]int {
	out := make(map[cairn.BlockID][]int)
	for i := range c.NumDataNodes() {
		for _, b := range c.DataNode(i).Blocks() {
			out[b.ID] = append(out[b.ID], i)
		}
	}
	return out
}

func TestDownloadFromDataNode(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Replication: 1})
	cl := c.Client(t)

	t.Run("a multi-block file downloads whole through every datanode", func(t *testing.T) {
		want := putFile(t, cl, "/dl/multi.bin", 10*healBlock+123)
		for i := range c.NumDataNodes() {
			status, got, length, hops := download(t, c.DataNodeHTTPAddr(i), "/dl/multi.bin")
			if status != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("download of multi.bin through datanode %d = %d, %d bytes (equal: %v), want 200 and the %d bytes written", i, status, len(got), bytes.Equal(got, want), len(want))
			}
			if length != int64(len(want)) {
				t.Errorf("download of multi.bin through datanode %d: Content-Length %d, want %d", i, length, len(want))
			}
			if len(hops) > 1 {
				t.Errorf("download of multi.bin through datanode %d took %d redirects (%v), want at most 1", i, len(hops), hops)
			}
		}
	})

	t.Run("a file held elsewhere is redirected to a datanode holding it", func(t *testing.T) {
		want := putFile(t, cl, "/dl/one.bin", 1000)
		var ids []cairn.BlockID
		h := holders(c)
		for i := range c.NumDataNodes() {
			for _, b := range c.DataNode(i).Blocks() {
				if len(want) == int(b.Len) {
					ids = append(ids, b.ID)
				}
			}
		}
		if len(ids) != 1 || len(h[ids[0]]) != 1 {
			t.Fatalf("replicas of the 1000-byte block: %v on %v, want one replica", ids, h)
		}
		holder := h[ids[0]][0]
		other := (holder + 1) % c.NumDataNodes()
		status, got, length, hops := download(t, c.DataNodeHTTPAddr(other), "/dl/one.bin")
		if status != http.StatusOK || !bytes.Equal(got, want) || length != int64(len(want)) {
			t.Errorf("download of one.bin through datanode %d = %d, %q (Content-Length %d), want 200 and the %d bytes written", other, status, got, length, len(want))
		}
		if len(hops) != 1 || hops[0] != c.DataNodeHTTPAddr(holder) {
			t.Errorf("download of one.bin through datanode %d redirected to %v, want once to datanode %d at %s", other, hops, holder, c.DataNodeHTTPAddr(holder))
		}
		// The holder serves it itself.
		_, got, _, hops = download(t, c.DataNodeHTTPAddr(holder), "/dl/one.bin")
		if len(hops) != 0 || !bytes.Equal(got, want) {
			t.Errorf("download of one.bin through its holder, datanode %d: redirects %v, equal %v; want none and its bytes", holder, hops, bytes.Equal(got, want))
		}
	})

	t.Run("an empty file downloads empty", func(t *testing.T) {
		putFile(t, cl, "/dl/empty", 0)
		status, got, length, _ := download(t, c.DataNodeHTTPAddr(0), "/dl/empty")
		if status != http.StatusOK || len(got) != 0 || length != 0 {
			t.Errorf("download of an empty file = %d, %d bytes, Content-Length %d; want 200, nothing", status, len(got), length)
		}
	})

	t.Run("a missing file is 404 and a directory 400", func(t *testing.T) {
		if status, body, _, _ := download(t, c.DataNodeHTTPAddr(0), "/dl/nope"); status != http.StatusNotFound {
			t.Errorf("download of a missing file = %d %q, want 404", status, body)
		}
		if status, body, _, _ := download(t, c.DataNodeHTTPAddr(0), "/dl"); status != http.StatusBadRequest {
			t.Errorf("download of a directory = %d %q, want 400", status, body)
		}
	})
}

// A DataNode whose replica of a block is corrupt serves the download
// from another replica and stops serving its own.
func TestDownloadAroundCorruptReplica(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Replication: 2})
	cl := c.Client(t)
	want := putFile(t, cl, "/dl/c.bin", 3*healBlock)
	// The first block is the one of lowest ID.
	var first cairn.Block
	for i := range c.NumDataNodes() {
		for _, b := range c.DataNode(i).Blocks() {
			if first.ID == 0 || b.ID < first.ID {
				first = b
			}
		}
	}
	h := holders(c)
	if len(h[first.ID]) != 2 {
		t.Fatalf("first block %d on datanodes %v, want 2", first.ID, h[first.ID])
	}
	bad := h[first.ID][0]
	data, _, ok := c.DataNode(bad).BlockFiles(first.ID)
	if !ok {
		t.Fatalf("datanode %d has no files for block %d", bad, first.ID)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	status, got, _, hops := download(t, c.DataNodeHTTPAddr(bad), "/dl/c.bin")
	if status != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("download through datanode %d with a corrupt first replica = %d, %d bytes (equal: %v), want 200 and the %d bytes written", bad, status, len(got), bytes.Equal(got, want), len(want))
	}
	if len(hops) != 0 {
		t.Errorf("download through datanode %d redirected to %v, want served there", bad, hops)
	}
	for _, b := range c.DataNode(bad).Blocks() {
		if b.ID == first.ID {
			t.Errorf("datanode %d still serves its corrupt replica of block %d", bad, first.ID)
		}
	}
}

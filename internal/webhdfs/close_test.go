package webhdfs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/internal/testcluster"
	"github.com/cairn-fs/cairn/internal/webhdfs"
)

// TestWebHDFSDataNodeCloseAbortsUploads: a DataNode's handler closed
// while an upload streams in aborts it, rather than letting its
// client's Close complete the temporary: neither the file nor a
// temporary is left.
func TestWebHDFSDataNodeCloseAbortsUploads(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	cl := c.Client(t)
	ctx := context.Background()
	addr := c.NameNodeAddr()
	dialer := webhdfs.NewDialer(func() string { return addr })
	h := webhdfs.NewDataNodeHandler(webhdfs.DataNodeConfig{Client: dialer.Client}, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()

	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/webhdfs/v1/closing/file?op=CREATE&user.name=x", pr)
	answered := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if _, err := pw.Write(make([]byte, 3<<20)); err != nil { // the upload is under way
		t.Fatal(err)
	}
	c.WaitFor(t, "the temporary to appear", func(ctx context.Context) (bool, error) {
		entries, err := cl.ReadDir(ctx, "/closing")
		return err == nil && len(entries) == 1, nil
	})
	closed := make(chan struct{})
	go func() {
		h.Close()
		dialer.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("Close did not return while an upload was under way")
	}
	if code := <-answered; code == http.StatusCreated {
		t.Fatalf("the upload answered 201 after Close")
	}
	entries, err := cl.ReadDir(ctx, "/closing")
	if err != nil || len(entries) != 0 {
		t.Fatalf("ReadDir(/closing) = %v, %v: want nothing left", entries, err)
	}
	// A request after Close fails.
	resp, err := http.Post(srv.URL+"/webhdfs/v1/closing/file?op=APPEND", "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("APPEND after Close: status %d, want 403", resp.StatusCode)
	}
}

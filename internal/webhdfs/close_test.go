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
	share(t, c)
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
	// Wait until the handler has written most of it: it then waits on
	// a client that sends nothing more.
	c.WaitFor(t, "the temporary to hold 2 MiB", func(ctx context.Context) (bool, error) {
		entries, err := cl.ReadDir(ctx, "/closing")
		return err == nil && len(entries) == 1 && entries[0].Size >= 2<<20, nil
	})
	closed := make(chan struct{})
	go func() {
		h.Close()
		dialer.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second): // the body timeout is 60s
		t.Fatalf("Close did not return while an upload waited on its client")
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

// TestWebHDFSUploadOfASilentClient: a client that stops sending in the
// middle of its body is given up after BodyTimeout: the upload fails,
// its temporary goes, and the target is not created.
func TestWebHDFSUploadOfASilentClient(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	share(t, c)
	cl := c.Client(t)
	addr := c.NameNodeAddr()
	dialer := webhdfs.NewDialer(func() string { return addr })
	defer dialer.Close()
	h := webhdfs.NewDataNodeHandler(webhdfs.DataNodeConfig{Client: dialer.Client, BodyTimeout: 500 * time.Millisecond}, nil)
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	pr, pw := io.Pipe()
	defer pw.Close() // only at the end: the client stays connected
	req, _ := http.NewRequest("PUT", srv.URL+"/webhdfs/v1/silent/file?op=CREATE", pr)
	req.ContentLength = 1 << 20
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
	if _, err := pw.Write(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-answered:
		if code == http.StatusCreated {
			t.Fatalf("the upload of a silent client answered 201")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the upload of a silent client still waits after 30s; its body timeout is 500ms")
	}
	c.WaitFor(t, "the temporary to go", func(ctx context.Context) (bool, error) {
		entries, err := cl.ReadDir(ctx, "/silent")
		return err == nil && len(entries) == 0, nil
	})
}

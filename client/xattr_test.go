package client_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestXAttrsAcrossFailover: attributes set through one leader are read
// through the next (they are in the replicated log), with a stat or a
// listing that asks for them in the same call as the blocks.
func TestXAttrsAcrossFailover(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{NameNodes: 3, DataNodes: 1, Replication: 1})
	ctx := context.Background()
	cl := c.Client(t)
	c.WaitLive(t, 1)
	w, err := cl.Create(ctx, "/x/obj", &client.CreateOptions{CreateParent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]byte{"user.s3.etag": []byte("5d41402abc4b2a76b9719d911017c592"), "user.s3.content-type": []byte("text/plain")}
	if err := cl.SetXAttrs(ctx, "/x/obj", attrs); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetXAttr(ctx, "/x", "trusted.dir", nil, client.XAttrCreate); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetXAttr(ctx, "/x", "trusted.dir", []byte("again"), client.XAttrCreate); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SetXAttr(create) of an existing attribute = %v, want fs.ErrExist", err)
	}

	first := c.WaitLeader(t)
	c.StopNameNode(t, first)
	if next := c.WaitLeader(t); next == first {
		t.Fatalf("WaitLeader() = %d, the stopped member", next)
	}

	st, err := cl.StatWith(ctx, "/x/obj", client.StatOptions{Blocks: true, XAttrs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Blocks) != 1 || st.Blocks[0].Block.Len != 5 || fmt.Sprint(st.XAttrs) != fmt.Sprint(attrs) {
		t.Fatalf("StatWith after failover: blocks %v, xattrs %q", st.Blocks, st.XAttrs)
	}
	page, more, err := cl.ListPageWith(ctx, "/x", "", 0, client.StatOptions{Blocks: true, XAttrs: true})
	if err != nil || more || len(page) != 1 {
		t.Fatalf("ListPageWith = %v, %v, %v", page, more, err)
	}
	if page[0].Blocks[0].Block != st.Blocks[0].Block || string(page[0].XAttrs["user.s3.content-type"]) != "text/plain" {
		t.Errorf("listed %v %q, stat %v", page[0].Blocks, page[0].XAttrs, st.Blocks)
	}
	plain, _, err := cl.ListPageWith(ctx, "/", "", 0, client.StatOptions{XAttrs: true})
	if err != nil || len(plain) != 1 || plain[0].XAttrs == nil || string(plain[0].XAttrs["trusted.dir"]) != "" || len(plain[0].XAttrs) != 1 {
		t.Fatalf("listing / with xattrs: %+v, %v", plain, err)
	}
	names, err := cl.ListXAttrs(ctx, "/x/obj")
	if err != nil || fmt.Sprint(names) != "[user.s3.content-type user.s3.etag]" {
		t.Fatalf("ListXAttrs = %v, %v", names, err)
	}
	if err := cl.RemoveXAttr(ctx, "/x/obj", "user.s3.etag"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetXAttrs(ctx, "/x/obj", "user.s3.etag"); cairn.KindOf(err) != cairn.NotExist {
		t.Fatalf("GetXAttrs of a removed attribute = %v, want NotExist", err)
	}
	if err := cl.SetXAttr(ctx, "/x/obj", "nonamespace", []byte("v"), 0); cairn.KindOf(err) != cairn.Invalid {
		t.Fatalf("SetXAttr without a namespace = %v, want Invalid", err)
	}
}

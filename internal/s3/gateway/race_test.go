package gateway

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// A publish whose temporary was removed with its bucket (a DeleteBucket
// that ran meanwhile) fails without making the bucket again.
func TestPublishDoesNotRecreateADeletedBucket(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/ghost"})
	e.ok(req{method: "DELETE", target: "/ghost"})
	err := e.g.publish(e.ctx, "/s3/ghost/.cairn-s3/tmp/00000000000000000000000000000000", "/s3/ghost/k", "k", nil, true, 0)
	if err == nil {
		t.Error("publish of a temporary removed with its bucket succeeded")
	}
	if e.exists("/s3/ghost") {
		lb := e.ok(req{method: "GET", target: "/"})
		t.Errorf("a failed PUT re-created the deleted bucket; ListBuckets: %s", lb.body)
	}
}

// A DeleteBucket that succeeds while a PUT into the bucket runs leaves
// no bucket behind: the PUT fails with NoSuchBucket, or its object was
// there first and the delete is BucketNotEmpty (found by review: the
// PUT's MkdirAll of the temporary directory made the bucket again).
func TestDeleteBucketRacingPutStaysDeleted(t *testing.T) {
	e := newEnv(t)
	ghosts := 0
	for i := 0; i < 60; i++ {
		b := fmt.Sprintf("race%03d", i)
		e.ok(req{method: "PUT", target: "/" + b})
		var wg sync.WaitGroup
		var del, put *resp
		wg.Add(2)
		go func() { defer wg.Done(); put = e.do(req{method: "PUT", target: "/" + b + "/k", body: []byte("data")}) }()
		go func() { defer wg.Done(); del = e.do(req{method: "DELETE", target: "/" + b}) }()
		wg.Wait()
		if del.status == 204 && e.exists("/s3/"+b) {
			ghosts++
			t.Logf("%s: DELETE bucket = 204, PUT = %d, yet the bucket exists (object there: %v)", b, put.status, e.exists("/s3/"+b+"/k"))
		}
	}
	if ghosts > 0 {
		t.Errorf("%d buckets came back after a successful DeleteBucket", ghosts)
	}
}

// Two PUTs with the same If-Match: one replaces the version, the other
// is PreconditionFailed, never both (found by review: the ETag was
// checked before the write and the rename replaced whatever was there).
func TestPutIfMatchIsACompareAndSwap(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/imk"})
	both := 0
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("k%d", i)
		r := e.put("imk", key, []byte("v0"), nil)
		etag := r.h.Get("ETag")
		var wg sync.WaitGroup
		res := make([]*resp, 2)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := []byte(strings.Repeat(fmt.Sprint(w), 512<<10))
				res[w] = e.do(req{method: "PUT", target: "/imk/" + key, body: body, h: map[string]string{"If-Match": etag}})
			}()
		}
		wg.Wait()
		if res[0].status == 200 && res[1].status == 200 {
			both++
		}
		for _, r := range res {
			if r.status != 200 && r.status != 412 {
				t.Errorf("a conditional PUT = %v, want 200 or 412 PreconditionFailed", r)
			}
		}
	}
	if both > 0 {
		t.Errorf("in %d of 20 rounds both conditional PUTs (If-Match of the same ETag) succeeded: one update silently lost", both)
	}
}

// A PUT of a folder marker "d/" racing the DELETE of the last key under
// d/, whose prune removes d/ when it is empty and unmarked: the marker
// is acknowledged and stays, or the PUT fails, never acknowledged and
// then gone (found by review: the prune checked the mark, then removed).
func TestFolderMarkerSurvivesARacingPrune(t *testing.T) {
	e := newEnv(t)
	e.ok(req{method: "PUT", target: "/pbk"})
	lost, failed := 0, 0
	for i := 0; i < 150; i++ {
		d := fmt.Sprintf("d%03d", i)
		e.put("pbk", d+"/x", []byte("x"), nil)
		var wg sync.WaitGroup
		var del, mk *resp
		wg.Add(2)
		go func() { defer wg.Done(); del = e.do(req{method: "DELETE", target: "/pbk/" + d + "/x"}) }()
		go func() { defer wg.Done(); mk = e.do(req{method: "PUT", target: "/pbk/" + d + "/"}) }()
		wg.Wait()
		if del.status != 204 {
			t.Logf("%s: DELETE = %v", d, del)
		}
		if mk.status != 200 {
			failed++
			t.Logf("%s: PUT %s/ = %v", d, d, mk)
			continue
		}
		if r := e.do(req{method: "HEAD", target: "/pbk/" + d + "/"}); r.status != 200 {
			lost++
			t.Logf("%s: PUT %s/ answered 200, then HEAD = %d", d, d, r.status)
		}
	}
	if lost > 0 || failed > 0 {
		t.Errorf("folder markers: %d acknowledged and then gone, %d PUTs failed", lost, failed)
	}
}

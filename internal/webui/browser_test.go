package webui_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// The browser tests drive Debian's headless Chromium through chromedp
// against a running test cluster. Outside CI they skip when no Chromium
// is installed; in CI (CI set) they fail instead, since .ci/run
// installs it.
//
// With CAIRN_UPDATE_SCREENSHOTS=1 they also save a screenshot of each
// page into docs/img/ for the README.

// findChromium returns the path of a Chromium or Chrome binary.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium found (on Debian: apt-get install chromium); the web UI browser tests need one"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, for the
// test's duration.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	// Start the browser now, so a failure to start is reported as such.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// do runs browser actions, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(actx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is true in the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(actx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// screenshot saves the whole page as docs/img/<name>.png when
// CAIRN_UPDATE_SCREENSHOTS is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	saveScreenshot(t, ctx, name, chromedp.FullScreenshot(100))
}

// saveScreenshot saves what shot captures as docs/img/<name>.png when
// CAIRN_UPDATE_SCREENSHOTS is set.
func saveScreenshot(t *testing.T, ctx context.Context, name string, shot chromedp.Action[[]byte]) {
	t.Helper()
	if os.Getenv("CAIRN_UPDATE_SCREENSHOTS") == "" {
		return
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "..", "docs", "img", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s", path)
}

// writeFile writes data to path in the cluster.
func writeFile(t *testing.T, tc *testcluster.Cluster, path string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := tc.Client(t)
	w, err := c.Create(ctx, path, nil)
	if err != nil {
		t.Fatalf("Create(%q): %v", path, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", path, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", path, err)
	}
}

func TestWebUIInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	tc := testcluster.Start(t, testcluster.Options{
		DataNodes:   3,
		Replication: 2,
		BlockSize:   1 << 20,
		NameNode: func(c *namenode.Config) {
			c.StaleNodeTimeout = 600 * time.Millisecond
			c.DeadNodeTimeout = 2 * time.Second
		},
	})
	hello := []byte("hello, cairn\n")
	big := make([]byte, 2<<20+12345) // three blocks
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	cl := tc.Client(t)
	mctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range []string{"/data/logs", "/data/tables", "/users/alice"} {
		if err := cl.MkdirAll(mctx, d, 0o755); err != nil {
			t.Fatalf("MkdirAll(%q): %v", d, err)
		}
	}
	writeFile(t, tc, "/data/hello.txt", hello)
	writeFile(t, tc, "/data/big.bin", big)
	writeFile(t, tc, "/data/logs/app.log", bytes.Repeat([]byte("GET /index.html 200\n"), 5000))

	nn := "http://" + tc.NameNodeHTTPAddr()

	t.Run("the overview shows the cluster", func(t *testing.T) {
		do(t, ctx, "load the overview", chromedp.Navigate(nn+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-field="files"]`)))
		waitJS(t, ctx, "3 live datanodes and 3 files",
			`document.querySelector('[data-field="liveDatanodes"]').textContent.trim() === "3" &&
			 document.querySelector('[data-field="files"]').textContent.trim() === "3"`)
		if got := eval[string](t, ctx, `document.querySelector('[data-field="raftState"]').textContent.trim()`); got != "Leader" {
			t.Errorf("raft state shown = %q, want Leader", got)
		}
		if got := eval[string](t, ctx, `document.querySelector('[data-field="safeMode"]').textContent.trim()`); got != "writable" {
			t.Errorf("safe mode badge = %q, want writable", got)
		}
		screenshot(t, ctx, "overview")
	})

	t.Run("the DataNodes table shows the live nodes", func(t *testing.T) {
		do(t, ctx, "load the datanodes page", chromedp.Navigate(nn+"/datanodes"), chromedp.WaitVisible(chromedp.CSS(`#datanodes tbody tr`)))
		waitJS(t, ctx, "3 live rows", `document.querySelectorAll('#datanodes tbody tr.state-live').length === 3`)
		for i := range 3 {
			id := string(tc.DataNode(i).ID())
			if !eval[bool](t, ctx, fmt.Sprintf(`!!document.querySelector('#datanodes tr[data-id=%q]')`, id)) {
				t.Errorf("no row for datanode %d (%s)", i, id)
			}
		}
		// Sorting by blocks, descending, then ascending.
		do(t, ctx, "sort by blocks", chromedp.Click(chromedp.CSS(`#datanodes th[data-key="blocks"]`)))
		if got := eval[bool](t, ctx, `document.querySelector('#datanodes th[data-key="blocks"]').classList.contains("asc")`); !got {
			t.Errorf("clicking the Blocks header did not sort by it")
		}
	})

	t.Run("the browser lists a directory", func(t *testing.T) {
		do(t, ctx, "browse /", chromedp.Navigate(nn+"/browse?path=%2F"), chromedp.WaitVisible(chromedp.CSS(`#listing tbody tr`)))
		do(t, ctx, "open data/", chromedp.Click(chromedp.CSS(`#listing a[href="/browse?path=%2Fdata"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.crumbs[data-path="/data"]`)))
		names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#listing tbody td:first-child a')).map(a => a.textContent.trim())`)
		want := []string{"big.bin", "hello.txt", "logs/", "tables/"}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("listing of /data = %q, want %q", names, want)
		}
		screenshot(t, ctx, "browse")
	})

	t.Run("a file shows its blocks and locations", func(t *testing.T) {
		do(t, ctx, "open big.bin", chromedp.Navigate(nn+"/browse?path=%2Fdata%2Fbig.bin"), chromedp.WaitVisible(chromedp.CSS(`#blocks tbody tr`)))
		rows := eval[int](t, ctx, `document.querySelectorAll('#blocks tbody tr').length`)
		if rows != 3 {
			t.Errorf("big.bin shows %d blocks, want 3", rows)
		}
		locs := eval[int](t, ctx, `document.querySelectorAll('#blocks tbody tr:first-child .loc').length`)
		if locs != 2 {
			t.Errorf("the first block shows %d locations, want 2 (replication 2)", locs)
		}
		screenshot(t, ctx, "file")
	})

	t.Run("downloading a file returns its bytes", func(t *testing.T) {
		// From the page, as the Download link does: through the
		// NameNode's redirect to a DataNode.
		do(t, ctx, "open hello.txt", chromedp.Navigate(nn+"/browse?path=%2Fdata%2Fhello.txt"), chromedp.WaitVisible(chromedp.CSS(`#download`)))
		got := eval[string](t, ctx, `fetch(document.getElementById("download").href).then(r => r.ok ? r.text() : r.text().then(b => "HTTP " + r.status + ": " + b))`)
		if got != string(hello) {
			t.Errorf("download of hello.txt in the browser = %q, want %q", got, hello)
		}
		sum := eval[string](t, ctx, `fetch("/download?path=%2Fdata%2Fbig.bin").then(r => r.arrayBuffer()).then(b => crypto.subtle.digest("SHA-256", b)).then(d => Array.from(new Uint8Array(d)).map(x => x.toString(16).padStart(2, "0")).join(""))`)
		want := sha256.Sum256(big)
		if sum != hex.EncodeToString(want[:]) {
			t.Errorf("SHA-256 of big.bin downloaded in the browser = %s, want %x", sum, want)
		}
		// And with a plain HTTP client.
		resp, err := http.Get(nn + "/download?path=%2Fdata%2Fbig.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, big) {
			t.Errorf("GET /download of big.bin: status %d, %d bytes, err %v; want 200 and its %d bytes", resp.StatusCode, len(body), err, len(big))
		}
	})

	t.Run("a DataNode shows its own page", func(t *testing.T) {
		do(t, ctx, "load datanode 0", chromedp.Navigate("http://"+tc.DataNodeHTTPAddr(0)+"/"), chromedp.WaitVisible(chromedp.CSS(`#volumes tbody tr`)))
		title := eval[string](t, ctx, `document.querySelector("h1").textContent`)
		if id := string(tc.DataNode(0).ID()); !strings.Contains(title, id) {
			t.Errorf("datanode page title %q does not name %s", title, id)
		}
		waitJS(t, ctx, "registered", `document.querySelector('[data-field="namenodeState"]').textContent.trim() === "registered"`)
		screenshot(t, ctx, "datanode")
	})

	t.Run("a stopped node turns dead without a reload", func(t *testing.T) {
		do(t, ctx, "load the datanodes page", chromedp.Navigate(nn+"/datanodes"), chromedp.WaitVisible(chromedp.CSS(`#datanodes tbody tr.state-live`)))
		eval[bool](t, ctx, `window.notReloaded = true`)
		dead := string(tc.DataNode(2).ID())
		tc.StopDataNode(t, 2)
		waitJS(t, ctx, "the stopped node's row to turn dead",
			fmt.Sprintf(`(r => r && r.classList.contains("state-dead"))(document.querySelector('#datanodes tr[data-id=%q]'))`, dead))
		if !eval[bool](t, ctx, `window.notReloaded === true`) {
			t.Errorf("the page was reloaded; it should update itself")
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#datanodes tbody tr.state-live').length`); n != 2 {
			t.Errorf("%d live rows after stopping one of 3 nodes, want 2", n)
		}
		screenshot(t, ctx, "datanodes")
		do(t, ctx, "load the overview", chromedp.Navigate(nn+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-field="deadDatanodes"]`)))
		waitJS(t, ctx, "1 dead datanode on the overview", `document.querySelector('[data-field="deadDatanodes"]').textContent.trim() === "1"`)
	})

	t.Run("the overview reads well on a narrow window", func(t *testing.T) {
		do(t, ctx, "narrow the window", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(nn+"/"),
			chromedp.WaitVisible(chromedp.CSS(`[data-field="files"]`)))
		// Nothing sticks out sideways: the page does not scroll
		// horizontally.
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("page is %dpx wide in a 390px window", w)
		}
		// Only the first screen, as a phone shows it.
		saveScreenshot(t, ctx, "overview-narrow", chromedp.CaptureScreenshot())
		do(t, ctx, "widen the window", chromedp.EmulateViewport(1280, 860))
	})
}

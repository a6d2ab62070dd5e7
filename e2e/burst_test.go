package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// burstClients is how many client processes TestBurstOfClients runs at
// once: as many as made 4-15% of them fail to reach the NameNode before
// Dial waited properly (issue 10, defect 8).
const burstClients = 200

// burstFileSize is the size of each file the burst puts.
const burstFileSize = 2 << 20

// TestBurstOfClients starts 200 `cairn fs put` processes at once, each
// writing its own 2 MB file, then 200 `cairn fs cat` processes at once,
// each reading one back. Every process must succeed and every file must
// read back with exactly its bytes. The machine is meant to be
// overloaded: what is checked is correctness, not speed.
func TestBurstOfClients(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	c.must("fs", "mkdir", "/burst")

	// Each file is a stream of seeded random bytes, generated while it
	// is sent and again while its read is checked: nothing is held in
	// memory or on local disk.
	content := func(i int) io.Reader {
		return io.LimitReader(rand.New(rand.NewSource(int64(1000+i))), burstFileSize)
	}
	want := make([][sha256.Size]byte, burstClients)
	for i := range want {
		h := sha256.New()
		io.Copy(h, content(i))
		copy(want[i][:], h.Sum(nil))
	}

	failures := c.burst(burstClients, func(i int) (io.Reader, io.Writer, []string) {
		return content(i), io.Discard, []string{"fs", "put", "-", fmt.Sprintf("/burst/f%03d", i)}
	}, nil)
	if len(failures) > 0 {
		t.Fatalf("%d of %d concurrent puts failed; first: %s", len(failures), burstClients, strings.Join(first(failures, 5), "; "))
	}

	hashes := make([]hash.Hash, burstClients)
	failures = c.burst(burstClients, func(i int) (io.Reader, io.Writer, []string) {
		hashes[i] = sha256.New()
		return nil, hashes[i], []string{"fs", "cat", fmt.Sprintf("/burst/f%03d", i)}
	}, func(i int) error {
		var got [sha256.Size]byte
		copy(got[:], hashes[i].Sum(nil))
		if got != want[i] {
			return fmt.Errorf("cat /burst/f%03d: bytes differ from what was put", i)
		}
		return nil
	})
	if len(failures) > 0 {
		t.Fatalf("%d of %d concurrent cats failed; first: %s", len(failures), burstClients, strings.Join(first(failures, 5), "; "))
	}

	out := c.must("fs", "ls", "/burst")
	if n := strings.Count(out, "\n"); n != burstClients || strings.Contains(out, "_COPYING_") {
		t.Errorf("ls /burst lists %d entries (temporaries: %v), want %d files", n, strings.Contains(out, "_COPYING_"), burstClients)
	}
}

// burst runs n cairn client processes at once, process i with the
// arguments, standard input and standard output cmd(i) gives, and
// returns a line for each that failed: a non-zero exit, or an error
// from check(i) (if not nil) run after a successful exit.
func (c *cluster) burst(n int, cmd func(i int) (stdin io.Reader, stdout io.Writer, args []string), check func(i int) error) []string {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	failed := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for i := range n {
		stdin, stdout, args := cmd(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			p := exec.CommandContext(ctx, binary, args...)
			p.Env = append(os.Environ(), "CAIRN_NAMENODE="+c.nnAddr)
			var stderr bytes.Buffer
			p.Stdin, p.Stdout, p.Stderr = stdin, stdout, &stderr
			if err := p.Run(); err != nil {
				failed("cairn %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
				return
			}
			if check != nil {
				if err := check(i); err != nil {
					failed("%v", err)
				}
			}
		}()
	}
	wg.Wait()
	return failures
}

// first returns at most the first n of s.
func first(s []string, n int) []string {
	return s[:min(n, len(s))]
}

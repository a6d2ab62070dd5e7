package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

func TestProgressRendersAtMostFiveTimesASecondAndClears(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Unix(0, 0), step: 50 * time.Millisecond}
	p := newProgressTo(&out, "f -> /f", 1000, clock.now)
	for i := 0; i < 100; i++ { // 100 updates over 5 seconds of fake time
		p.add(10)
	}
	p.done()
	s := out.String()
	draws := strings.Count(s, "\r\x1b[K") - 1 // the last one clears
	if draws < 20 || draws > 26 {
		t.Errorf("%d renderings in 5s of updates every 50ms, want about 25", draws)
	}
	if !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("progress does not end by clearing its line: %q", s[max(0, len(s)-40):])
	}
	if !strings.Contains(s, "100%") || !strings.Contains(s, "1000 B / 1000 B") || !strings.Contains(s, "/s") {
		t.Errorf("progress lacks percentage, bytes or rate: %q", s[max(0, len(s)-120):])
	}
	if !strings.Contains(s, "ETA") {
		t.Errorf("progress never shows an ETA: %q", s[:min(len(s), 200)])
	}
}

func TestProgressOfUnknownSize(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p := newProgressTo(&out, "stdin", -1, clock.now)
	p.add(2048)
	p.done()
	if s := out.String(); !strings.Contains(s, "2.0 KiB") || strings.Contains(s, "ETA") || strings.Contains(s, "%") {
		t.Errorf("progress of unknown size = %q, want bytes and rate only", s)
	}
}

func TestNoProgressWhenNotATerminal(t *testing.T) {
	var errb bytes.Buffer
	e := &env{stderr: &errb, isTerminal: func(io.Writer) bool { return false }}
	var dst bytes.Buffer
	n, err := e.copyWithProgress(context.Background(), &dst, strings.NewReader("hello"), "x", 5)
	if n != 5 || err != nil || dst.String() != "hello" {
		t.Errorf("copyWithProgress = %d, %v, %q", n, err, dst.String())
	}
	if errb.Len() != 0 {
		t.Errorf("copyWithProgress wrote %q to a stderr that is not a terminal", errb.String())
	}
	var nilBar *progress
	nilBar.add(1) // must not panic
	nilBar.done()
}

func TestCopyStopsWhenContextEnds(t *testing.T) {
	e := &env{stderr: io.Discard, isTerminal: func(io.Writer) bool { return false }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.copyWithProgress(ctx, io.Discard, strings.NewReader("data"), "x", 4)
	if err == nil {
		t.Error("copyWithProgress with an ended context = nil error, want the context's")
	}
}

func TestFormatETA(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 17 * time.Second: "0:17", 95 * time.Second: "1:35", 3723 * time.Second: "1:02:03",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTempName(t *testing.T) {
	got := tempName("/d/file")
	if !strings.HasPrefix(got, "/d/.file._COPYING_.") || len(got) != len("/d/.file._COPYING_.")+8 {
		t.Errorf("tempName(/d/file) = %q", got)
	}
	if a, b := tempName("/f"), tempName("/f"); a == b {
		t.Errorf("tempName gave %q twice", a)
	}
	long := "/" + strings.Repeat("x", 255)
	if got := tempName(long); len(got)-1 > 255 {
		t.Errorf("tempName of a 255-byte name is %d bytes long", len(got)-1)
	}
}

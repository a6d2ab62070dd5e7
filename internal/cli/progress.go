package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is the shortest time between two renderings of a
// progress bar.
const progressEvery = 200 * time.Millisecond

// progress draws a one-line progress bar (bytes, rate, ETA) on a
// terminal, refreshed at most every progressEvery, and clears it at the
// end. A nil *progress draws nothing, so callers need not check whether
// stderr is a terminal. It is used from one goroutine.
type progress struct {
	w     io.Writer
	label string
	total int64            // -1: unknown
	now   func() time.Time // the clock; time.Now in production

	start time.Time
	last  time.Time // last rendering
	n     int64     // bytes so far
	drawn bool      // a line is on screen
}

// newProgress returns a progress bar on e's stderr for a transfer of
// total bytes (-1 if unknown), or nil when stderr is not a terminal.
func (e *env) newProgress(label string, total int64) *progress {
	if e.isTerminal == nil || !e.isTerminal(e.stderr) {
		return nil
	}
	return newProgressTo(e.stderr, label, total, time.Now)
}

func newProgressTo(w io.Writer, label string, total int64, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, label: label, total: total, now: now, start: t, last: t}
}

// add counts n more bytes and redraws if it is time to.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.n += int64(n)
	if t := p.now(); t.Sub(p.last) >= progressEvery {
		p.last = t
		p.render(t)
	}
}

// done clears the bar.
func (p *progress) done() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
	p.drawn = false
}

func (p *progress) render(t time.Time) {
	elapsed := t.Sub(p.start).Seconds()
	var rate float64
	if elapsed > 0 {
		rate = float64(p.n) / elapsed
	}
	label := p.label
	if len(label) > 40 {
		label = "..." + label[len(label)-37:]
	}
	var b strings.Builder
	b.WriteString("\r\x1b[K")
	b.WriteString(label)
	if p.total >= 0 {
		pct := 100.0
		if p.total > 0 {
			pct = 100 * float64(p.n) / float64(p.total)
		}
		const width = 20
		filled := int(pct / 100 * width)
		filled = min(max(filled, 0), width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%% %s / %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			pct, humanBytes(p.n), humanBytes(p.total))
	} else {
		fmt.Fprintf(&b, " %s", humanBytes(p.n))
	}
	fmt.Fprintf(&b, " %s/s", humanBytes(int64(rate)))
	if p.total >= 0 && rate > 0 && p.n < p.total {
		eta := time.Duration(float64(p.total-p.n) / rate * float64(time.Second))
		fmt.Fprintf(&b, " ETA %s", formatETA(eta))
	}
	io.WriteString(p.w, b.String())
	p.drawn = true
}

// formatETA formats a duration as m:ss or h:mm:ss.
func formatETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// progressReader counts the bytes read through it on a progress bar and
// stops with ctx's error once ctx ends.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	p   *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(b)
	r.p.add(n)
	return n, err
}

// copyBufferSize is the buffer of puts and gets: large enough to keep
// a block pipeline busy, small enough not to matter.
const copyBufferSize = 256 << 10

// copyWithProgress copies src to dst, showing a bar labelled label on
// a terminal, and stops when ctx ends.
func (e *env) copyWithProgress(ctx context.Context, dst io.Writer, src io.Reader, label string, total int64) (int64, error) {
	p := e.newProgress(label, total)
	defer p.done()
	return io.CopyBuffer(onlyWriter{dst}, &progressReader{ctx: ctx, r: src, p: p}, make([]byte, copyBufferSize))
}

// onlyWriter hides any ReaderFrom of the destination, so copies go
// through our buffer and progress reader.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

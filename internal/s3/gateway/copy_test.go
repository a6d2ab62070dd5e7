package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// endFailing is a body that fails its check at its end, as sigv4.Body.
type endFailing struct {
	r   io.Reader
	err error
}

func (b *endFailing) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.err
	}
	return n, err
}

type failingWriter struct {
	n    int
	fail int // fail the write that would pass this many bytes
}

var errWrite = errors.New("write failed")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.fail {
		return 0, errWrite
	}
	w.n += len(p)
	return len(p), nil
}

// countingSource counts what was read of it.
type countingSource struct {
	left, read int
}

func (s *countingSource) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left)
	s.left -= n
	s.read += n
	return n, nil
}

func TestCopyBody(t *testing.T) {
	g, err := New(Config{Client: nil, Credentials: creds})
	if err == nil || g != nil {
		t.Fatal("New without a client succeeded")
	}
	g = &Gateway{}
	g.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	data := randomBytes(5, 3*copyBufSize+17)
	for _, readInCaller := range []bool{true, false} {
		var out bytes.Buffer
		n, err := g.copyBody(&out, bytes.NewReader(data), readInCaller)
		if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("copyBody(readInCaller %v) = %d, %v; copied %d bytes", readInCaller, n, err, out.Len())
		}
		bad := errors.New("bad digest")
		if _, err := g.copyBody(io.Discard, &endFailing{bytes.NewReader(data), bad}, readInCaller); err != bad {
			t.Errorf("copyBody of a body failing at its end = %v, want %v", err, bad)
		}
		src := &countingSource{left: 100 * copyBufSize}
		if _, err := g.copyBody(&failingWriter{fail: copyBufSize}, src, readInCaller); err != errWrite {
			t.Errorf("copyBody to a failing writer = %v, want %v", err, errWrite)
		}
		if src.read > (copyDepth+3)*copyBufSize {
			t.Errorf("after a write failed, %d bytes were read of the source", src.read)
		}
	}
}

package webhdfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// DataNodeConfig configures a DataNode's handler.
type DataNodeConfig struct {
	// Client returns the client the handler reads and writes files
	// with, dialed to the NameNode(s) the DataNode reports to, by the
	// host when first asked for. Required.
	Client func(ctx context.Context) (*client.Client, error)
	// DefaultUser is the user of requests without user.name; "":
	// DefaultUser ("dr.who").
	DefaultUser string
	// BodyTimeout is how long an upload (CREATE, APPEND) waits for its
	// client to send more before it fails; 0: 60s.
	BodyTimeout time.Duration
}

// dataNodeOps are the operations a DataNode's handler serves: those
// the NameNode redirects.
var dataNodeOps = map[string]bool{
	"GET OPEN": true, "GET GETFILECHECKSUM": true,
	"PUT CREATE": true, "POST APPEND": true,
}

// Temporary files of CREATE and APPEND: "<dir>/.<name>._COPYING_.<8
// hex digits>", as cairn fs put names its own.
const tempMarker = "._COPYING_."

// cleanupTimeout bounds the removal of a temporary after a failed
// upload, on a context of its own (the request's may have ended).
const cleanupTimeout = 10 * time.Second

// DataNodeHandler serves WebHDFS on a DataNode.
type DataNodeHandler struct {
	cfg DataNodeConfig
	log *slog.Logger
	// stop ends the uploads in progress (Close): they are aborted, not
	// completed by the Close of the client that follows.
	life context.Context
	stop context.CancelFunc

	mu     sync.Mutex     // guards closed, and wg's Add against Close's Wait
	closed bool           // Close was called
	wg     sync.WaitGroup // the uploads in progress
}

// NewDataNodeHandler returns the handler of Prefix on a DataNode: the
// second step of the operations the NameNode redirects (OPEN, CREATE,
// APPEND, GETFILECHECKSUM), carried out with the public client as any
// client would. The namenoderpcaddress parameter is not followed: the
// client is the host's, dialed to the NameNodes the DataNode serves.
// log receives a line per failed request at Debug; nil: none.
func NewDataNodeHandler(cfg DataNodeConfig, log *slog.Logger) *DataNodeHandler {
	if cfg.DefaultUser == "" {
		cfg.DefaultUser = DefaultUser
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 60 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, stop := context.WithCancel(context.Background())
	return &DataNodeHandler{cfg: cfg, log: log, life: life, stop: stop}
}

// Close aborts the uploads in progress and waits until each has removed
// its temporary file; the host closes its client after it. Requests
// after Close fail.
func (h *DataNodeHandler) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.stop()
	h.wg.Wait()
	return nil
}

// serveUpload serves a CREATE or an APPEND, which Close waits for. Its
// body is read through a bodyReader: a client silent for BodyTimeout,
// or Close, cuts it off and fails the upload.
func (h *DataNodeHandler) serveUpload(ctx context.Context, c *client.Client, w http.ResponseWriter, r *http.Request, req *request) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return exIO.with("the datanode is shutting down")
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body := &bodyReader{r: r.Body, rc: http.NewResponseController(w), idle: h.cfg.BodyTimeout}
	defer body.finish()
	// Close ends the upload: its calls fail, and so does a body read
	// waiting on the client.
	defer context.AfterFunc(h.life, func() {
		cancel()
		body.cut()
	})()
	if req.op == "CREATE" {
		return h.create(ctx, c, w, body, req)
	}
	return h.append(ctx, c, w, body, req)
}

// bodyReader reads a request's body with a read deadline on the
// connection, pushed idle further at every read: a client that stops
// sending is given up instead of holding its upload, and the lease on
// its temporary file, forever. cut gives up at once (Close).
type bodyReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration

	mu       sync.Mutex // guards the fields below, and rc after the handler returns
	finished bool       // the handler is done with the body: rc must not be used
	cutOff   bool
}

// errCut is the error of a body read after cut.
var errCut = errors.New("upload interrupted: the datanode is shutting down")

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.cutOff {
		b.mu.Unlock()
		return 0, errCut
	}
	if !b.finished {
		b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	b.mu.Unlock()
	n, err := b.r.Read(p)
	if err == io.EOF {
		// The body is whole. The server now reads the connection in
		// the background (to see the client go), and a deadline
		// passing there would end the request's context while the
		// upload closes its file: no deadline from here on.
		b.mu.Lock()
		if !b.cutOff && !b.finished {
			b.rc.SetReadDeadline(time.Time{})
		}
		b.mu.Unlock()
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.mu.Lock()
		if b.cutOff {
			err = errCut
		} else {
			err = fmt.Errorf("no data from the client for %v: %w", b.idle, err)
		}
		b.mu.Unlock()
	}
	return n, err
}

// cut makes the read under way, and every later one, fail.
func (b *bodyReader) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutOff = true
	if !b.finished {
		b.rc.SetReadDeadline(time.Now())
	}
}

// finish is called when the handler returns.
func (b *bodyReader) finish() {
	b.mu.Lock()
	b.finished = true
	b.mu.Unlock()
}

func (h *DataNodeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := parseRequest(r.Method, r.URL.Path, r.URL.RawQuery)
	if err == nil {
		err = checkOp(r.Method, req.op, dataNodeOps)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := identify(r.Context(), req, h.cfg.DefaultUser)
	c, err := h.cfg.Client(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch req.op {
	case "OPEN":
		err = h.open(ctx, c, w, req)
	case "GETFILECHECKSUM":
		err = h.checksum(ctx, c, w, req)
	case "CREATE", "APPEND":
		err = h.serveUpload(ctx, c, w, r, req)
	}
	if err != nil {
		h.fail(w, r, err)
	}
}

func (h *DataNodeHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Debug("webhdfs", "method", r.Method, "url", r.URL.String(), "err", err)
	writeError(w, err)
}

// open streams [offset, offset+length) of the file. An error before the
// first byte is answered as a RemoteException; one after it aborts the
// connection, so the reader sees a short body, never a wrong one.
func (h *DataNodeHandler) open(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	rd, err := c.Open(ctx, p)
	if err != nil {
		if errors.Is(err, cairn.IsDir) {
			return exFileNotFound.with("Path is not a file: " + p)
		}
		return notFound(err, p)
	}
	defer rd.Close()
	fi := rd.Stat()
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	if req.offset > fi.Size {
		return exEOF.with("Cannot seek after EOF")
	}
	n := fi.Size - req.offset
	if req.length >= 0 {
		n = min(n, req.length)
	}
	if _, err := rd.Seek(req.offset, io.SeekStart); err != nil {
		return err
	}
	size := 64 << 10
	if req.bufferSize > 0 {
		size = int(min(max(req.bufferSize, 4<<10), 1<<20))
	}
	buf := make([]byte, size)
	// The first bytes are read before the answer is begun.
	first, err := io.ReadFull(rd, buf[:min(int64(len(buf)), n)])
	if err != nil && int64(first) < min(int64(len(buf)), n) {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = exIO.with("file shorter than its length: " + p)
		}
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", itoa(n))
	hd.Set("Access-Control-Allow-Methods", "GET")
	hd.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf[:first]); err != nil {
		return nil // the client went away
	}
	rest := n - int64(first)
	if rest == 0 {
		return nil
	}
	copied, err := io.CopyBuffer(w, io.LimitReader(rd, rest), buf)
	if err == nil && copied < rest {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		h.log.Debug("webhdfs: open aborted", "path", p, "err", err)
		panic(http.ErrAbortHandler) // the body is short: the reader must see it fail
	}
	return nil
}

// create writes the body to a temporary file beside the target and
// renames it onto the target once complete: a failed or aborted upload
// leaves nothing at the target and removes its temporary. The answer
// is 201 Created, Location hdfs://<namenoderpcaddress><path> as
// Hadoop's.
func (h *DataNodeHandler) create(ctx context.Context, c *client.Client, w http.ResponseWriter, body io.Reader, req *request) error {
	p := req.path
	if err := checkCreateTarget(ctx, c, req); err != nil {
		return err
	}
	mode := fs644
	if req.hasPerm {
		mode = req.permission
	}
	tmp := tempName(p)
	if err := h.upload(ctx, c, body, tmp, &client.CreateOptions{
		Replication: req.replication, BlockSize: req.blockSize, Mode: mode, CreateParent: req.createParent,
	}); err != nil {
		return err
	}
	if err := c.RenameTo(ctx, tmp, p, &client.RenameOptions{Overwrite: req.overwrite}); err != nil {
		h.removeTemp(ctx, c, tmp)
		switch {
		case errors.Is(err, cairn.IsDir):
			return exAlreadyExists.with(p + " already exists as a directory")
		case errors.Is(err, cairn.Exist):
			return exAlreadyExists.with(p + " already exists")
		}
		return err
	}
	loc := p
	if nn, ok := req.q.get("namenoderpcaddress"); ok && nn != "" {
		loc = "hdfs://" + nn + p
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// append writes the body to a temporary file beside the target and
// concatenates it onto the target (cairn's concat moves its blocks, in
// one logged step): readers see the file before or after, never a part
// of the bytes appended. An empty body changes nothing.
func (h *DataNodeHandler) append(ctx context.Context, c *client.Client, w http.ResponseWriter, body io.Reader, req *request) error {
	p := req.path
	fi, err := c.Stat(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	tmp := tempName(p)
	if err := h.upload(ctx, c, body, tmp, &client.CreateOptions{
		Replication: fi.Replication, BlockSize: fi.BlockSize, Mode: fi.Mode,
	}); err != nil {
		return err
	}
	tfi, err := c.Stat(ctx, tmp)
	if err == nil && tfi.Size == 0 {
		h.removeTemp(ctx, c, tmp)
	} else if err == nil {
		err = c.Concat(ctx, p, tmp)
	}
	if err != nil {
		h.removeTemp(ctx, c, tmp)
		return notFound(concatError(err, "APPEND"), p)
	}
	writeEmpty(w)
	return nil
}

// upload writes body to the new file tmp; on any failure tmp is
// removed.
func (h *DataNodeHandler) upload(ctx context.Context, c *client.Client, body io.Reader, tmp string, opts *client.CreateOptions) (err error) {
	defer func() {
		if err != nil {
			// Also after a failed Create: it may have taken effect with
			// its answer lost.
			h.removeTemp(ctx, c, tmp)
		}
	}()
	fw, err := c.Create(ctx, tmp, opts)
	if err != nil {
		switch {
		case errors.Is(err, cairn.NotDir):
			return exParentNotDir.with("Parent path is not a directory: " + cairn.Dir(tmp))
		case errors.Is(err, cairn.NotExist):
			return exFileNotFound.with("Parent directory doesn't exist: " + cairn.Dir(tmp))
		}
		return err
	}
	defer fw.Abort() // a no-op after a successful Close
	buf := make([]byte, 64<<10)
	if _, err := io.CopyBuffer(writerOnly{fw}, body, buf); err != nil {
		return exIO.with("upload of " + tmp + " failed: " + err.Error())
	}
	return fw.Close()
}

// writerOnly hides a Writer's other methods from io.CopyBuffer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// removeTemp removes a temporary on a context of its own; one it
// cannot remove is left to the NameNode's lease recovery (if open) or
// to an operator.
func (h *DataNodeHandler) removeTemp(ctx context.Context, c *client.Client, tmp string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.Remove(cctx, tmp); err != nil && !errors.Is(err, cairn.NotExist) {
		h.log.Warn("webhdfs: temporary file left behind", "path", tmp, "err", err)
	}
}

// tempName returns a fresh temporary name beside target.
func tempName(target string) string {
	var b [4]byte
	rand.Read(b[:])
	suffix := tempMarker + hex.EncodeToString(b[:])
	name := cairn.Base(target)
	if m := cairn.MaxNameLen - 1 - len(suffix); len(name) > m {
		name = name[:m]
	}
	return cairn.Join(cairn.Dir(target), "."+name+suffix)
}

// checksum answers Hadoop's MD5-of-MD5-of-CRC32C of the file (see
// fileChecksum).
func (h *DataNodeHandler) checksum(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	fi, err := c.StatBlocks(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	rd, err := c.Open(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	defer rd.Close()
	lens := make([]int64, 0, len(fi.Blocks))
	for _, lb := range fi.Blocks {
		lens = append(lens, lb.Block.Len)
	}
	sum, err := fileChecksum(rd, lens)
	if err != nil {
		return err
	}
	writeJSON(w, fileChecksumBody{sum})
	return nil
}

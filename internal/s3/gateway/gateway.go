package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// Config configures a Gateway.
type Config struct {
	Client      *client.Client    // the gateway's client; requests act as each credential's User via client.AsUser
	Root        string            // bucket root directory; "" = "/s3"
	Domains     []string          // virtual-hosted-style domains (bucket.<domain>)
	Region      string            // "" = us-east-1
	Credentials sigv4.Credentials // required
	// UploadMaxAge is the age past which Run removes an abandoned
	// multipart upload; 0 = 7 days.
	UploadMaxAge time.Duration
	Logger       *slog.Logger // nil = slog.Default()
}

// Defaults of Config and limits of the gateway.
const (
	DefaultRoot         = "/s3"
	DefaultUploadMaxAge = 7 * 24 * time.Hour

	// MaxObjectSize is the largest body of a PutObject or UploadPart,
	// as S3's 5 GiB; larger objects are uploaded in parts.
	MaxObjectSize = 5 << 30
	// MinPartSize is the smallest size of every part of a completed
	// multipart upload but the last, as S3's.
	MinPartSize = 5 << 20
	// maxMetadataSize bounds the x-amz-meta-* headers of an object
	// (names and values), as S3's 2 KB.
	maxMetadataSize = 2 << 10
)

// Gateway serves the S3 API over a cairn namespace. It keeps no state
// of its own: everything (objects, their metadata, multipart uploads)
// lives in the namespace (see doc.go), so several gateways can serve
// the same buckets behind a load balancer and a restart loses nothing.
type Gateway struct {
	c       *client.Client
	root    string
	domains []string
	region  string
	v       *sigv4.Verifier
	maxAge  time.Duration
	log     *slog.Logger

	// Test seams, set by New to their production values.
	now            func() time.Time
	cleanInterval  time.Duration // between two passes of Run
	tempMaxAge     time.Duration // a closed temporary file older is removed
	tempOpenMaxAge time.Duration // a temporary file still open older is removed
	keepAliveAfter time.Duration // a slow copy or completion starts sending white space
	keepAliveEvery time.Duration
	minPartSize    int64

	bufs sync.Pool // of *[]byte of copyBufSize
}

// New returns a Gateway for cfg. It makes no call to the cluster.
func New(cfg Config) (*Gateway, error) {
	if cfg.Client == nil {
		return nil, errors.New("s3 gateway: no client")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("s3 gateway: no credentials")
	}
	root := cfg.Root
	if root == "" {
		root = DefaultRoot
	}
	if err := cairn.ValidatePath(root); err != nil {
		return nil, fmt.Errorf("s3 gateway: root %q: %w", root, err)
	}
	region := cfg.Region
	if region == "" {
		region = sigv4.DefaultRegion
	}
	v, err := sigv4.New(sigv4.Config{Credentials: cfg.Credentials, Regions: []string{region}})
	if err != nil {
		return nil, fmt.Errorf("s3 gateway: %w", err)
	}
	maxAge := cfg.UploadMaxAge
	if maxAge <= 0 {
		maxAge = DefaultUploadMaxAge
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{
		c:              cfg.Client,
		root:           root,
		domains:        append([]string(nil), cfg.Domains...),
		region:         region,
		v:              v,
		maxAge:         maxAge,
		log:            log.With("component", "s3"),
		now:            time.Now,
		cleanInterval:  time.Hour,
		tempMaxAge:     time.Hour,
		tempOpenMaxAge: 24 * time.Hour,
		keepAliveAfter: 5 * time.Second,
		keepAliveEvery: 5 * time.Second,
		minPartSize:    MinPartSize,
	}
	g.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	return g, nil
}

// request is one request being served.
type request struct {
	g    *Gateway
	w    *responseWriter
	r    *http.Request
	id   string
	ctx  context.Context // the request's, acting as the credential's user
	auth *sigv4.Auth
	user string
	q    url.Values

	bucket, key string
}

// responseWriter remembers what was answered, for the log and to know
// whether an error can still be sent.
type responseWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP serves one S3 request: it verifies the signature, routes on
// the bucket and key (never through a ServeMux, which would clean the
// path and change keys) and answers with S3's XML, headers and errors.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// An empty body sent with "Expect: 100-continue" (botocore sends it
	// with every PutObject and UploadPart, empty ones included) gets its
	// 100 Continue before the answer, as S3 sends it: net/http sends one
	// only when a handler reads a body that is not empty. botocore, told
	// the final status at once, keeps that status for the next request
	// on the connection that also expects 100-continue, misreads that
	// answer and waits for its read timeout (60 s) before retrying.
	if r.ContentLength == 0 && r.ProtoAtLeast(1, 1) && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		w.WriteHeader(http.StatusContinue)
	}
	rw := &responseWriter{ResponseWriter: w}
	rq := &request{g: g, w: rw, r: r, id: newRequestID(), ctx: r.Context()}
	h := w.Header()
	h.Set("X-Amz-Request-Id", rq.id)
	h.Set("X-Amz-Id-2", hostID(rq.id))
	h.Set("Server", "cairn")
	err := rq.serve()
	if err != nil {
		rq.fail(err)
	}
	g.log.Debug("request", "id", rq.id, "method", r.Method, "path", r.URL.Path, "query", logQuery(r.URL.RawQuery),
		"user", rq.user, "status", rw.status, "bytes", rw.n, "duration", time.Since(start))
}

// fail answers with err, or, if the answer has begun, cuts the
// connection so that the client sees a broken response rather than a
// short one.
func (rq *request) fail(err error) {
	e := s3.AsError(err)
	level := slog.LevelDebug
	switch {
	case rq.r.Context().Err() != nil:
		// The client is gone: nobody to answer, nothing to act on.
	case e.Code == s3.InternalError:
		level = slog.LevelError
	case e.Status() >= 500:
		level = slog.LevelWarn
	}
	rq.g.log.Log(rq.ctx, level, "request failed", "id", rq.id, "method", rq.r.Method, "path", rq.r.URL.Path,
		"user", rq.user, "code", e.Code, "err", err)
	if rq.w.status != 0 {
		panic(http.ErrAbortHandler)
	}
	// Headers set for a success (ETag, Content-Length) must not go out
	// with an error, except on 304, which carries the ETag.
	// InvalidRange keeps its Content-Range ("bytes */size").
	if e.Code != s3.NotModified {
		if e.Code != s3.InvalidRange {
			rq.w.Header().Del("Content-Range")
		}
		for _, k := range []string{"Etag", "Last-Modified", "Content-Length", "Accept-Ranges", "Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"} {
			rq.w.Header().Del(k)
		}
		for k := range rq.w.Header() {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") || strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				rq.w.Header().Del(k)
			}
		}
	}
	s3.WriteError(rq.w, rq.r, e, rq.id)
}

// logQuery is a query string as it may be logged: the signature of a
// presigned URL, which makes it usable, is blanked.
func logQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && (strings.EqualFold(k, "X-Amz-Signature") || strings.EqualFold(k, "X-Amz-Security-Token")) {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// newRequestID returns 16 upper-case hex digits, as S3's request IDs.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// hostID makes the x-amz-id-2 of a request: S3 sends an opaque token
// there, which clients log next to the request ID.
func hostID(requestID string) string {
	return base64.StdEncoding.EncodeToString([]byte("cairn/" + requestID))
}

func (rq *request) has(name string) bool {
	_, ok := rq.q[name]
	return ok
}

// serve authenticates and routes the request.
func (rq *request) serve() error {
	auth, err := rq.g.v.Verify(rq.r)
	if err != nil {
		return err
	}
	rq.auth = auth
	rq.user = auth.Credential.User
	rq.ctx = client.AsUser(rq.r.Context(), rq.user)
	t, err := s3.ParseTarget(rq.r, rq.g.domains)
	if err != nil {
		return err
	}
	rq.bucket, rq.key = t.Bucket, t.Key
	rq.q, err = url.ParseQuery(rq.r.URL.RawQuery)
	if err != nil {
		return s3.Errorf(s3.InvalidArgument, "The query string is not valid: %v", err)
	}
	switch {
	case rq.bucket == "":
		return rq.serveService()
	case rq.key == "":
		return rq.serveBucket()
	}
	return rq.serveObject()
}

func (rq *request) serveService() error {
	switch rq.r.Method {
	case http.MethodGet, http.MethodHead:
		return rq.listBuckets()
	}
	return &s3.Error{Code: s3.MethodNotAllowed}
}

// The subresources the gateway does not implement. A request naming
// one is NotImplemented, except where an answer of "none" is what a
// client needs (see serveBucket and serveObject).
var (
	bucketSubresources = []string{"accelerate", "analytics", "cors", "encryption", "intelligent-tiering",
		"inventory", "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls",
		"policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment", "tagging",
		"versions", "website", "acl", "versioning", "location", "uploads", "session"}
	objectSubresources = []string{"acl", "attributes", "legal-hold", "restore", "retention", "select",
		"tagging", "torrent", "renameObject"}
)

// subresource returns the first of names the request's query has.
func (rq *request) subresource(names []string) string {
	for _, n := range names {
		if rq.has(n) {
			return n
		}
	}
	return ""
}

func notImplemented(what string) error {
	return s3.Errorf(s3.NotImplemented, "The %s operation is not implemented by cairn's S3 gateway.", what)
}

func (rq *request) serveBucket() error {
	sub := rq.subresource(bucketSubresources)
	switch rq.r.Method {
	case http.MethodPut:
		if sub != "" {
			return notImplemented("PUT ?" + sub)
		}
		return rq.createBucket()
	case http.MethodHead:
		return rq.headBucket()
	case http.MethodDelete:
		if sub != "" {
			return notImplemented("DELETE ?" + sub)
		}
		return rq.deleteBucket()
	case http.MethodPost:
		if rq.has("delete") {
			return rq.deleteObjects()
		}
		return notImplemented("POST")
	case http.MethodGet:
		if _, err := rq.bucketInfo(); err != nil {
			return err
		}
		switch sub {
		case "":
			return rq.listObjects()
		case "location":
			return s3.WriteXML(rq.w, http.StatusOK, s3.NewLocationConstraint(rq.g.region))
		case "versioning":
			return s3.WriteXML(rq.w, http.StatusOK, &s3.VersioningConfiguration{})
		case "uploads":
			return rq.listUploads()
		case "acl":
			return rq.writeACL()
		case "policy":
			return &s3.Error{Code: s3.NoSuchBucketPolicy, BucketName: rq.bucket}
		case "cors":
			return &s3.Error{Code: s3.NoSuchCORSConfiguration, BucketName: rq.bucket}
		case "lifecycle":
			return &s3.Error{Code: s3.NoSuchLifecycleConfiguration, BucketName: rq.bucket}
		case "tagging":
			return &s3.Error{Code: s3.NoSuchTagSet, BucketName: rq.bucket}
		}
		return notImplemented("GET ?" + sub)
	}
	return &s3.Error{Code: s3.MethodNotAllowed}
}

func (rq *request) serveObject() error {
	sub := rq.subresource(objectSubresources)
	if v := rq.q.Get("versionId"); v != "" && v != "null" {
		return &s3.Error{Code: s3.NoSuchVersion, Message: "The specified version does not exist: versioning is not enabled.", Key: rq.key}
	}
	switch rq.r.Method {
	case http.MethodPut:
		switch {
		case sub != "":
			return notImplemented("PUT ?" + sub)
		case rq.has("uploadId") || rq.has("partNumber"):
			if rq.r.Header.Get("X-Amz-Copy-Source") != "" {
				return rq.uploadPartCopy()
			}
			return rq.uploadPart()
		case rq.r.Header.Get("X-Amz-Copy-Source") != "":
			return rq.copyObject()
		}
		return rq.putObject()
	case http.MethodGet, http.MethodHead:
		switch {
		case sub == "acl" && rq.r.Method == http.MethodGet:
			if _, _, err := rq.stat(); err != nil {
				return err
			}
			return rq.writeACL()
		case sub == "tagging" && rq.r.Method == http.MethodGet:
			if _, _, err := rq.stat(); err != nil {
				return err
			}
			return s3.WriteXML(rq.w, http.StatusOK, &tagging{})
		case sub != "":
			return notImplemented(rq.r.Method + " ?" + sub)
		case rq.has("uploadId") && rq.r.Method == http.MethodGet:
			return rq.listParts()
		}
		return rq.getObject()
	case http.MethodDelete:
		switch {
		case sub != "":
			return notImplemented("DELETE ?" + sub)
		case rq.has("uploadId"):
			return rq.abortUpload()
		}
		return rq.deleteObject()
	case http.MethodPost:
		switch {
		case sub != "":
			return notImplemented("POST ?" + sub)
		case rq.has("uploads"):
			return rq.createUpload()
		case rq.has("uploadId"):
			return rq.completeUpload()
		}
		return notImplemented("POST")
	}
	return &s3.Error{Code: s3.MethodNotAllowed}
}

// body returns the verified body of the request, at most max bytes.
func (rq *request) body(max int64) (*sigv4.Body, error) {
	return sigv4.NewBody(rq.r, rq.auth, max)
}

// owner is the S3 owner of what the request's user makes.
func (rq *request) owner() s3.Owner { return s3.Owner{ID: rq.user, DisplayName: rq.user} }

// copyBufSize is the size of the buffers bodies are streamed through,
// and copyDepth how many of them one copy has in flight.
const (
	copyBufSize = 256 << 10
	copyDepth   = 4
)

// copyBody copies src to dst with the reads and the writes in two
// goroutines, so that the work of each overlaps: a request body is
// hashed as it is read (MD5 for the ETag, the signed SHA-256 or
// checksum) while the cairn Writer checksums and sends the bytes read
// before; a cairn Reader verifies the next bytes while the last are
// sent to the client. The side given by readInCaller runs in the
// calling goroutine: a request body must be read there (net/http
// forbids reading it after the handler returns), and a response
// written there. An error of either side stops the copy; a read error
// is returned first, so that a body failing its checks at its end is
// reported as such.
func (g *Gateway) copyBody(dst io.Writer, src io.Reader, readInCaller bool) (int64, error) {
	type chunk struct {
		b *[]byte
		n int
	}
	free := make(chan *[]byte, copyDepth)
	for range copyDepth {
		free <- g.bufs.Get().(*[]byte)
	}
	defer func() {
		for range copyDepth {
			g.bufs.Put(<-free)
		}
	}()
	data := make(chan chunk, copyDepth)
	var stop atomic.Bool
	var total int64
	var rerr, werr error
	read := func() {
		defer close(data)
		for !stop.Load() {
			b := <-free
			n, err := io.ReadFull(src, *b)
			total += int64(n)
			if n > 0 {
				data <- chunk{b, n}
			} else {
				free <- b
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					rerr = err
				}
				return
			}
		}
	}
	write := func() {
		for c := range data {
			if werr == nil {
				if _, werr = dst.Write((*c.b)[:c.n]); werr != nil {
					stop.Store(true)
				}
			}
			free <- c.b
		}
	}
	done := make(chan struct{})
	if readInCaller {
		go func() { write(); close(done) }()
		read()
	} else {
		go func() { read(); close(done) }()
		write()
	}
	<-done
	if rerr != nil {
		return total, rerr
	}
	return total, werr
}

package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/user"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3/gateway"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// Defaults of 'cairn s3'.
const (
	// defaultS3Addr is MinIO's port, which S3 tools' examples use.
	defaultS3Addr = "127.0.0.1:9000"
	defaultS3Root = "/s3"
	// defaultUploadMaxAge is how long an unfinished multipart upload
	// is kept (the gateway's own default).
	defaultUploadMaxAge = 7 * 24 * time.Hour
	// defaultS3DialTimeout is how long 'cairn s3' keeps trying to reach
	// the NameNode when it starts.
	defaultS3DialTimeout = 30 * time.Second
)

// The environment variables 'cairn s3' reads for a key when neither a
// flag nor --credentials gives one. (CAIRN_ACCESS_KEY and
// CAIRN_SECRET_KEY work too, as for every flag of a server command.)
const (
	envS3AccessKey = "CAIRN_S3_ACCESS_KEY"
	envS3SecretKey = "CAIRN_S3_SECRET_KEY"
)

type s3Cmd struct {
	e            *env
	namenode     string
	addr         string
	root         string
	domains      string
	region       string
	accessKey    string
	secretKey    secretValue
	user         string
	credentials  string
	uploadMaxAge time.Duration
	dialTimeout  time.Duration
	tokenFile    string // a superuser's token in secure mode: the gateway acts for its users
	logLevel     levelValue
	tls          tlsFlags
}

func newS3Cmd(e *env) *cobra.Command {
	s := &s3Cmd{e: e, logLevel: levelValue(slog.LevelInfo)}
	cmd := &cobra.Command{
		Use:   "s3 --access-key KEY --secret-key SECRET | --credentials FILE [--namenode HOST:PORT[,...]] [--addr HOST:PORT] [flags]",
		Short: "Run an S3 gateway",
		Long: `Run an S3 gateway: it serves the Amazon S3 REST API on --addr (plain HTTP)
and keeps each bucket as the cairn directory <--root>/<bucket> and each
object as a file in it, so that the objects are cairn files and cairn files
under the root are objects. docs/S3.md lists what is supported and how to set
up aws, rclone, s3cmd and boto3.

Requests are signed with AWS Signature Version 4. The keys come from:

  --credentials FILE   several keys, one a line: ACCESS_KEY SECRET_KEY USER
                       ('#' starts a comment line); each key's requests act
                       as that cairn user. The file must not be accessible
                       to others (chmod 600).
  --access-key KEY --secret-key SECRET
                       one key, acting as --user (default: the OS user
                       running the gateway). Without the flags, the
                       environment variables CAIRN_S3_ACCESS_KEY and
                       CAIRN_S3_SECRET_KEY are read.

Secret keys are never printed or logged. Several gateways may serve the same
root (behind a load balancer): they keep no state of their own.

Every flag can also be set by CAIRN_<FLAG> or a key of the YAML --config
file, as for 'cairn namenode'. It stops on SIGINT or SIGTERM, finishing the
requests under way for up to 5s.

With --tls-ca the gateway reaches the cluster over TLS, verifying its
servers with that CA; with --tls-cert and --tls-key too, it serves S3 over
HTTPS with that certificate.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(s.run),
	}
	f := cmd.Flags()
	f.StringVar(&s.namenode, "namenode", defaultNameNode, "NameNode RPC address, or the addresses of a NameNode group separated by commas")
	f.StringVar(&s.addr, "addr", defaultS3Addr, "address to serve S3 on (port 0: a free port, logged)")
	f.StringVar(&s.root, "root", defaultS3Root, "cairn directory whose subdirectories are the buckets")
	f.StringVar(&s.domains, "domain", "", "domains of virtual-hosted-style requests (BUCKET.DOMAIN), comma separated (empty: path style only)")
	f.StringVar(&s.region, "region", sigv4.DefaultRegion, "region the signatures must name")
	f.StringVar(&s.accessKey, "access-key", "", "access key of the one credential (env "+envS3AccessKey+")")
	f.Var(&s.secretKey, "secret-key", "secret key of --access-key (env "+envS3SecretKey+"); prefer the environment or --credentials, which do not show in ps")
	f.StringVar(&s.user, "user", "", "cairn user the requests of --access-key act as (default: the OS user)")
	f.StringVar(&s.credentials, "credentials", "", "file of credentials, one a line: ACCESS_KEY SECRET_KEY USER")
	f.DurationVar(&s.uploadMaxAge, "upload-max-age", defaultUploadMaxAge, "time after which an unfinished multipart upload is removed")
	f.DurationVar(&s.dialTimeout, "dial-timeout", defaultS3DialTimeout, "how long to keep trying to reach the NameNode at start")
	f.StringVar(&s.tls.cert, "tls-cert", "", "the gateway's TLS certificate (PEM), signed by --tls-ca: S3 is served over HTTPS (empty: HTTP)")
	f.StringVar(&s.tls.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.StringVar(&s.tls.ca, "tls-ca", "", "the CA certificate (PEM) of a cluster that uses TLS: the NameNodes and DataNodes must show certificates it signed (empty: plaintext)")
	tokenFileFlag(f, &s.tokenFile)
	f.Var(&s.logLevel, "log-level", "log level: debug, info, warn or error")
	return cmd
}

// s3Settings is what the s3 command and dev turn their flags into.
type s3Settings struct {
	root         string
	domains      []string
	region       string
	creds        sigv4.StaticCredentials
	uploadMaxAge time.Duration
}

// credentialsFromFlags returns the credentials the flags give, and a
// warning to log if any.
func (s *s3Cmd) credentialsFromFlags() (sigv4.StaticCredentials, string, error) {
	access, secret := s.accessKey, string(s.secretKey)
	if s.credentials != "" {
		if access != "" || secret != "" || s.user != "" {
			return nil, "", usageError("--credentials names every key and user: give it without --access-key, --secret-key and --user")
		}
		creds, warning, err := readCredentialsFile(s.credentials)
		if err != nil {
			return nil, "", usageError("%s", oneLine(err.Error()))
		}
		return staticCredentials(creds), warning, nil
	}
	if access == "" && secret == "" {
		access = strings.TrimSpace(s.e.getenv(envS3AccessKey))
		secret = strings.TrimSpace(s.e.getenv(envS3SecretKey))
	}
	switch {
	case access == "" && secret == "":
		return nil, "", usageError("no credentials: give --access-key and --secret-key (or %s and %s), or --credentials FILE", envS3AccessKey, envS3SecretKey)
	case access == "":
		return nil, "", usageError("a secret key without an access key: give --access-key (or %s)", envS3AccessKey)
	case secret == "":
		return nil, "", usageError("access key %s has no secret key: give --secret-key (or %s)", access, envS3SecretKey)
	}
	u := s.user
	if u == "" {
		u = osUserName()
	}
	c := sigv4.Credential{AccessKey: access, SecretKey: secret, User: u}
	if err := checkCredential(c); err != nil {
		return nil, "", usageError("%v", err)
	}
	return sigv4.StaticCredentials{access: c}, "", nil
}

// osUserName is the name of the user running the command, as the
// client's default owner.
func osUserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cairn"
}

// checkS3Root checks the --root of a gateway.
func checkS3Root(root string) error {
	if err := cairn.ValidatePath(root); err != nil {
		return usageError("invalid --root %q: %v", root, err)
	}
	return nil
}

// splitDomains parses --domain: comma-separated host names.
func splitDomains(list string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(list, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" {
			continue
		}
		if strings.ContainsAny(d, ":/ ") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return nil, usageError("invalid --domain %q: want host names such as s3.example.com, separated by commas", list)
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *s3Cmd) run(ctx context.Context, _ []string) error {
	const op = "s3"
	if _, err := splitAddrs("--namenode", s.namenode); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(s.addr); err != nil {
		return usageError("invalid --addr %q: want HOST:PORT", s.addr)
	}
	if err := checkS3Root(s.root); err != nil {
		return err
	}
	domains, err := splitDomains(s.domains)
	if err != nil {
		return err
	}
	if s.region == "" {
		return usageError("--region must not be empty")
	}
	if s.uploadMaxAge <= 0 || s.dialTimeout <= 0 {
		return usageError("--upload-max-age and --dial-timeout must be positive")
	}
	creds, warning, err := s.credentialsFromFlags()
	if err != nil {
		return err
	}
	var serveTLS *tls.Config
	if s.tls.cert != "" || s.tls.key != "" {
		if serveTLS, err = s.tls.node(op); err != nil {
			return err
		}
	}
	withTLS, err := s.e.clientTLSOption(op, s.tls.ca)
	if err != nil {
		return err
	}
	lis, err := listen(op, s.addr)
	if err != nil {
		return err
	}
	self := lis.Addr().String()
	base := s.e.serverLogger(slog.Level(s.logLevel))
	log := base.With("s3", self)
	if warning != "" {
		log.Warn(warning)
	}
	tok, err := s.e.tokenOption(op, s.tokenFile)
	if err != nil {
		lis.Close()
		return err
	}
	c, err := client.Dial(ctx, s.namenode, client.WithDialTimeout(s.dialTimeout), withTLS, tok)
	if err != nil {
		lis.Close()
		if ctx.Err() != nil {
			return nil // interrupted while starting: a clean stop
		}
		return cairn.E(op, s.namenode, cairn.Unavailable, fmt.Errorf("namenode unreachable: %s", dialCause(err)))
	}
	set := s3Settings{root: s.root, domains: domains, region: s.region, creds: creds, uploadMaxAge: s.uploadMaxAge}
	gw, err := newGateway(c, set, log)
	if err != nil {
		lis.Close()
		c.Close()
		return fail(op, s.root, err)
	}
	// The "listening" line keeps addr= right after msg=, which scripts
	// and tests read.
	scheme := "http://"
	if serveTLS != nil {
		scheme = "https://"
	}
	base.Info("listening", "addr", self, "url", scheme+self, "namenode", s.namenode,
		"root", s.root, "region", s.region, "domains", strings.Join(domains, ","), "access_keys", len(creds))
	n := s3Node(self, gw, gw.Run, lis, c.Close)
	n.tls = serveTLS
	return runNodes(ctx, log, op, []node{n})
}

// newGateway makes a gateway over c with settings set.
func newGateway(c *client.Client, set s3Settings, log *slog.Logger) (*gateway.Gateway, error) {
	return gateway.New(gateway.Config{
		Client:       c,
		Root:         set.root,
		Domains:      set.domains,
		Region:       set.region,
		Credentials:  set.creds,
		UploadMaxAge: set.uploadMaxAge,
		Logger:       log,
	})
}

// s3Node is the node runNodes serves for a gateway: the web server on
// lis runs h; the serve loop runs gw.Run, the gateway's background work
// (removing abandoned uploads), until its context ends; close closes
// the gateway's client.
func s3Node(name string, h http.Handler, run func(context.Context) error, lis net.Listener, close func() error) node {
	return node{
		name: name,
		serve: func(ctx context.Context, _ net.Listener) error {
			if err := run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			<-ctx.Done()
			return nil
		},
		handler: h,
		httpLis: lis,
		close:   close,
	}
}

// lateHandler serves a handler set once it is ready, and answers 503
// Service Unavailable (which S3 clients retry) until then.
type lateHandler struct {
	h atomic.Pointer[http.Handler]
}

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>ServiceUnavailable</Code><Message>The gateway is starting; please retry.</Message></Error>`)
}

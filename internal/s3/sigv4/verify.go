package sigv4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credential is one access key of the gateway and the cairn user its
// requests act as.
type Credential struct {
	AccessKey string
	SecretKey string
	User      string
}

// String names the credential without its secret, so that a credential
// printed with %v or %+v never shows it.
func (c Credential) String() string {
	return fmt.Sprintf("access key %s (user %s)", c.AccessKey, c.User)
}

// GoString is String, so that %#v does not show the secret either.
func (c Credential) GoString() string { return c.String() }

// LogValue logs the access key and the user, never the secret.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKey), slog.String("user", c.User))
}

// ErrUnknownAccessKey is what a Credentials returns (possibly wrapped)
// for an access key it does not know.
var ErrUnknownAccessKey = errors.New("unknown access key")

// Credentials finds the credential of an access key.
type Credentials interface {
	// Lookup returns the credential of accessKey, or an error matching
	// ErrUnknownAccessKey. Any other error is a fault of the lookup
	// itself and is answered with InternalError.
	Lookup(ctx context.Context, accessKey string) (Credential, error)
}

// StaticCredentials is a fixed set of credentials, by access key.
type StaticCredentials map[string]Credential

// Lookup implements Credentials.
func (s StaticCredentials) Lookup(_ context.Context, accessKey string) (Credential, error) {
	c, ok := s[accessKey]
	if !ok {
		return Credential{}, ErrUnknownAccessKey
	}
	return c, nil
}

var _ Credentials = StaticCredentials(nil)

// Limits of S3 that the verifier applies.
const (
	// DefaultMaxSkew is how far a request's time may be from the
	// server's clock, as S3.
	DefaultMaxSkew = 15 * time.Minute
	// MaxPresignExpires is the longest validity of a presigned URL: 7
	// days.
	MaxPresignExpires = 7 * 24 * time.Hour
	// DefaultRegion is the region of a gateway configured with none.
	DefaultRegion = "us-east-1"
)

// Config configures a Verifier.
type Config struct {
	// Credentials finds access keys. Required.
	Credentials Credentials
	// Regions are the regions a credential scope may name. Empty means
	// {DefaultRegion}. The name "US" (s3cmd's) is taken as us-east-1.
	Regions []string
	// AnyRegion accepts any region in a credential scope, as MinIO does
	// when it is configured without one. Off by default.
	AnyRegion bool
	// MaxSkew is the largest difference between a request's time and
	// the server's clock. Zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock; nil means time.Now. A test seam.
	Now func() time.Time
}

// Verifier checks SigV4 signatures. It holds no per-request state and
// is safe for concurrent use.
type Verifier struct {
	creds     Credentials
	regions   map[string]bool
	region    string // first configured region, for error messages
	anyRegion bool
	skew      time.Duration
	now       func() time.Time
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("sigv4: no credentials")
	}
	v := &Verifier{
		creds:     cfg.Credentials,
		regions:   map[string]bool{},
		anyRegion: cfg.AnyRegion,
		skew:      cfg.MaxSkew,
		now:       cfg.Now,
	}
	regions := cfg.Regions
	if len(regions) == 0 {
		regions = []string{DefaultRegion}
	}
	for _, r := range regions {
		if r == "" {
			return nil, errors.New("sigv4: empty region")
		}
		v.regions[r] = true
	}
	v.region = regions[0]
	if v.skew <= 0 {
		v.skew = DefaultMaxSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Auth is a verified request: who signed it and what the signature
// covers of its body.
type Auth struct {
	// Credential is the signer's credential; its User is the cairn user
	// the request acts as.
	Credential Credential
	// Presigned is true for a request authenticated by its query
	// string, false for one with an Authorization header.
	Presigned bool
	// Time is the request's signing time (X-Amz-Date or Date).
	Time time.Time
	// Expires is when a presigned URL stops being valid; zero for
	// header authentication.
	Expires time.Time
	// Region and Service are those of the credential scope.
	Region, Service string
	// PayloadHash is what the signature says of the body: a hex
	// SHA-256, UnsignedPayload, or one of the Streaming values. Use
	// NewBody to read the body accordingly.
	PayloadHash string

	// What NewBody needs to check chunk and trailer signatures.
	key       []byte // signing key of the scope; never logged
	signature string // the request's signature: the seed of the chain
	amzDate   string
	scope     string
}

// LogValue logs an Auth without its signing key.
func (a *Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("credential", a.Credential),
		slog.Bool("presigned", a.Presigned),
		slog.String("payload", a.PayloadHash),
	)
}

// credentialScope is the parsed Credential: AKID/date/region/service/aws4_request.
type credentialScope struct {
	accessKey, date, region, service string
}

func (c credentialScope) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/aws4_request"
}

// parseCredential splits a Credential value. The access key is
// everything before the last four components, so that a key holding
// '/' (MinIO allows them) still works.
func parseCredential(s string) (credentialScope, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return credentialScope{}, fmt.Errorf("the Credential %q is not of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request", s)
	}
	n := len(parts)
	c := credentialScope{
		accessKey: strings.Join(parts[:n-4], "/"),
		date:      parts[n-4],
		region:    parts[n-3],
		service:   parts[n-2],
	}
	switch {
	case c.accessKey == "":
		return c, fmt.Errorf("the Credential %q has no access key", s)
	case !isDate(c.date):
		return c, fmt.Errorf("the Credential date %q is not of the form YYYYMMDD", c.date)
	case c.region == "":
		return c, fmt.Errorf("the Credential %q has no region", s)
	case c.service != "s3":
		return c, fmt.Errorf("the Credential service %q is not s3", c.service)
	case parts[n-1] != "aws4_request":
		return c, fmt.Errorf("the Credential %q does not end in aws4_request", s)
	}
	return c, nil
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := time.Parse(yyyymmdd, s)
	return err == nil
}

// authorization is a parsed Authorization header.
type authorization struct {
	cred      credentialScope
	signed    []string // SignedHeaders, lower-case, in the client's order
	signedRaw string
	signature string
}

// parseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//
// with components separated by commas and optional white space.
func parseAuthorization(v string) (authorization, *Error) {
	var a authorization
	algo, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
	switch {
	case algo == Algorithm:
	case algo == "AWS":
		return a, newError(CodeInvalidRequest, "The authorization mechanism you have provided is not supported. Please use %s.", Algorithm)
	case algo == "AWS4-ECDSA-P256-SHA256":
		return a, newError(CodeNotImplemented, "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported; use %s", Algorithm)
	default:
		return a, newError(CodeAuthorizationHeaderMalformed, "The authorization header is malformed; the algorithm %q is not supported, use %s.", truncate(algo), Algorithm)
	}
	var cred, signed, sig string
	var seenCred, seenSigned, seenSig bool
	for _, comp := range strings.Split(rest, ",") {
		comp = strings.Trim(comp, " \t")
		if comp == "" {
			continue
		}
		k, val, ok := strings.Cut(comp, "=")
		if !ok {
			return a, malformedHeader("the component %q is not of the form Name=value", truncate(comp))
		}
		var seen *bool
		switch k {
		case "Credential":
			cred, seen = val, &seenCred
		case "SignedHeaders":
			signed, seen = val, &seenSigned
		case "Signature":
			sig, seen = val, &seenSig
		default:
			return a, malformedHeader("the component %q is unknown", truncate(k))
		}
		if *seen {
			return a, malformedHeader("the component %s appears twice", k)
		}
		*seen = true
	}
	switch {
	case !seenCred:
		return a, malformedHeader("the Credential is missing")
	case !seenSigned:
		return a, malformedHeader("the SignedHeaders are missing")
	case !seenSig:
		return a, malformedHeader("the Signature is missing")
	}
	c, err := parseCredential(cred)
	if err != nil {
		return a, malformedHeader("%v", err)
	}
	a.cred = c
	if a.signed, err = parseSignedHeaders(signed); err != nil {
		return a, malformedHeader("%v", err)
	}
	a.signedRaw = signed
	if !isHexSHA256(sig) {
		return a, malformedHeader("the Signature is not 64 hex digits")
	}
	a.signature = sig
	return a, nil
}

func malformedHeader(format string, args ...any) *Error {
	return newError(CodeAuthorizationHeaderMalformed, "The authorization header is malformed; "+format+".", args...)
}

func malformedQuery(format string, args ...any) *Error {
	return newError(CodeAuthorizationQueryParametersError, format, args...)
}

// parseSignedHeaders splits a SignedHeaders value. Names must be
// non-empty, lower-case tokens, each once; "host" must be one of them.
func parseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("the SignedHeaders list is empty")
	}
	names := strings.Split(s, ";")
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsAny(n, " \t:") {
			return nil, fmt.Errorf("the signed header name %q is not a lower-case header name", truncate(n))
		}
		if seen[n] {
			return nil, fmt.Errorf("the signed header %q appears twice", truncate(n))
		}
		seen[n] = true
	}
	if !seen["host"] {
		return nil, errors.New("the host header is not signed")
	}
	return names, nil
}

// truncate shortens client-provided text quoted in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// Verify authenticates r by its Authorization header or, for a
// presigned URL, by its query string. It returns the signer's
// credential and what the signature covers of the body; the body itself
// is read through NewBody. Every failure is an *Error carrying the S3
// error code to answer with.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	a, err := v.verify(r)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (v *Verifier) verify(r *http.Request) (*Auth, *Error) {
	params, qerr := parseQuery(r.URL.RawQuery)
	presigned, sigV2 := false, false
	for _, p := range params {
		switch p.name {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature":
			presigned = true
		case "AWSAccessKeyId", "Signature":
			sigV2 = true
		}
	}
	authz := r.Header.Values("Authorization")
	switch {
	case len(authz) > 0 && presigned:
		return nil, newError(CodeInvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case len(authz) > 1:
		return nil, malformedHeader("the request has %d Authorization headers", len(authz))
	case len(authz) == 1:
		if qerr != nil {
			return nil, newError(CodeInvalidArgument, "The query string is not valid percent-encoding: %v", qerr)
		}
		return v.verifyHeader(r, authz[0], params)
	case presigned:
		if qerr != nil {
			return nil, newError(CodeInvalidArgument, "The query string is not valid percent-encoding: %v", qerr)
		}
		return v.verifyPresigned(r, params)
	case sigV2:
		return nil, newError(CodeInvalidRequest, "The authorization mechanism you have provided is not supported. Please use %s.", Algorithm)
	}
	return nil, newError(CodeAccessDenied, "Anonymous access is not allowed; sign the request with AWS Signature Version 4")
}

// checkRegion accepts the configured regions, "US" for us-east-1, or
// any region if so configured.
func (v *Verifier) checkRegion(region string) bool {
	if v.anyRegion || v.regions[region] {
		return true
	}
	return region == "US" && v.regions["us-east-1"]
}

func (v *Verifier) lookup(r *http.Request, accessKey string) (Credential, *Error) {
	c, err := v.creds.Lookup(r.Context(), accessKey)
	if errors.Is(err, ErrUnknownAccessKey) {
		return c, &Error{Code: CodeInvalidAccessKeyID, Message: "The AWS Access Key Id you provided does not exist in our records.", AccessKeyID: accessKey}
	}
	if err != nil {
		return c, &Error{Code: CodeInternalError, Message: "We encountered an internal error. Please try again.", Err: err}
	}
	return c, nil
}

// unsignedAmzHeaders lists the x-amz-* headers of r that are not
// signed. S3 refuses them: a signature must cover every header that
// changes what a request does (x-amz-copy-source, x-amz-meta-*, ...).
func unsignedAmzHeaders(r *http.Request, signed []string) []string {
	in := make(map[string]bool, len(signed))
	for _, s := range signed {
		in[s] = true
	}
	var out []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") && !in[lk] {
			out = append(out, lk)
		}
	}
	sort.Strings(out)
	return out
}

func notSigned(names []string) *Error {
	e := newError(CodeAccessDenied, "There were headers present in the request which were not signed: %s", strings.Join(names, ", "))
	e.Header = strings.Join(names, ",")
	return e
}

// payloadValue checks an x-amz-content-sha256 value.
func payloadValue(s string, presigned bool) *Error {
	switch {
	case isHexSHA256(s), s == UnsignedPayload:
		return nil
	case s == StreamingPayload, s == StreamingPayloadTrailer, s == StreamingUnsignedTrailer:
		if presigned {
			return newError(CodeInvalidRequest, "x-amz-content-sha256 %s is not allowed with a presigned URL", s)
		}
		return nil
	case s == streamingECDSA, s == streamingECDSATrailer:
		return newError(CodeNotImplemented, "Signature Version 4A payloads (%s) are not supported", s)
	}
	return newError(CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, %s, %s, %s or a valid sha256 value.",
		StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer)
}

func (v *Verifier) verifyHeader(r *http.Request, header string, params []queryParam) (*Auth, *Error) {
	az, perr := parseAuthorization(header)
	if perr != nil {
		return nil, perr
	}
	// The request time: X-Amz-Date, else Date.
	var t time.Time
	var amzDate string
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		var err error
		if t, err = time.Parse(iso8601Basic, d); err != nil {
			return nil, newError(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		amzDate = d
	} else if d := r.Header.Get("Date"); d != "" {
		var err error
		if t, err = http.ParseTime(d); err != nil {
			return nil, newError(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		t = t.UTC()
		amzDate = t.Format(iso8601Basic)
	} else {
		return nil, newError(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if az.cred.date != t.Format(yyyymmdd) {
		return nil, malformedHeader("the Credential date %s is not the date of the request time %s", az.cred.date, amzDate)
	}
	if !v.checkRegion(az.cred.region) {
		e := newError(CodeAuthorizationHeaderMalformed, "The authorization header is malformed; the region '%s' is wrong; expecting '%s'", truncate(az.cred.region), v.region)
		e.Region = v.region
		return nil, e
	}
	cred, lerr := v.lookup(r, az.cred.accessKey)
	if lerr != nil {
		return nil, lerr
	}
	if un := unsignedAmzHeaders(r, az.signed); len(un) > 0 {
		return nil, notSigned(un)
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		// S3 requires the header. A request without a body is let
		// through (as MinIO does): what its signer hashed can only be
		// the empty payload.
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			e := newError(CodeMissingSecurityHeader, "Your request was missing a required header: x-amz-content-sha256")
			e.Header = "x-amz-content-sha256"
			return nil, e
		}
		payload = EmptySHA256
	} else if perr := payloadValue(payload, false); perr != nil {
		return nil, perr
	}
	creq, err := canonicalRequest(r, canonicalQuery(params, ""), az.signed, az.signedRaw, payload)
	if err != nil {
		return nil, malformedHeader("a header named in SignedHeaders is not in the request")
	}
	a := &Auth{
		Credential:  cred,
		Time:        t,
		Region:      az.cred.region,
		Service:     az.cred.service,
		PayloadHash: payload,
		amzDate:     amzDate,
		scope:       az.cred.scope(),
	}
	if e := a.check(cred, creq, az.signature); e != nil {
		return nil, e
	}
	if now := v.now(); now.Sub(t) > v.skew || t.Sub(now) > v.skew {
		return nil, newError(CodeRequestTimeTooSkewed, "The difference between the request time (%s) and the server's time (%s) is too large.", amzDate, now.UTC().Format(iso8601Basic))
	}
	return a, nil
}

// check computes the signature of a canonical request and compares it
// with the one provided. On success it keeps what chunk verification
// needs.
func (a *Auth) check(cred Credential, creq, provided string) *Error {
	sts := stringToSign(Algorithm, a.amzDate, a.scope, sha256Hex(creq))
	key := signingKey(cred.SecretKey, a.scope[:8], a.Region, a.Service)
	if !sameSignature(signHex(key, sts), provided) {
		return &Error{
			Code:              CodeSignatureDoesNotMatch,
			Message:           "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			AccessKeyID:       cred.AccessKey,
			SignatureProvided: provided,
			StringToSign:      sts,
			CanonicalRequest:  creq,
		}
	}
	a.key = key
	a.signature = strings.ToLower(provided)
	return nil
}

// The query parameters of a presigned URL.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// presignParams are the parsed authentication parameters of a
// presigned URL.
type presignParams struct {
	cred      credentialScope
	date      time.Time
	amzDate   string
	expires   time.Duration
	signed    []string
	signedRaw string
	signature string
	payload   string // X-Amz-Content-Sha256 of the query, if any
}

// parsePresign extracts and checks the authentication parameters of a
// presigned URL.
func parsePresign(params []queryParam) (presignParams, *Error) {
	var p presignParams
	got := map[string]string{}
	for _, q := range params {
		switch q.name {
		case qAlgorithm, qCredential, qDate, qExpires, qSignedHeaders, qSignature, qContentSHA256:
			if _, dup := got[q.name]; dup {
				return p, malformedQuery("The query parameter %s appears more than once.", q.name)
			}
			got[q.name] = q.value
		}
	}
	for _, name := range []string{qAlgorithm, qCredential, qSignature, qDate, qSignedHeaders, qExpires} {
		if _, ok := got[name]; !ok {
			return p, malformedQuery("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	if got[qAlgorithm] != Algorithm {
		if got[qAlgorithm] == "AWS4-ECDSA-P256-SHA256" {
			return p, newError(CodeNotImplemented, "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported; use %s", Algorithm)
		}
		return p, malformedQuery("X-Amz-Algorithm only supports \"%s\"", Algorithm)
	}
	c, err := parseCredential(got[qCredential])
	if err != nil {
		return p, malformedQuery("Error parsing the X-Amz-Credential parameter; %v.", err)
	}
	p.cred = c
	p.amzDate = got[qDate]
	if p.date, err = time.Parse(iso8601Basic, p.amzDate); err != nil {
		return p, malformedQuery("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	exp, err := strconv.ParseInt(got[qExpires], 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return p, malformedQuery("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	case err != nil:
		return p, malformedQuery("X-Amz-Expires should be a number")
	case exp < 0:
		return p, malformedQuery("X-Amz-Expires must be non-negative")
	case exp > int64(MaxPresignExpires/time.Second):
		return p, malformedQuery("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	p.expires = time.Duration(exp) * time.Second
	if p.signed, err = parseSignedHeaders(got[qSignedHeaders]); err != nil {
		return p, malformedQuery("Error parsing the X-Amz-SignedHeaders parameter; %v.", err)
	}
	p.signedRaw = got[qSignedHeaders]
	p.signature = got[qSignature]
	if !isHexSHA256(p.signature) {
		return p, malformedQuery("X-Amz-Signature is not 64 hex digits")
	}
	p.payload = got[qContentSHA256]
	return p, nil
}

func (v *Verifier) verifyPresigned(r *http.Request, params []queryParam) (*Auth, *Error) {
	p, perr := parsePresign(params)
	if perr != nil {
		return nil, perr
	}
	if p.cred.date != p.date.Format(yyyymmdd) {
		return nil, malformedQuery("Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", p.cred.date, p.date.Format(yyyymmdd))
	}
	if !v.checkRegion(p.cred.region) {
		e := malformedQuery("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", truncate(p.cred.region), v.region)
		e.Region = v.region
		return nil, e
	}
	cred, lerr := v.lookup(r, p.cred.accessKey)
	if lerr != nil {
		return nil, lerr
	}
	if un := unsignedAmzHeaders(r, p.signed); len(un) > 0 {
		return nil, notSigned(un)
	}
	// The payload: X-Amz-Content-Sha256 of the query (signed with it),
	// else the signed header, else unsigned.
	payload := p.payload
	if payload == "" {
		payload = r.Header.Get("X-Amz-Content-Sha256")
	}
	if payload == "" {
		payload = UnsignedPayload
	} else if e := payloadValue(payload, true); e != nil {
		return nil, e
	}
	creq, err := canonicalRequest(r, canonicalQuery(params, qSignature), p.signed, p.signedRaw, payload)
	if err != nil {
		return nil, malformedQuery("A header named in X-Amz-SignedHeaders is not in the request.")
	}
	a := &Auth{
		Credential:  cred,
		Presigned:   true,
		Time:        p.date,
		Expires:     p.date.Add(p.expires),
		Region:      p.cred.region,
		Service:     p.cred.service,
		PayloadHash: payload,
		amzDate:     p.amzDate,
		scope:       p.cred.scope(),
	}
	if e := a.check(cred, creq, p.signature); e != nil {
		return nil, e
	}
	now := v.now()
	if p.date.Sub(now) > v.skew {
		return nil, newError(CodeAccessDenied, "Request is not valid yet")
	}
	if now.After(a.Expires) {
		return nil, newError(CodeAccessDenied, "Request has expired")
	}
	return a, nil
}

package webhdfs

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/token"
)

// Prefix is where WebHDFS is served: /webhdfs/v1/<path>?op=...
const Prefix = "/webhdfs/v1"

// userPattern is Hadoop's dfs.webhdfs.user.provider.user.pattern, the
// domain of user.name (and of SETOWNER's owner).
var userPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*[$]?$`)

// permissionPattern is the domain of Hadoop's PermissionParam: three
// octal digits, with an optional leading 0 or 1 (the sticky bit).
var permissionPattern = regexp.MustCompile(`^[0-1]?[0-7][0-7][0-7]$`)

// fsActionPattern is the domain of CHECKACCESS's fsaction.
var fsActionPattern = regexp.MustCompile(`^[r-][w-][x-]$`)

// request is one WebHDFS request, parsed: its path, its operation and
// every parameter it carries, each checked against its domain as
// Hadoop checks them (a parameter the operation does not use is
// checked too, as Hadoop's do).
type request struct {
	method string // GET, PUT, POST or DELETE
	op     string // upper case
	path   string // a valid cairn path
	q      query
	// scheme is the scheme of the URLs the request is sent on to
	// (another NameNode, a DataNode): that of the request itself,
	// "https" when it came over TLS, since the nodes of a cluster
	// serve their web ports all with TLS or all without. Set by the
	// handler; "": http.
	scheme string

	user string // user.name; "" when absent

	offset     int64 // 0 when absent
	length     int64 // -1 when absent
	bufferSize int64 // 0 when absent

	overwrite   bool
	blockSize   int64       // 0: the NameNode's default
	replication int         // 0: the default
	permission  fs.FileMode // meaningful when hasPerm
	hasPerm     bool
	recursive   bool
	noRedirect  bool
	// createParent (createparent, default true) creates a CREATE's
	// missing parent directories.
	createParent bool

	destination   string   // RENAME; "" when absent
	renameOptions []string // RENAME: OVERWRITE, NONE
	owner, group  string   // SETOWNER
	modTime       int64    // SETTIMES; -1 when absent
	accessTime    int64    // SETTIMES; -1 when absent
	sources       []string // CONCAT
	startAfter    string   // LISTSTATUS_BATCH

	xattrNames    []string // xattr.name, every one given
	xattrValue    []byte   // xattr.value, decoded; nil when absent
	hasXAttrValue bool
	encoding      string // text, hex or base64; "" when absent
	xattrFlag     string // CREATE, REPLACE or both; "" when absent
}

// query holds a request's parameters by lower-case name (Hadoop's
// parameter names are case-insensitive), each with all its values.
type query map[string][]string

func (q query) get(name string) (string, bool) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// paramError is an invalid parameter value, in Hadoop's words.
func paramError(name, value, why string) error {
	return &Exception{Status: 400, Name: "IllegalArgumentException", Class: "java.lang.IllegalArgumentException",
		Message: fmt.Sprintf("Invalid value for webhdfs parameter \"%s\": %s", name, why)}
}

func illegalArgument(format string, args ...any) error {
	return &Exception{Status: 400, Name: "IllegalArgumentException", Class: "java.lang.IllegalArgumentException",
		Message: fmt.Sprintf(format, args...)}
}

// parsePath turns the decoded URL path of a request into a cairn path:
// what follows Prefix, "/" when nothing does. A single trailing slash
// is dropped ("/a/b/" is "/a/b"), as Hadoop's Path does; anything else
// that is not a valid cairn path (".", "..", "//", NUL, an element
// longer than 255 bytes) is an IllegalArgumentException.
func parsePath(urlPath string) (string, error) {
	rest, ok := strings.CutPrefix(urlPath, Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", illegalArgument("Invalid path: %q is not under %s/", urlPath, Prefix)
	}
	if rest == "" || rest == "/" {
		return "/", nil
	}
	p := strings.TrimSuffix(rest, "/")
	if p == "/" {
		p = rest // "//": refused below
	}
	if err := cairn.ValidatePath(p); err != nil {
		return "", illegalArgument("Invalid path name %s: %v", rest, err)
	}
	return p, nil
}

// parseRequest parses a request's method, decoded URL path and raw
// query. Every error is an *Exception.
func parseRequest(method, urlPath, rawQuery string) (*request, error) {
	r := &request{method: method, length: -1, modTime: -1, accessTime: -1}
	p, err := parsePath(urlPath)
	if err != nil {
		return nil, err
	}
	r.path = p
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, illegalArgument("Invalid query string: %v", err)
	}
	r.q = make(query, len(vals))
	for k, v := range vals {
		lk := strings.ToLower(k)
		r.q[lk] = append(r.q[lk], v...)
	}
	op, ok := r.q.get("op")
	if !ok || op == "" {
		return nil, paramError("op", op, "op is missing")
	}
	r.op = strings.ToUpper(op)
	if err := r.parseParams(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *request) parseParams() error {
	q := r.q
	if v, ok := q.get("user.name"); ok && v != "" {
		if !userPattern.MatchString(v) {
			return paramError("user.name", v, fmt.Sprintf("Invalid value: %q does not belong to the domain %s", v, userPattern))
		}
		r.user = v
	}
	var err error
	if r.offset, err = longParam(q, "offset", 0, 0); err != nil {
		return err
	}
	if r.length, err = longParam(q, "length", -1, 0); err != nil {
		return err
	}
	if r.bufferSize, err = longParam(q, "buffersize", 0, 1); err != nil {
		return err
	}
	if r.blockSize, err = longParam(q, "blocksize", 0, 1); err != nil {
		return err
	}
	repl, err := longParam(q, "replication", 0, 1)
	if err != nil {
		return err
	}
	if repl > 1<<15-1 {
		return paramError("replication", strconv.FormatInt(repl, 10), "replication larger than 32767")
	}
	r.replication = int(repl)
	if r.modTime, err = longParam(q, "modificationtime", -1, -1); err != nil {
		return err
	}
	if r.accessTime, err = longParam(q, "accesstime", -1, -1); err != nil {
		return err
	}
	if r.overwrite, err = boolParam(q, "overwrite"); err != nil {
		return err
	}
	if r.recursive, err = boolParam(q, "recursive"); err != nil {
		return err
	}
	if r.noRedirect, err = boolParam(q, "noredirect"); err != nil {
		return err
	}
	r.createParent = true
	if v, ok := q.get("createparent"); ok && v != "" {
		if r.createParent, err = boolParam(q, "createparent"); err != nil {
			return err
		}
	}
	if v, ok := q.get("permission"); ok && v != "" {
		if !permissionPattern.MatchString(v) {
			return paramError("permission", v, fmt.Sprintf("Invalid value: %q does not belong to the domain %s", v, permissionPattern))
		}
		n, _ := strconv.ParseUint(v, 8, 32)
		// The sticky bit (1xxx) is accepted and dropped: cairn keeps
		// permission bits only.
		r.permission, r.hasPerm = fs.FileMode(n).Perm(), true
	}
	if v, ok := q.get("destination"); ok && v != "" {
		if !strings.HasPrefix(v, "/") {
			return paramError("destination", v, fmt.Sprintf("Invalid parameter value: destination = %q is not an absolute path", v))
		}
		d := v
		if len(d) > 1 {
			d = strings.TrimSuffix(d, "/")
		}
		if err := cairn.ValidatePath(d); err != nil {
			return paramError("destination", v, err.Error())
		}
		r.destination = d
	}
	if v, ok := q.get("renameoptions"); ok && v != "" {
		for _, o := range strings.Split(v, ",") {
			o = strings.ToUpper(strings.TrimSpace(o))
			if o != "OVERWRITE" && o != "NONE" {
				return paramError("renameoptions", v, fmt.Sprintf("No enum constant org.apache.hadoop.fs.Options.Rename.%s", o))
			}
			r.renameOptions = append(r.renameOptions, o)
		}
	}
	if v, ok := q.get("owner"); ok && v != "" {
		if !userPattern.MatchString(v) {
			return paramError("owner", v, fmt.Sprintf("Invalid value: %q does not belong to the domain %s", v, userPattern))
		}
		r.owner = v
	}
	if v, ok := q.get("group"); ok {
		if strings.ContainsAny(v, "\x00/:") {
			return paramError("group", v, "invalid group name")
		}
		r.group = v
	}
	if v, ok := q.get("sources"); ok && v != "" {
		for _, s := range strings.Split(v, ",") {
			if err := cairn.ValidatePath(s); err != nil {
				return paramError("sources", v, err.Error())
			}
			r.sources = append(r.sources, s)
		}
	}
	if v, ok := q.get("startafter"); ok {
		if strings.ContainsAny(v, "/\x00") {
			return paramError("startAfter", v, "not a name")
		}
		r.startAfter = v
	}
	if v, ok := q.get("fsaction"); ok && v != "" {
		if !fsActionPattern.MatchString(v) {
			return paramError("fsaction", v, fmt.Sprintf("Invalid value: %q does not belong to the domain %s", v, fsActionPattern))
		}
	}
	if v, ok := q.get("encoding"); ok && v != "" {
		switch e := strings.ToLower(v); e {
		case "text", "hex", "base64":
			r.encoding = e
		default:
			return paramError("encoding", v, fmt.Sprintf("No enum constant org.apache.hadoop.fs.XAttrCodec.%s", strings.ToUpper(v)))
		}
	}
	for _, n := range q["xattr.name"] {
		if err := checkXAttrName(n); err != nil {
			return err
		}
		r.xattrNames = append(r.xattrNames, n)
	}
	if v, ok := q.get("xattr.value"); ok {
		b, err := decodeXAttrValue(v)
		if err != nil {
			return paramError("xattr.value", v, err.Error())
		}
		r.xattrValue, r.hasXAttrValue = b, true
	}
	if v, ok := q.get("flag"); ok && v != "" {
		var flags []string
		for _, f := range strings.Split(v, ",") {
			f = strings.ToUpper(strings.TrimSpace(f))
			if f != "CREATE" && f != "REPLACE" {
				return paramError("flag", v, fmt.Sprintf("No enum constant org.apache.hadoop.fs.XAttrSetFlag.%s", f))
			}
			flags = append(flags, f)
		}
		r.xattrFlag = strings.Join(flags, ",")
	}
	return nil
}

// longParam parses a decimal parameter; def when absent or empty; an
// error below min.
func longParam(q query, name string, def, min int64) (int64, error) {
	v, ok := q.get(name)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, paramError(name, v, fmt.Sprintf("Failed to parse %q as a radix-10 long integer.", v))
	}
	if n < min {
		return 0, paramError(name, v, fmt.Sprintf("Invalid parameter range: %s = %d < %d", name, n, min))
	}
	return n, nil
}

// boolParam parses "true" or "false" (any case); false when absent or
// empty.
func boolParam(q query, name string) (bool, error) {
	v, ok := q.get(name)
	if !ok || v == "" {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, paramError(name, v, fmt.Sprintf("Invalid value: %q does not belong to the domain true|false", v))
}

// checkXAttrName checks an extended attribute's name as Hadoop's
// XAttrNameParam does: a namespace, a dot, a name.
func checkXAttrName(n string) error {
	ns, name, ok := strings.Cut(n, ".")
	switch strings.ToLower(ns) {
	case "user", "trusted", "system", "security", "raw":
	default:
		ok = false
	}
	if !ok || name == "" {
		return paramError("xattr.name", n, fmt.Sprintf("Invalid value: %q does not belong to the domain ^(user\\.|trusted\\.|system\\.|security\\.).+$", n))
	}
	return nil
}

// identify returns the context a request's calls are made under: with
// a delegation= token (a secured cluster), the token's user, whom
// user.name cannot change; else user.name, trusted as given (Hadoop's
// pseudo authentication), or def. req.user is set to the user the
// calls are for (a token's as it reads, unverified: the NameNode
// verifies it with every call, and refuses a forged one).
func identify(ctx context.Context, req *request, def string) context.Context {
	if tok, ok := req.q.get("delegation"); ok && tok != "" {
		req.user = ""
		if t, err := token.Parse(tok); err == nil {
			req.user = t.User
		}
		return client.WithCallToken(ctx, tok)
	}
	if req.user == "" {
		req.user = def
	}
	return client.AsUser(ctx, req.user)
}

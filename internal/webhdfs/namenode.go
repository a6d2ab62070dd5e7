package webhdfs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// DefaultUser is the user of a request without user.name, as Hadoop's
// hadoop.http.staticuser.user: "dr.who".
const DefaultUser = "dr.who"

// listPage is the most entries one LISTSTATUS_BATCH answer holds (and
// LISTSTATUS reads at a time): HDFS's dfs.ls.limit.
const listPage = 1000

// NameNode is what the NameNode's handler needs of the NameNode that
// serves it.
type NameNode interface {
	// Leader reports whether this NameNode serves the namespace (it
	// alone, or the leader of its group) and, when it does not, the
	// web address (host:port) of the one that does; "" if unknown.
	Leader() (leads bool, leaderHTTP string)
	// DataNodes returns the DataNodes a write or a read may be sent
	// to: live, in service, with a web address.
	DataNodes(ctx context.Context) ([]cairn.DatanodeInfo, error)
	// RPCAddr is the NameNode's RPC address, given to DataNodes in the
	// namenoderpcaddress parameter of a redirect.
	RPCAddr() string
}

// NameNodeConfig configures the NameNode's handler.
type NameNodeConfig struct {
	// Client returns the client the handler calls the NameNode
	// through, dialed to this NameNode (or its group) by the host when
	// first asked for. Required.
	Client func(ctx context.Context) (*client.Client, error)
	// NameNode is the host. Required.
	NameNode NameNode
	// DefaultUser is the user of requests without user.name; "":
	// DefaultUser ("dr.who").
	DefaultUser string
}

// nameNodeOps are the operations the NameNode's handler serves.
var nameNodeOps = map[string]bool{
	"GET OPEN": true, "GET GETFILESTATUS": true, "GET LISTSTATUS": true, "GET LISTSTATUS_BATCH": true,
	"GET GETCONTENTSUMMARY": true, "GET GETQUOTAUSAGE": true, "GET GETFILECHECKSUM": true,
	"GET GETHOMEDIRECTORY": true, "GET GETTRASHROOT": true, "GET GETXATTRS": true,
	"GET LISTXATTRS": true, "GET GETSERVERDEFAULTS": true, "GET GETFILEBLOCKLOCATIONS": true,
	"GET CHECKACCESS": true,
	"PUT CREATE":      true, "PUT MKDIRS": true, "PUT RENAME": true, "PUT SETREPLICATION": true,
	"PUT SETOWNER": true, "PUT SETPERMISSION": true, "PUT SETTIMES": true,
	"PUT SETXATTR": true, "PUT REMOVEXATTR": true,
	"POST CONCAT": true, "POST APPEND": true,
	"DELETE DELETE": true,
}

// NameNodeHandler serves WebHDFS on the NameNode's web address.
type NameNodeHandler struct {
	cfg NameNodeConfig
	log *slog.Logger
}

// NewNameNodeHandler returns the handler of Prefix on a NameNode: the
// namespace operations, and redirects to DataNodes for the data ones
// (OPEN, CREATE, APPEND, GETFILECHECKSUM). A NameNode that does not
// lead its group redirects every request to the leader. log receives a
// line per failed request at Debug; nil: none.
func NewNameNodeHandler(cfg NameNodeConfig, log *slog.Logger) *NameNodeHandler {
	if cfg.DefaultUser == "" {
		cfg.DefaultUser = DefaultUser
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NameNodeHandler{cfg: cfg, log: log}
}

func (h *NameNodeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := parseRequest(r.Method, r.URL.Path, r.URL.RawQuery)
	if err == nil {
		err = checkOp(r.Method, req.op, nameNodeOps)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req.scheme = schemeOf(r)
	if leads, leader := h.cfg.NameNode.Leader(); !leads {
		if leader == "" {
			h.fail(w, r, exStandby.with("Operation category "+category(req.method)+" is not supported in state standby"))
			return
		}
		u := url.URL{Scheme: schemeOf(r), Host: leader, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		redirect(w, u.String())
		return
	}
	ctx := identify(r.Context(), req, h.cfg.DefaultUser)
	c, err := h.cfg.Client(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.serve(ctx, c, w, req); err != nil {
		h.fail(w, r, err)
	}
}

// category is the operation category Hadoop's standby refusal names.
func category(method string) string {
	if method == http.MethodGet {
		return "READ"
	}
	return "WRITE"
}

func (h *NameNodeHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Debug("webhdfs", "method", r.Method, "url", r.URL.String(), "err", err)
	writeError(w, err)
}

// redirect answers 307 with location, as Hadoop does.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func (h *NameNodeHandler) serve(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	switch req.op {
	case "GETFILESTATUS":
		fi, err := c.Stat(ctx, p)
		if err != nil {
			return notFound(err, p)
		}
		writeJSON(w, fileStatusBody{fileStatus(fi, "")})
	case "LISTSTATUS":
		return h.listStatus(ctx, c, w, p)
	case "LISTSTATUS_BATCH":
		return h.listStatusBatch(ctx, c, w, p, req.startAfter)
	case "GETCONTENTSUMMARY":
		cs, err := c.ContentSummary(ctx, p)
		if err != nil {
			return notFound(err, p)
		}
		writeJSON(w, contentSummaryBody{ContentSummary{
			DirectoryCount: cs.Directories, FileCount: cs.Files, Length: cs.Length,
			Quota: -1, SpaceConsumed: cs.SpaceConsumed, SpaceQuota: -1, TypeQuota: map[string]any{},
		}})
	case "GETQUOTAUSAGE":
		cs, err := c.ContentSummary(ctx, p)
		if err != nil {
			return notFound(err, p)
		}
		writeJSON(w, map[string]any{"QuotaUsage": map[string]any{
			"fileAndDirectoryCount": cs.Files + cs.Directories, "quota": -1,
			"spaceConsumed": cs.SpaceConsumed, "spaceQuota": -1, "typeQuota": map[string]any{},
		}})
	case "GETHOMEDIRECTORY":
		writeJSON(w, pathBody{"/user/" + req.user})
	case "GETTRASHROOT":
		writeJSON(w, pathBody{"/user/" + req.user + "/.Trash"})
	case "GETSERVERDEFAULTS":
		d, err := c.ServerDefaults(ctx)
		if err != nil {
			return err
		}
		writeJSON(w, serverDefaultsBody{ServerDefaults{
			BlockSize: d.BlockSize, BytesPerChecksum: cairn.ChunkSize, ChecksumType: 2,
			DefaultStoragePolicyID: 7, FileBufferSize: 4096, Replication: d.Replication,
			WritePacketSize: cairn.PacketSize,
		}})
	case "GETXATTRS":
		return getXAttrs(ctx, c, w, req)
	case "LISTXATTRS":
		names, err := c.ListXAttrs(ctx, p)
		if err != nil {
			return notFound(err, p)
		}
		if names == nil {
			names = []string{}
		}
		b, _ := json.Marshal(names)
		writeJSON(w, xattrNamesBody{string(b)})
	case "SETXATTR":
		return setXAttr(ctx, c, w, req)
	case "REMOVEXATTR":
		return removeXAttr(ctx, c, w, req)
	case "GETFILEBLOCKLOCATIONS":
		return blockLocations(ctx, c, w, req)
	case "CHECKACCESS":
		// cairn does not enforce permissions yet: whoever asks may.
		if _, err := c.Stat(ctx, p); err != nil {
			return notFound(err, p)
		}
		writeEmpty(w)
	case "OPEN", "GETFILECHECKSUM":
		return h.redirectRead(ctx, c, w, req)
	case "CREATE":
		return h.redirectCreate(ctx, c, w, req)
	case "APPEND":
		return h.redirectAppend(ctx, c, w, req)
	case "MKDIRS":
		perm := fs.FileMode(0o755)
		if req.hasPerm {
			perm = req.permission
		}
		if err := c.MkdirAll(ctx, p, perm); err != nil {
			switch cairn.KindOf(err) {
			case cairn.Exist: // a file at p
				return exAlreadyExists.with(fmt.Sprintf("Path is not a directory: %s", p))
			case cairn.NotDir: // a file above p
				return exParentNotDir.with(err.Error())
			}
			return err
		}
		writeJSON(w, booleanBody{true})
	case "RENAME":
		return rename(ctx, c, w, req)
	case "DELETE":
		return remove(ctx, c, w, req)
	case "SETPERMISSION":
		perm := fs.FileMode(0o755)
		if req.hasPerm {
			perm = req.permission
		}
		if err := c.Chmod(ctx, p, perm); err != nil {
			return notFound(err, p)
		}
		writeEmpty(w)
	case "SETOWNER":
		if req.owner == "" && req.group == "" {
			return illegalArgument("Both owner and group are empty.")
		}
		if err := c.Chown(ctx, p, req.owner, req.group); err != nil {
			return notFound(err, p)
		}
		writeEmpty(w)
	case "SETREPLICATION":
		return setReplication(ctx, c, w, req)
	case "SETTIMES":
		if req.modTime >= 0 {
			if err := c.SetTimes(ctx, p, time.UnixMilli(req.modTime)); err != nil {
				return notFound(err, p)
			}
		} else if _, err := c.Stat(ctx, p); err != nil {
			return notFound(err, p)
		}
		writeEmpty(w)
	case "CONCAT":
		if len(req.sources) == 0 {
			return illegalArgument("Invalid value for webhdfs parameter \"sources\": sources is empty")
		}
		if err := c.Concat(ctx, p, req.sources...); err != nil {
			return concatError(err, "CONCAT")
		}
		writeEmpty(w)
	default:
		return exUnsupported.with(req.op + " is not supported")
	}
	return nil
}

// concatError is an error of a concat, for op (CONCAT or APPEND): a
// NameNode without concat (older than its wire call) makes op
// unsupported.
func concatError(err error, op string) error {
	if cairn.KindOf(err) == cairn.Other && strings.Contains(err.Error(), "not implemented") {
		return exUnsupported.with(op + " is not supported: the NameNode has no concat")
	}
	return err
}

// notFound gives a missing path Hadoop's message.
func notFound(err error, p string) error {
	if errors.Is(err, cairn.NotExist) {
		return exFileNotFound.with("File does not exist: " + p)
	}
	return err
}

func (h *NameNodeHandler) listStatus(ctx context.Context, c *client.Client, w http.ResponseWriter, p string) error {
	fi, err := c.Stat(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	out := fileStatusesBody{fileStatuses{FileStatus: []FileStatus{}}}
	if !fi.IsDir {
		out.FileStatuses.FileStatus = append(out.FileStatuses.FileStatus, fileStatus(fi, ""))
		writeJSON(w, out)
		return nil
	}
	// Listed a page at a time; the answer holds the whole directory,
	// as Hadoop's does.
	for e, err := range c.List(ctx, p) {
		if err != nil {
			return notFound(err, p)
		}
		out.FileStatuses.FileStatus = append(out.FileStatuses.FileStatus, fileStatus(e, e.Name))
	}
	writeJSON(w, out)
	return nil
}

// listStatusBatch answers one page. cairn's listing says whether more
// entries follow, not how many: remainingEntries is 1 when some do.
func (h *NameNodeHandler) listStatusBatch(ctx context.Context, c *client.Client, w http.ResponseWriter, p, after string) error {
	var out directoryListingBody
	list := &out.DirectoryListing.PartialListing.FileStatuses.FileStatus
	*list = []FileStatus{}
	fi, err := c.Stat(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if !fi.IsDir {
		*list = append(*list, fileStatus(fi, ""))
		writeJSON(w, out)
		return nil
	}
	page, more, err := c.ListPage(ctx, p, after, listPage)
	if err != nil {
		return notFound(err, p)
	}
	for _, e := range page {
		*list = append(*list, fileStatus(e, e.Name))
	}
	if more && len(page) > 0 {
		out.DirectoryListing.RemainingEntries = 1
	}
	writeJSON(w, out)
	return nil
}

// dataNodeURL is the address of a request redirected to the DataNode
// at addr (host:port): the request's own parameters, with the user,
// the NameNode's RPC address and the changes given.
func (h *NameNodeHandler) dataNodeURL(addr string, req *request, set map[string]string) string {
	v := url.Values{}
	for k, vs := range req.q {
		if k == "doas" {
			continue
		}
		v[k] = slices.Clone(vs)
	}
	v.Set("op", req.op)
	if req.user != "" {
		v.Set("user.name", req.user)
	}
	if a := h.cfg.NameNode.RPCAddr(); a != "" {
		v.Set("namenoderpcaddress", a)
	}
	for k, s := range set {
		v.Set(k, s)
	}
	scheme := req.scheme
	if scheme == "" {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: addr, Path: Prefix + req.path, RawQuery: v.Encode()}
	if req.path == "/" {
		u.Path = Prefix + "/"
	}
	return u.String()
}

// schemeOf returns the scheme r came with: "https" over TLS, else
// "http".
func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// sendTo answers a request sent on to a DataNode: 307 to it, or with
// noredirect=true, 200 and {"Location": ...}.
func sendTo(w http.ResponseWriter, req *request, location string) {
	if req.noRedirect {
		writeJSON(w, locationBody{location})
		return
	}
	redirect(w, location)
}

// anyDataNode picks a DataNode at random for a write, or a read that
// no replica's location decides.
func (h *NameNodeHandler) anyDataNode(ctx context.Context) (string, error) {
	nodes, err := h.cfg.NameNode.DataNodes(ctx)
	if err != nil {
		return "", err
	}
	var addrs []string
	for _, n := range nodes {
		if a := httpAddr(n); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return "", exIO.with("Failed to find datanode, suggest to check cluster health. excludeDatanodes=null")
	}
	return addrs[rand.IntN(len(addrs))], nil
}

// httpAddr is a DataNode's web address, with the host of its
// data-transfer address in place of an unspecified one (0.0.0.0,
// [::]); "" when it has none.
func httpAddr(n cairn.DatanodeInfo) string {
	if n.HTTPAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(n.HTTPAddr)
	if err != nil {
		return n.HTTPAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if dh, _, err := net.SplitHostPort(n.Addr); err == nil && dh != "" {
			return net.JoinHostPort(dh, port)
		}
	}
	return n.HTTPAddr
}

// redirectRead sends OPEN and GETFILECHECKSUM to a DataNode holding the
// block of the offset (the first block for a checksum), nearest first
// as a client would read it, or any DataNode when no replica can be.
func (h *NameNodeHandler) redirectRead(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	fi, err := c.StatBlocks(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	off := req.offset
	if req.op == "OPEN" && off > fi.Size {
		return exEOF.with("Cannot seek after EOF")
	}
	if req.op != "OPEN" {
		off = 0
	}
	addr := ""
	for _, lb := range fi.Blocks {
		if off < lb.Offset || off >= lb.Offset+lb.Block.Len {
			continue
		}
		for _, l := range lb.Locations {
			if a := httpAddr(l); a != "" {
				addr = a
				break
			}
		}
		break
	}
	if addr == "" {
		if addr, err = h.anyDataNode(ctx); err != nil {
			return err
		}
	}
	set := map[string]string{}
	if req.op == "OPEN" {
		set["offset"] = strconv.FormatInt(req.offset, 10)
	}
	sendTo(w, req, h.dataNodeURL(addr, req, set))
	return nil
}

// redirectCreate is the first step of a CREATE: nothing is created; an
// existing file without overwrite=true, or a directory, is refused
// here already, and the request goes on to a DataNode picked at random,
// which writes the body it is sent.
func (h *NameNodeHandler) redirectCreate(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	if err := checkCreateTarget(ctx, c, req); err != nil {
		return err
	}
	addr, err := h.anyDataNode(ctx)
	if err != nil {
		return err
	}
	sendTo(w, req, h.dataNodeURL(addr, req, nil))
	return nil
}

// redirectAppend is the first step of an APPEND: the file must exist.
func (h *NameNodeHandler) redirectAppend(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	fi, err := c.Stat(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	addr, err := h.anyDataNode(ctx)
	if err != nil {
		return err
	}
	sendTo(w, req, h.dataNodeURL(addr, req, nil))
	return nil
}

// rename is HDFS's rename (mv semantics; false, not an error, when it
// cannot be done), or with renameoptions its rename2 (exactly to the
// destination, replacing a file there with OVERWRITE; errors as
// exceptions, an empty answer).
func rename(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	if req.destination == "" {
		return paramError("destination", "", "destination is missing")
	}
	if len(req.renameOptions) > 0 {
		err := c.RenameTo(ctx, req.path, req.destination, &client.RenameOptions{Overwrite: slices.Contains(req.renameOptions, "OVERWRITE")})
		if err != nil {
			if errors.Is(err, cairn.IsDir) {
				return exAlreadyExists.with(fmt.Sprintf("rename destination %s already exists", req.destination))
			}
			return err // a missing source or destination parent: FileNotFoundException with cairn's words
		}
		writeEmpty(w)
		return nil
	}
	err := c.Rename(ctx, req.path, req.destination, false)
	switch cairn.KindOf(err) {
	case cairn.Other:
		if err != nil {
			return err
		}
		writeJSON(w, booleanBody{true})
	case cairn.NotExist, cairn.Exist, cairn.IsDir, cairn.NotDir, cairn.Invalid, cairn.NotEmpty:
		writeJSON(w, booleanBody{false})
	default:
		return err
	}
	return nil
}

// remove is HDFS's delete: false when nothing is there.
func remove(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	var err error
	if req.path == "/" {
		// HDFS never deletes the root: false (a non-empty root without
		// recursive is refused first).
		fi, err := c.Stat(ctx, "/")
		if err != nil {
			return err
		}
		if !req.recursive && fi.Children > 0 {
			return exNotEmpty.with("`/ is non empty': Directory is not empty")
		}
		writeJSON(w, booleanBody{false})
		return nil
	}
	if req.recursive {
		if _, err = c.Stat(ctx, req.path); err == nil {
			err = c.RemoveAll(ctx, req.path)
		}
	} else {
		err = c.Remove(ctx, req.path)
	}
	switch {
	case errors.Is(err, cairn.NotExist):
		writeJSON(w, booleanBody{false})
	case errors.Is(err, cairn.NotEmpty):
		return exNotEmpty.with(fmt.Sprintf("`%s is non empty': Directory is not empty", req.path))
	case err != nil:
		return err
	default:
		writeJSON(w, booleanBody{true})
	}
	return nil
}

// setReplication is HDFS's: false for a directory or a missing path.
func setReplication(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	fi, err := c.Stat(ctx, req.path)
	if errors.Is(err, cairn.NotExist) || (err == nil && fi.IsDir) {
		writeJSON(w, booleanBody{false})
		return nil
	}
	if err != nil {
		return err
	}
	repl := req.replication
	if repl == 0 {
		d, err := c.ServerDefaults(ctx)
		if err != nil {
			return err
		}
		repl = d.Replication
	}
	if err := c.SetReplication(ctx, req.path, repl); err != nil {
		return notFound(err, req.path)
	}
	writeJSON(w, booleanBody{true})
	return nil
}

// getXAttrs answers the attributes named (all without xattr.name). A
// name the path does not have is Hadoop's IOException.
func getXAttrs(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	attrs, err := c.GetXAttrs(ctx, req.path, req.xattrNames...)
	if err != nil {
		if errors.Is(err, cairn.NotExist) && len(req.xattrNames) > 0 {
			if _, serr := c.Stat(ctx, req.path); serr == nil {
				return exIO.with("At least one of the attributes provided was not found.")
			}
		}
		return notFound(err, req.path)
	}
	out := xattrsBody{XAttrs: []XAttr{}}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out.XAttrs = append(out.XAttrs, XAttr{Name: n, Value: encodeXAttrValue(attrs[n], req.encoding)})
	}
	writeJSON(w, out)
	return nil
}

func setXAttr(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	if len(req.xattrNames) != 1 {
		return paramError("xattr.name", "", "exactly one xattr.name is needed")
	}
	if req.xattrFlag == "" {
		return illegalArgument("A flag must be specified.")
	}
	var flag client.XAttrFlag
	for _, f := range []string{"CREATE", "REPLACE"} {
		if slices.Contains(strings.Split(req.xattrFlag, ","), f) {
			if f == "CREATE" {
				flag |= client.XAttrCreate
			} else {
				flag |= client.XAttrReplace
			}
		}
	}
	name := req.xattrNames[0]
	value := req.xattrValue
	if value == nil {
		value = []byte{}
	}
	err := c.SetXAttr(ctx, req.path, name, value, flag)
	if err != nil {
		switch {
		case errors.Is(err, cairn.Exist):
			return exIO.with(fmt.Sprintf("XAttr: %s already exists. The REPLACE flag must be specified.", name))
		case errors.Is(err, cairn.NotExist) && flag == client.XAttrReplace:
			if _, serr := c.Stat(ctx, req.path); serr == nil {
				return exIO.with(fmt.Sprintf("XAttr: %s does not exist. The CREATE flag must be specified.", name))
			}
		}
		return notFound(err, req.path)
	}
	writeEmpty(w)
	return nil
}

func removeXAttr(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	if len(req.xattrNames) != 1 {
		return paramError("xattr.name", "", "exactly one xattr.name is needed")
	}
	if err := c.RemoveXAttr(ctx, req.path, req.xattrNames[0]); err != nil {
		if errors.Is(err, cairn.NotExist) {
			if _, serr := c.Stat(ctx, req.path); serr == nil {
				return exIO.with("No matching attributes found for remove operation")
			}
		}
		return notFound(err, req.path)
	}
	writeEmpty(w)
	return nil
}

// blockLocations answers the blocks of [offset, offset+length) (to the
// end without length) with the DataNodes holding them, as Hadoop's
// BlockLocation JSON: hosts by host, names by data-transfer address,
// every replica on a DISK in /default-rack.
func blockLocations(ctx context.Context, c *client.Client, w http.ResponseWriter, req *request) error {
	p := req.path
	fi, err := c.StatBlocks(ctx, p)
	if err != nil {
		return notFound(err, p)
	}
	if fi.IsDir {
		return exFileNotFound.with("Path is not a file: " + p)
	}
	end := fi.Size
	if req.length >= 0 {
		end = min(end, req.offset+req.length)
	}
	out := blockLocationsBody{}
	out.BlockLocations.BlockLocation = []BlockLocation{}
	blocks := slices.Clone(fi.Blocks)
	slices.SortFunc(blocks, func(a, b cairn.LocatedBlock) int { return cmp.Compare(a.Offset, b.Offset) })
	for _, lb := range blocks {
		if lb.Offset+lb.Block.Len <= req.offset || lb.Offset >= end {
			continue
		}
		bl := BlockLocation{
			CachedHosts: []string{}, Corrupt: lb.Corrupt, Hosts: []string{}, Length: lb.Block.Len,
			Names: []string{}, Offset: lb.Offset, StorageTypes: []string{}, TopologyPaths: []string{},
		}
		for _, l := range lb.Locations {
			host, _, err := net.SplitHostPort(l.Addr)
			if err != nil {
				host = l.Addr
			}
			bl.Hosts = append(bl.Hosts, host)
			bl.Names = append(bl.Names, l.Addr)
			bl.StorageTypes = append(bl.StorageTypes, "DISK")
			bl.TopologyPaths = append(bl.TopologyPaths, "/default-rack/"+l.Addr)
		}
		out.BlockLocations.BlockLocation = append(out.BlockLocations.BlockLocation, bl)
	}
	writeJSON(w, out)
	return nil
}

// checkCreateTarget refuses a CREATE onto a directory, or onto an
// existing file without overwrite=true, as HDFS does; the NameNode
// checks in the first step and the DataNode again in the second.
func checkCreateTarget(ctx context.Context, c *client.Client, req *request) error {
	p := req.path
	if p == "/" {
		return exAlreadyExists.with("/ already exists as a directory")
	}
	fi, err := c.Stat(ctx, p)
	switch {
	case err == nil && fi.IsDir:
		return exAlreadyExists.with(p + " already exists as a directory")
	case err == nil && !req.overwrite:
		return exAlreadyExists.with(p + " already exists")
	case err != nil && !errors.Is(err, cairn.NotExist):
		return err
	}
	return nil
}

package s3

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Target is what a request addresses: the service (no bucket), a
// bucket (no key) or an object.
type Target struct {
	Bucket string
	Key    string
	// VirtualHosted is true when the bucket came from the Host header
	// (bucket.domain), false for a path-style request (/bucket/key).
	VirtualHosted bool
}

// ParseTarget finds the bucket and key of r. A Host of the form
// "<bucket>.<domain>", for one of the configured domains, is a
// virtual-hosted-style request whose whole path is the key; any other
// Host (an IP address, localhost, a domain itself) is path-style, and
// the path's first segment is the bucket. The key is the rest of the
// path, percent-decoded once (%2F is a slash, as in S3) and otherwise
// untouched: "/b//k" has the key "/k", which the key mapping refuses.
// A bucket name that S3 would not accept is InvalidBucketName.
//
// The gateway must route on this and not through http.ServeMux, which
// cleans paths and would change keys.
func ParseTarget(r *http.Request, domains []string) (Target, error) {
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return Target{}, Errorf(InvalidURI, "Couldn't parse the specified URI: the path %q is not absolute.", truncateKey(path))
	}
	var t Target
	if bucket, ok := virtualHostBucket(r.Host, domains); ok {
		t = Target{Bucket: bucket, Key: path[1:], VirtualHosted: true}
	} else {
		t.Bucket, t.Key, _ = strings.Cut(path[1:], "/")
	}
	if t.Bucket == "" {
		if t.Key != "" {
			return Target{}, Errorf(InvalidURI, "Couldn't parse the specified URI: %q has an empty bucket name.", truncateKey(path))
		}
		return t, nil
	}
	if err := ValidateBucketName(t.Bucket); err != nil {
		return Target{}, err
	}
	return t, nil
}

// virtualHostBucket returns the bucket of a Host "<bucket>.<domain>".
func virtualHostBucket(host string, domains []string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range domains {
		d = strings.ToLower(strings.Trim(d, "."))
		if d == "" {
			continue
		}
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// ValidateBucketName checks a bucket name against S3's rules for
// general purpose buckets: 3 to 63 characters of lower-case letters,
// digits, '.' and '-'; beginning and ending with a letter or digit; no
// two adjacent periods; not an IPv4 address; not beginning with
// "xn--", "sthree-" or "amzn-s3-demo-"; not ending with "-s3alias",
// "--ol-s3", ".mrap", "--x-s3" or "--table-s3". Anything else is
// InvalidBucketName.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return &Error{Code: InvalidBucketName, Message: "The specified bucket is not valid: " + why + ".", BucketName: truncateKey(name)}
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("a bucket name has 3 to 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return bad("a bucket name has only lower-case letters, digits, '.' and '-'")
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return bad("a bucket name begins and ends with a letter or a digit")
	}
	if strings.Contains(name, "..") {
		return bad("a bucket name has no two adjacent periods")
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return bad("a bucket name is not an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("a bucket name does not begin with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("a bucket name does not end with " + s)
		}
	}
	return nil
}

func alnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

package sigv4

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signer signs requests the way an S3 client does, for cairn's own
// tools that talk to the gateway (the benchmark, tests). Real clients
// (aws cli, boto3, rclone) sign with their own code; the gateway is
// tested against them.
type Signer struct {
	Credential Credential
	// Region is the region of the scope; "" means DefaultRegion.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s Signer) at() (time.Time, string) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	region := s.Region
	if region == "" {
		region = DefaultRegion
	}
	return now().UTC(), region
}

// Sign sets X-Amz-Date, X-Amz-Content-Sha256 (payload: the hex SHA-256
// of the body, or UnsignedPayload) and an Authorization header that
// signs the host and every header r has. Set the headers (and
// r.ContentLength) before signing.
func (s Signer) Sign(r *http.Request, payload string) error {
	t, region := s.at()
	scope := t.Format(yyyymmdd) + "/" + region + "/s3/aws4_request"
	r.Header.Set("X-Amz-Date", t.Format(iso8601Basic))
	r.Header.Set("X-Amz-Content-Sha256", payload)
	names := []string{"host"}
	for k := range r.Header {
		if lk := strings.ToLower(k); lk != "authorization" {
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	params, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("sigv4: sign: %w", err)
	}
	signed := strings.Join(names, ";")
	creq, err := canonicalRequest(r, canonicalQuery(params, ""), names, signed, payload)
	if err != nil {
		return fmt.Errorf("sigv4: sign: %w", err)
	}
	key := signingKey(s.Credential.SecretKey, t.Format(yyyymmdd), region, "s3")
	sig := signHex(key, stringToSign(Algorithm, t.Format(iso8601Basic), scope, sha256Hex(creq)))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		Algorithm, s.Credential.AccessKey, scope, signed, sig))
	return nil
}

// Presign adds the query parameters of a presigned URL valid for
// expires to r, signing only the host, as `aws s3 presign` does.
func (s Signer) Presign(r *http.Request, expires time.Duration) error {
	t, region := s.at()
	scope := t.Format(yyyymmdd) + "/" + region + "/s3/aws4_request"
	q := r.URL.Query()
	q.Set("X-Amz-Algorithm", Algorithm)
	q.Set("X-Amz-Credential", s.Credential.AccessKey+"/"+scope)
	q.Set("X-Amz-Date", t.Format(iso8601Basic))
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	q.Set("X-Amz-SignedHeaders", "host")
	r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	params, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("sigv4: presign: %w", err)
	}
	creq, err := canonicalRequest(r, canonicalQuery(params, ""), []string{"host"}, "host", UnsignedPayload)
	if err != nil {
		return fmt.Errorf("sigv4: presign: %w", err)
	}
	key := signingKey(s.Credential.SecretKey, t.Format(yyyymmdd), region, "s3")
	r.URL.RawQuery += "&X-Amz-Signature=" + signHex(key, stringToSign(Algorithm, t.Format(iso8601Basic), scope, sha256Hex(creq)))
	return nil
}

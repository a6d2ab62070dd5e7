package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// botoReport is what testdata/boto_client.py prints.
type botoReport struct {
	Botocore           string
	Buckets            []string
	Etags              map[string][2]string
	BigEtag            [2]string `json:"big_etag"`
	BigRoundtrip       bool      `json:"big_roundtrip"`
	BigChecksum        string    `json:"big_checksum"`
	Range              bool
	NotModified        string `json:"not_modified"`
	Precondition       string
	BadRange           string `json:"bad_range"`
	Head               []any
	ListV2             botoListing `json:"list_v2"`
	ListV2Delim        botoListing `json:"list_v2_delim"`
	ListV1             botoListing `json:"list_v1"`
	ListV1Delim        botoListing `json:"list_v1_delim"`
	Uploads            []string
	Parts              [][3]any
	PartOrder          string    `json:"part_order"`
	MultipartETag      [2]string `json:"multipart_etag"`
	MultipartRoundtrip bool      `json:"multipart_roundtrip"`
	MultipartMeta      string    `json:"multipart_meta"`
	NoSuchUpload       string    `json:"no_such_upload"`
	TransferRoundtrip  bool      `json:"transfer_roundtrip"`
	Copy               [2]string
	CopyReplace        []any `json:"copy_replace"`
	Deleted            []string
	DeletedQuiet       []any       `json:"deleted_quiet"`
	AfterDelete        botoListing `json:"after_delete"`
	Location           *string
	Versioning         *string
	ACL                []string
	Errors             map[string]string
	PresignedGet       string `json:"presigned_get"`
}

type botoListing struct {
	Keys     []string
	Prefixes []string
}

// boto3Python returns a python3 that can import boto3, or skips.
func boto3Python(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: boto3 drives the gateway in this test")
	}
	out, err := exec.Command(path, "-c", "import boto3, botocore; print(boto3.__version__, botocore.__version__)").Output()
	if err != nil {
		t.Skip("python3 has no boto3 (pip install boto3): boto3 drives the gateway in this test")
	}
	t.Logf("python3 %s: boto3, botocore %s", path, strings.TrimSpace(string(out)))
	return path
}

// TestBoto3 drives the gateway with boto3 over TLS (over which
// botocore sends aws-chunked bodies with trailing checksums): every
// verb a client uses, multipart by hand and by boto's transfer manager,
// listings with pagination, copies, batch deletes, errors, and a
// presigned URL.
func TestBoto3(t *testing.T) {
	python := boto3Python(t)
	e := newEnv(t)
	srv := httptest.NewTLSServer(e.g)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "boto_client.py"), srv.URL, ca, alice.AccessKey, alice.SecretKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto_client.py: %v\n%s", err, stderr.String())
	}
	var rep botoReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("boto_client.py printed %q: %v", out, err)
	}
	t.Logf("botocore %s", rep.Botocore)

	if fmt.Sprint(rep.Buckets) != "[boto-bucket]" {
		t.Errorf("buckets = %v", rep.Buckets)
	}
	for k, v := range rep.Etags {
		if v[0] != v[1] {
			t.Errorf("PUT %q: ETag %s, want the MD5 %s", k, v[0], v[1])
		}
	}
	for name, v := range map[string][2]string{"big": rep.BigEtag, "multipart": rep.MultipartETag, "copy": rep.Copy} {
		if v[0] != v[1] {
			t.Errorf("%s: ETag %s, want %s", name, v[0], v[1])
		}
	}
	if !rep.BigRoundtrip || !rep.Range || rep.BigChecksum == "" {
		t.Errorf("GET of a 3 MiB object: round trip %v, range %v, checksum %q", rep.BigRoundtrip, rep.Range, rep.BigChecksum)
	}
	if rep.NotModified != "304" || rep.Precondition != "PreconditionFailed" || rep.BadRange != "InvalidRange" {
		t.Errorf("conditions: If-None-Match %q, If-Match %q, range %q", rep.NotModified, rep.Precondition, rep.BadRange)
	}
	if fmt.Sprint(rep.Head) != fmt.Sprintf("[%s 11 boto text/plain]", rep.Etags["a-b"][1]) {
		t.Errorf("HEAD = %v", rep.Head)
	}

	var keys []string
	for k := range rep.Etags {
		keys = append(keys, k)
	}
	keys = append(keys, "big.bin")
	for _, c := range []struct {
		name  string
		got   botoListing
		delim string
	}{
		{"ListObjectsV2", rep.ListV2, ""},
		{"ListObjectsV2 with delimiter", rep.ListV2Delim, "/"},
		{"ListObjects", rep.ListV1, ""},
		{"ListObjects with delimiter", rep.ListV1Delim, "/"},
	} {
		wantK, wantP := bruteList(keys, "", c.delim)
		if !slices.Equal(c.got.Keys, wantK) || !slices.Equal(c.got.Prefixes, wantP) {
			t.Errorf("%s =\n%q %q\nwant\n%q %q", c.name, c.got.Keys, c.got.Prefixes, wantK, wantP)
		}
	}

	if fmt.Sprint(rep.Uploads) != "[multi/part.bin]" || len(rep.Parts) != 4 {
		t.Errorf("uploads %v, parts %v", rep.Uploads, rep.Parts)
	}
	if rep.PartOrder != "InvalidPartOrder" || rep.NoSuchUpload != "NoSuchUpload" {
		t.Errorf("parts out of order: %q; a completed upload: %q", rep.PartOrder, rep.NoSuchUpload)
	}
	if !rep.MultipartRoundtrip || rep.MultipartMeta != "multi" || !rep.TransferRoundtrip {
		t.Errorf("multipart round trip %v meta %q, transfer manager round trip %v", rep.MultipartRoundtrip, rep.MultipartMeta, rep.TransferRoundtrip)
	}
	if fmt.Sprint(rep.CopyReplace) != "[text/replaced yes <nil>]" {
		t.Errorf("copy onto itself with REPLACE: %v", rep.CopyReplace)
	}
	if fmt.Sprint(rep.Deleted) != "[a0 dir/sub/x y.txt never-there]" || len(rep.DeletedQuiet) != 0 {
		t.Errorf("deleted %v, quiet %v", rep.Deleted, rep.DeletedQuiet)
	}
	if len(rep.AfterDelete.Keys) != 0 || e.exists("/s3/boto-bucket/dir") {
		t.Errorf("after deleting dir/sub/x y.txt: %v listed, directory left %v", rep.AfterDelete.Keys, e.exists("/s3/boto-bucket/dir"))
	}
	if rep.Location != nil && *rep.Location != "" || rep.Versioning != nil || fmt.Sprint(rep.ACL) != "[FULL_CONTROL]" {
		t.Errorf("location %v, versioning %v, acl %v", rep.Location, rep.Versioning, rep.ACL)
	}
	for name, want := range map[string]string{
		"get_missing": "NoSuchKey", "head_missing": "404", "bad_key": "InvalidArgument", "reserved_key": "InvalidArgument",
		"conflict": "InvalidArgument", "bad_bucket": "InvalidBucketName", "no_bucket": "NoSuchBucket", "not_empty": "BucketNotEmpty",
		"owned": "BucketAlreadyOwnedByYou", "wrong_secret": "SignatureDoesNotMatch", "unknown_key": "InvalidAccessKeyId",
	} {
		if got := rep.Errors[name]; got != want {
			t.Errorf("error %s = %q, want %q", name, got, want)
		}
	}

	resp, err := srv.Client().Get(rep.PresignedGet)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "body of a b" {
		t.Errorf("presigned GET: %d %q", resp.StatusCode, got)
	}
}

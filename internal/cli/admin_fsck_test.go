package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/client"
)

// TestFsckShowsLeaseHolders: fsck --open-files shows, for each open
// file, the client holding its lease and how long ago it renewed it,
// in the text and in --json.
func TestFsckShowsLeaseHolders(t *testing.T) {
	rep := client.FsckReport{Status: "HEALTHY", Files: 2, OpenFiles: 1, FileDetails: []client.FsckFile{
		{Path: "/d/.f._COPYING_.0a1b2c3d", Replication: 3, Open: true, Status: "HEALTHY",
			LeaseHolder: "cairn-client-42", LeaseAge: 2500 * time.Millisecond},
		{Path: "/d/g", Replication: 3, Status: "HEALTHY"},
	}}
	out := newFsckJSON("/", rep)
	var text bytes.Buffer
	opts := client.FsckOptions{OpenFiles: true, Files: true}
	if err := printFsck(&text, out, opts, "127.0.0.1:9000", time.Unix(0, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	want := "/d/.f._COPYING_.0a1b2c3d 0 bytes, replicated: replication=3, 0 block(s) OPENFORWRITE (lease holder cairn-client-42, renewed 2.5s ago):  OK"
	if !strings.Contains(text.String(), want) {
		t.Errorf("fsck text lacks %q:\n%s", want, text.String())
	}
	var js bytes.Buffer
	if err := writeJSON(&js, out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		FileDetails []map[string]any `json:"fileDetails"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || len(got.FileDetails) != 2 {
		t.Fatalf("fsck --json = %s (%v)", js.String(), err)
	}
	if h, age := got.FileDetails[0]["leaseHolder"], got.FileDetails[0]["leaseAgeMs"]; h != "cairn-client-42" || age != 2500.0 {
		t.Errorf("open file in fsck --json: leaseHolder %v, leaseAgeMs %v; want cairn-client-42, 2500", h, age)
	}
	if _, ok := got.FileDetails[1]["leaseHolder"]; ok {
		t.Errorf("closed file in fsck --json has a leaseHolder: %v", got.FileDetails[1])
	}
}

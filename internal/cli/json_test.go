package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// keysOf marshals v and returns the sorted keys of the resulting
// object.
func keysOf(t *testing.T, v any) (keys []string, obj map[string]json.RawMessage) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("%s is not a JSON object: %v", b, err)
	}
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, obj
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func TestStatJSONFields(t *testing.T) {
	mtime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	file := cairn.FileInfo{
		Path: "/d/f", Name: "f", Size: 1500, Replication: 3, BlockSize: 1024,
		Owner: "alice", Group: "staff", Mode: 0o640, ModTime: mtime,
		Blocks: []cairn.LocatedBlock{
			{Block: cairn.Block{ID: 1073741825, GenStamp: 1001, Len: 1024}, Locations: []cairn.DatanodeInfo{{ID: "n1", Addr: "127.0.0.1:9866"}, {ID: "n2", Addr: "127.0.0.1:9876"}}},
			{Block: cairn.Block{ID: 1073741826, GenStamp: 1002, Len: 476}, Offset: 1024},
		},
	}
	keys, obj := keysOf(t, newStatJSON(file))
	want := sorted("path", "type", "size", "replication", "blockSize", "owner", "group", "mode", "modTime", "blocks")
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("stat --json of a file has fields %v, want exactly %v", keys, want)
	}
	for k, v := range map[string]string{
		"path": `"/d/f"`, "type": `"file"`, "size": `1500`, "replication": `3`, "blockSize": `1024`,
		"owner": `"alice"`, "group": `"staff"`, "mode": `"0640"`, "modTime": `"2025-03-04T05:06:07Z"`,
	} {
		if string(obj[k]) != v {
			t.Errorf("stat --json %s = %s, want %s", k, obj[k], v)
		}
	}
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(obj["blocks"], &blocks); err != nil || len(blocks) != 2 {
		t.Fatalf("stat --json blocks = %s (%v), want a list of 2", obj["blocks"], err)
	}
	var bkeys []string
	for k := range blocks[0] {
		bkeys = append(bkeys, k)
	}
	sort.Strings(bkeys)
	if want := sorted("id", "genStamp", "offset", "size", "locations"); !reflect.DeepEqual(bkeys, want) {
		t.Errorf("stat --json block fields %v, want exactly %v", bkeys, want)
	}
	if got := string(blocks[0]["id"]) + " " + string(blocks[0]["genStamp"]) + " " + string(blocks[0]["size"]) + " " + string(blocks[0]["locations"]); got != `1073741825 1001 1024 ["127.0.0.1:9866","127.0.0.1:9876"]` {
		t.Errorf("stat --json first block = %s", got)
	}
	if got := string(blocks[0]["offset"]) + " " + string(blocks[1]["offset"]); got != "0 1024" {
		t.Errorf("stat --json block offsets = %s, want 0 1024", got)
	}
	if got := string(blocks[1]["locations"]); got != "[]" {
		t.Errorf("a block without replicas has locations %s, want []", got)
	}

	dir := cairn.FileInfo{Path: "/d", IsDir: true, Owner: "alice", Group: "staff", Mode: 0o755 | fs.ModeSticky, ModTime: mtime, Children: 2}
	keys, obj = keysOf(t, newStatJSON(dir))
	want = sorted("path", "type", "size", "replication", "blockSize", "owner", "group", "mode", "modTime")
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("stat --json of a directory has fields %v, want exactly %v", keys, want)
	}
	if string(obj["type"]) != `"directory"` || string(obj["mode"]) != `"1755"` {
		t.Errorf("stat --json of a directory: type %s mode %s", obj["type"], obj["mode"])
	}

	empty := cairn.FileInfo{Path: "/e", Replication: 3, BlockSize: 1024, ModTime: mtime}
	_, obj = keysOf(t, newStatJSON(empty))
	if string(obj["blocks"]) != "[]" {
		t.Errorf("stat --json of an empty file has blocks %s, want []", obj["blocks"])
	}
}

func TestReportJSONFields(t *testing.T) {
	hb := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := client.ClusterReport{
		ClusterID: "CID-1",
		Datanodes: []client.DatanodeStatus{
			{ID: "a", Addr: "127.0.0.1:1", State: "live", CapacityBytes: 100, UsedBytes: 10, RemainingBytes: 90, Blocks: 4, LastHeartbeat: hb},
			{ID: "b", Addr: "127.0.0.1:2", State: "live", CapacityBytes: 100, UsedBytes: 20, RemainingBytes: 80, Blocks: 5, LastHeartbeat: hb},
			{ID: "c", Addr: "127.0.0.1:3", State: "dead", CapacityBytes: 100, UsedBytes: 30, RemainingBytes: 70, Blocks: 6},
			{ID: "d", Addr: "127.0.0.1:4", State: "stale", CapacityBytes: 50, UsedBytes: 5, RemainingBytes: 45, LastHeartbeat: hb},
		},
	}
	out := newReportJSON(rep)
	keys, obj := keysOf(t, out)
	for _, k := range []string{"liveDatanodes", "deadDatanodes", "capacityBytes", "usedBytes", "remainingBytes", "datanodes", "staleDatanodes", "safeMode", "clusterId"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("report --json lacks %q (has %v)", k, keys)
		}
	}
	if out.LiveDatanodes != 2 || out.DeadDatanodes != 1 || out.StaleDatanodes != 1 {
		t.Errorf("report counts live %d dead %d stale %d, want 2 1 1", out.LiveDatanodes, out.DeadDatanodes, out.StaleDatanodes)
	}
	if out.CapacityBytes != 250 || out.UsedBytes != 35 || out.RemainingBytes != 215 {
		t.Errorf("report totals %d/%d/%d, want 250/35/215 (dead nodes excluded)", out.CapacityBytes, out.UsedBytes, out.RemainingBytes)
	}
	var nodes []map[string]json.RawMessage
	if err := json.Unmarshal(obj["datanodes"], &nodes); err != nil || len(nodes) != 4 {
		t.Fatalf("report --json datanodes = %s (%v)", obj["datanodes"], err)
	}
	for _, k := range []string{"id", "addr", "state", "capacityBytes", "usedBytes", "remainingBytes", "blocks", "lastHeartbeat"} {
		if _, ok := nodes[0][k]; !ok {
			t.Errorf("report --json datanode lacks %q", k)
		}
	}
	if got := string(nodes[0]["lastHeartbeat"]); got != `"2025-01-02T03:04:05Z"` {
		t.Errorf("lastHeartbeat = %s, want RFC 3339", got)
	}
	if got := string(nodes[2]["lastHeartbeat"]); got != `""` {
		t.Errorf("lastHeartbeat of a node never heard = %s, want \"\"", got)
	}
	var text bytes.Buffer
	if err := printReport(&text, out, hb.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Live datanodes (2):", "Dead datanodes (1):", "Stale datanodes (1):", "Name: 127.0.0.1:1 (a)", "(3s ago)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report text lacks %q:\n%s", want, text.String())
		}
	}
}

func TestFsckJSONFields(t *testing.T) {
	rep := client.FsckReport{
		Status: "CORRUPT", Files: 2, Directories: 1, Blocks: 3, TotalSize: 3000,
		UnderReplicatedBlocks: 1, CorruptBlocks: 1, MissingBlocks: 0, OpenFiles: 1, LiveDatanodes: 3,
	}
	keys, _ := keysOf(t, newFsckJSON("/", rep))
	want := sorted("path", "status", "files", "directories", "blocks", "totalSize", "underReplicatedBlocks",
		"corruptBlocks", "missingBlocks", "openFiles", "liveDatanodes")
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("fsck --json fields %v, want %v", keys, want)
	}
	rep.FileDetails = []client.FsckFile{{
		Path: "/f", Size: 3000, Replication: 3, Status: "CORRUPT",
		Blocks: []client.FsckBlock{{Block: cairn.Block{ID: 7, GenStamp: 8, Len: 1000}, LiveReplicas: 0, CorruptReplicas: 3, State: "CORRUPT",
			Locations: []cairn.DatanodeInfo{{Addr: "127.0.0.1:9866"}}}},
	}}
	out := newFsckJSON("/", rep)
	_, obj := keysOf(t, out)
	var files []map[string]json.RawMessage
	if err := json.Unmarshal(obj["fileDetails"], &files); err != nil || len(files) != 1 {
		t.Fatalf("fsck --json fileDetails = %s (%v)", obj["fileDetails"], err)
	}
	for _, k := range []string{"path", "size", "replication", "open", "status", "blocks"} {
		if _, ok := files[0][k]; !ok {
			t.Errorf("fsck --json file lacks %q", k)
		}
	}
	var text bytes.Buffer
	now := time.Now()
	if err := printFsck(&text, out, client.FsckOptions{Files: true, Blocks: true, Locations: true}, "127.0.0.1:8020", now, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/f 3000 bytes", "0. blk_7_8 len=1000 Live_repl=0 Corrupt_repl=3 CORRUPT [127.0.0.1:9866]",
		"Status: CORRUPT", "The filesystem under path '/' is CORRUPT"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("fsck text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.HasSuffix(text.String(), "The filesystem under path '/' is CORRUPT\n") {
		t.Errorf("fsck text does not end with the verdict:\n%s", text.String())
	}
}

func TestReplicated(t *testing.T) {
	blk := func(live int) client.FsckBlock { return client.FsckBlock{LiveReplicas: live} }
	tests := []struct {
		name string
		rep  client.FsckReport
		n    int
		want bool
	}{
		{"every block has enough replicas", client.FsckReport{FileDetails: []client.FsckFile{{Blocks: []client.FsckBlock{blk(3), blk(2)}}}}, 2, true},
		{"one block lacks a replica", client.FsckReport{FileDetails: []client.FsckFile{{Blocks: []client.FsckBlock{blk(3), blk(1)}}}}, 2, false},
		{"a missing block is never replicated", client.FsckReport{MissingBlocks: 1}, 1, false},
		{"without details the counts decide", client.FsckReport{UnderReplicatedBlocks: 0}, 3, true},
		{"without details under-replication waits", client.FsckReport{UnderReplicatedBlocks: 2}, 3, false},
	}
	for _, tt := range tests {
		if got := replicated(tt.rep, tt.n); got != tt.want {
			t.Errorf("%s: replicated(...) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

package namenode

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
)

// TestHeapPerFile measures the heap the namespace holds per one-block
// file with three replicas (the target is at most 300 bytes).
func TestHeapPerFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 200,000 files")
	}
	reg := newRegistry(&Config{}, time.Now)
	for i := range 3 {
		id := cairn.NodeID("n" + strconv.Itoa(i))
		reg.register(id, cairn.DatanodeInfo{ID: id, Addr: "10.0.0." + strconv.Itoa(i) + ":1"}, cairn.StorageReport{})
	}
	targets := []cairn.NodeID{"n0", "n1", "n2"}
	ns := newNamespace(reg)
	f := &fsm{ns: ns, log: testLogger(t)}
	apply := func(c command) any {
		return f.Apply(&raft.Log{Type: raft.LogCommand, Data: c.encode(nil)})
	}
	const dirs, files = 200, 1000
	for d := range dirs {
		apply(command{op: opMkdirs, path: "/dir" + strconv.Itoa(d), mode: 0o755, owner: "user", group: "group", mtime: 1})
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range dirs * files {
		p := "/dir" + strconv.Itoa(i%dirs) + "/part-" + strconv.Itoa(100000+i)
		st := apply(command{op: opCreate, path: p, mode: 0o644, owner: "user", group: "group", mtime: int64(i),
			replication: 3, blockSize: 1 << 27, clientName: "c"}).(FileStatus)
		ab := apply(command{op: opAddBlock, fileID: st.ID, clientName: "c", targets: targets}).(addBlockResult)
		b := ab.block
		b.Len = 1000
		if err, ok := apply(command{op: opComplete, fileID: st.ID, clientName: "c", flags: flagHasBlock, block: b, mtime: 2}).(error); ok {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / (dirs * files)
	t.Logf("%.0f bytes of heap per one-block file", per)
	if per > 450 {
		t.Errorf("%.0f bytes of heap per one-block file, want about 300", per)
	}
	runtime.KeepAlive(ns)
}

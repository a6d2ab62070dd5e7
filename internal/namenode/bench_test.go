package namenode

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkCreateParallel measures durable creates: each is logged,
// fsync'd by raft-wal and applied before it returns.
func BenchmarkCreateParallel(b *testing.B) {
	s := newServer(b)
	registerNodes(b, s, 3)
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		dir := "/bench/w" + strconv.FormatInt(w, 10)
		if _, err := s.Mkdirs(bg, dir, 0, true, "u", "g"); err != nil {
			b.Error(err)
			return
		}
		client := "client-" + strconv.FormatInt(w, 10)
		for i := 0; pb.Next(); i++ {
			if _, err := s.Create(bg, dir+"/f"+strconv.Itoa(i), CreateOptions{ClientName: client, Owner: "u", Group: "g"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkStat measures GetFileInfo on a namespace of 10,000 files.
func BenchmarkStat(b *testing.B) {
	s := newServer(b)
	const dirs, files = 100, 100
	for d := range dirs {
		for f := range files {
			if _, err := s.Create(bg, fmt.Sprintf("/s/d%03d/f%03d", d, f), CreateOptions{Touch: true, CreateParent: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	paths := make([]string, dirs*files)
	for i := range paths {
		paths[i] = fmt.Sprintf("/s/d%03d/f%03d", i/files, i%files)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			i++
			if _, err := s.GetFileInfo(bg, paths[i%len(paths)], false, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stats/s")
}

// BenchmarkApplyCreate measures the state machine alone: decoding and
// applying one logged create.
func BenchmarkApplyCreate(b *testing.B) {
	ns := newNamespace(newRegistry(&Config{}, nil))
	f := &fsm{ns: ns, log: testLogger(b)}
	for d := range 100 {
		c := command{op: opMkdirs, path: "/d" + strconv.Itoa(d), mode: 0o755, mtime: 1}
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: c.encode(nil)})
	}
	logs := make([]*raft.Log, b.N)
	for i := range logs {
		c := command{op: opCreate, path: "/d" + strconv.Itoa(i%100) + "/f" + strconv.Itoa(i), mode: 0o644,
			owner: "user", group: "group", mtime: int64(i), replication: 3, blockSize: 1 << 27, clientName: "client"}
		logs[i] = &raft.Log{Type: raft.LogCommand, Data: c.encode(nil)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range logs {
		if err, ok := f.Apply(logs[i]).(error); ok {
			b.Fatal(err)
		}
	}
}

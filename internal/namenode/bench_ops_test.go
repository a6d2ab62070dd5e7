package namenode

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

// More namespace micro-benchmarks, beside bench_test.go: each durable
// mutation is logged, fsync'd and applied before it returns. Compare
// runs with benchstat (docs/PERFORMANCE.md).

// touchAll creates n empty files /bench/w<k>/f<i> spread over 16
// directories, untimed.
func touchAll(b *testing.B, s *Server, n int) []string {
	b.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = "/bench/w" + strconv.Itoa(i%16) + "/f" + strconv.Itoa(i)
	}
	errs := make(chan error, 16)
	for w := range 16 {
		go func() {
			for i := w; i < n; i += 16 {
				if _, err := s.Create(bg, paths[i], CreateOptions{Touch: true, CreateParent: true}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return paths
}

// BenchmarkRenameParallel measures durable renames from 16 goroutines.
func BenchmarkRenameParallel(b *testing.B) {
	s := newServer(b)
	paths := touchAll(b, s, b.N)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := s.Rename(bg, paths[i], paths[i]+".moved", RenameOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renames/s")
}

// BenchmarkDeleteParallel measures durable deletes of empty files from
// 16 goroutines.
func BenchmarkDeleteParallel(b *testing.B) {
	s := newServer(b)
	paths := touchAll(b, s, b.N)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if err := s.Delete(bg, paths[i], false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deletes/s")
}

// BenchmarkListDir10k lists a directory of 10,000 files, every page.
func BenchmarkListDir10k(b *testing.B) {
	s := newServer(b)
	const n = 10000
	for i := range n {
		if _, err := s.Create(bg, fmt.Sprintf("/big/f%05d", i), CreateOptions{Touch: true, CreateParent: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		after, got := "", 0
		for {
			page, more, err := s.ListDir(bg, "/big", after, 0)
			if err != nil {
				b.Fatal(err)
			}
			got += len(page)
			if !more || len(page) == 0 {
				break
			}
			after = page[len(page)-1].Name
		}
		if got != n {
			b.Fatalf("listed %d entries, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkGetBlockLocations measures the open of a one-block file with
// three replicas: the NameNode half of every read.
func BenchmarkGetBlockLocations(b *testing.B) {
	s := newServer(b)
	registerNodes(b, s, 3)
	const files = 1000
	for i := range files {
		writeFile(b, s, "/loc/f"+strconv.Itoa(i), "c", 1000)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			i++
			st, err := s.GetBlockLocations(bg, "/loc/f"+strconv.Itoa(i%files), 0, 1<<30, "10.0.0.2")
			if err != nil || len(st.Blocks) != 1 {
				b.Errorf("GetBlockLocations = %d blocks, %v", len(st.Blocks), err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "opens/s")
}

// snapshotNamespace builds a namespace of n one-block files through the
// state machine.
func snapshotNamespace(b *testing.B, n int) *namespace {
	b.Helper()
	ns := newNamespace(newRegistry(&Config{}, nil))
	f := &fsm{ns: ns, log: testLogger(b)}
	apply := func(c command) any { return f.Apply(&raft.Log{Type: raft.LogCommand, Data: c.encode(nil)}) }
	for d := range n / 1000 {
		apply(command{op: opMkdirs, path: "/d" + strconv.Itoa(d), mode: 0o755, owner: "u", group: "g", mtime: 1})
	}
	for i := range n {
		st, ok := apply(command{op: opCreate, path: "/d" + strconv.Itoa(i/1000) + "/part-" + strconv.Itoa(i), mode: 0o644,
			owner: "u", group: "g", mtime: int64(i), replication: 3, blockSize: 1 << 27, clientName: "c"}).(FileStatus)
		if !ok {
			b.Fatalf("create %d failed", i)
		}
		ab := apply(command{op: opAddBlock, fileID: st.ID, clientName: "c"}).(addBlockResult)
		blk := ab.block
		blk.Len = 1000
		if err, ok := apply(command{op: opComplete, fileID: st.ID, clientName: "c", flags: flagHasBlock, block: blk, mtime: 2}).(error); ok {
			b.Fatal(err)
		}
	}
	return ns
}

// BenchmarkSnapshotEncode serializes a namespace of 100,000 one-block
// files, as the state machine does for a Raft snapshot.
func BenchmarkSnapshotEncode(b *testing.B) {
	ns := snapshotNamespace(b, 100_000)
	var size int
	b.ResetTimer()
	for b.Loop() {
		ns.mu.RLock()
		size = len(ns.encodeSnapshot())
		ns.mu.RUnlock()
	}
	b.SetBytes(int64(size))
}

// BenchmarkSnapshotDecode parses that snapshot, as a restart does.
func BenchmarkSnapshotDecode(b *testing.B) {
	ns := snapshotNamespace(b, 100_000)
	data := ns.encodeSnapshot()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := decodeSnapshot(data); err != nil {
			b.Fatal(err)
		}
	}
}

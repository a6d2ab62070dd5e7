package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/protocol"
	"github.com/cairn-fs/cairn/internal/transport"
)

// NamespaceResult is the result of the namespace benchmark: a NameNode
// in this process loaded with Files one-block files (three replicas
// each, reported by three simulated DataNodes), its heap, its snapshot
// and its start-up.
type NamespaceResult struct {
	Files  int `json:"files"`
	Dirs   int `json:"dirs"`
	Blocks int `json:"blocks"`
	// BuildSeconds is the time to write the namespace as a snapshot
	// with the NameNode's own writer (namenode.Preload): the fastest
	// way in.
	BuildSeconds  float64 `json:"build_seconds"`
	SnapshotBytes int64   `json:"snapshot_bytes"`
	// HeapBytes is the growth of the live heap (after a GC) from
	// before the NameNode starts to when it has left safe mode with
	// every replica reported and has then settled (its replication
	// monitor has judged the blocks the reports touched: the heap no
	// longer shrinks); HeapPerFile divides it by Files.
	HeapBytes   int64   `json:"heap_bytes"`
	HeapPerFile float64 `json:"heap_per_file_bytes"`
	// HeapAtSafeModeExit is the same growth at the moment the
	// NameNode left safe mode, before it settled.
	HeapAtSafeModeExit int64 `json:"heap_bytes_at_safe_mode_exit"`
	// Load is the first start from the snapshot; Restart a second one,
	// after a clean stop.
	Load    Startup `json:"load"`
	Restart Startup `json:"restart"`
}

// Startup is the time from namenode.New to out of safe mode.
type Startup struct {
	Seconds float64 `json:"seconds"`
	// OpenSeconds is namenode.New: reading the snapshot, replaying
	// the log, electing itself.
	OpenSeconds float64 `json:"open_seconds"`
	// ReportSeconds is from serving to out of safe mode: DataNodes
	// registering and sending their block reports.
	ReportSeconds float64 `json:"report_seconds"`
}

// Shape of the synthetic namespace.
const (
	nsFilesPerDir  = 1000
	nsReplicas     = 3
	nsRaftID       = "bench"
	nsClusterID    = "CID-bench-namespace"
	nsBlockLen     = 4096
	nsFirstBlockID = 1 << 30 // as the NameNode's
	nsGenStamp     = 1000
)

func (r *Runner) namespace(ctx context.Context, base string) (*NamespaceResult, error) {
	const op = "namespace"
	files := r.cfg.NamespaceFiles
	dir, err := os.MkdirTemp(base, "cairn-bench-namespace-")
	if err != nil {
		return nil, cairn.E(op, base, cairn.IO, err)
	}
	defer os.RemoveAll(dir)
	res := &NamespaceResult{Files: files, Blocks: files, Dirs: (files+nsFilesPerDir-1)/nsFilesPerDir + 2}

	r.progress("namespace: writing a snapshot of %d files", files)
	start := time.Now()
	size, err := writeNamespaceImage(dir, files, r.log)
	if err != nil {
		return nil, err
	}
	res.BuildSeconds = round3(time.Since(start).Seconds())
	res.SnapshotBytes = size

	report := reportOf(files)
	heapBefore := liveHeap()
	r.progress("namespace: loading %d files", files)
	nn, load, err := r.startNameNode(ctx, dir, report)
	if err != nil {
		return nil, err
	}
	res.Load = load
	heapAfter := liveHeap()
	res.HeapAtSafeModeExit = int64(heapAfter) - int64(heapBefore)
	r.progress("namespace: waiting for the NameNode to settle")
	res.HeapBytes = int64(settledHeap(ctx, heapAfter)) - int64(heapBefore)
	res.HeapPerFile = round1(float64(res.HeapBytes) / float64(files))
	if err := checkLoaded(ctx, nn.addr, files); err != nil {
		nn.stop()
		return nil, err
	}
	if err := nn.stop(); err != nil {
		return nil, err
	}

	runtime.GC()
	r.progress("namespace: restarting with %d files", files)
	nn, res.Restart, err = r.startNameNode(ctx, dir, report)
	if err != nil {
		return nil, err
	}
	if err := nn.stop(); err != nil {
		return nil, err
	}
	return res, nil
}

// settledHeap polls the live heap until it has not reached a new low
// (0.5% below the last one) for 3 seconds, at most a minute, and
// returns the lowest reading; low is the reading before.
func settledHeap(ctx context.Context, low uint64) uint64 {
	const quiet = 3 * time.Second
	deadline := time.Now().Add(time.Minute)
	lastLow := time.Now()
	for time.Since(lastLow) < quiet && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		if h := liveHeap(); float64(h) < 0.995*float64(low) {
			low, lastLow = h, time.Now()
		}
	}
	return low
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type benchNameNode struct {
	nn   *namenode.Server
	addr string
	done chan error
}

func (b *benchNameNode) stop() error {
	err := b.nn.Close()
	if serr := <-b.done; err == nil {
		err = serr
	}
	return err
}

// startNameNode starts the NameNode on dir, has three simulated
// DataNodes register and report every block, and waits for it to leave
// safe mode.
func (r *Runner) startNameNode(ctx context.Context, dir string, report []*protocol.Block) (*benchNameNode, Startup, error) {
	const op = "namespace"
	var st Startup
	start := time.Now()
	nn, err := namenode.New(namenode.Config{
		Dir:    filepath.Join(dir, "namenode"),
		RaftID: nsRaftID,
		// The simulated DataNodes do not heartbeat: they must not go
		// stale. A short interval makes the replication monitor, whose
		// pace it sets, judge the reported blocks in seconds.
		HeartbeatInterval: 50 * time.Millisecond,
		StaleNodeTimeout:  10 * time.Hour,
		DeadNodeTimeout:   20 * time.Hour,
	}, r.log.With("node", "namenode"))
	if err != nil {
		return nil, st, err
	}
	opened := time.Now()
	st.OpenSeconds = round3(opened.Sub(start).Seconds())
	lis, err := transport.Config{}.Listen("127.0.0.1:0")
	if err != nil {
		nn.Close()
		return nil, st, cairn.E(op, "", cairn.Unavailable, err)
	}
	b := &benchNameNode{nn: nn, addr: lis.Addr().String(), done: make(chan error, 1)}
	go func() { b.done <- nn.Serve(context.Background(), lis) }()
	if err := reportBlocks(ctx, b.addr, nn.ClusterID(), report); err != nil {
		b.stop()
		return nil, st, err
	}
	if err := waitSafeModeOff(ctx, b.addr); err != nil {
		b.stop()
		return nil, st, err
	}
	end := time.Now()
	st.ReportSeconds = round3(end.Sub(opened).Seconds())
	st.Seconds = round3(end.Sub(start).Seconds())
	return b, st, nil
}

// reportOf lists the blocks of the synthetic namespace, as a DataNode
// holding a replica of each would report them.
func reportOf(files int) []*protocol.Block {
	bs := make([]*protocol.Block, files)
	all := make([]protocol.Block, files)
	for i := range bs {
		all[i] = protocol.Block{Id: uint64(nsFirstBlockID + i), GenStamp: nsGenStamp, Len: nsBlockLen}
		bs[i] = &all[i]
	}
	return bs
}

// reportBlocks registers nsReplicas simulated DataNodes and sends each
// one's full block report, at once.
func reportBlocks(ctx context.Context, addr string, cid cairn.ClusterID, blocks []*protocol.Block) error {
	conn, err := transport.Config{}.NewGRPCClient(addr)
	if err != nil {
		return cairn.E("namespace", addr, cairn.Unavailable, err)
	}
	defer conn.Close()
	dp := protocol.NewDatanodeProtocolClient(conn)
	return parallel(ctx, nsReplicas, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("bench-datanode-%d", i)
		_, err := dp.Register(ctx, &protocol.RegisterRequest{
			NodeId:    id,
			ClusterId: string(cid),
			Addr:      fmt.Sprintf("127.0.0.1:%d", 1+i),
			Storage:   &protocol.StorageReport{CapacityBytes: 1 << 40, RemainingBytes: 1 << 40},
		})
		if err != nil {
			return protocol.FromStatus("namespace.Register", id, err)
		}
		_, err = dp.BlockReport(ctx, &protocol.BlockReportRequest{NodeId: id, Blocks: blocks})
		return protocol.FromStatus("namespace.BlockReport", id, err)
	})
}

func waitSafeModeOff(ctx context.Context, addr string) error {
	c, err := client.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		st, err := c.SafeMode(ctx, "get")
		if err != nil {
			return err
		}
		if !st.On {
			return nil
		}
		select {
		case <-ctx.Done():
			return cairn.Errorf("namespace", addr, cairn.SafeMode, "still in safe mode: %s", st.Reason)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// checkLoaded checks that the NameNode holds the files written.
func checkLoaded(ctx context.Context, addr string, files int) error {
	c, err := client.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	sum, err := c.ContentSummary(ctx, "/")
	if err != nil {
		return err
	}
	if sum.Files != int64(files) {
		return errorf("namespace", "/", "the NameNode loaded %d files, want %d", sum.Files, files)
	}
	fi, err := c.StatBlocks(ctx, nsFileName(files-1))
	if err != nil {
		return err
	}
	if len(fi.Blocks) != 1 || len(fi.Blocks[0].Locations) != nsReplicas {
		return errorf("namespace", fi.Path, "%d blocks, want 1 with %d replicas", len(fi.Blocks), nsReplicas)
	}
	return nil
}

func nsDirName(d int) string  { return fmt.Sprintf("d%05d", d) }
func nsFile(f int) string     { return fmt.Sprintf("part-%06d", f) }
func nsFileName(i int) string { return "/bench/" + nsDirName(i/nsFilesPerDir) + "/" + nsFile(i) }

// writeNamespaceImage makes dir/namenode a NameNode directory whose
// only state is a snapshot holding /bench/dNNNNN/part-NNNNNN, files
// one-block files of nsBlockLen bytes, nsFilesPerDir to a directory,
// written with the NameNode's own snapshot writer (namenode.Preload).
// It returns the snapshot's size.
func writeNamespaceImage(dir string, files int, log *slog.Logger) (int64, error) {
	const op = "namespace"
	nnDir := filepath.Join(dir, "namenode")
	const owner, group = "bench", "supergroup"
	mtime := time.Unix(0, 1_700_000_000_000_000_000)
	dirs := (files + nsFilesPerDir - 1) / nsFilesPerDir
	// Inode IDs in pre-order: root 1, /bench 2, then each directory
	// followed by its files.
	h := namenode.SnapshotHeader{
		NextInodeID:  uint64(3 + dirs + files),
		NextBlockID:  cairn.BlockID(nsFirstBlockID + files),
		NextGenStamp: nsGenStamp + 1,
		Names:        []string{owner, group},
	}
	fill := func(w *namenode.SnapshotWriter) error {
		dirRec := func(id uint64, name string, children int) error {
			return w.Dir(namenode.SnapshotDir{ID: id, Name: name, Mode: 0o755, Owner: owner, Group: group, ModTime: mtime, Children: children})
		}
		if err := dirRec(1, "", 1); err != nil {
			return err
		}
		if err := dirRec(2, "bench", dirs); err != nil {
			return err
		}
		id := uint64(3)
		blocks := make([]cairn.Block, 1)
		for d := range dirs {
			lo, hi := d*nsFilesPerDir, min((d+1)*nsFilesPerDir, files)
			if err := dirRec(id, nsDirName(d), hi-lo); err != nil {
				return err
			}
			id++
			for f := lo; f < hi; f++ {
				blocks[0] = cairn.Block{ID: cairn.BlockID(nsFirstBlockID + f), GenStamp: nsGenStamp, Len: nsBlockLen}
				err := w.File(namenode.SnapshotFile{
					ID: id, Name: nsFile(f), Mode: 0o644, Owner: owner, Group: group,
					ModTime: mtime.Add(time.Duration(f)), Replication: nsReplicas,
					BlockSize: cairn.DefaultBlockSize, Blocks: blocks,
				})
				if err != nil {
					return err
				}
				id++
			}
		}
		return nil
	}
	size, err := namenode.Preload(namenode.Config{Dir: nnDir, RaftID: nsRaftID, ClusterID: nsClusterID}, log, h, fill)
	if err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	return size, nil
}

package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/checksum"
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
	// BuildSeconds is the time to write the namespace as a snapshot in
	// the NameNode's format (namenode/doc.go): the fastest way in.
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
	nsSnapIndex    = 10
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
	size, err := writeNamespaceImage(dir, files)
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
// only state is a Raft snapshot holding /bench/dNNNNN/part-NNNNNN, files
// one-block files of nsBlockLen bytes, nsFilesPerDir to a directory. It
// returns the snapshot's size.
func writeNamespaceImage(dir string, files int) (int64, error) {
	const op = "namespace"
	nnDir := filepath.Join(dir, "namenode")
	if err := os.MkdirAll(nnDir, 0o755); err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	version := fmt.Sprintf("layout=1\ncluster_id=%s\n", nsClusterID)
	if err := os.WriteFile(filepath.Join(nnDir, "VERSION"), []byte(version), 0o644); err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(nnDir, "raft"), 2, hclog.NewNullLogger())
	if err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	_, trans := raft.NewInmemTransport(nsRaftID)
	defer trans.Close()
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: nsRaftID, Address: nsRaftID}}}
	sink, err := snaps.Create(raft.SnapshotVersionMax, nsSnapIndex, 1, conf, 1, trans)
	if err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	cw := &countWriter{w: sink}
	if err := encodeNamespace(cw, files); err != nil {
		sink.Cancel()
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	if err := sink.Close(); err != nil {
		return 0, cairn.E(op, nnDir, cairn.IO, err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encodeNamespace writes the snapshot of the synthetic namespace in the
// format of namenode/doc.go ("Snapshot format").
func encodeNamespace(out io.Writer, files int) error {
	crc := checksum.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, crc), 1<<20)
	var b []byte
	flush := func() error {
		_, err := bw.Write(b)
		b = b[:0]
		return err
	}
	const (
		recDir, recFile = 0, 1
		owner, group    = 1, 2 // indexes in the string table
		mtime           = int64(1_700_000_000_000_000_000)
	)
	dirs := (files + nsFilesPerDir - 1) / nsFilesPerDir
	// Inode IDs in pre-order: root 1, /bench 2, then each directory
	// followed by its files.
	nextInode := uint64(3 + dirs + files)
	b = append(b, "CAIRNNS\x00"...)
	b = binary.AppendUvarint(b, 1) // version
	b = binary.AppendUvarint(b, nextInode)
	b = binary.AppendUvarint(b, uint64(nsFirstBlockID+files))
	b = binary.AppendUvarint(b, nsGenStamp+1)
	b = binary.AppendUvarint(b, 3)
	for _, s := range []string{"", "bench", "supergroup"} {
		b = appendString(b, s)
	}
	dirRec := func(id uint64, name string, children int) {
		b = append(b, recDir)
		b = binary.AppendUvarint(b, id)
		b = appendString(b, name)
		b = binary.AppendUvarint(b, 0o755)
		b = binary.AppendUvarint(b, owner)
		b = binary.AppendUvarint(b, group)
		b = binary.AppendVarint(b, mtime)
		b = binary.AppendUvarint(b, uint64(children))
	}
	dirRec(1, "", 1)
	dirRec(2, "bench", dirs)
	id := uint64(3)
	for d := range dirs {
		lo, hi := d*nsFilesPerDir, min((d+1)*nsFilesPerDir, files)
		dirRec(id, nsDirName(d), hi-lo)
		id++
		for f := lo; f < hi; f++ {
			b = append(b, recFile)
			b = binary.AppendUvarint(b, id)
			id++
			b = appendString(b, nsFile(f))
			b = binary.AppendUvarint(b, 0o644)
			b = binary.AppendUvarint(b, owner)
			b = binary.AppendUvarint(b, group)
			b = binary.AppendVarint(b, mtime+int64(f))
			b = binary.AppendUvarint(b, nsReplicas)
			b = binary.AppendVarint(b, cairn.DefaultBlockSize)
			b = binary.AppendUvarint(b, 1) // one block
			b = binary.AppendUvarint(b, uint64(nsFirstBlockID+f))
			b = binary.AppendUvarint(b, nsGenStamp)
			b = binary.AppendVarint(b, nsBlockLen)
			b = append(b, 1) // committed
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := out.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

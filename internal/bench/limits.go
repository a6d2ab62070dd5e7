package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// LimitsResult is what this machine can do at best, measured with the
// simplest possible programs: the bounds every other result is compared
// with. Rates are in MiB/s.
type LimitsResult struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
	// DiskWrite is a sequential write of Bytes in 1 MiB writes, then
	// one fsync, timed to the end of the fsync.
	DiskWrite float64 `json:"disk_write_mib_s"`
	// DiskWriteParallel is Replication such writers at once, each with
	// its own file of Bytes (as the DataNodes of a pipeline write), in
	// MiB/s of all of them.
	DiskWriteParallel float64 `json:"disk_write_parallel_mib_s"`
	// Replication and WriteLimit: with every replica on this one disk,
	// each byte put is written Replication times, so the best a put can
	// do is the better of DiskWrite and DiskWriteParallel divided by
	// Replication.
	Replication int     `json:"replication"`
	WriteLimit  float64 `json:"write_limit_mib_s"`
	// DiskReadCold reads the file back after dropping it from the page
	// cache by ColdMethod: "drop_caches" (echo 1 >
	// /proc/sys/vm/drop_caches: the page cache, not dentries and
	// inodes; as root) or "fadvise_dontneed" (posix_fadvise on the
	// file, when not root or asked to keep the page cache).
	DiskReadCold float64 `json:"disk_read_cold_mib_s"`
	ColdMethod   string  `json:"cold_method"`
	// DiskReadWarm reads it again, from the page cache.
	DiskReadWarm float64 `json:"disk_read_warm_mib_s"`
	// LoopbackTCP is one TCP stream over 127.0.0.1, 256 KiB writes and
	// reads.
	LoopbackTCP float64 `json:"loopback_tcp_mib_s"`
	// CRC32C checksums 64 KiB packets in 512-byte chunks, as the data
	// path does; CRC32CBulk checksums 1 MiB at once.
	CRC32C     float64 `json:"crc32c_mib_s"`
	CRC32CBulk float64 `json:"crc32c_bulk_mib_s"`
	// FsyncPerSecond is 4 KiB appends each followed by fsync, from one
	// writer: the rate of durable operations without group commit.
	FsyncPerSecond float64 `json:"fsync_per_s"`
	// ReplicasPerSecond is durable new replicas per second, made the
	// way a DataNode makes one (two new files, a 1 KiB data file and
	// its checksums, both fsync'd, renamed into another directory,
	// which is fsync'd) by 16 writers at once: it bounds small-file
	// writes at ReplicasPerSecond / Replication files per second.
	ReplicasPerSecond float64 `json:"replicas_per_s"`
	// GroupCommitPerSecond is durable 1 KiB appends per second to one
	// file from 16 writers, each waiting for its append to be fsync'd,
	// one fsync covering every append made while the last one ran:
	// what the DataNodes' container store can do (group commit).
	GroupCommitPerSecond float64 `json:"group_commit_per_s"`
	// SmallWriteLimit bounds small-file writes from Clients clients:
	// the lower of GroupCommitPerSecond / Replication (every replica
	// is an append to the one disk) and Clients * FsyncPerSecond / 3
	// (each file waits for at least three fsyncs one after the other:
	// the NameNode's create with the block, the replicas, the
	// NameNode's complete; group commit shares fsyncs, not waits).
	SmallWriteLimit float64 `json:"small_write_limit_files_per_s"`
	SmallWriteBound string  `json:"small_write_bound"`
	// ConnectsPerSecond is loopback TCP connections per second, each
	// a connect, a 64-byte request, a 1 KiB answer and a close, from 16
	// clients at once: what a small-file read costs with a new
	// connection to the DataNode each time.
	ConnectsPerSecond float64 `json:"tcp_connects_per_s"`
	// RoundTripsPerSecond is 64-byte requests answered with 1 KiB on
	// open loopback TCP connections, 16 clients at once. A small-file
	// read is two such round trips (the NameNode's block locations and
	// the DataNode's bytes), so it is bounded by half this rate.
	RoundTripsPerSecond float64  `json:"tcp_round_trips_per_s"`
	Notes               []string `json:"notes,omitempty"`
}

// limits measures the machine in dir.
func (r *Runner) limits(ctx context.Context, dir string) (*LimitsResult, error) {
	size := r.cfg.LimitBytes
	res := &LimitsResult{Dir: dir, Bytes: size, Replication: r.cfg.Replication}
	path := filepath.Join(dir, fmt.Sprintf("cairn-bench-limits-%d.tmp", os.Getpid()))
	defer os.Remove(path)
	buf := randomData(1 << 20)

	r.progress("limits: disk write + fsync of %s", sizeString(size))
	d, err := diskWrite(ctx, path, buf, size)
	if err != nil {
		return nil, err
	}
	res.DiskWrite = mibps(size, d)
	os.Remove(path)
	r.progress("limits: %d parallel disk writes + fsync of %s each", res.Replication, sizeString(size))
	if d, err = parallelDiskWrite(ctx, dir, buf, size, res.Replication); err != nil {
		return nil, err
	}
	res.DiskWriteParallel = mibps(size*int64(res.Replication), d)
	res.WriteLimit = round1(max(res.DiskWrite, res.DiskWriteParallel) / float64(max(res.Replication, 1)))
	r.progress("limits: disk write + fsync of %s again, for the reads", sizeString(size))
	if _, err = diskWrite(ctx, path, buf, size); err != nil {
		return nil, err
	}

	r.progress("limits: cold disk read")
	res.ColdMethod, err = dropCache(path, !r.cfg.KeepPageCache)
	if err != nil {
		return nil, err
	}
	if d, err = diskRead(ctx, path, buf); err != nil {
		return nil, err
	}
	res.DiskReadCold = mibps(size, d)
	r.progress("limits: warm disk read")
	if d, err = diskRead(ctx, path, buf); err != nil {
		return nil, err
	}
	res.DiskReadWarm = mibps(size, d)
	os.Remove(path)

	r.progress("limits: fsync rate")
	if res.FsyncPerSecond, err = fsyncRate(ctx, path); err != nil {
		return nil, err
	}
	os.Remove(path)

	r.progress("limits: new replicas")
	if res.ReplicasPerSecond, err = replicaRate(ctx, dir); err != nil {
		return nil, err
	}
	r.progress("limits: group commit")
	if res.GroupCommitPerSecond, err = groupCommitRate(ctx, dir); err != nil {
		return nil, err
	}
	res.SmallWriteLimit, res.SmallWriteBound = res.smallWriteLimit(smallClients, res.Replication)
	byDisk := res.GroupCommitPerSecond / float64(max(res.Replication, 1))
	byLatency := float64(smallClients) * res.FsyncPerSecond / 3
	r.progress("limits: loopback TCP connections")
	if res.ConnectsPerSecond, err = connectRate(ctx, false); err != nil {
		return nil, err
	}
	r.progress("limits: loopback TCP round trips")
	if res.RoundTripsPerSecond, err = connectRate(ctx, true); err != nil {
		return nil, err
	}

	r.progress("limits: loopback TCP")
	if d, err = loopback(ctx, size); err != nil {
		return nil, err
	}
	res.LoopbackTCP = mibps(size, d)

	r.progress("limits: CRC32C")
	res.CRC32C, res.CRC32CBulk = crcRates(buf)

	res.Notes = append(res.Notes, fmt.Sprintf(
		"with replication %d and every DataNode on one disk, each byte put is written %d times: the write limit is the disk write rate / %d = %.1f MiB/s",
		res.Replication, res.Replication, res.Replication, res.WriteLimit),
		fmt.Sprintf("a small file written with replication %d is %d replicas: as files of their own at most %.0f replicas/s / %d = %.0f files/s; in the DataNodes' containers the lower of %.0f group-committed appends/s / %d = %.0f and %d clients x %.0f fsyncs/s / 3 fsyncs waited for per file = %.0f files/s",
			res.Replication, res.Replication, res.ReplicasPerSecond, res.Replication, res.ReplicasPerSecond/float64(max(res.Replication, 1)),
			res.GroupCommitPerSecond, res.Replication, byDisk, smallClients, res.FsyncPerSecond, byLatency))
	if res.ColdMethod != "drop_caches" {
		res.Notes = append(res.Notes, "cold read: the file was evicted from the page cache with "+res.ColdMethod+", not the whole cache")
	}
	return res, nil
}

func diskWrite(ctx context.Context, path string, buf []byte, size int64) (time.Duration, error) {
	const op = "limits"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, cairn.E(op, path, cairn.IO, err)
	}
	defer f.Close()
	start := time.Now()
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := f.Write(buf[:min(int64(len(buf)), size-done)])
		if err != nil {
			return 0, cairn.E(op, path, cairn.IO, err)
		}
		done += int64(n)
	}
	if err := f.Sync(); err != nil {
		return 0, cairn.E(op, path, cairn.IO, err)
	}
	return time.Since(start), f.Close()
}

// parallelDiskWrite runs n diskWrites at once, each to its own file.
func parallelDiskWrite(ctx context.Context, dir string, buf []byte, size int64, n int) (time.Duration, error) {
	start := time.Now()
	err := parallel(ctx, n, func(ctx context.Context, i int) error {
		path := filepath.Join(dir, fmt.Sprintf("cairn-bench-limits-%d-%d.tmp", os.Getpid(), i))
		defer os.Remove(path)
		_, err := diskWrite(ctx, path, buf, size)
		return err
	})
	return time.Since(start), err
}

func diskRead(ctx context.Context, path string, buf []byte) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, cairn.E("limits", path, cairn.IO, err)
	}
	defer f.Close()
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		_, err := f.Read(buf)
		if err == io.EOF {
			return time.Since(start), nil
		}
		if err != nil {
			return 0, cairn.E("limits", path, cairn.IO, err)
		}
	}
}

// fsyncRate appends 4 KiB and fsyncs, over and over for about a second.
func fsyncRate(ctx context.Context, path string) (float64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, cairn.E("limits", path, cairn.IO, err)
	}
	defer f.Close()
	buf := randomData(4 << 10)
	start := time.Now()
	n := 0
	for time.Since(start) < time.Second && n < 100000 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if _, err := f.Write(buf); err != nil {
			return 0, cairn.E("limits", path, cairn.IO, err)
		}
		if err := f.Sync(); err != nil {
			return 0, cairn.E("limits", path, cairn.IO, err)
		}
		n++
	}
	return perSecond(n, time.Since(start)), nil
}

// smallWriteLimit is the small-file write limit of clients clients
// with replication rf, and what bounds it (see SmallWriteLimit).
func (l *LimitsResult) smallWriteLimit(clients, rf int) (float64, string) {
	byDisk := l.GroupCommitPerSecond / float64(max(rf, 1))
	byLatency := float64(clients) * l.FsyncPerSecond / 3
	if byLatency < byDisk {
		return byLatency, fmt.Sprintf("%d clients x fsyncs/s / 3", clients)
	}
	return byDisk, fmt.Sprintf("group-committed appends/s / %d", rf)
}

// smallClients is the clients the small-file limit is given for, as
// cairn bench small's default --clients.
const smallClients = 16

// groupCommitRate appends 1 KiB records to one file from 16 writers
// for about a second, each waiting until an fsync made after its
// append returns, one fsync at a time covering every append waiting
// (as the DataNodes' container store does), and returns the appends
// per second.
func groupCommitRate(ctx context.Context, dir string) (float64, error) {
	const op, writers = "limits", 16
	f, err := os.CreateTemp(dir, "cairn-bench-group-")
	if err != nil {
		return 0, cairn.E(op, dir, cairn.IO, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := randomData(1<<10 + 44 + 8)
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		written int64 // appends written
		synced  int64 // appends covered by a finished fsync
		syncing bool
		off     int64
		failed  error
	)
	// commit makes append number n durable: it waits for an fsync
	// begun after it, running one itself if none is.
	commit := func(n int64) error {
		mu.Lock()
		defer mu.Unlock()
		for synced < n && failed == nil {
			if syncing {
				cond.Wait()
				continue
			}
			syncing = true
			upTo := written
			mu.Unlock()
			err := f.Sync()
			mu.Lock()
			syncing = false
			if err != nil {
				failed = err
			} else if upTo > synced {
				synced = upTo
			}
			cond.Broadcast()
		}
		return failed
	}
	var made counter
	deadline := time.Now().Add(time.Second)
	start := time.Now()
	err = parallel(ctx, writers, func(ctx context.Context, w int) error {
		for time.Now().Before(deadline) && ctx.Err() == nil {
			mu.Lock()
			at := off
			off += int64(len(rec))
			mu.Unlock()
			if _, err := f.WriteAt(rec, at); err != nil {
				return cairn.E(op, f.Name(), cairn.IO, err)
			}
			mu.Lock()
			written++
			n := written
			mu.Unlock()
			if err := commit(n); err != nil {
				return cairn.E(op, f.Name(), cairn.IO, err)
			}
			made.add(1)
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, err
	}
	return perSecond(int(made.get()), time.Since(start)), nil
}

// replicaRate makes new replicas the way a DataNode does, from 16
// writers for about a second, and returns how many per second.
func replicaRate(ctx context.Context, dir string) (float64, error) {
	const op, writers = "limits", 16
	base, err := os.MkdirTemp(dir, "cairn-bench-replicas-")
	if err != nil {
		return 0, cairn.E(op, dir, cairn.IO, err)
	}
	defer os.RemoveAll(base)
	rbw, fin := filepath.Join(base, "rbw"), filepath.Join(base, "finalized")
	for _, d := range []string{rbw, fin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return 0, cairn.E(op, d, cairn.IO, err)
		}
	}
	data, sums := randomData(1<<10), randomData(7+8)
	var made counter
	deadline := time.Now().Add(time.Second)
	start := time.Now()
	err = parallel(ctx, writers, func(ctx context.Context, w int) error {
		for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
			name := fmt.Sprintf("blk_%d_%d", w, i)
			if err := newReplica(rbw, fin, name, data, sums); err != nil {
				return cairn.E(op, base, cairn.IO, err)
			}
			made.add(1)
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, err
	}
	return perSecond(int(made.get()), time.Since(start)), nil
}

// newReplica writes, fsyncs and renames a data file and its checksums,
// then fsyncs the directory they went to.
func newReplica(rbw, fin, name string, data, sums []byte) error {
	for _, f := range []struct {
		name string
		b    []byte
	}{{name, data}, {name + ".meta", sums}} {
		fh, err := os.OpenFile(filepath.Join(rbw, f.name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = fh.Write(f.b)
		if err == nil {
			err = fh.Sync()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for _, n := range []string{name + ".meta", name} {
		if err := os.Rename(filepath.Join(rbw, n), filepath.Join(fin, n)); err != nil {
			return err
		}
	}
	d, err := os.Open(fin)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// connectRate has 16 clients send 64-byte requests answered with 1 KiB
// over loopback TCP for about half a second, each on a new connection,
// or with keep on one connection per client, and returns how many
// requests were answered per second.
func connectRate(ctx context.Context, keep bool) (float64, error) {
	const op, clients = "limits", 16
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, cairn.E(op, "loopback", cairn.Unavailable, err)
	}
	defer lis.Close()
	answer := randomData(1 << 10)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req := make([]byte, 64)
				for {
					if _, err := io.ReadFull(c, req); err != nil {
						return
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	addr := lis.Addr().String()
	var done counter
	deadline := time.Now().Add(500 * time.Millisecond)
	start := time.Now()
	err = parallel(ctx, clients, func(ctx context.Context, _ int) error {
		req, buf := make([]byte, 64), make([]byte, len(answer))
		var d net.Dialer
		var c net.Conn
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		for time.Now().Before(deadline) {
			if c == nil {
				var err error
				if c, err = d.DialContext(ctx, "tcp", addr); err != nil {
					return cairn.E(op, addr, cairn.Unavailable, err)
				}
			}
			_, err := c.Write(req)
			if err == nil {
				_, err = io.ReadFull(c, buf)
			}
			if !keep || err != nil {
				c.Close()
				c = nil
			}
			if err != nil {
				return cairn.E(op, addr, cairn.Unavailable, err)
			}
			done.add(1)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return perSecond(int(done.get()), time.Since(start)), nil
}

// loopback sends size bytes down one TCP connection on 127.0.0.1.
func loopback(ctx context.Context, size int64) (time.Duration, error) {
	const op, bufSize = "limits", 256 << 10
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, cairn.E(op, "loopback", cairn.Unavailable, err)
	}
	defer lis.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		buf := randomData(bufSize)
		for done := int64(0); done < size; {
			n, err := c.Write(buf[:min(int64(len(buf)), size-done)])
			if err != nil {
				sent <- err
				return
			}
			done += int64(n)
		}
		sent <- nil
	}()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", lis.Addr().String())
	if err != nil {
		return 0, cairn.E(op, "loopback", cairn.Unavailable, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, bufSize)
	start := time.Now()
	var got int64
	for got < size {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			return 0, cairn.E(op, "loopback", cairn.Unavailable, err)
		}
	}
	d := time.Since(start)
	if err := <-sent; err != nil {
		return 0, cairn.E(op, "loopback", cairn.Unavailable, err)
	}
	return d, nil
}

// crcRates measures CRC32C over 64 KiB packets in 512-byte chunks (as
// the data path computes it) and over 1 MiB at once, about 250ms each.
func crcRates(buf []byte) (chunked, bulk float64) {
	pkt := buf[:cairn.PacketSize]
	sums := make([]byte, datatransfer.SumsLen(len(pkt)))
	var n int64
	start := time.Now()
	for time.Since(start) < 250*time.Millisecond {
		for range 16 {
			datatransfer.ComputeSums(sums, pkt)
		}
		n += 16 * int64(len(pkt))
	}
	chunked = mibps(n, time.Since(start))
	n = 0
	start = time.Now()
	for time.Since(start) < 250*time.Millisecond {
		checksum.CRC32C(buf)
		n += int64(len(buf))
	}
	return chunked, mibps(n, time.Since(start))
}

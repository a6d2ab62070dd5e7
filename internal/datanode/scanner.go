package datanode

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
)

// The block scanner and the volume checker; see doc.go, "Scanner".

const (
	defaultScanInterval  = 24 * time.Hour
	defaultScanBandwidth = 64 << 20
	// firstScanDelay bounds the wait before the first pass after a
	// start.
	firstScanDelay = 5 * time.Minute
	// scanReadSize is how much of a replica the scanner reads at once.
	scanReadSize = 1 << 20
)

func (c Config) scanInterval() time.Duration {
	if c.ScanInterval == 0 {
		return defaultScanInterval
	}
	return c.ScanInterval
}

func (c Config) scanBandwidth() int64 {
	if c.ScanBandwidth <= 0 {
		return defaultScanBandwidth
	}
	return c.ScanBandwidth
}

// volumeCheckInterval is how often the volumes are probed.
func (c Config) volumeCheckInterval() time.Duration {
	return min(max(c.heartbeatInterval(), time.Second), 30*time.Second)
}

// scanLoop runs the block scanner, a pass every ScanInterval, and the
// volume checker, until ctx ends.
func (d *DataNode) scanLoop(ctx context.Context) {
	interval := d.cfg.scanInterval()
	vc := time.NewTicker(d.cfg.volumeCheckInterval())
	defer vc.Stop()
	var passes <-chan time.Time
	if interval > 0 {
		t := time.NewTimer(min(interval, firstScanDelay))
		defer t.Stop()
		passes = t.C
		var next time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-vc.C:
				d.store.checkVolumes()
				continue
			case <-passes:
			}
			next = time.Now().Add(interval)
			d.scanPass(ctx, interval, vc.C)
			if ctx.Err() != nil {
				return
			}
			t.Reset(max(time.Until(next), 0))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-vc.C:
			d.store.checkVolumes()
		}
	}
}

// scanPass verifies every finalized replica once, reading at the
// configured bandwidth or, if that is too slow to end the pass within
// interval, at the rate that does.
func (d *DataNode) scanPass(ctx context.Context, interval time.Duration, volumeChecks <-chan time.Time) {
	blocks := d.store.blocks()
	var total int64
	for _, b := range blocks {
		total += b.Len
	}
	rate := max(d.cfg.scanBandwidth(), int64(float64(total)/interval.Seconds())+1)
	th := throttle{rate: rate, start: time.Now()}
	bad := 0
	for _, b := range blocks {
		select {
		case <-ctx.Done():
			return
		case <-volumeChecks:
			d.store.checkVolumes()
		default:
		}
		if reason, inc := d.verifyReplica(ctx, b, &th); reason != "" {
			bad++
			d.metrics.checksumFailures.Inc()
			d.replicaDamaged(b, inc, reason)
		}
	}
	d.lastScan.Store(time.Now().UnixNano())
	d.log.Debug("block scanner pass done", "replicas", len(blocks), "bytes", total, "damaged", bad, "took", time.Since(th.start))
}

// throttle spaces reads to a rate in bytes per second.
type throttle struct {
	rate  int64
	start time.Time
	bytes int64
}

func (t *throttle) wait(ctx context.Context, n int) {
	t.bytes += int64(n)
	due := t.start.Add(time.Duration(float64(t.bytes) / float64(t.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		sleep(ctx, d)
	}
}

// verifyReplica checks a finalized replica: its files as the store
// lays them out (openChecked), then every checksum. It returns what is
// wrong, or "" if nothing is (or the replica changed meanwhile), and
// the incarnation of the replica checked.
func (d *DataNode) verifyReplica(ctx context.Context, b cairn.Block, th *throttle) (string, uint64) {
	r, inc, reason := d.store.openChecked(b)
	if r == nil {
		return reason, inc
	}
	defer r.Close()
	return d.verifySums(ctx, r, th), inc
}

// verifySums reads the whole replica and checks every checksum.
func (d *DataNode) verifySums(ctx context.Context, r Replica, th *throttle) string {
	n := r.Block().Len
	data, meta := r.Data(), r.Checksums()
	buf := make([]byte, scanReadSize)
	sums := make([]byte, datatransfer.SumsLen(scanReadSize))
	for pos := int64(0); pos < n; {
		if ctx.Err() != nil {
			return ""
		}
		k := int(min(int64(len(buf)), n-pos))
		if err := readFull(data, buf[:k], pos); err != nil {
			d.store.checkDisk(r)
			return fmt.Sprintf("reading block file at offset %d: %v", pos, err)
		}
		s := sums[:datatransfer.SumsLen(k)]
		if err := readFull(meta, s, sumsAt(pos)); err != nil {
			d.store.checkDisk(r)
			return fmt.Sprintf("reading meta file at offset %d: %v", sumOffset(pos), err)
		}
		if bad := datatransfer.VerifySums(s, buf[:k]); bad >= 0 {
			return fmt.Sprintf("checksum mismatch at offset %d", pos+int64(bad)*cairn.ChunkSize)
		}
		pos += int64(k)
		th.wait(ctx, k)
	}
	return ""
}

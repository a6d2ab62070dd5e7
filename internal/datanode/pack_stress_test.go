package datanode

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
)

// Writers, deleters, readers, restampers and the compaction at once.
func TestPackRegressPackStress(t *testing.T) {
	nd := startNodeWith(t, smallConfig(nil))
	s := nd.dn.store
	s.vols[0].pack.maxSize = 32 << 10
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var gsOf sync.Map
	var next atomic.Int64
	data := func(id cairn.BlockID) []byte { return randomBytes(2000+int(id)%3000, uint64(id)) }
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := cairn.BlockID(next.Add(1))
				writeBlock(t, cairn.Block{ID: id, GenStamp: 1}, pipelineOf(nd), data(id))
				gsOf.Store(id, cairn.GenStamp(1))
			}
		}()
	}
	wg.Add(1)
	go func() { // deleter
		defer wg.Done()
		for ctx.Err() == nil {
			n := next.Load()
			for id := cairn.BlockID(1); id <= cairn.BlockID(n); id++ {
				if id%3 == 1 {
					s.remove(cairn.Block{ID: id})
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Add(1)
	go func() { // compaction
		defer wg.Done()
		for ctx.Err() == nil {
			s.compact(ctx)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var bad atomic.Int64
	wg.Add(1)
	go func() { // readers + restamp
		defer wg.Done()
		for ctx.Err() == nil {
			n := next.Load()
			for id := cairn.BlockID(1); id <= cairn.BlockID(n); id++ {
				if id%3 == 1 {
					continue
				}
				g, ok := gsOf.Load(id)
				if !ok {
					continue
				}
				gs := g.(cairn.GenStamp)
				if id%3 == 2 && gs == 1 {
					if _, err := s.finishRecovery(id, int64(len(data(id))), 2); err == nil {
						gsOf.Store(id, cairn.GenStamp(2))
						gs = 2
					}
				}
				b := cairn.Block{ID: id, GenStamp: gs, Len: int64(len(data(id)))}
				got, err := readBlock(ctx, nd.info, b, 0, b.Len)
				if err != nil && ctx.Err() == nil {
					t.Logf("read %v: %v", b, err)
					bad.Add(1)
				} else if err == nil && !bytes.Equal(got, data(id)) {
					t.Errorf("read %v: wrong bytes", b)
				}
			}
		}
	}()
	time.Sleep(4 * time.Second)
	cancel()
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d failed reads", bad.Load())
	}
	for id := cairn.BlockID(1); id <= cairn.BlockID(next.Load()); id++ {
		if id%3 == 1 {
			s.remove(cairn.Block{ID: id})
		}
	}
	nd.stop(t)
	again := startNodeWith(t, smallConfig(nd.dirs))
	got := map[cairn.BlockID]cairn.Block{}
	for _, b := range again.dn.Blocks() {
		got[b.ID] = b
	}
	gsOf.Range(func(k, v any) bool {
		id := k.(cairn.BlockID)
		if id%3 == 1 {
			return true
		}
		if b, ok := got[id]; !ok || b.GenStamp != v.(cairn.GenStamp) {
			t.Errorf("block %d after restart: %v (ok %v), want gs %d", id, b, ok, v)
		}
		return true
	})
	for id := range got {
		if id%3 == 1 {
			t.Errorf("deleted block %d back after a graceful restart", id)
		}
	}
	s2 := again.dn.store
	s2.vols[0].pack.mu.Lock()
	for _, c := range s2.vols[0].pack.conts {
		if c.live < 0 {
			t.Errorf("container %d live %d", c.seq, c.live)
		}
	}
	s2.vols[0].pack.mu.Unlock()
}

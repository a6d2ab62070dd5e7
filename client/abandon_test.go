package client_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// TestWriteAfterAFailedAbandon sets up a first pipeline that fails (a
// DataNode is stopped but the NameNode still thinks it live, and every
// DataNode is in every pipeline) and fails the AbandonBlock that
// follows, as a NameNode briefly out of reach would. The writer must
// not be handed the failed pipeline again: the write succeeds on the
// other nodes. (It used to get the same block and pipeline back from
// AddBlock, which took it for a retry, until it ran out of tries.)
func TestWriteAfterAFailedAbandon(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int // AbandonBlock calls that fail
	}{
		{"AbandonBlock fails twice", 2},
		{"AbandonBlock never gets through", 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, ctx := setup(t, testcluster.Options{DataNodes: 4, Replication: 4, NameNode: func(cfg *namenode.Config) {
				cfg.StaleNodeTimeout = time.Hour
				cfg.DeadNodeTimeout = 2 * time.Hour
			}})
			const dead = 2
			c.StopDataNode(t, dead)
			deadID := c.DataNode(dead).ID()

			var mu sync.Mutex
			var calls, failed int
			abandoned := make(map[cairn.BlockID]bool)
			cl := dialShort(t, c, client.WithAbandonBlockFault(func(b cairn.Block) error {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if failed < tc.fails {
					failed++
					return cairn.E("abandonblock", "", cairn.Unavailable, errors.New("namenode out of reach (test)"))
				}
				abandoned[b.ID] = true
				return nil
			}))

			data := randomBytes(40, 2*testBlockSize+77)
			writeFile(t, ctx, cl, "/f", data, nil)
			if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
				t.Fatalf("/f reads back %d bytes that differ from the %d written", len(got), len(data))
			}
			mu.Lock()
			if failed == 0 {
				t.Errorf("AbandonBlock was called %d times and never failed: the first pipeline did not fail", calls)
			}
			mu.Unlock()
			fi, err := cl.StatBlocks(ctx, "/f")
			if err != nil {
				t.Fatal(err)
			}
			if len(fi.Blocks) != 3 {
				t.Errorf("/f has %d blocks, want 3", len(fi.Blocks))
			}
			for _, b := range fi.Blocks {
				for _, loc := range b.Locations {
					if loc.ID == deadID {
						t.Errorf("block %d is on the stopped datanode %s", b.Block.ID, deadID)
					}
				}
				if abandoned[b.Block.ID] {
					t.Errorf("block %d of the file was abandoned", b.Block.ID)
				}
			}
		})
	}
}

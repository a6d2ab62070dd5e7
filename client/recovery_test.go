package client_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/datanode"
	"github.com/cairn-fs/cairn/internal/faultproxy"
	"github.com/cairn-fs/cairn/internal/namenode"
	"github.com/cairn-fs/cairn/internal/testcluster"
)

// dialShort dials the cluster with a short DataNode timeout, so that a
// stalled pipeline is noticed in seconds.
func dialShort(t *testing.T, c *testcluster.Cluster, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.NameNodeAddr(), append([]client.Option{client.WithDataTimeout(3 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// lastBlock returns the last block of name (being written) and the
// cluster indexes of the nodes the NameNode expects it on.
func lastBlock(t *testing.T, ctx context.Context, c *testcluster.Cluster, name string) (cairn.Block, []int) {
	t.Helper()
	st, err := c.NameNode().GetBlockLocations(ctx, name, 0, 0, "")
	if err != nil || len(st.Blocks) == 0 {
		t.Fatalf("GetBlockLocations(%q) = %d blocks, %v", name, len(st.Blocks), err)
	}
	lb := st.Blocks[len(st.Blocks)-1]
	var out []int
	for _, loc := range lb.Locations {
		out = append(out, nodeIndex(t, c, loc))
	}
	return lb.Block, out
}

// waitReplicated waits until every block of name has want live
// replicas.
func waitReplicated(t *testing.T, c *testcluster.Cluster, cl *client.Client, name string, want int) {
	t.Helper()
	c.WaitFor(t, fmt.Sprintf("%s at %d replicas", name, want), func(ctx context.Context) (bool, error) {
		fi, err := cl.StatBlocks(ctx, name)
		if err != nil {
			return false, err
		}
		for _, b := range fi.Blocks {
			if len(b.Locations) != want || b.Corrupt {
				return false, fmt.Errorf("block %d has %d locations", b.Block.ID, len(b.Locations))
			}
		}
		return true, nil
	})
}

// writeKilling writes data to name and stops the DataNodes chosen by
// pick (from the last block's pipeline) once kill bytes are written.
// It checks that the block being written then went through pipeline
// recovery: it has a new generation stamp.
func writeKilling(t *testing.T, ctx context.Context, c *testcluster.Cluster, cl *client.Client, name string, data []byte, kill int, pick func(pipeline []int) []int) {
	t.Helper()
	w, err := cl.Create(ctx, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	const step = 64 << 10
	var hit cairn.Block
	for off := 0; off < len(data); off += step {
		if off == kill {
			b, nodes := lastBlock(t, ctx, c, name)
			hit = b
			for _, i := range pick(nodes) {
				t.Logf("stopping datanode %d at offset %d", i, off)
				c.StopDataNode(t, i)
			}
		}
		if _, err := w.Write(data[off:min(off+step, len(data))]); err != nil {
			t.Fatalf("Write at %d = %v", off, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	fi, err := cl.StatBlocks(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range fi.Blocks {
		if b.Block.ID == hit.ID && b.Block.GenStamp <= hit.GenStamp {
			t.Errorf("block %d kept generation stamp %d through pipeline recovery", b.Block.ID, b.Block.GenStamp)
		}
	}
}

func TestPipelineRecoveryDataNodeStopped(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 4})
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBytes(41, 5<<20+12345)
	// In the middle of the third block, the middle node of its
	// pipeline dies.
	writeKilling(t, ctx, c, cl, "/f", data, 2<<20+512<<10, func(p []int) []int { return p[1:2] })
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	// The replacement node joined the pipeline: three replicas of
	// every block (the other blocks by the replication monitor).
	waitReplicated(t, c, cl, "/f", 3)
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes after healing, not the %d written", len(got), len(data))
	}
}

func TestPipelineRecoveryTwoOfThreeDie(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{DataNodes: 5})
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBytes(42, 3<<20+777)
	writeKilling(t, ctx, c, cl, "/f", data, 1<<20+256<<10, func(p []int) []int { return []int{p[0], p[2]} })
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	waitReplicated(t, c, cl, "/f", 3)
}

func TestPipelineRecoveryWithoutSpareNode(t *testing.T) {
	// Three nodes, replication 3: no replacement exists; the write
	// goes on with the two survivors.
	c := testcluster.Start(t, testcluster.Options{DataNodes: 3})
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBytes(43, 2<<20+100)
	writeKilling(t, ctx, c, cl, "/f", data, 512<<10, func(p []int) []int { return p[:1] })
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	fi, err := cl.StatBlocks(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range fi.Blocks {
		if len(b.Locations) < 2 {
			t.Errorf("block %d has %d locations, want 2 or more", b.Block.ID, len(b.Locations))
		}
	}
}

func TestLeaseRecoveryOfAbandonedWriter(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{
		DataNodes: 3,
		NameNode: func(cfg *namenode.Config) {
			cfg.LeaseSoftLimit = time.Second
			cfg.LeaseHardLimit = 2 * time.Second
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writer := dialShort(t, c, client.WithClientName("doomed-writer"))
	data := randomBytes(44, 2<<20+300<<10)
	w, err := writer.Create(ctx, "/open", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	// Let some of the last block be acknowledged, then vanish.
	time.Sleep(200 * time.Millisecond)
	acked := client.KillForTest(writer, w)
	t.Logf("writer killed with %d of %d bytes acknowledged", acked, len(data))

	cl := c.Client(t)
	rep, err := cl.Fsck(ctx, "/", client.FsckOptions{OpenFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OpenFiles != 1 {
		t.Errorf("fsck open files = %d, want 1", rep.OpenFiles)
	}
	c.WaitFor(t, "the file closed by lease recovery", func(ctx context.Context) (bool, error) {
		fi, err := cl.Stat(ctx, "/open")
		return err == nil && !fi.UnderConstruction, err
	})
	got := readFile(t, ctx, cl, "/open")
	if int64(len(got)) < acked || len(got) > len(data) || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("recovered file has %d bytes (prefix: %v); want a prefix of the %d written holding the %d acknowledged",
			len(got), len(got) <= len(data) && bytes.Equal(got, data[:len(got)]), len(data), acked)
	}
	// The last block's replicas were synchronized: all of them count.
	waitReplicated(t, c, cl, "/open", 3)
	c.WaitFor(t, "fsck healthy", func(ctx context.Context) (bool, error) {
		rep, err := cl.Fsck(ctx, "/", client.FsckOptions{})
		return err == nil && rep.Status == "HEALTHY" && rep.OpenFiles == 0 && rep.UnderReplicatedBlocks == 0, err
	})
}

// damage breaks DataNode i's replica of block id in one of the ways the
// scanner must notice.
func damage(t *testing.T, c *testcluster.Cluster, i int, id cairn.BlockID, how string) {
	t.Helper()
	dataPath, metaPath, ok := c.DataNode(i).BlockFiles(id)
	if !ok {
		t.Fatalf("datanode %d has no replica of block %d", i, id)
	}
	var err error
	switch how {
	case "flip":
		var fi os.FileInfo
		if fi, err = os.Stat(dataPath); err == nil {
			testcluster.FlipByte(t, dataPath, fi.Size()/2)
		}
	case "truncate":
		err = os.Truncate(dataPath, 1000)
	case "delete-data":
		err = os.Remove(dataPath)
	case "delete-meta":
		err = os.Remove(metaPath)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestScannerFindsDamagedReplicas(t *testing.T) {
	for _, how := range []string{"flip", "truncate", "delete-data", "delete-meta"} {
		t.Run(how, func(t *testing.T) {
			c := testcluster.Start(t, testcluster.Options{
				DataNodes: 4,
				DataNode:  func(i int, cfg *datanode.Config) { cfg.ScanInterval = time.Second },
			})
			cl := c.Client(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			data := randomBytes(45, 1<<20+4321)
			writeFile(t, ctx, cl, "/f", data, nil)
			fi, err := cl.StatBlocks(ctx, "/f")
			if err != nil {
				t.Fatal(err)
			}
			b := fi.Blocks[0]
			victim := nodeIndex(t, c, b.Locations[0])
			victimID := c.DataNode(victim).ID()
			dataPath, metaPath, _ := c.DataNode(victim).BlockFiles(b.Block.ID)
			damage(t, c, victim, b.Block.ID, how)
			// Reported and no longer offered to readers; then replaced
			// elsewhere, three good replicas again.
			c.WaitFor(t, "the damaged replica replaced", func(ctx context.Context) (bool, error) {
				fi, err := cl.StatBlocks(ctx, "/f")
				if err != nil {
					return false, err
				}
				locs := fi.Blocks[0].Locations
				return len(locs) == 3 && !slices.ContainsFunc(locs, func(n cairn.DatanodeInfo) bool { return n.ID == victimID }), nil
			})
			if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
				t.Fatal("file changed")
			}
			// The damaged replica is deleted from the victim's disk.
			c.WaitFor(t, "the damaged replica deleted", func(ctx context.Context) (bool, error) {
				for _, p := range []string{dataPath, metaPath} {
					if _, err := os.Stat(p); err == nil {
						return false, fmt.Errorf("%s still there", p)
					}
				}
				return true, nil
			})
		})
	}
}

func TestFullDiskInPipeline(t *testing.T) {
	// Datanode 0 fills up after 1.5 MiB: the write that hits ENOSPC
	// fails that pipeline member only, and the put goes on. (Three
	// nodes, replication 3: datanode 0 is in every first pipeline.)
	c := testcluster.Start(t, testcluster.Options{
		DataNodes: 3,
		DataNode: func(i int, cfg *datanode.Config) {
			if i == 0 {
				cfg.VolumeCapacity = 1<<20 + 512<<10
			}
		},
	})
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 3 {
		name := fmt.Sprintf("/f%d", i)
		data := randomBytes(uint64(50+i), 3<<20+100)
		writeFile(t, ctx, cl, name, data, nil)
		if got := readFile(t, ctx, cl, name); !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes, not the %d written", name, len(got), len(data))
		}
	}
	rep, err := cl.DatanodeReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Datanodes {
		if len(d.FailedVolumes) != 0 {
			t.Errorf("datanode %s reports failed volumes %v: a full disk is not a failed one", d.ID, d.FailedVolumes)
		}
	}
}

func TestFailedVolumeKeepsNodeServing(t *testing.T) {
	vols := t.TempDir()
	c := testcluster.Start(t, testcluster.Options{
		DataNodes: 3,
		DataNode: func(i int, cfg *datanode.Config) {
			if i == 0 {
				cfg.Dirs = []string{filepath.Join(vols, "v0"), filepath.Join(vols, "v1")}
			}
		},
	})
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := randomBytes(60, 4<<20)
	writeFile(t, ctx, cl, "/a", a, nil)
	// The second disk of datanode 0 dies.
	if err := os.RemoveAll(filepath.Join(vols, "v1")); err != nil {
		t.Fatal(err)
	}
	id := c.DataNode(0).ID()
	c.WaitFor(t, "the failed volume reported", func(ctx context.Context) (bool, error) {
		rep, err := cl.DatanodeReport(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range rep.Datanodes {
			if d.ID == id {
				return len(d.FailedVolumes) == 1 && d.State == "live", nil
			}
		}
		return false, nil
	})
	// It still takes writes and serves reads, and the replicas it lost
	// are copied back (onto its good disk: there is no other node).
	b := randomBytes(61, 2<<20)
	writeFile(t, ctx, cl, "/b", b, nil)
	waitReplicated(t, c, cl, "/a", 3)
	waitReplicated(t, c, cl, "/b", 3)
	for name, want := range map[string][]byte{"/a": a, "/b": b} {
		if got := readFile(t, ctx, cl, name); !bytes.Equal(got, want) {
			t.Errorf("%s changed", name)
		}
	}
}

func TestPipelineRecoveryFromStalledNode(t *testing.T) {
	// Datanode 1 is reached through a proxy that can stop carrying
	// bytes, as a paused process or a dead link would.
	var advertise atomic.Value
	advertise.Store("")
	c := testcluster.Start(t, testcluster.Options{
		DataNodes: 3,
		DataNode: func(i int, cfg *datanode.Config) {
			if i == 1 {
				cfg.AdvertiseAddr = advertise.Load().(string)
			}
		},
	})
	c.StopDataNode(t, 1)
	px, err := faultproxy.New(c.DataNodeAddr(1))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	advertise.Store(px.Addr())
	c.RestartDataNode(t, 1)
	cl := dialShort(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.WaitFor(t, "datanode 1 behind the proxy", func(ctx context.Context) (bool, error) {
		rep, err := cl.DatanodeReport(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range rep.Datanodes {
			if d.Addr == px.Addr() && d.State == "live" {
				return true, nil
			}
		}
		return false, nil
	})

	data := randomBytes(46, 2<<20+999)
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	half := 1<<20 + 300<<10
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	px.Blackhole()
	if _, err := w.Write(data[half:]); err != nil {
		t.Fatalf("Write past a stalled node = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close past a stalled node = %v", err)
	}
	if got := readFile(t, ctx, cl, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	// The stalled node was dropped from the pipeline of the block
	// being written, and only that one.
	fi, err := cl.StatBlocks(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range fi.Blocks {
		stalled := slices.ContainsFunc(b.Locations, func(n cairn.DatanodeInfo) bool { return n.Addr == px.Addr() })
		if i >= 1 && stalled {
			t.Errorf("block %d (%d) still lists the stalled node", i, b.Block.ID)
		}
		if len(b.Locations) < 2 {
			t.Errorf("block %d has %d locations, want at least 2", i, len(b.Locations))
		}
	}
}

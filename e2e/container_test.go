package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// The DataNodes' container store (small replicas, group commit) under
// SIGKILL: concurrent `cairn fs put`s of small files with replication 3
// while the DataNodes are killed and restarted one after another; every
// put that succeeded reads back byte for byte, the cluster heals to
// full replication (re-replication copies small replicas into other
// nodes' containers), and after every DataNode is killed at once and
// restarted, nothing acknowledged is missing.
func TestContainerStoreSurvivesKills(t *testing.T) {
	requireFlag(t, "datanode", "small-block-size", "the container store (issue 16)")
	c := startCluster(t, clusterOptions{
		dataNodes: 4,
		nnArgs:    faultNameNodeArgs,
		dnArgs:    []string{"--small-block-size", "1MiB", "--scan-interval", scanInterval},
	})
	c.must("fs", "mkdir", "-p", "/small")
	data := func(w, i int) []byte { return randomBytes(100+(w*7919+i*104729)%60000, int64(w*1000+i)) }

	var mu sync.Mutex
	acked := map[string][]byte{}
	failed := 0
	stop := make(chan struct{})
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(700 * time.Millisecond):
			}
			dn := c.dns[k%len(c.dns)]
			dn.kill()
			time.Sleep(300 * time.Millisecond)
			dn.start(t)
		}
	}()
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 30 {
				p := fmt.Sprintf("/small/w%d-%03d", w, i)
				_, errOut, code := c.cairnTimeout(time.Minute, data(w, i), "fs", "put", "-", p)
				mu.Lock()
				if code == 0 {
					acked[p] = data(w, i)
				} else {
					failed++
					t.Logf("put %s: exit %d: %s", p, code, errOut)
				}
				mu.Unlock()
			}
		}()
	}
	writers.Wait()
	close(stop)
	killer.Wait()
	t.Logf("%d puts acknowledged, %d failed while DataNodes were killed", len(acked), failed)
	if len(acked) < 45 {
		t.Fatalf("only %d of 90 puts succeeded: the cluster did not ride out single DataNode kills", len(acked))
	}
	c.waitLive(len(c.dns))
	c.waitHealthy()
	for p, d := range acked {
		c.checkFile(p, d)
	}

	// Every DataNode killed at once: what each acknowledged is on its
	// disk, so nothing is missing once they are back.
	for _, dn := range c.dns {
		dn.kill()
	}
	for _, dn := range c.dns {
		dn.start(t)
	}
	c.waitLive(len(c.dns))
	c.waitHealthy()
	for p, d := range acked {
		c.checkFile(p, d)
	}
}

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-fs/cairn/client"
)

func TestProbeSmall(t *testing.T) {
	ctx := context.Background()
	l, err := StartLocal(ctx, LocalConfig{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := client.Dial(ctx, l.NameNodeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.MkdirAll(ctx, "/p", 0)
	data := make([]byte, 1024)
	var tc, tw, tcl time.Duration
	const n = 50
	for i := range n {
		t0 := time.Now()
		w, err := c.Create(ctx, "/p/f"+string(rune('a'+i%26))+time.Now().Format("150405.000000"), &client.CreateOptions{Replication: 3})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		w.Write(data)
		t2 := time.Now()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		t3 := time.Now()
		tc += t1.Sub(t0)
		tw += t2.Sub(t1)
		tcl += t3.Sub(t2)
	}
	t.Logf("create %v write %v close %v", tc/n, tw/n, tcl/n)
}

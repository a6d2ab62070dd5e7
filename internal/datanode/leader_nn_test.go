package datanode

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/namenode"
)

// startRealNameNode starts a NameNode of cluster on dir, a group of
// one that leads itself, and returns it and its address. It is closed
// by the test's cleanup, or by the caller.
func startRealNameNode(t *testing.T, dir string, cluster cairn.ClusterID) (*namenode.Server, string) {
	t.Helper()
	nn, err := namenode.New(namenode.Config{
		Dir:                dir,
		ClusterID:          cluster,
		DefaultReplication: 1,
		DefaultBlockSize:   1 << 20,
		HeartbeatInterval:  50 * time.Millisecond,
	}, newLogger(t))
	if err != nil {
		t.Fatalf("namenode.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nn.Serve(context.Background(), lis)
	t.Cleanup(func() { nn.Close() })
	return nn, lis.Addr().String()
}

// Two real NameNodes of one cluster, each a group of one that leads
// itself, so that both claim leadership: the one restarted more often
// has the newer term. The DataNode runs the commands of that one only:
// the other's deletion of the replica of a file it does not know is
// refused, and the newer one's deletion of a replica no file has is
// run.
//
// It needs NameNodes that send their term in heartbeat replies; it is
// skipped while they do not. (Before the DataNode has heard of the
// newer term, it obeys the older claim: the test waits for that.)
func TestCommandsOfTheNewerTermWithRealNameNodes(t *testing.T) {
	const cluster = "ha-test"
	_, low := startRealNameNode(t, t.TempDir(), cluster)
	// Each restart of a group of one is an election: a newer term.
	highDir := t.TempDir()
	var high string
	for range 3 {
		var nn *namenode.Server
		nn, high = startRealNameNode(t, highDir, cluster)
		nn.Close()
	}
	_, high = startRealNameNode(t, highDir, cluster)

	var steps blockSteps
	n := startNodeWith(t, Config{NameNode: low + "," + high, StepHook: steps.hook})
	waitFor(t, func() bool { return n.dn.sessions[0].registered() && n.dn.sessions[1].registered() }, "registration with both NameNodes")
	// Until the DataNode has heard of the newer term, the older
	// NameNode's claim is as good as any: wait for it. NameNodes that
	// send no term leave it 0 through many heartbeats.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, term := n.dn.NameNodeLeader(); term > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("the NameNodes send no term in their heartbeat replies")
		}
	}
	waitFor(t, func() bool { addr, _ := n.dn.NameNodeLeader(); return addr == high }, "the NameNode of the newer term taken as the leader")

	// A file written through the newer NameNode: the other does not
	// know its block and asks for its deletion.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, high)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w, err := cl.Create(ctx, "/f", nil)
	if err != nil {
		t.Fatalf("Create(/f) = %v", err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(/f) = %v", err)
	}
	blocks := n.dn.Blocks()
	if len(blocks) != 1 {
		t.Fatalf("the DataNode holds %v, want the one block of /f", blocks)
	}
	kept := blocks[0]
	waitFor(t, func() bool { return steps.saw(StepCommandRefused, kept.ID) }, "the deletion of %v refused", kept)

	// A replica no file has: the newer NameNode's deletion is run.
	stray := cairn.Block{ID: 1 << 40, GenStamp: 1, Len: 5}
	writeBlock(t, stray, pipelineOf(n), []byte("stray"))
	waitFor(t, func() bool { _, _, ok := n.dn.BlockFiles(stray.ID); return !ok }, "the deletion of %v run", stray)

	if _, _, ok := n.dn.BlockFiles(kept.ID); !ok || steps.saw(StepCommandRun, kept.ID) {
		t.Errorf("the replica of /f was deleted by the NameNode of the older term")
	}
}

package datanode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/datatransfer"
	"github.com/cairn-fs/cairn/internal/protocol"
)

// The moves of a replica between rbw/ and finalized/ are killed at
// every step boundary: a DataNode runs in a child process (this test
// binary run again, as groupcache's tests do) that SIGKILLs itself at
// the step, and a DataNode restarted on its directory must find the
// replica whole, in one state, and report it.

// crashEnv carries a crashSpec to the child process.
const crashEnv = "CAIRN_DATANODE_CRASH_CHILD"

type crashSpec struct {
	Dir      string
	Scenario string // "finalize", "finalize-over-old", "unfinalize"
	Step     Step
}

const crashBlock = cairn.BlockID(900)

// crashData returns the bytes of generation stamp gs of the block.
func crashData(gs cairn.GenStamp) []byte {
	return randomBytes(3*cairn.PacketSize+777+int(gs)*1000, uint64(gs))
}

// TestCrashChild is the child process of TestCrashDuringMove.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		t.Skip("run as a child process by TestCrashDuringMove")
	}
	var spec crashSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	// The first write of the block in "finalize-over-old" must finish:
	// only generation stamp 2 crashes there.
	armedGS := cairn.GenStamp(1)
	switch spec.Scenario {
	case "finalize-over-old", "pack-over-old":
		armedGS = 2
	case "pack-stamp":
		if spec.Step == StepRecoveryStamped {
			armedGS = 2 // the step names the new stamp
		}
	}
	hook := func(step Step, b cairn.Block) error {
		if step == spec.Step && b.ID == crashBlock && b.GenStamp == armedGS {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	cfg := Config{Dirs: []string{spec.Dir}, StepHook: hook}
	if strings.HasPrefix(spec.Scenario, "pack") {
		cfg.SmallBlockSize = 1 << 20
	}
	n := startNodeWith(t, cfg)
	ctx := context.Background()
	b1 := cairn.Block{ID: crashBlock, GenStamp: 1}
	switch spec.Scenario {
	case "finalize", "pack":
		writeBlock(t, b1, pipelineOf(n), crashData(1))
	case "finalize-over-old", "pack-over-old":
		writeBlock(t, b1, pipelineOf(n), crashData(1))
		writeBlock(t, cairn.Block{ID: crashBlock, GenStamp: 2}, pipelineOf(n), crashData(2))
	case "pack-stamp":
		writeBlock(t, b1, pipelineOf(n), crashData(1))
		// Lease recovery agrees on the finalized replica's length.
		_, err := n.dn.store.finishRecovery(crashBlock, int64(len(crashData(1))), 2)
		t.Logf("recovery: %v", err)
	case "unfinalize", "pack-unfinalize":
		writeBlock(t, b1, pipelineOf(n), crashData(1))
		// A pipeline recovery reopens the finalized replica.
		w, err := datatransfer.Options{Stage: datatransfer.StageRecovery, Offset: int64(len(crashData(1))), Recoverable: true}.NewBlockWriter(ctx, cairn.Block{ID: crashBlock, GenStamp: 2}, pipelineOf(n), "test-client")
		if err == nil {
			err = w.Close()
		}
		t.Logf("pipeline recovery: %v", err)
	default:
		t.Fatalf("unknown scenario %q", spec.Scenario)
	}
	t.Fatalf("crash point %q never reached", spec.Step)
}

// replicaState is where a restarted node must find a replica.
type replicaState struct {
	finalized bool
	gs        cairn.GenStamp
}

func TestCrashDuringMove(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	fin := func(gs cairn.GenStamp) replicaState { return replicaState{true, gs} }
	rbw := func(gs cairn.GenStamp) replicaState { return replicaState{false, gs} }
	tests := []struct {
		scenario string
		step     Step
		want     []replicaState
	}{
		// Finalize: whole in rbw/ until the meta file moves, then
		// finalized (the start-up repair finishes the move).
		{"finalize", StepFinalizeSynced, []replicaState{rbw(1)}},
		{"finalize", StepFinalizeMetaMoved, []replicaState{fin(1)}},
		{"finalize", StepFinalizeDataMoved, []replicaState{fin(1)}},
		{"finalize", StepFinalizeDone, []replicaState{fin(1)}},
		// Finalize over an older finalized replica, which leaves
		// first.
		{"finalize-over-old", StepFinalizeSynced, []replicaState{fin(1), rbw(2)}},
		{"finalize-over-old", StepFinalizeOldRemoved, []replicaState{rbw(2)}},
		{"finalize-over-old", StepFinalizeMetaMoved, []replicaState{fin(2)}},
		{"finalize-over-old", StepFinalizeDataMoved, []replicaState{fin(2)}},
		{"finalize-over-old", StepFinalizeDone, []replicaState{fin(2)}},
		// Unfinalize: finalized until both files are in rbw/ (the
		// start-up repair undoes a half move), then idle in rbw/.
		{"unfinalize", StepUnfinalizeStart, []replicaState{fin(1)}},
		{"unfinalize", StepUnfinalizeMetaMoved, []replicaState{fin(1)}},
		{"unfinalize", StepUnfinalizeDataMoved, []replicaState{rbw(1)}},
		{"unfinalize", StepUnfinalizeDone, []replicaState{rbw(1)}},
		// The same in the container store: a replica not yet durable
		// in its container was never acknowledged, and is gone.
		{"pack", StepPackAppend, nil},
		{"pack", StepPackAppended, []replicaState{fin(1)}},
		{"pack-over-old", StepPackAppend, []replicaState{fin(1)}},
		{"pack-over-old", StepPackAppended, []replicaState{fin(2)}},
		{"pack-unfinalize", StepUnfinalizeStart, []replicaState{fin(1)}},
		{"pack-unfinalize", StepUnfinalizeDataMoved, []replicaState{rbw(1)}},
		{"pack-unfinalize", StepUnfinalizeDone, []replicaState{rbw(1)}},
		// (Killed after the new stamp's record is durable, the
		// replica has stamp 2 and stamp 1's bytes: TestPackStamp.)
		{"pack-stamp", StepRecoveryStamp, []replicaState{fin(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.scenario+" killed at "+string(tc.step), func(t *testing.T) {
			dir := t.TempDir()
			spec, _ := json.Marshal(crashSpec{Dir: dir, Scenario: tc.scenario, Step: tc.step})
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
			cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child = %v, want killed at the crash point; output:\n%s", err, out)
			}
			nn := startFakeNameNode(t, "c")
			n := startNodeWith(t, Config{Dirs: []string{dir}, NameNode: nn.addr})
			waitFor(t, nn.check(func() bool { return len(nn.reports) > 0 }), "a full block report")
			nn.mu.Lock()
			report := nn.reports[0]
			nn.mu.Unlock()
			var wantFin, wantRbw []cairn.Block
			for _, w := range tc.want {
				b := cairn.Block{ID: crashBlock, GenStamp: w.gs, Len: int64(len(crashData(w.gs)))}
				if w.finalized {
					wantFin = append(wantFin, b)
				} else {
					wantRbw = append(wantRbw, b)
				}
			}
			if got := n.dn.Blocks(); !equalBlocks(got, wantFin) {
				t.Errorf("finalized replicas after restart = %v, want %v", got, wantFin)
			}
			if got := n.dn.store.idleBlocks(); !equalBlocks(got, wantRbw) {
				t.Errorf("rbw replicas after restart = %v, want %v", got, wantRbw)
			}
			if got := protocol.BlocksFromProto(report.Blocks); !equalBlocks(got, wantFin) {
				t.Errorf("full report's finalized replicas = %v, want %v", got, wantFin)
			}
			if got := protocol.BlocksFromProto(report.Rbw); !equalBlocks(got, wantRbw) {
				t.Errorf("full report's rbw replicas = %v, want %v", got, wantRbw)
			}
			// Whole: every byte there, checksums agreeing.
			for _, b := range wantFin {
				got, err := readBlock(context.Background(), n.info, b, 0, b.Len)
				if err != nil || !bytes.Equal(got, crashData(b.GenStamp)) {
					t.Errorf("ReadBlock(%v) = %d bytes, %v; want the whole replica", b, len(got), err)
				}
			}
			for _, b := range wantRbw {
				v := n.dn.store.vols[0]
				data, err := os.ReadFile(filepath.Join(v.rbw, dataName(b.ID)))
				meta, merr := os.ReadFile(filepath.Join(v.rbw, metaName(b.ID, b.GenStamp)))
				if err != nil || merr != nil || !bytes.Equal(data, crashData(b.GenStamp)) {
					t.Errorf("rbw replica %v: %d bytes (%v, %v); want the whole replica", b, len(data), err, merr)
					continue
				}
				if bad, err := VerifyMeta(meta, data); err != nil || bad != -1 {
					t.Errorf("rbw replica %v: VerifyMeta = %d, %v", b, bad, err)
				}
			}
			checkDisk(t, n)
		})
	}
}

func equalBlocks(a, b []cairn.Block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

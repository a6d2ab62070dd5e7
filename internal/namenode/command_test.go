package namenode

import (
	"bytes"
	"encoding/binary"
	"io"
	"reflect"
	"testing"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/checksum"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []command{
		{op: opMkdirs, path: "/a/b", mode: 0o755, owner: "u", group: "g", mtime: 123, flags: flagParents},
		{op: opCreate, path: "/f", mode: 0o644, mtime: -5, replication: 3, blockSize: 1 << 27, clientName: "c", flags: flagOverwrite | flagCreateParent},
		{op: opAddBlock, fileID: 99, clientName: "c", flags: flagHasBlock, block: cairn.Block{ID: 1 << 40, GenStamp: 7, Len: 1 << 27}, targets: []cairn.NodeID{"a", "b", "c"}},
		{op: opComplete, fileID: 1},
		{op: opRename, path: "/x", path2: "/y", mtime: 1},
		{op: opRename, path: "/x", path2: "/y", mtime: 1, flags: flagOverwrite | flagExact},
		{op: opCloseFile, fileID: 5, clientName: "c", flags: flagHasBlock | flagDropLast, block: cairn.Block{ID: 3}},
		{op: opMkdirs, path: "/home/bob", mode: 0o700, caller: "bob", callerGroups: []string{"eng", "ops"}},
		{op: opCreate, path: "/f", mtime: 5, rpcClient: "0123abcd", rpcCall: 1 << 40},
		{op: opConcat, path: "/t", paths: []string{"/a/s1", "/s2"}, mtime: 9, rpcClient: "c", rpcCall: 2},
		{op: opCreateWithBlock, path: "/f", mode: 0o644, mtime: 5, replication: 2, blockSize: 1 << 20, clientName: "c",
			flags: flagOverwrite, targets: []cairn.NodeID{"a", "b"}, rpcClient: "c", rpcCall: 3},
	}
	for _, c := range tests {
		got, err := decodeCommand(c.encode(nil))
		if err != nil {
			t.Errorf("decode(encode(%v)) = %v", c.op, err)
			continue
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("decode(encode(%+v)) = %+v", c, got)
		}
	}
}

func TestDecodeCommandRefusesGarbage(t *testing.T) {
	good := (&command{op: opRename, path: "/x", path2: "/y"}).encode(nil)
	for _, data := range [][]byte{
		nil,
		{},
		{2, byte(opCreate), 0}, // unknown version
		{1, 0, 0},              // invalid opcode
		{1, byte(opMax), 0},    // unknown opcode
		{1, byte(opCreate), 0xff, 0xff, 0xff, 0xff, 0x0f}, // unknown fields
		good[:len(good)-1], // truncated
		append(good, 0),    // trailing bytes
	} {
		if _, err := decodeCommand(data); err == nil {
			t.Errorf("decodeCommand(%v) = nil error", data)
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add((&command{op: opCreate, path: "/f", clientName: "c", replication: 3, blockSize: 512}).encode(nil))
	f.Add((&command{op: opAddBlock, targets: []cairn.NodeID{"x"}, flags: flagHasBlock}).encode(nil))
	f.Add((&command{op: opConcat, path: "/t", paths: []string{"/s", "/s"}}).encode(nil))
	f.Add((&command{op: opCreateWithBlock, path: "/f", clientName: "c", replication: 1, blockSize: 512, targets: []cairn.NodeID{"x"}}).encode(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			return
		}
		// Whatever decodes applies without panicking.
		ns := newNamespace(newRegistry(&Config{}, nil))
		ns.apply(&c)
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	mutate(t, s, "x")
	s.ns.mu.RLock()
	data := s.ns.encodeSnapshot()
	s.ns.mu.RUnlock()

	s2 := newServer(t)
	f := &fsm{ns: s2.ns, log: s2.log}
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if got, want := dump(s2), dump(s); got != want {
		t.Errorf("restored namespace:\n%s\nwant:\n%s", got, want)
	}
	// Corruption is detected.
	for _, i := range []int{0, 10, len(data) / 2, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x40
		if _, err := decodeSnapshot(bad); err == nil {
			t.Errorf("decodeSnapshot with byte %d flipped = nil error", i)
		}
	}
	if _, err := decodeSnapshot(data[:len(data)-5]); err == nil {
		t.Errorf("decodeSnapshot of a truncated snapshot = nil error")
	}
}

// Restore on a member with state of its own replaces that state whole:
// what was made after the snapshot is gone, and the local state is
// rebuilt for the new one: the replicas known of the blocks the
// snapshot still has, at the same generation stamp, are kept (a
// follower that catches up by a snapshot stays ready to lead); the
// others are forgotten until DataNodes report them.
func TestRestoreReplacesState(t *testing.T) {
	s := newServer(t)
	registerNodes(t, s, 3)
	mutate(t, s, "x")
	s.ns.mu.RLock()
	data := s.ns.encodeSnapshot()
	s.ns.mu.RUnlock()
	want := dump(s)

	mutate(t, s, "y")
	if s.ns.reportedBlocks.Load() == 0 {
		t.Fatal("no block reported before the restore: the test checks nothing")
	}
	f := &fsm{ns: s.ns, log: s.log}
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if got := dump(s); got != want {
		t.Errorf("restored namespace:\n%s\nwant:\n%s", got, want)
	}
	if _, err := s.GetFileInfo(bg, "/y", false, ""); cairn.KindOf(err) != cairn.NotExist {
		t.Errorf("GetFileInfo(/y) after restoring a snapshot taken before it = %v, want NotExist", err)
	}
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	var complete, listed int64
	for id, b := range s.ns.blocks {
		if b.committed {
			complete++
		}
		if b.committed && len(b.replicas) != 3 {
			t.Errorf("block %d has replicas %v after Restore, want its 3 kept", id, b.replicas)
		}
		listed += int64(len(b.replicas))
	}
	if n := s.ns.reportedBlocks.Load(); n != complete {
		t.Errorf("reported blocks after Restore = %d, want %d (the snapshot's complete blocks)", n, complete)
	}
	var onNodes int64
	for _, d := range s.reg.all() {
		if int64(len(d.blocks)) != d.numBlocks.Load() {
			t.Errorf("node %s lists %d blocks but counts %d", d.id, len(d.blocks), d.numBlocks.Load())
		}
		for _, id := range d.blocks {
			if s.ns.blocks[id] == nil {
				t.Errorf("node %s lists block %d, which the restored state does not have", d.id, id)
			}
		}
		onNodes += int64(len(d.blocks))
	}
	if onNodes != listed {
		t.Errorf("nodes list %d replicas, blocks %d", onNodes, listed)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	ns := newNamespace(newRegistry(&Config{}, nil))
	f.Add(ns.encodeSnapshot()[len(snapshotMagic):])
	f.Fuzz(func(t *testing.T, body []byte) {
		// Seal whatever the fuzzer made with a valid checksum, so the
		// parser itself is exercised.
		if len(body) >= 4 {
			body = body[:len(body)-4]
		}
		data := binary.LittleEndian.AppendUint32(append([]byte(snapshotMagic), body...), 0)
		data = data[:len(data)-4]
		data = binary.LittleEndian.AppendUint32(data, checksum.CRC32C(data))
		decodeSnapshot(data)
	})
}

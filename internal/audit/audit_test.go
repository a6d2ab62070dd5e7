package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 7, 20, 22, 27, 123456789, time.UTC)

func TestLinesAreHDFSsOrJSON(t *testing.T) {
	create := Event{Time: at, Allowed: true, User: "alice", IP: netip.MustParseAddr("127.0.0.1"), Cmd: "create", Src: "/a/b",
		HasPerm: true, Owner: "alice", Group: "supergroup", Mode: 0o644}
	rename := Event{Time: at, Allowed: false, User: "bob", Auth: "TOKEN", IP: netip.MustParseAddr("::1"), Cmd: "rename", Src: "/x", Dst: "/y"}
	odd := Event{Time: at, Allowed: true, Cmd: "delete", Src: "/a\tb\nallowed=true\\\x01\xff"}
	sticky := Event{Time: at, Allowed: true, User: "u", Cmd: "setPermission", Src: "/tmp", HasPerm: true, Owner: "u", Group: "g", Mode: 0o777 | fs.ModeSticky}
	for _, tc := range []struct {
		name string
		e    Event
		hdfs string
		json string
	}{
		{"an allowed create names its resulting permission", create,
			"2026-12-07 20:22:27,123 INFO FSNamesystem.audit: allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=create\tsrc=/a/b\tdst=null\tperm=alice:supergroup:rw-r--r--\tproto=rpc\n",
			`{"time":"2026-12-07T20:22:27.123Z","allowed":true,"ugi":"alice","auth":"SIMPLE","ip":"127.0.0.1","cmd":"create","src":"/a/b","dst":null,"perm":"alice:supergroup:rw-r--r--","proto":"rpc"}` + "\n"},
		{"a refused rename names both paths and no permission", rename,
			"2026-12-07 20:22:27,123 INFO FSNamesystem.audit: allowed=false\tugi=bob (auth:TOKEN)\tip=/::1\tcmd=rename\tsrc=/x\tdst=/y\tperm=null\tproto=rpc\n",
			`{"time":"2026-12-07T20:22:27.123Z","allowed":false,"ugi":"bob","auth":"TOKEN","ip":"::1","cmd":"rename","src":"/x","dst":"/y","perm":null,"proto":"rpc"}` + "\n"},
		{"control characters in a path are escaped", odd,
			"2026-12-07 20:22:27,123 INFO FSNamesystem.audit: allowed=true\tugi=null\tip=null\tcmd=delete\tsrc=/a\\tb\\nallowed=true\\\\\\u0001\xff\tdst=null\tperm=null\tproto=rpc\n",
			`{"time":"2026-12-07T20:22:27.123Z","allowed":true,"ugi":null,"auth":"SIMPLE","ip":null,"cmd":"delete","src":"/a\tb\nallowed=true\\\u0001\ufffd","dst":null,"perm":null,"proto":"rpc"}` + "\n"},
		{"the sticky bit is a t", sticky,
			"2026-12-07 20:22:27,123 INFO FSNamesystem.audit: allowed=true\tugi=u (auth:SIMPLE)\tip=null\tcmd=setPermission\tsrc=/tmp\tdst=null\tperm=u:g:rwxrwxrwt\tproto=rpc\n",
			`{"time":"2026-12-07T20:22:27.123Z","allowed":true,"ugi":"u","auth":"SIMPLE","ip":null,"cmd":"setPermission","src":"/tmp","dst":null,"perm":"u:g:rwxrwxrwt","proto":"rpc"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendHDFS(nil, &tc.e)); got != tc.hdfs {
				t.Errorf("AppendHDFS =\n%q\nwant\n%q", got, tc.hdfs)
			}
			got := AppendJSON(nil, &tc.e)
			if string(got) != tc.json {
				t.Errorf("AppendJSON =\n%s\nwant\n%s", got, tc.json)
			}
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil {
				t.Errorf("AppendJSON wrote invalid JSON: %v", err)
			}
			if m["cmd"] != tc.e.Cmd || m["allowed"] != tc.e.Allowed {
				t.Errorf("AppendJSON parsed = %v", m)
			}
		})
	}
}

func TestCloseWritesEveryLineLogged(t *testing.T) {
	for _, format := range []Format{HDFS, JSON} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l, err := New(Config{Path: path, Format: format, QueueWait: time.Minute, FlushInterval: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			const n = 20000
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range n / 4 {
						l.Log(Event{Time: at, Allowed: true, User: "alice", Cmd: "getfileinfo", Src: fmt.Sprintf("/g%d/f%d", g, i)})
					}
				}()
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			lines := readLines(t, path)
			if len(lines) != n || l.Dropped() != 0 {
				t.Fatalf("%d lines written, %d dropped; want %d, 0", len(lines), l.Dropped(), n)
			}
			if format == JSON {
				for _, line := range lines {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("line %q: %v", line, err)
					}
				}
			}
			l.Log(Event{Cmd: "late"})
			if l.Dropped() != 1 {
				t.Errorf("Dropped after a Log after Close = %d, want 1", l.Dropped())
			}
		})
	}
}

// stuck is a writer that blocks until released.
type stuck struct {
	entered chan struct{} // receives at each Write
	release chan struct{}
	buf     bytes.Buffer
}

func (s *stuck) Write(p []byte) (int, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.buf.Write(p)
}

func TestAFullQueueDropsAfterWaitingBriefly(t *testing.T) {
	w := &stuck{entered: make(chan struct{}, 1), release: make(chan struct{})}
	l, err := New(Config{Writer: w, Queue: 4, QueueWait: 10 * time.Millisecond, FlushInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first line's flush gets the writer stuck.
	l.Log(Event{Time: at, Cmd: "open", Src: "/f"})
	<-w.entered
	start := time.Now()
	for range 99 {
		l.Log(Event{Time: at, Cmd: "open", Src: "/f"})
	}
	// Of the 99 events after it, the 4 queued and the one the writer
	// may hold are kept: the rest are dropped after 10ms each, and Log
	// never blocks for good.
	if d := l.Dropped(); d < 94 {
		t.Errorf("Dropped = %d after 100 events into a stuck writer, want at least 90", d)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("100 Logs took %v", el)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(w.buf.String(), "\n"), 100-int(l.Dropped()); got != want {
		t.Errorf("%d lines written, want %d (100 less the dropped)", got, want)
	}
}

func TestTheFileIsRotatedAtMaxSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	// MaxSize is whole MiB: 1 MiB is the least.
	l, err := New(Config{Path: path, MaxSize: 1, MaxBackups: 2, QueueWait: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := "/" + strings.Repeat("x", 200)
	const n = 12000 // about 2.9 MiB of lines
	for range n {
		l.Log(Event{Time: at, Allowed: true, User: "alice", Cmd: "create", Src: src})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	lines := 0
	for _, e := range ents {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if fi.Size() > 1<<20 {
			t.Errorf("%s has %d bytes, more than MaxSize", e.Name(), fi.Size())
		}
		lines += len(readLines(t, filepath.Join(dir, e.Name())))
	}
	// The live file and 2 backups; the oldest backups are removed (in
	// the background: wait for it).
	deadline := time.Now().Add(10 * time.Second)
	for len(names) > 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		ents, _ = os.ReadDir(dir)
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "audit-") || names[2] != "audit.log" {
		t.Errorf("files after rotation = %v, want 2 backups and audit.log", names)
	}
	if lines < 4000 {
		t.Errorf("%d lines in the files", lines)
	}
}

func TestNewFailsOnAPathItCannotWrite(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(Config{Path: filepath.Join(f, "audit.log")}, nil); err == nil {
		t.Error("New(a path under a file) succeeded")
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

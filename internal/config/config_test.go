package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// flags is a small flag set like a server command's.
type flags struct {
	fs        *pflag.FlagSet
	heartbeat time.Duration
	repl      int
	addr      string
	dirs      string
	threshold float64
	verbose   bool
}

func newFlags(t *testing.T, args ...string) *flags {
	t.Helper()
	f := &flags{fs: pflag.NewFlagSet("test", pflag.ContinueOnError)}
	f.fs.DurationVar(&f.heartbeat, "heartbeat-interval", 3*time.Second, "")
	f.fs.IntVar(&f.repl, "replication", 3, "")
	f.fs.StringVar(&f.addr, "rpc-addr", "127.0.0.1:8020", "")
	f.fs.StringVar(&f.dirs, "dir", "", "")
	f.fs.Float64Var(&f.threshold, "safemode-threshold", 0.999, "")
	f.fs.BoolVar(&f.verbose, "verbose", false, "")
	f.fs.String("config", "", "")
	if err := f.fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return f
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustParse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return f
}

func TestFlagsBeatEnvironmentBeatsFileBeatsDefaults(t *testing.T) {
	file := mustParse(t, `
heartbeat-interval: 5s
replication: 2
rpc-addr: 10.0.0.1:8020
dir: [/data/1, /data/2]
safemode_threshold: 0.5
`)
	f := newFlags(t, "--replication", "1")
	err := Apply(f.fs, file, env(map[string]string{
		"CAIRN_REPLICATION":        "7", // loses to the flag
		"CAIRN_HEARTBEAT_INTERVAL": "200ms",
	}), "config")
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.repl != 1 {
		t.Errorf("replication = %d, want 1 from the command line", f.repl)
	}
	if f.heartbeat != 200*time.Millisecond {
		t.Errorf("heartbeat-interval = %v, want 200ms from the environment", f.heartbeat)
	}
	if f.addr != "10.0.0.1:8020" || f.dirs != "/data/1,/data/2" || f.threshold != 0.5 {
		t.Errorf("rpc-addr, dir, safemode-threshold = %q, %q, %v, want the file's", f.addr, f.dirs, f.threshold)
	}
	if f.verbose {
		t.Errorf("verbose = true, want the default")
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string
	}{
		{"an unknown key in the file", "heartbeat-interval: 1s\nbogus: 1\n", nil, `unknown key "bogus"`},
		{"a skipped flag in the file", "config: other.yaml\n", nil, `unknown key "config"`},
		{"a bad value in the file", "heartbeat-interval: soon\n", nil, `key "heartbeat-interval": invalid value "soon"`},
		{"a bad number in the file", "replication: three\n", nil, `key "replication"`},
		{"a nested mapping", "replication:\n  a: 1\n", nil, `key "replication": want a value`},
		{"a key given twice", "replication: 1\nreplication: 2\n", nil, `"replication" given twice`},
		{"a bad environment value", "", map[string]string{"CAIRN_HEARTBEAT_INTERVAL": "soon"}, `environment CAIRN_HEARTBEAT_INTERVAL: invalid value "soon"`},
		{"not a mapping", "- a\n- b\n", nil, "want a mapping"},
		{"bad YAML", "a: [\n", nil, "test.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, err := Parse("test.yaml", []byte(tt.file))
			if err == nil {
				err = Apply(newFlags(t).fs, file, env(tt.env), "config")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEmptyFileAndEmptyEnvironmentChangeNothing(t *testing.T) {
	f := newFlags(t)
	if err := Apply(f.fs, mustParse(t, "# nothing\n"), env(map[string]string{"CAIRN_REPLICATION": ""}), "config"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.repl != 3 || f.heartbeat != 3*time.Second {
		t.Errorf("replication, heartbeat = %d, %v, want the defaults", f.repl, f.heartbeat)
	}
}

func TestPrintReadsBackAsTheSameConfiguration(t *testing.T) {
	f := newFlags(t, "--dir", "/a,/b", "--heartbeat-interval", "250ms", "--rpc-addr", "", "--verbose")
	var b strings.Builder
	if err := Print(&b, f.fs, "config"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"heartbeat-interval: 250ms\n", "dir: /a,/b\n", `rpc-addr: ""` + "\n", "verbose: true\n", "safemode-threshold: 0.999\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "config:") {
		t.Errorf("Print output shows a skipped flag:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile of printed config: %v", err)
	}
	g := newFlags(t)
	if err := Apply(g.fs, file, nil, "config"); err != nil {
		t.Fatalf("Apply of printed config: %v", err)
	}
	if g.dirs != f.dirs || g.heartbeat != f.heartbeat || g.addr != f.addr || g.verbose != f.verbose || g.threshold != f.threshold {
		t.Errorf("printed config reads back as %+v, want %+v", *g, *f)
	}
}

func TestReadFileNamesAMissingFile(t *testing.T) {
	_, err := ReadFile("/nonexistent/cairn.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cairn.yaml") {
		t.Errorf("ReadFile of a missing file = %v, want an error naming it", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("heartbeat-interval"); got != "CAIRN_HEARTBEAT_INTERVAL" {
		t.Errorf("EnvName = %q", got)
	}
}

package cli

import (
	"testing"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestXAttrCommands(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 1})
	tc.must("fs", "mkdir", "-p", "/d/sub")
	tc.must("fs", "touch", "/d/f")
	tc.must("fs", "setfattr", "-n", "user.color", "-v", `"deep blue"`, "/d/f")
	tc.must("fs", "setfattr", "-n", "USER.raw", "-v", "0x00ff10", "/d/f")
	tc.must("fs", "setfattr", "-n", "trusted.b64", "-v", "0saGk=", "/d")
	tc.must("fs", "setfattr", "-n", "user.empty", "/d/sub")

	if got, want := tc.must("fs", "getfattr", "-d", "/d/f"), "# file: /d/f\nuser.color=\"deep blue\"\nuser.raw=\"\\x00\\xff\\x10\"\n\n"; got != want {
		t.Errorf("getfattr -d:\n%q\nwant\n%q", got, want)
	}
	if got, want := tc.must("fs", "getfattr", "-n", "user.raw", "-e", "hex", "/d/f"), "# file: /d/f\nuser.raw=0x00ff10\n\n"; got != want {
		t.Errorf("getfattr -e hex:\n%q\nwant\n%q", got, want)
	}
	var list []xattrJSON
	tc.mustJSON(&list, "fs", "getfattr", "-R", "-d", "--json", "/d")
	if len(list) != 3 || list[0].Path != "/d" || list[0].XAttrs["trusted.b64"] != "hi" ||
		list[1].Path != "/d/f" || list[1].XAttrs["user.color"] != "deep blue" ||
		list[2].Path != "/d/sub" || len(list[2].XAttrs) != 1 {
		t.Errorf("getfattr -R -d --json = %+v", list)
	}

	tc.must("fs", "setfattr", "-x", "user.color", "/d/f")
	if got, want := tc.must("fs", "getfattr", "-d", "/d/f"), "# file: /d/f\nuser.raw=\"\\x00\\xff\\x10\"\n\n"; got != want {
		t.Errorf("after -x:\n%q\nwant\n%q", got, want)
	}

	// Bad input: one line, non-zero exit.
	tc.fails("does not exist", "fs", "setfattr", "-x", "user.color", "/d/f")
	tc.fails("user. or trusted.", "fs", "setfattr", "-n", "color", "-v", "x", "/d/f")
	tc.fails("not valid hex", "fs", "setfattr", "-n", "user.x", "-v", "0xzz", "/d/f")
	tc.fails("exactly one of", "fs", "setfattr", "/d/f")
	tc.fails("exactly one of", "fs", "getfattr", "-d", "-n", "user.a", "/d/f")
	tc.fails("encoding", "fs", "getfattr", "-d", "-e", "rot13", "/d/f")
	tc.fails("no xattr user.nope", "fs", "getfattr", "-n", "user.nope", "/d/f")
	tc.fails("does not exist", "fs", "getfattr", "-d", "/missing")
}

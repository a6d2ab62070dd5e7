package cli

import (
	"strings"
	"testing"

	"github.com/cairn-fs/cairn/internal/testcluster"
)

func TestDecommissionCommands(t *testing.T) {
	tc := startCLI(t, testcluster.Options{DataNodes: 4})
	dir := t.TempDir()
	local := writeLocal(t, dir, "f", randomBytes(3000, 1))
	tc.must("fs", "put", local, "/f")
	addr := tc.c.DataNodeAddr(0)

	out := tc.must("admin", "decommission", "-w", "--timeout", "60s", addr)
	if !strings.Contains(out, "Decommissioning "+addr) || !strings.Contains(out, "is decommissioned") {
		t.Errorf("decommission -w output = %q", out)
	}
	var rep reportJSON
	tc.mustJSON(&rep, "admin", "report", "--json")
	if rep.DecommissionedDatanodes != 1 || rep.LiveDatanodes != 3 {
		t.Errorf("report after decommission: %d decommissioned, %d live; want 1 and 3", rep.DecommissionedDatanodes, rep.LiveDatanodes)
	}
	out = tc.must("admin", "recommission", addr)
	if !strings.Contains(out, "Recommissioned "+addr) || !strings.Contains(out, "live") {
		t.Errorf("recommission output = %q", out)
	}
	tc.fails("no datanode 127.0.0.1:1 is registered", "admin", "decommission", "127.0.0.1:1")
	tc.fails("want one DataNode address", "admin", "recommission")
}

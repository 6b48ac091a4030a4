package scale

import (
	"flag"
	"math"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyserver"
)

// The full boot storm:
//
//	go test ./internal/scale -run '^$' -bench BootStorm -benchtime 1x -timeout 30m
//
// and, to compare, the same without the keyserver's admission control:
// -storm.active -1.
var (
	stormNodes  = flag.Int("storm.nodes", 0, "nodes BenchmarkBootStorm starts all at once (0: as many as the open-file limit allows; more start as the first finish)")
	stormActive = flag.Int("storm.active", 0, "the keyserver's bound on connections worked on at once in the storm tests (0: its default; -1: no admission control)")
	stormQueued = flag.Int("storm.queued", 0, "the keyserver's bound on connections queued in the storm tests (0: its default)")
	stormWait   = flag.Duration("storm.wait", 0, "how long the keyserver lets a connection wait in the storm tests (0: its default)")
)

// stormAdmission is the keyserver's admission control in the storm tests.
func stormAdmission() keyserver.Admission {
	return keyserver.Admission{MaxActive: *stormActive, MaxQueued: *stormQueued, MaxWait: *stormWait}
}

// TestAdmissionStorm starts 1,000 agents all at once, as when a rack is
// powered on: every node ends credentialed, with the audit checks of
// TestAdmission, well inside the timeout. It asserts no timing besides.
func TestAdmissionStorm(t *testing.T) {
	const nodes = 1000
	res := Run(t, Options{Nodes: nodes, Window: nodes, Admission: stormAdmission(), Timeout: 3 * time.Minute})
	t.Log(res)
	if res.Window < nodes {
		t.Logf("the open-file limit let only %d of %d start at once", res.Window, nodes)
	}
}

// BenchmarkBootStorm starts -storm.nodes agents all at once (as many
// as the open-file limit allows) and reports what BenchmarkAdmission does,
// and the connections the keyserver shed.
func BenchmarkBootStorm(b *testing.B) {
	n := *stormNodes
	if n <= 0 {
		n = window(math.MaxInt, math.MaxInt)
	}
	var res Result
	for range b.N {
		res = Run(b, Options{Nodes: n, Window: n, Admission: stormAdmission(), Timeout: 10 * time.Minute})
		b.Log(res)
	}
	report(b, res)
}

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
// and, to compare, the same with the keyserver's admission control on:
// -storm.active 128 (its bound; -storm.queued and -storm.wait set the rest).
var (
	stormNodes  = flag.Int("storm.nodes", 0, "nodes BenchmarkBootStorm starts all at once (0: as many as the open-file limit allows; more start as the first finish)")
	stormActive = flag.Int("storm.active", 0, "the keyserver's bound on connections worked on at once in BenchmarkBootStorm (0: no admission control, the keyserver's default)")
	stormQueued = flag.Int("storm.queued", 0, "with -storm.active: the keyserver's bound on connections queued (0: its default)")
	stormWait   = flag.Duration("storm.wait", 0, "with -storm.active: how long the keyserver lets a connection wait (0: its default)")
)

// stormAdmission is the keyserver's admission control in the storm tests.
func stormAdmission() keyserver.Admission {
	return keyserver.Admission{MaxActive: *stormActive, MaxQueued: *stormQueued, MaxWait: *stormWait}
}

// TestAdmissionStorm starts 1,000 agents all at once, as when a rack is
// powered on, against a keyserver with admission control on and tight
// enough to shed: every node ends credentialed, with the audit checks of
// TestAdmission, its shed connections retried like any failure, well
// inside the timeout. It asserts no timing besides.
func TestAdmissionStorm(t *testing.T) {
	const nodes = 1000
	adm := keyserver.Admission{MaxActive: 32, MaxWait: time.Second}
	res := Run(t, Options{Nodes: nodes, Window: nodes, Admission: adm, Timeout: 3 * time.Minute})
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

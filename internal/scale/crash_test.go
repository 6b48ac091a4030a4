package scale

import (
	"context"
	"flag"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keysystemtest"
)

// crashNodes is the full version of TestAdmissionSurvivesKeyserverKills:
//
//	go test ./internal/scale -run KeyserverKills -crash.nodes 1000 -timeout 30m -v
var (
	crashNodes = flag.Int("crash.nodes", 200, "nodes TestAdmissionSurvivesKeyserverKills admits (the full version: 1000)")
	crashSeed  = flag.Uint64("crash.seed", 0, "seed of the kills' moments (0: from the clock)")
)

// crashKills is how many times the keyserver is killed during an admission.
const crashKills = 10

// TestAdmissionSurvivesKeyserverKills admits -crash.nodes nodes (200) while
// the keyserver, in a child process, is killed with SIGKILL at 10 seeded
// random moments and restarted on the same address each time: 5 while
// tokens are being redeemed, 5 while identified nodes obtain the rest. Every agent
// must end ready; the audit log must be whole JSON lines, show every token
// redeemed afresh at most once (and otherwise only replayed by the same key
// after a lost response) and every redemption an agent saw succeed; the
// token store must load and hold every token used, each with its spending
// audited (the keyserver audits a spending before it records it). The moments: for the
// first 5 kills, counts of agents that have redeemed their token, for the
// last 5 counts of ready agents, each drawn below 90% of the nodes, and
// after each count is reached a delay of up to 50 ms; so every kill falls
// while agents are admitting unless the rest finish within that delay.
func TestAdmissionSurvivesKeyserverKills(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crash.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	n := *crashNodes
	at := make([]int, crashKills)
	delays := make([]time.Duration, crashKills)
	for i := range at {
		at[i] = rng.IntN(max(1, n*9/10))
		delays[i] = time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
	}
	redeeming := crashKills / 2 // kills at counts of identified agents
	slices.Sort(at[:redeeming])
	slices.Sort(at[redeeming:])
	// progress is what kill i waits for: identified or ready agents.
	counted := func(i int, p Progress) int {
		if i < redeeming {
			return p.Identified
		}
		return p.Ready
	}

	kills, during := 0, 0
	var downtime time.Duration
	start := time.Now()
	res := Run(t, Options{
		Nodes:    n,
		Timeout:  5 * time.Minute,
		RetryMin: 20 * time.Millisecond,
		RetryMax: 500 * time.Millisecond,
		Disrupt: func(ctx context.Context, c *keysystemtest.Cluster, progress func() Progress) {
			for i, count := range at {
				// Wait for the count of identified or ready agents (or
				// the admission's end), checking every millisecond. Once
				// the count is reached the kill comes even if the
				// admission ends meanwhile.
				tick := time.NewTicker(time.Millisecond)
				for counted(i, progress()) < count && ctx.Err() == nil {
					select {
					case <-tick.C:
					case <-ctx.Done():
					}
				}
				tick.Stop()
				if counted(i, progress()) < count {
					t.Errorf("the admission ended (%v) at %+v of %d nodes, before kill %d at %d", ctx.Err(), progress(), n, i+1, count)
					return
				}
				select {
				case <-time.After(delays[i]):
				case <-ctx.Done():
				}
				p := progress()
				t0 := time.Now()
				c.KillServer()
				c.StartServer()
				downtime += time.Since(t0)
				kills++
				if p.Ready < n {
					during++
				}
				t.Logf("kill %d at %v: of %d nodes, %d identified, %d ready; restarted in %v", kills, time.Since(start).Round(time.Millisecond), n, p.Identified, p.Ready, time.Since(t0).Round(time.Millisecond))
			}
		},
	})
	t.Log(res)
	t.Logf("%d kills (%d while nodes were still admitting), keyserver down and restarting %v in all; all %d nodes credentialed %v after the agents started; %d retries; %d tokens redeemed afresh, %d replays of a redemption whose response was lost; %d tokens audited only as a replay (their use was stored, then the keyserver died before auditing it)",
		kills, during, downtime.Round(time.Millisecond), n, res.Admit.Round(time.Millisecond), res.Retries, res.Redeemed, res.Replays, n-res.Redeemed)
	if kills != crashKills {
		t.Errorf("%d kills, want %d", kills, crashKills)
	}
}

package timewarp

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/credential"
)

var (
	daysFlag = flag.Int("days", 30, "simulated days of TestTimeWarp (400 for the full run)")
	seedFlag = flag.Uint64("seed", 0, "seed of the outages and the agents' randomness (0: TIMEWARP_SEED, else random; printed)")
	// Each failed attempt costs the simulation a key read, a CSR and a
	// dial, and while the supervisor is down every node has dozens of
	// attempts due: at production's 5 minutes that is 400 attempts per
	// credential per day down. The default, 30 minutes, is 6 times
	// cheaper and, if anything, harsher: after an outage renewals come up
	// to 30 minutes late instead of 5.
	retryMaxFlag = flag.Duration("retry-max", 30*time.Minute, "the agents' longest backoff (keyclient.Options.RetryMax; production: 5m)")
)

// seed is the run's seed: -seed, else TIMEWARP_SEED, else a random one.
func seed(t *testing.T) uint64 {
	t.Helper()
	if *seedFlag != 0 {
		return *seedFlag
	}
	if env := os.Getenv("TIMEWARP_SEED"); env != "" {
		v, err := strconv.ParseUint(env, 10, 64)
		if err != nil {
			t.Fatalf("TIMEWARP_SEED=%q: %v", env, err)
		}
		return v
	}
	return rand.Uint64N(1<<31) + 1
}

// TestTimeWarp runs the cluster for -days simulated days (30 by default,
// as in CI) with the supervisor down up to a week at a time, and fails at
// the first moment any node holds an expired certificate.
//
// Why no credential may lapse: a node renews at 62-70% of a lifetime, so
// the shortest, a role certificate's 30 days, has at least 9 days left when
// renewal falls due; an outage lasts at most 7 and is followed by at least
// 2 hours up, while a failed agent retries within 5 minutes. The identity
// (40 days) has 12 days left at renewal, the SSH host certificate (60) 18.
func TestTimeWarp(t *testing.T) {
	days := *daysFlag
	if env := os.Getenv("TIMEWARP_DAYS"); env != "" && *daysFlag == 30 {
		var err error
		if days, err = strconv.Atoi(env); err != nil {
			t.Fatalf("TIMEWARP_DAYS=%q: %v", env, err)
		}
	}
	sd := seed(t)
	t.Logf("time warp: seed %d (replay: -seed %d), %d days, backoff up to %s", sd, sd, days, *retryMaxFlag)
	wall := time.Now()
	s := newSim(t, simOptions{seed: sd, retryMax: *retryMaxFlag})
	until := epoch.Add(time.Duration(days) * day)
	outages := s.scheduleOutages(rand.New(rand.NewPCG(sd, 0x0a7a6e)), epoch, until)
	s.run(until)
	elapsed := time.Since(wall)
	report := s.fig.String(s, outages, elapsed)
	t.Log("\n" + report)
	if len(s.fig.failedUp) > 0 {
		t.Errorf("%d attempts failed while the supervisor was up:\n%s", len(s.fig.failedUp), strings.Join(s.fig.failedUp[:min(20, len(s.fig.failedUp))], "\n"))
	}
	for _, n := range s.nodes {
		if !n.ready {
			t.Errorf("%s never held all its credentials", n.cfg.Hostname)
		}
	}
	if days >= 30 && s.fig.renewals[credential.Granting.Name] == 0 {
		t.Errorf("no identity renewed in %d days", days)
	}
}

// String renders the figures of a run.
func (f figures) String(s *sim, outages []outage, wall time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %.1f days simulated in %s wall time, %d agent steps on %d nodes\n",
		f.seed, f.simulated.Hours()/24, wall.Round(time.Millisecond), f.steps, len(s.nodes))
	fmt.Fprintf(&b, "outages: %d, %.1f days down in all, longest %.2f days; attempts failed while down: %d, while up: %d\n",
		f.outages, f.outageTime.Hours()/24, f.longestOutage.Hours()/24, f.failedDown, len(f.failedUp))
	for _, o := range outages {
		fmt.Fprintf(&b, "  down %s to %s (%.2f days)\n", s.day(o.start), s.day(o.end), o.end.Sub(o.start).Hours()/24)
	}
	total := 0
	for _, n := range f.renewals {
		total += n
	}
	fmt.Fprintf(&b, "renewals: %d; per credential, with the least lifetime it had left at any moment:\n", total)
	holders := map[string]int{}
	for _, n := range s.nodes {
		for _, c := range n.creds {
			holders[c.Name]++
		}
	}
	var names []string
	for name := range holders {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "  %-24s %9s %7s %8s %14s  %s\n", "credential", "lifetime", "holders", "renewals", "min left", "where")
	for _, name := range names {
		m := f.minLeft[name]
		fmt.Fprintf(&b, "  %-24s %8.0fd %7d %8d %13.2fd  %s at %s\n", name, f.lifetimes[name].Hours()/24, holders[name], f.renewals[name],
			m.d.Hours()/24, m.node, s.day(m.at))
	}
	return b.String()
}

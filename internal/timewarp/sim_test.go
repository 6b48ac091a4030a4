package timewarp

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/clock"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

const day = 24 * time.Hour

// epoch is where simulated time starts: years after the system clock, so
// anything that still reads the system clock instead of the fake one fails
// at once (a certificate of the simulation is not valid yet by it).
var epoch = time.Date(2031, time.March, 1, 0, 0, 0, 0, time.UTC)

// maxSleep bounds the agents' sleeps in the simulation, as
// keyclient.Options.MaxSleep. In production it is a minute, so that a
// token file that appears is noticed; no token appears after admission
// here, and an hour makes for 60 times fewer idle passes. Renewals and
// retries are timed by the agent, not by it.
const maxSleep = time.Hour

// grain is the simulation's timer slack: an agent is woken at the first
// whole minute (since epoch) at or after the moment it asked for, as a
// busy host might wake it late. While the supervisor is down, every node
// has some credential whose retry is due every few seconds to minutes
// (backoff from 2 s doubling to 5 min, jittered); waking each agent at
// most once a minute, to attempt all that is due at once, is what makes
// hundreds of simulated days affordable. It delays a renewal by under a
// minute, against lifetimes of 30 days and more.
const grain = time.Minute

// sim is a cluster on a fake clock: keysystemtest's keyserver and a
// keyclient for each of its nodes, which the simulation steps itself.
type sim struct {
	t       *testing.T
	clk     *clock.Fake
	cluster *keysystemtest.Cluster
	sup     *supervisor
	nodes   []*node
	// boundaries of the supervisor's outages, in order; down while in one.
	boundaries []boundary
	down       bool
	// blocked: the keyserver is gone for good (the alert scenario), so
	// credentials may expire; agents are woken every blockedWake.
	blocked bool
	fig     figures
	series  map[seriesKey][]point // nil: not recorded
	// wallStart and reported: for progress lines, every progressEvery.
	wallStart time.Time
	reported  time.Time
}

const progressEvery = 50 * day

type boundary struct {
	at   time.Time
	down bool
}

type outage struct{ start, end time.Time }

// node is one node's keyclient and what the simulation saw it hold.
type node struct {
	cfg    config.Node
	layout layout.Node
	agent  *keyclient.Agent
	log    *tail
	wake   time.Time
	creds  []credential.Credential // the expiring credentials of its kind
	held   map[string]held
	ready  bool // has held every one of creds
}

// held is a certificate a node holds, as last read from its files.
type held struct {
	raw                 []byte
	notBefore, notAfter time.Time
}

// figures are what a run prints.
type figures struct {
	seed          uint64
	simulated     time.Duration
	steps         int
	renewals      map[string]int
	lifetimes     map[string]time.Duration // by credential, as issued
	outages       int
	outageTime    time.Duration
	longestOutage time.Duration
	minLeft       map[string]left // by credential
	failedDown    int             // attempts that failed while the supervisor was down
	failedUp      []string        // and while it was up: none expected
	lapses        []string        // blocked scenario only
}

// left is the least lifetime a credential had left, at the last instant
// before anything could replace it.
type left struct {
	d    time.Duration
	node string
	at   time.Time
}

// simOptions shape a simulation.
type simOptions struct {
	seed uint64
	// retryMax caps the agents' backoff, as keyclient.Options.RetryMax
	// (production: 5 minutes).
	retryMax time.Duration
	record   bool // keep the expiry metric's series for promtool
}

// newSim starts the keyserver on a fake clock at epoch, admits every node
// and makes its agent; nothing has run yet. The cluster's own keyserver
// only admits the nodes: the simulation's keyserver is the supervisor's,
// from the same files.
func newSim(t *testing.T, o simOptions) *sim {
	t.Helper()
	clk := clock.NewFake(epoch)
	c := keysystemtest.StartAt(t, policy.DefaultLifetimes, clk.Now)
	s := &sim{t: t, clk: clk, cluster: c, wallStart: time.Now(), reported: epoch, fig: figures{seed: o.seed, renewals: map[string]int{}, lifetimes: map[string]time.Duration{}, minLeft: map[string]left{}}}
	if o.record {
		s.series = map[seriesKey][]point{}
	}
	supervisor := c.Config.FQDN(c.Config.Supervisor())
	for _, cn := range c.Config.Nodes {
		l := layout.Node{Root: filepath.Join(t.TempDir(), cn.Hostname)}
		if err := keyclient.InstallTrust(l, supervisor, c.ClusterCAPEM()); err != nil {
			t.Fatal(err)
		}
		if err := keyclient.InstallToken(l, c.Admit(cn.Hostname)); err != nil {
			t.Fatal(err)
		}
		n := &node{cfg: cn, layout: l, wake: epoch, held: map[string]held{}}
		n.log = &tail{onRetry: func(line string) { s.failed(n, line) }}
		for _, cred := range credential.For(cn.Kind) {
			if cred.Expires() {
				n.creds = append(n.creds, cred)
			}
		}
		s.nodes = append(s.nodes, n)
	}
	c.StopServer()
	s.sup = startSupervisor(t, c, keyserver.Options{Logf: t.Logf, Now: clk.Now})
	for i, n := range s.nodes {
		a, err := keyclient.New(keyclient.Options{
			Node: n.layout, Keyserver: s.sup.Addr(), LocalAddr: n.cfg.IP, Logf: n.log.logf,
			Now: clk.Now, Rand: rand.New(rand.NewPCG(o.seed, uint64(i))), MaxSleep: maxSleep, RetryMax: o.retryMax,
		})
		if err != nil {
			t.Fatal(err)
		}
		n.agent = a
	}
	return s
}

// scheduleOutages plans the supervisor's outages between from and until.
// The first is the worst a week can do: it begins when the first role
// certificates fall due (62% of their lifetime after the nodes got them)
// and lasts 7 days, past the latest renewal point (70%), so every role
// certificate is renewed late, at its end. The rest come at random: each
// lasts 10 minutes to 7 days and follows the last by 2 hours to 45 days.
// Whatever the draw, the supervisor is up at least 2 hours between
// outages, longer than the agents' longest backoff (TestTimeWarp's
// -retry-max).
func (s *sim) scheduleOutages(rng *rand.Rand, from, until time.Time) []outage {
	var out []outage
	start := from.Add(time.Duration(0.62 * float64(policy.DefaultLifetimes.NodeCert)))
	end := start.Add(7 * day)
	for start.Before(until) {
		out = append(out, outage{start, minTime(end, until)})
		start = end.Add(2*time.Hour + time.Duration(rng.Int64N(int64(45*day-2*time.Hour))))
		end = start.Add(10*time.Minute + time.Duration(rng.Int64N(int64(7*day-10*time.Minute))))
	}
	for _, o := range out {
		s.boundaries = append(s.boundaries, boundary{o.start, true}, boundary{o.end, false})
		s.fig.outages++
		s.fig.outageTime += o.end.Sub(o.start)
		s.fig.longestOutage = max(s.fig.longestOutage, o.end.Sub(o.start))
	}
	return out
}

// run moves the simulation to until. At each moment something is due (an
// agent's wake-up, or an outage beginning or ending) it applies the
// outage, steps every agent that is due, reads what each holds, then moves
// the clock to the next such moment. Nothing on a node changes between
// those moments, so checking what every node holds against the next one
// finds any lapse, however short: see check.
func (s *sim) run(until time.Time) {
	s.t.Helper()
	ctx := context.Background()
	for {
		now := s.clk.Now()
		for len(s.boundaries) > 0 && !s.boundaries[0].at.After(now) {
			b := s.boundaries[0]
			s.boundaries = s.boundaries[1:]
			s.setDown(b.down)
		}
		for _, n := range s.nodes {
			if n.wake.After(now) {
				continue
			}
			d := n.agent.Step(ctx)
			if s.blocked {
				d = max(d, blockedWake)
			}
			n.wake = wakeAt(now.Add(d))
			s.fig.steps++
			s.observe(n, now)
			s.record(n, now)
		}
		if !now.Before(until) {
			s.fig.simulated = now.Sub(epoch)
			return
		}
		if now.Sub(s.reported) >= progressEvery {
			s.reported = now
			s.t.Logf("%s: %d agent steps, %d attempts failed while down, %s wall time", s.day(now), s.fig.steps, s.fig.failedDown, time.Since(s.wallStart).Round(time.Second))
		}
		next := until
		for _, n := range s.nodes {
			next = minTime(next, n.wake)
		}
		if len(s.boundaries) > 0 {
			next = minTime(next, s.boundaries[0].at)
		}
		s.check(now, next)
		s.clk.Set(next)
	}
}

// wakeAt rounds t up to the grain.
func wakeAt(t time.Time) time.Time {
	since := t.Sub(epoch)
	return epoch.Add((since + grain - 1) / grain * grain)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (s *sim) setDown(down bool) {
	if down == s.down {
		return
	}
	if down {
		s.sup.down()
	} else {
		s.sup.up()
	}
	s.down = down
}

// block stops the keyserver for good: renewal is blocked from now on.
func (s *sim) block() {
	s.boundaries = nil
	s.setDown(true)
	s.blocked = true
}

// observe reads the certificates n holds after a step at now. A changed
// certificate must be valid now and belong to the key beside it; it
// counts as a renewal if it replaced one.
func (s *sim) observe(n *node, now time.Time) {
	s.t.Helper()
	for _, c := range n.creds {
		data, err := os.ReadFile(n.layout.Path(c.Path))
		h, had := n.held[c.Name]
		if had && bytes.Equal(data, h.raw) {
			continue
		}
		if err != nil || len(data) == 0 {
			if had {
				s.t.Fatalf("%s: %s no longer holds %s (%v)\n%s", s.day(now), n.cfg.Hostname, c.Name, err, n.log)
			}
			continue
		}
		nb, na, pub, err := parseCert(c, data)
		if err != nil {
			s.t.Fatalf("%s: %s's %s: %v", s.day(now), n.cfg.Hostname, c.Name, err)
		}
		if now.Before(nb) || !now.Before(na) {
			s.t.Fatalf("%s: %s installed a %s valid only from %s to %s", s.day(now), n.cfg.Hostname, c.Name, s.day(nb), s.day(na))
		}
		keyData, err := os.ReadFile(n.layout.Path(c.KeyPath))
		if err != nil {
			s.t.Fatalf("%s: %s's %s has no key: %v", s.day(now), n.cfg.Hostname, c.Name, err)
		}
		key, err := pki.ParseKey(keyData)
		if err != nil || !publicKeysEqual(key.Public(), pub) {
			s.t.Fatalf("%s: %s's %s is not for the key beside it (%v)", s.day(now), n.cfg.Hostname, c.Name, err)
		}
		if had {
			s.fig.renewals[c.Name]++
		}
		s.fig.lifetimes[c.Name] = na.Sub(nb) - pki.Backdate
		n.held[c.Name] = held{raw: data, notBefore: nb, notAfter: na}
	}
	if !n.ready && len(n.held) == len(n.creds) {
		n.ready = true
	}
}

// check runs between two moments something is due, now and next: what
// every node holds now it holds until next, so each certificate must be
// valid until then, which is also the least lifetime it has left. The
// simulation steps to every wake-up the agents ask for (at most maxSleep
// apart; seconds to minutes apart while they retry) and to every outage
// boundary, so this is exact rather than sampled: a certificate that
// expired for a millisecond before its renewal would fail here.
func (s *sim) check(now, next time.Time) {
	s.t.Helper()
	for _, n := range s.nodes {
		if !n.ready {
			if now.Sub(epoch) > time.Hour {
				s.t.Fatalf("%s: %s still lacks some of %d credentials an hour after admission; held: %d\n%s", s.day(now), n.cfg.Hostname, len(n.creds), len(n.held), n.log)
			}
			continue
		}
		for _, c := range n.creds {
			h := n.held[c.Name]
			d := h.notAfter.Sub(next)
			if d <= 0 {
				if !s.blocked {
					s.t.Fatalf("LAPSE %s: %s's %s (valid until %s) expired before %s, while the supervisor was %s\nagent log:\n%s",
						s.day(next), n.cfg.Hostname, c.Name, s.day(h.notAfter), s.day(next), upDown(s.down), n.log)
				}
				continue
			}
			if m, ok := s.fig.minLeft[c.Name]; !ok || d < m.d {
				s.fig.minLeft[c.Name] = left{d: d, node: n.cfg.Hostname, at: next}
			}
		}
	}
}

func upDown(down bool) string {
	if down {
		return "down"
	}
	return "up"
}

// failed counts an attempt the agent logged as failed (and retried).
// While the supervisor is up none may fail: that would be the simulation
// itself going wrong, such as a handshake checking a certificate by the
// system clock.
func (s *sim) failed(n *node, line string) {
	if s.down {
		s.fig.failedDown++
		return
	}
	s.fig.failedUp = append(s.fig.failedUp, fmt.Sprintf("%s %s: %s", s.day(s.clk.Now()), n.cfg.Hostname, line))
}

// day renders a simulated moment as days since the start.
func (s *sim) day(t time.Time) string {
	return fmt.Sprintf("day %.4f", t.Sub(epoch).Hours()/24)
}

func parseCert(c credential.Credential, data []byte) (notBefore, notAfter time.Time, pub crypto.PublicKey, err error) {
	if c.Type == credential.SSHCert {
		k, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return time.Time{}, time.Time{}, nil, err
		}
		cert, ok := k.(*ssh.Certificate)
		if !ok {
			return time.Time{}, time.Time{}, nil, fmt.Errorf("not an SSH certificate")
		}
		ck, ok := cert.Key.(ssh.CryptoPublicKey)
		if !ok {
			return time.Time{}, time.Time{}, nil, fmt.Errorf("SSH certificate for a key of type %s", cert.Key.Type())
		}
		return time.Unix(int64(cert.ValidAfter), 0), pki.SSHExpiry(cert), ck.CryptoPublicKey(), nil
	}
	cert, err := pki.ParseCert(data)
	if err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	return cert.NotBefore, cert.NotAfter, cert.PublicKey, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// tail keeps an agent's last log lines, for failure messages, and reports
// each failed attempt.
type tail struct {
	lines   []string
	onRetry func(line string)
}

const tailLines = 40

func (l *tail) logf(format string, args ...any) {
	line := strings.TrimSpace(fmt.Sprintf(format, args...))
	if strings.Contains(line, "(retrying in ") {
		l.onRetry(line)
	}
	l.lines = append(l.lines, line)
	if len(l.lines) > 2*tailLines {
		l.lines = slices.Clone(l.lines[len(l.lines)-tailLines:])
	}
}

func (l *tail) String() string {
	return strings.Join(l.lines[max(0, len(l.lines)-tailLines):], "\n")
}

// seriesKey names one series of the keyclient's expiry metric.
type seriesKey struct{ node, credential string }

// point is the metric's value from at on; absent: the agent exported none.
type point struct {
	at     time.Time
	value  float64
	absent bool
}

const expiryMetric = "homeworld_keyclient_credential_expiry_timestamp_seconds"

// record scrapes n's metrics after a step at now, as Prometheus would,
// and keeps each change of the expiry metric.
func (s *sim) record(n *node, now time.Time) {
	if s.series == nil {
		return
	}
	rec := httptest.NewRecorder()
	n.agent.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	seen := map[string]float64{}
	prefix := expiryMetric + `{credential="`
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			s.t.Fatalf("unexpected metric line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			s.t.Fatalf("metric line %q: %v", line, err)
		}
		seen[name] = v
	}
	for _, c := range n.creds {
		k := seriesKey{n.cfg.Hostname, c.Name}
		v, ok := seen[c.Name]
		p := point{at: now, value: v, absent: !ok}
		pts := s.series[k]
		if last := len(pts) - 1; last >= 0 && pts[last].absent == p.absent && pts[last].value == p.value {
			continue
		}
		s.series[k] = append(pts, p)
	}
}

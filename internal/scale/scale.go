// Package scale admits many simulated nodes at once and measures how long
// until every node holds every credential of its kind. The keyserver is
// keysystemtest's, over real TLS, with a setup.yaml of N masters and
// workers, each on a loopback address of its own (127.1.0.0 upwards), so
// the keyserver's address binding holds; every node runs the real
// keyclient Agent in this process, with a root folder of its own and one
// admission token the admin issued through the API, up to DefaultWindow
// admitting at once. Only tests import it;
// the full measurement is
//
//	go test ./internal/scale -run '^$' -bench Admission -benchtime 1x -timeout 30m
//
// A boot storm starts every node at once (Window = Nodes, as a rack
// powered on); TestAdmissionStorm starts 1,000 with the ordinary tests
// against a keyserver with tight admission control (keyserver.Admission),
// so connections are shed and retried, and the full version as many as
// the open-file limit allows (4,872 at 20,000), without admission control
// unless -storm.active sets its bound:
//
//	go test ./internal/scale -run '^$' -bench BootStorm -benchtime 1x -timeout 30m
//
// and the full version of the crash test (1,000 nodes while the keyserver
// is killed with SIGKILL 10 times; it prints the kills, the time until all
// are credentialed, the retries and the replays):
//
//	go test ./internal/scale -run KeyserverKills -crash.nodes 1000 -timeout 30m -v
package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/token"
)

// Options shape one admission run; zero values are the defaults.
type Options struct {
	Nodes   int // masters and workers to admit (the supervisor is not one of them)
	Masters int // default: an odd number, about one per 500 nodes, at least 3
	// Window bounds how many agents are admitting at once: an agent starts
	// when one before it is ready. 0: DefaultWindow. It is also bounded by
	// the process's open-file limit (each admitting node holds a
	// connection at both ends, both in this process).
	Window int
	// Timeout bounds the whole admission (default 10 minutes).
	Timeout time.Duration
	// RetryMin and RetryMax bound every agent's backoff after a failed
	// attempt (keyclient.Options); zero: the agent's defaults.
	RetryMin, RetryMax time.Duration
	// Admission bounds the connections the keyserver works on at once;
	// off unless its MaxActive is positive, as in the keyserver.
	Admission keyserver.Admission
	// Disrupt, if set, runs the keyserver in a child process
	// (keysystemtest.Options.Process) and is called, on the test's
	// goroutine, as soon as the agents start; progress counts the agents
	// that have redeemed their tokens and that are ready so far, and ctx ends when the admission does (every agent
	// ready, or Timeout). It may kill and restart the keyserver
	// (Cluster.KillServer, StartServer); Run checks the audit log once
	// both it and the admission have returned, tolerating what a crash
	// leaves: a redemption repeated by the same key within the replay
	// window after its response was lost.
	Disrupt func(ctx context.Context, c *keysystemtest.Cluster, progress func() Progress)
}

// Progress is how far an admission has come: how many agents have obtained
// their identity with their token, and how many are ready.
type Progress struct{ Identified, Ready int }

// Result is what one run measured.
type Result struct {
	Nodes, Masters int
	Window         int           // agents admitting at once at most
	Start          time.Duration // generating setup.yaml and starting the keyserver
	Issue          time.Duration // the admin issuing every admission token
	Admit          time.Duration // from starting every agent until the last is ready
	// Half and Most are the times from starting every agent until half of
	// them, and 99%, were ready: how long the tail after them is.
	Half, Most time.Duration
	// CPU is the processor time this process spent (user and system) on
	// Issue and Admit: the keyserver's and every node's together, as all
	// run here.
	CPU time.Duration
	// Goroutines is the most seen while agents ran (sampled as each became
	// ready); MaxRSS the process's peak resident memory.
	Goroutines int
	MaxRSS     int64 // bytes
	Grants     int   // grants the keyserver audited for the nodes
	Retries    int   // failed attempts the agents logged (and retried)
	// Redeemed counts the tokens the audit log shows redeemed afresh;
	// Replays the redemptions repeated by the same key after a lost
	// response (none without Disrupt).
	Redeemed, Replays int
	// Shed counts the connections the keyserver closed before their
	// handshake because it was busy (its admission control).
	Shed int
}

// Total is the admission proper: issuing the tokens, then every node
// obtaining everything.
func (r Result) Total() time.Duration { return r.Issue + r.Admit }

// NsPerNode is Total per node.
func (r Result) NsPerNode() float64 { return float64(r.Total().Nanoseconds()) / float64(r.Nodes) }

// GrantsPerSecond is the rate of audited grants while the agents ran.
func (r Result) GrantsPerSecond() float64 { return float64(r.Grants) / r.Admit.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d nodes (%d masters, window %d): total %v (tokens %v, credentials %v; half ready after %v, 99%% after %v), %.0f ns/node, %d grants, %.0f grants/s, %d retries, %d connections shed, CPU %v (%v/node), %d goroutines, %d MiB peak RSS; keyserver started in %v",
		r.Nodes, r.Masters, r.Window, r.Total().Round(time.Millisecond), r.Issue.Round(time.Millisecond), r.Admit.Round(time.Millisecond),
		r.Half.Round(time.Millisecond), r.Most.Round(time.Millisecond), r.NsPerNode(), r.Grants, r.GrantsPerSecond(), r.Retries, r.Shed, r.CPU.Round(time.Millisecond), (r.CPU / time.Duration(r.Nodes)).Round(time.Microsecond),
		r.Goroutines, r.MaxRSS>>20, r.Start.Round(time.Millisecond))
}

// quantile is the time from start until the fraction q of the nodes were
// ready.
func quantile(nodes []*node, start time.Time, q float64) time.Duration {
	var took []time.Duration
	for _, n := range nodes {
		if !n.readyAt.IsZero() {
			took = append(took, n.readyAt.Sub(start))
		}
	}
	if len(took) == 0 {
		return 0
	}
	slices.Sort(took)
	return took[min(len(took)-1, int(math.Ceil(q*float64(len(took))))-1)]
}

// cpuTime is the processor time the process has spent so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the process's peak resident memory so far, in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // Linux reports KiB
}

// First is the first node's address; node i (from 0) has First + i.
var First = netip.MustParseAddr("127.1.0.1")

// Setup is a setup.yaml of one supervisor (127.0.0.10, as keysystemtest's)
// and the given masters and workers, named master-I and worker-I, on
// consecutive addresses from First. The pod range leaves every node its /24.
func Setup(masters, workers int) string {
	var b strings.Builder
	b.WriteString(`cluster:
  external-domain: scale.homeworld.example
  internal-domain: scale.internal
  etcd-token: scale-etcd
addresses:
  cidr-nodes: 127.0.0.0/8
  cidr-pods: 10.0.0.0/8
  cidr-services: 172.28.0.0/16
  service-api: 172.28.0.1
  service-dns: 172.28.0.2
root-admins: [admin]
nodes:
  - {hostname: supervisor, ip: 127.0.0.10, kind: supervisor}
`)
	ip := First
	for i := range masters + workers {
		kind, n := config.KindMaster, i+1
		if i >= masters {
			kind, n = config.KindWorker, i-masters+1
		}
		fmt.Fprintf(&b, "  - {hostname: %s-%d, ip: %s, kind: %s}\n", kind, n, ip, kind)
		ip = ip.Next()
	}
	return b.String()
}

// defaultMasters is an odd number of masters for n nodes.
func defaultMasters(n int) int {
	return min(n, max(3, n/500|1))
}

// DefaultWindow is how many agents admit at once by default: up to 1,000
// nodes all at once. More at once gain nothing once the processors are
// busy, and 4,872 at once (what the open-file limit of 20,000 allows) on 2
// busy cores made TLS handshakes outlast their 10 s timeout, SYNs overflow
// the listen backlog, and requests their 30 s deadline; the agents backed
// off for minutes, and after 10 minutes some of 10,000 were still not
// ready (before the keyserver served HTTP/1.1 only and grouped its audit
// fsyncs; now 4,872 at once are credentialed in about 35 s, see
// BenchmarkBootStorm). The window stays so that this measurement stays
// comparable.
const DefaultWindow = 1000

// fdsPerNode is how many files an admitting node holds open at most: its
// connection's two ends, a second connection while the first closes
// (identity changes make the agent reconnect), and a file it writes.
const fdsPerNode = 4

// fdReserve is what the process needs besides the nodes.
const fdReserve = 512

// window is how many agents can admit at once within the open-file limit.
func window(want, nodes int) int {
	if want <= 0 {
		want = DefaultWindow
	}
	want = min(want, nodes)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		// The runtime already raised the soft limit to the hard one.
		if room := (int(lim.Cur) - fdReserve) / fdsPerNode; room < want {
			want = max(room, 1)
		}
	}
	return want
}

// node is one simulated node.
type node struct {
	name  string
	ip    string
	kind  config.Kind
	root  layout.Node
	agent *keyclient.Agent
	logs  *tail
	// readyAt is when the agent became ready (zero: not yet); set by the
	// goroutine that runs it, read once every one has returned.
	readyAt time.Time
}

// Run admits o.Nodes nodes and reports what it measured; it fails t if a
// node is not ready in time, naming what the slowest ones still miss.
func Run(t testing.TB, o Options) Result {
	t.Helper()
	if o.Nodes <= 0 {
		t.Fatal("scale: no nodes to admit")
	}
	if o.Masters == 0 {
		o.Masters = defaultMasters(o.Nodes)
	}
	if o.Masters > o.Nodes {
		t.Fatalf("scale: %d masters among %d nodes", o.Masters, o.Nodes)
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	res := Result{Nodes: o.Nodes, Masters: o.Masters, Window: window(o.Window, o.Nodes)}

	t0 := time.Now()
	c := keysystemtest.StartWith(t, keysystemtest.Options{Setup: Setup(o.Masters, o.Nodes-o.Masters), Process: keysystemtest.Process{Enable: o.Disrupt != nil}, Admission: o.Admission})
	res.Start = time.Since(t0)

	nodes := make([]*node, 0, o.Nodes)
	var identified atomic.Int64
	for _, n := range c.Config.Nodes {
		if n.Kind != config.KindSupervisor {
			nodes = append(nodes, &node{name: c.Config.FQDN(n), ip: n.IP, kind: n.Kind, logs: &tail{identifiedCount: &identified}})
		}
	}

	t0, cpu0 := time.Now(), cpuTime()
	tokens := issue(t, c, nodes)
	res.Issue = time.Since(t0)
	res.CPU = cpuTime() - cpu0

	install(t, c, nodes, tokens)
	for _, n := range nodes {
		a, err := keyclient.New(keyclient.Options{Node: n.root, LocalAddr: n.ip, Keyserver: c.Addr, Logf: n.logs.logf, RetryMin: o.RetryMin, RetryMax: o.RetryMax})
		if err != nil {
			t.Fatal(err)
		}
		n.agent = a
	}

	t0, cpu0 = time.Now(), cpuTime()
	var ready atomic.Int64
	var err error
	if o.Disrupt == nil {
		res.Goroutines, err = waitReady(context.Background(), nodes, res.Window, o.Timeout, &ready)
	} else {
		res.Goroutines, err = disrupted(t, c, nodes, res.Window, o, &identified, &ready)
	}
	if err != nil {
		t.Fatal(err)
	}
	res.Admit = time.Since(t0)
	res.Half, res.Most = quantile(nodes, t0, 0.5), quantile(nodes, t0, 0.99)
	res.CPU += cpuTime() - cpu0
	res.MaxRSS = maxRSS()

	audited := checkAudit(t, c, nodes, o.Disrupt != nil)
	res.Grants, res.Redeemed, res.Replays = audited.grants, audited.redeemed, audited.replays
	for _, n := range nodes {
		res.Retries += n.logs.retries()
	}
	res.Shed = shed(t, c)
	return res
}

// shed is how many connections the keyserver has shed, from its metrics.
func shed(t testing.TB, c *keysystemtest.Cluster) int {
	t.Helper()
	text, err := c.AdminClient().Get(context.Background(), keyapi.PathMetrics)
	if err != nil {
		t.Fatalf("reading the keyserver's metrics: %v", err)
	}
	n := 0
	for line := range strings.Lines(string(text)) {
		if !strings.HasPrefix(line, "homeworld_keyserver_connections_shed_total{") {
			continue
		}
		_, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("the keyserver's metric %q: %v", line, err)
		}
		n += int(f)
	}
	return n
}

// issue has the admin issue a token for every node, in batches on many
// concurrent requests (the token store writes concurrent issues together).
func issue(t testing.TB, c *keysystemtest.Cluster, nodes []*node) []string {
	t.Helper()
	// Below the keyserver's bound on a batch (a node kind's credentials and
	// some headroom).
	const batch = 16
	const concurrent = 32
	admin := c.AdminClient()
	tokens := make([]string, len(nodes))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(batch)) - batch
				if from >= len(nodes) {
					return
				}
				to := min(from+batch, len(nodes))
				var reqs []keyapi.Request
				for _, n := range nodes[from:to] {
					reqs = append(reqs, keyapi.Request{API: keyapi.Admit, Body: n.name})
				}
				res, err := admin.Call(context.Background(), "", reqs...)
				if err != nil {
					errs <- fmt.Errorf("admitting %s to %s: %w", nodes[from].name, nodes[to-1].name, err)
					return
				}
				copy(tokens[from:to], res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return tokens
}

// install gives every node a root folder holding what the installer
// writes: the keyserver's name, the cluster CA and the admission token.
// The folders are in memory (/dev/shm) when it exists: each real node
// writes to a disk of its own, and a thousand nodes' fsyncs on this
// machine's one disk would measure the disk, not admission.
func install(t testing.TB, c *keysystemtest.Cluster, nodes []*node, tokens []string) {
	t.Helper()
	parent := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "homeworld-scale-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the nodes' folders: %v", err)
		}
	})
	domain := []byte(c.Config.FQDN(c.Config.Supervisor()))
	ca := c.ClusterCAPEM()
	for i, n := range nodes {
		n.root = layout.Node{Root: filepath.Join(dir, fmt.Sprint(i))}
		for _, f := range []struct {
			path string
			data []byte
			mode os.FileMode
		}{
			{n.root.KeyserverDomain(), domain, 0o644},
			{n.root.KeyserverCA(), ca, 0o644},
			{n.root.BootstrapToken(), []byte(tokens[i] + "\n"), 0o600},
		} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// disrupted runs the admission on another goroutine while o.Disrupt runs on
// this one, and returns once both have; if Disrupt fails the test, the
// admission is cancelled and waited for before the test's cleanup runs.
func disrupted(t testing.TB, c *keysystemtest.Cluster, nodes []*node, window int, o Options, identified, ready *atomic.Int64) (int, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		goroutines int
		err        error
	}
	admitted := make(chan result, 1)
	admitting, stop := context.WithCancel(context.Background())
	go func() {
		defer cancel() // Disrupt's context ends with the admission
		g, err := waitReady(admitting, nodes, window, o.Timeout, ready)
		admitted <- result{g, err}
	}()
	finished := false
	defer func() {
		if !finished { // Disrupt failed the test
			stop()
			<-admitted
		}
	}()
	o.Disrupt(ctx, c, func() Progress { return Progress{Identified: int(identified.Load()), Ready: int(ready.Load())} })
	r := <-admitted
	finished = true
	stop()
	return r.goroutines, r.err
}

// waitReady starts the agents, at most window at once, and waits until
// every one is ready. A ready agent is stopped, which closes its
// connections: a node that holds everything has nothing more to ask for a
// month, and its sockets are needed by the nodes after it. It returns the
// most goroutines seen.
func waitReady(parent context.Context, nodes []*node, window int, timeout time.Duration, ready *atomic.Int64) (int, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	slots := make(chan struct{}, window)
	var goroutines atomic.Int64
	var wg sync.WaitGroup
	for _, n := range nodes {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			actx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				n.agent.Run(actx)
			}()
			select {
			case <-n.agent.Ready():
				n.readyAt = time.Now()
				ready.Add(1)
				for g := int64(runtime.NumGoroutine()); ; {
					seen := goroutines.Load()
					if g <= seen || goroutines.CompareAndSwap(seen, g) {
						break
					}
				}
			case <-ctx.Done():
			}
			stop()
			<-done
		}()
	}
	wg.Wait()
	if int(ready.Load()) == len(nodes) {
		return int(goroutines.Load()), nil
	}
	var late []string
	for _, n := range nodes {
		if !n.agent.IsReady() && len(late) < 5 {
			late = append(late, fmt.Sprintf("%s (%s) misses %s; its last log lines:\n%s", n.name, n.ip, strings.Join(n.agent.Missing(), "; "), n.logs))
		}
	}
	return 0, fmt.Errorf("after %v, %d of %d nodes are ready; the first not ready:\n%s", timeout, ready.Load(), len(nodes), strings.Join(late, "\n"))
}

// audited is what the keyserver's audit log says of the nodes.
type audited struct {
	grants            int
	redeemed, replays int
}

// checkAudit fails t unless every line of the audit log is a whole JSON
// event and the log shows every node's token issued once and redeemed once,
// every node granted each API of its kind, and no refusal; and unless the
// token store loads and holds every node's token, used. Every node whose
// agent obtained its identity (the keyserver answered its redemption with
// success) must have its redemption audited. With crashes, a redemption
// may also have been repeated by the same key after its response was lost
// (a replay, audited as such), or have been audited only as that replay
// (the keyserver died between storing the token's use and auditing it);
// still no token may be redeemed afresh twice.
func checkAudit(t testing.TB, c *keysystemtest.Cluster, nodes []*node, crashes bool) audited {
	t.Helper()
	f, err := os.Open(c.Supervisor.KeyserverAuditLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	issued, redeemed, replayed, spent := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	granted := map[string]map[string]int{}
	var refusals, problems []string
	var out audited
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct{ Action, Principal, Target, API, Result, Detail string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		switch e.Action {
		case "token-issue":
			issued[e.Target]++
		case "token-spend":
			spent[e.Principal]++
		case "token-redeem":
			if e.Result != "ok" {
				problems = append(problems, fmt.Sprintf("a redemption audited with result %q: %s", e.Result, sc.Text()))
			} else if e.Detail != "" {
				replayed[e.Principal]++
				out.replays++
			} else {
				redeemed[e.Principal]++
				out.redeemed++
			}
		case "grant":
			if e.API == string(keyapi.Admit) {
				continue
			}
			if granted[e.Principal] == nil {
				granted[e.Principal] = map[string]int{}
			}
			granted[e.Principal][e.API]++
			out.grants++
		case "refuse":
			refusals = append(refusals, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if crashes {
			if issued[n.name] != 1 || redeemed[n.name] > 1 || redeemed[n.name]+replayed[n.name] < 1 {
				problems = append(problems, fmt.Sprintf("%s: token issued %d times, redeemed %d times afresh and %d times as a replay; want issued once, redeemed afresh at most once and at all", n.name, issued[n.name], redeemed[n.name], replayed[n.name]))
			}
		} else if issued[n.name] != 1 || redeemed[n.name] != 1 || replayed[n.name] != 0 {
			problems = append(problems, fmt.Sprintf("%s: token issued %d times, redeemed %d times (and %d replays); want once each", n.name, issued[n.name], redeemed[n.name], replayed[n.name]))
		}
		// A spending is audited before the store records it; a keyserver
		// killed between the two leaves a second spending on the retry.
		if spent[n.name] < 1 || (!crashes && spent[n.name] != 1) {
			problems = append(problems, fmt.Sprintf("%s: its token's spending audited %d times; want once (at least once when the keyserver is killed)", n.name, spent[n.name]))
		}
		if !n.logs.identity() {
			problems = append(problems, fmt.Sprintf("%s: its agent never logged obtaining its identity", n.name))
		} else if redeemed[n.name]+replayed[n.name] < 1 {
			problems = append(problems, fmt.Sprintf("%s: its agent obtained an identity with its token, but the audit log shows no redemption", n.name))
		}
		for _, cred := range credential.For(n.kind) {
			if cred.API != "" && granted[n.name][string(cred.API)] < 1 {
				problems = append(problems, fmt.Sprintf("%s: %s never granted", n.name, cred.API))
			}
		}
	}
	if len(refusals) > 0 {
		problems = append(problems, fmt.Sprintf("%d refusals, the first: %s", len(refusals), refusals[0]))
	}
	storePath := filepath.Join(c.Supervisor.KeyserverState(), "tokens.json")
	tokens, err := token.Open(storePath, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if n := tokens.Outstanding(); n != 0 {
		problems = append(problems, fmt.Sprintf("the token store still holds %d unredeemed tokens", n))
	}
	problems = append(problems, checkStore(t, storePath, nodes, spent)...)
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
		}
		t.Fatalf("the keyserver's audit log and token store disagree with a clean admission:\n%s", strings.Join(problems, "\n"))
	}
	return out
}

// checkStore reads the token store's file as JSON itself: every node has
// exactly one token in it, used, and every used token's spending is in the
// audit log (spent counts token-spend lines by principal).
func checkStore(t testing.TB, path string, nodes []*node, spent map[string]int) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tokens []struct {
			Principal string
			Used      *time.Time
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("token store %s: %v", path, err)
	}
	held, used := map[string]int{}, map[string]int{}
	var problems []string
	for _, e := range f.Tokens {
		held[e.Principal]++
		if e.Used != nil {
			used[e.Principal]++
			if spent[e.Principal] == 0 {
				problems = append(problems, fmt.Sprintf("%s: the token store holds its token as used, but the audit log has no spending of it", e.Principal))
			}
		}
	}
	for _, n := range nodes {
		if held[n.name] != 1 || used[n.name] != 1 {
			problems = append(problems, fmt.Sprintf("%s: the token store holds %d tokens for it, %d used; want one, used", n.name, held[n.name], used[n.name]))
		}
	}
	return problems
}

// tail keeps an agent's last log lines unformatted (formatting them all
// would cost more than some of what is measured) and counts its retries.
type tail struct {
	mu      sync.Mutex
	lines   [8]logLine
	n       int
	retried int
	// identified: the agent logged obtaining its identity, which it
	// requests with its admission token.
	identified      bool
	identifiedCount *atomic.Int64 // the agents identified, shared by all
}

type logLine struct {
	format string
	args   []any
}

func (l *tail) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines[l.n%len(l.lines)] = logLine{format, args}
	l.n++
	if strings.Contains(format, "(retrying in") {
		l.retried++
	}
	if strings.HasSuffix(format, ": obtained") && len(args) > 0 && args[0] == credential.Granting.Name {
		if !l.identified {
			l.identifiedCount.Add(1)
		}
		l.identified = true
	}
}

func (l *tail) identity() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.identified
}

func (l *tail) retries() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retried
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i := max(0, l.n-len(l.lines)); i < l.n; i++ {
		line := l.lines[i%len(l.lines)]
		fmt.Fprintf(&b, "  "+line.format+"\n", line.args...)
	}
	return b.String()
}

// Package keyclient is the node agent that obtains and renews every
// credential its node's kind needs: it makes keys locally (they never leave
// the node), redeems the admission token once for the node's identity, then
// requests certificates, CA certificates and configuration from the
// keyserver, writes them atomically into the node's layout, renews each at
// about two thirds of its lifetime, and retries with backoff while the
// keyserver is unreachable. It heals what it can alone: it refuses
// certificates its own clock already sees as expired and reports the clock
// skew, uses a new admission token when its identity has expired, replaces
// corrupt keys and keeps key files 0600; what it cannot (a clock to fix, a
// node to admit again) it says in its log and metrics. It reports readiness
// and Prometheus metrics. cmd/keyclient runs it.
package keyclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/services"
)

// Options configure an agent.
type Options struct {
	Node layout.Node
	// Keyserver overrides the address dialled (host:port); by default it is
	// the name in keyserver.domain, at the keyserver's port.
	Keyserver string
	// LocalAddr, if set, is the source address of requests.
	LocalAddr string
	Logf      func(format string, args ...any)
	// Now is the agent's clock (default time.Now): of renewals, backoff
	// and metrics.
	Now func() time.Time
	// HandshakeNow is the clock the keyserver's certificate is checked by
	// in TLS handshakes; default Now, as on a real node, which has one
	// clock. Tests that skew Now by more than the keyserver certificate's
	// day set it to time.Now, so that the handshake still succeeds and
	// the skew shows in the certificates received.
	HandshakeNow func() time.Time
	// Rand draws the renewal spread and the retry jitter; default a source
	// seeded at random. A simulation seeds it to replay a run. Only the
	// goroutine running the agent (Run, or Step's caller) uses it.
	Rand *rand.Rand
	// RetryMin and RetryMax bound the backoff after a failed attempt.
	RetryMin, RetryMax time.Duration
	// Refresh is how often downloaded files (CA certificates, configuration)
	// are fetched again.
	Refresh time.Duration
	// MaxSleep bounds how long the agent sleeps between checks, so a token
	// file that appears later is noticed.
	MaxSleep time.Duration
	// ReturnMemory makes Run give freed memory back to the system after a
	// pass that leaves it idle for a while, as Homeworld's periodic daemons
	// do (daemon.ReturnMemoryIdle): an admission's keys, handshakes and
	// certificates are garbage once written, and the runtime kept them
	// for minutes. The keyclient command sets it; a process running many
	// agents (the scale harness) does not, where each agent's collection
	// would be the whole process's.
	ReturnMemory bool
}

func (o *Options) defaults() {
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HandshakeNow == nil {
		o.HandshakeNow = o.Now
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.RetryMin == 0 {
		o.RetryMin = 2 * time.Second
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.Refresh == 0 {
		o.Refresh = 24 * time.Hour
	}
	if o.MaxSleep == 0 {
		o.MaxSleep = time.Minute
	}
}

// tokenPoll is how often a node without identity looks for its token.
const tokenPoll = 2 * time.Second

// Agent is a running keyclient.
type Agent struct {
	opts    Options
	client  *keyapi.Client
	metrics *metrics

	mu          sync.Mutex
	identity    *tls.Certificate // possibly expired: see currentIdentity
	identityErr error            // why granting.pem/granting.key are no identity
	admission   string           // what the admin must do, last logged
	needsToken  bool
	skew        time.Duration // this node's clock minus the keyserver's, last seen
	kind        config.Kind
	localErr    string // why local.conf is unusable, last logged
	states      map[string]*credState
	readyCh     chan struct{}
	ready       bool
}

// credState is what the agent knows about one credential.
type credState struct {
	expires     time.Time // zero: does not expire
	renewAt     time.Time // expiring credentials: when to renew
	fetchedAt   time.Time // downloads: last successful fetch
	present     bool
	failures    int
	nextAttempt time.Time
	lastErr     error
}

// New prepares an agent: it reads where the keyserver is and how to trust it.
func New(opts Options) (*Agent, error) {
	opts.defaults()
	node := opts.Node
	domain, err := os.ReadFile(node.KeyserverDomain())
	if err != nil {
		return nil, fmt.Errorf("keyclient: %w (the installer writes the keyserver's name there)", err)
	}
	serverName, port := strings.TrimSpace(string(domain)), services.KeyserverAPI.PortString()
	if h, p, err := net.SplitHostPort(serverName); err == nil {
		serverName, port = h, p
	}
	addr := opts.Keyserver
	if addr == "" {
		addr = net.JoinHostPort(serverName, port)
	}
	caPEM, err := os.ReadFile(node.KeyserverCA())
	if err != nil {
		return nil, fmt.Errorf("keyclient: %w (the installer writes the cluster CA there)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("keyclient: %s holds no PEM certificate", node.KeyserverCA())
	}
	a := &Agent{opts: opts, states: map[string]*credState{}, readyCh: make(chan struct{})}
	a.client, err = keyapi.NewClient(keyapi.ClientConfig{
		Address: addr, ServerName: serverName, RootCAs: pool,
		ClientCert: a.currentIdentity, LocalAddr: opts.LocalAddr, Time: opts.HandshakeNow,
	})
	if err != nil {
		return nil, err
	}
	a.metrics = newMetrics(a)
	a.loadIdentity()
	return a, nil
}

// Run converges until ctx ends: Step, then sleep as long as it says, by the
// system's timers.
func (a *Agent) Run(ctx context.Context) error {
	defer a.client.Close()
	a.loadIdentity() // again: the files may have changed since New
	for {
		wake := a.Step(ctx)
		if a.opts.ReturnMemory && wake >= daemon.ReturnMemoryIdle {
			returnMemory()
		}
		timer := time.NewTimer(wake)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// returnMemory is debug.FreeOSMemory; a test counts the calls.
var returnMemory = debug.FreeOSMemory

// Ready is closed once every credential of the node's kind is present and
// valid for the first time.
func (a *Agent) Ready() <-chan struct{} { return a.readyCh }

// Step makes one pass over the node's credentials, attempting what is due,
// and returns how long to sleep before the next pass. Run calls it in a
// loop; a simulation on a fake clock (Options.Now) calls it instead and
// moves its clock on by the duration returned, so the agent's sleeps and
// backoff pass in simulated time. Calls must not overlap, nor overlap Run.
func (a *Agent) Step(ctx context.Context) time.Duration {
	now := a.opts.Now()
	next := now.Add(a.opts.MaxSleep)
	kind := a.readKind()
	// unreachable is the attempt of this pass that got no answer: the
	// credentials due after it wait as long as it does, rather than each
	// dial a keyserver that is down or shedding connections (in a boot
	// storm, every dial is another connection to shed).
	var unreachable *credState
	for _, c := range a.wanted() {
		st := a.state(c.Name)
		a.clockSetBack(st, now)
		a.inspect(c, st, now)
		due := a.dueAt(c, st)
		if !due.After(now) && unreachable != nil {
			due = a.postpone(st, unreachable)
		} else if !due.After(now) {
			if err := a.obtain(ctx, c); err != nil {
				a.failed(c, st, err)
				if errors.Is(err, keyapi.ErrUnreachable) {
					unreachable = st
				}
			} else {
				a.succeeded(c, st)
			}
			a.inspect(c, st, a.opts.Now())
			due = a.dueAt(c, st)
		}
		if due.Before(next) {
			next = due
		}
	}
	if a.readKind() != kind {
		next = now // the kind just became known: its credentials are due
	}
	if a.currentIdentity() == nil && !next.Before(now.Add(tokenPoll)) {
		next = now.Add(tokenPoll) // waiting for an admission token to appear
	}
	a.updateReady()
	d := next.Sub(a.opts.Now())
	return max(d, 10*time.Millisecond)
}

// wanted is the credentials to manage: the node's kind's, once local.conf
// says what the kind is; before that, just what is needed to learn it.
func (a *Agent) wanted() []credential.Credential {
	if kind := a.readKind(); kind != "" {
		return credential.For(kind)
	}
	return bootstrapCredentials()
}

func bootstrapCredentials() []credential.Credential {
	var out []credential.Credential
	for _, c := range credential.Catalogue {
		if c.Name == credential.Granting.Name || c.API == keyapi.GetLocalConfig {
			out = append(out, c)
		}
	}
	return out
}

// localConf is the node's local.conf, or the zero Local before the
// keyclient fetched a valid one. Why a present file is unusable is logged
// once per distinct problem: this runs on every pass.
func (a *Agent) localConf() nodeconf.Local {
	l, err := nodeconf.LoadLocal(a.opts.Node.LocalConf())
	problem := ""
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		problem = err.Error()
	}
	a.mu.Lock()
	if problem != "" && problem != a.localErr {
		a.opts.Logf("keyclient: %s", problem)
	}
	a.localErr = problem
	a.mu.Unlock()
	if err != nil {
		return nodeconf.Local{}
	}
	return l
}

func (a *Agent) readKind() config.Kind {
	k := a.localConf().Kind
	a.mu.Lock()
	a.kind = k
	a.mu.Unlock()
	return k
}

func (a *Agent) state(name string) *credState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.states[name]
	if st == nil {
		st = &credState{}
		a.states[name] = st
	}
	return st
}

// clockSetBack repairs times the agent recorded by a clock that has since
// been set back (say, by NTP after running ahead): they lie further ahead
// than the agent ever schedules, and would postpone retries and refreshes
// by as much as the clock was wrong.
func (a *Agent) clockSetBack(st *credState, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.nextAttempt.After(now.Add(a.opts.RetryMax)) {
		st.nextAttempt = now
	}
	if st.fetchedAt.After(now) {
		st.fetchedAt = now
	}
}

// dueAt is when the credential next needs an attempt.
func (a *Agent) dueAt(c credential.Credential, st *credState) time.Time {
	var due time.Time
	switch {
	case !st.present:
		due = time.Time{}
	case c.Expires():
		due = st.renewAt
	default:
		due = st.fetchedAt.Add(a.opts.Refresh)
	}
	if st.nextAttempt.After(due) {
		due = st.nextAttempt
	}
	return due
}

func (a *Agent) failed(c credential.Credential, st *credState, err error) {
	err = a.explainClock(err)
	blocked := errors.Is(err, errBlocked)
	a.mu.Lock()
	st.lastErr = err
	backoff := a.opts.RetryMin
	if !blocked {
		// Blocked attempts ask nobody, so they need no backoff: a token
		// that appears is used at once.
		st.failures++
		backoff = a.opts.RetryMin << min(st.failures-1, 20)
		limit := a.opts.RetryMax
		if busy(err) {
			limit = min(limit, busyRetryMax)
		}
		if backoff > limit || backoff <= 0 {
			backoff = limit
		}
		// Jitter spreads the retries of many nodes after a keyserver outage.
		backoff = backoff/2 + time.Duration(a.opts.Rand.Int64N(int64(backoff/2+1)))
	}
	st.nextAttempt = a.opts.Now().Add(backoff)
	a.mu.Unlock()
	a.metrics.attempt(c.Name, err, a.opts.Now())
	if !blocked {
		a.opts.Logf("keyclient: %s: %v (retrying in %s)", c.Name, err, backoff.Round(time.Millisecond))
	}
}

// postpone sets a credential's next attempt to that of the one that could
// not reach the keyserver, without counting a failure, and returns it.
func (a *Agent) postpone(st, like *credState) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	st.nextAttempt = like.nextAttempt
	return st.nextAttempt
}

// busyRetryMax bounds the backoff while the keyserver is up but busy. A
// connection it sheds costs it an accept and a close, so waiting minutes
// (RetryMax) gains it nothing; and in a boot storm, nodes backed off that
// long leave it idle while they wait.
const busyRetryMax = 15 * time.Second

// busy reports whether err is a keyserver that accepted the connection but
// closed it before answering: what its admission control does when it has
// more connections than it can serve in time. A keyserver that is down
// refuses the connection instead.
func busy(err error) bool {
	return errors.Is(err, keyapi.ErrUnreachable) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

func (a *Agent) succeeded(c credential.Credential, st *credState) {
	a.mu.Lock()
	st.failures, st.lastErr, st.nextAttempt = 0, nil, time.Time{}
	st.fetchedAt = a.opts.Now()
	a.mu.Unlock()
	a.metrics.attempt(c.Name, nil, a.opts.Now())
	a.opts.Logf("keyclient: %s: obtained", c.Name)
}

// updateReady recomputes readiness: the kind is known and every credential
// of it is present and unexpired.
func (a *Agent) updateReady() {
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	ready := a.kind != ""
	if ready {
		for _, c := range credential.For(a.kind) {
			st := a.states[c.Name]
			if st == nil || !st.present || (!st.expires.IsZero() && !now.Before(st.expires)) {
				ready = false
				break
			}
		}
	}
	if ready && !a.ready {
		select {
		case <-a.readyCh:
		default:
			close(a.readyCh)
			a.opts.Logf("keyclient: ready: all %d credentials of a %s are present and valid", len(credential.For(a.kind)), a.kind)
		}
	}
	a.ready = ready
}

// IsReady reports whether every credential is currently present and valid.
func (a *Agent) IsReady() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ready
}

package keyserver

// Admission control. Nearly all of a connection's cost to the keyserver is
// processor time (the TLS handshake, a signature). When thousands of nodes
// connect at once (a rack powered on), handshakes that all run at once each
// get a sliver of the processors, all outlast the clients' 10 s handshake
// timeout, and the server goes on working for clients that have given up.
// So only a few connections are worked on at once; the rest wait in a
// bounded queue in order of arrival, and one that has waited longer than
// its client usefully could (MaxWait) or finds the queue full is closed
// before its handshake: it costs an accept and a close, and its client
// fails at once and backs off instead of timing out 10 s later.

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// Admission bounds the connections the keyserver works on at once. It is
// off unless MaxActive is positive: measured with 4,872 in-process nodes
// starting at once (internal/scale BenchmarkBootStorm), the keyserver
// without it got every node credentialed with no retry in 35 s, and in 64 s
// with two busy loops on the same 2 cores, while with it (128 at once,
// 2.5 s wait) it took 60-65 s and shed about 19,000 connections, and
// longer than 3 minutes under the busy loops. There the clients share the
// keyserver's processors, so a shed client's retries slow the server; on
// real nodes they cost it an accept and a close. It is for a keyserver
// that has been seen to fall behind its clients' timeouts.
type Admission struct {
	// MaxActive is how many connections are worked on at once: from being
	// accepted (the handshake included) until idle between requests or
	// closed. Most of a request's time is spent waiting for the audit
	// log's and token store's fsyncs, which concurrent requests share, so
	// it should be well above the processors' count: 8 × GOMAXPROCS
	// starved them (a storm took twice as long as with 64 ×). Zero or
	// negative: no bound and no queue (the default).
	MaxActive int
	// MaxQueued is how many accepted connections may wait for a slot;
	// more are closed at once. Default 512 × GOMAXPROCS.
	MaxQueued int
	// MaxWait is how long a connection may wait for a slot before it is
	// closed unanswered. Default 2.5 s: well below the clients' 10 s
	// handshake timeout, so a connection that gets a slot still has time
	// for its handshake and request.
	MaxWait time.Duration
}

func (a *Admission) defaults() {
	if a.MaxActive <= 0 {
		return
	}
	if a.MaxQueued <= 0 {
		a.MaxQueued = 512 * runtime.GOMAXPROCS(0)
	}
	if a.MaxWait <= 0 {
		a.MaxWait = 2500 * time.Millisecond
	}
}

// Why a connection was shed: the metric's reason label.
const (
	shedFull   = "queue-full"
	shedWaited = "waited"
)

// shedLogEvery rate-limits the log line about shed connections.
const shedLogEvery = 10 * time.Second

// admission is a listener that hands http.Server at most MaxActive
// connections at a time, oldest first. Its connState must be the server's
// ConnState hook, so that idle keep-alive connections free their slots.
type admission struct {
	inner   net.Listener
	opts    Admission
	metrics *metrics
	logf    func(format string, args ...any)
	done    chan struct{} // closed by Close

	mu       sync.Mutex
	wake     *sync.Cond // a connection queued, a slot freed, or closed
	queue    []queued   // oldest first
	active   int        // slots taken
	closed   bool
	err      error          // the inner listener's, once it fails for good
	unlogged map[string]int // shed since the last log line, by reason
	logged   time.Time
}

type queued struct {
	conn    net.Conn
	arrived time.Time
}

func newAdmission(inner net.Listener, opts Admission, m *metrics, logf func(string, ...any)) *admission {
	a := &admission{inner: inner, opts: opts, metrics: m, logf: logf, done: make(chan struct{}), unlogged: map[string]int{}}
	a.wake = sync.NewCond(&a.mu)
	go a.acceptLoop()
	go a.reap()
	return a
}

// acceptLoop accepts connections as fast as they come and queues them, so
// that the backlog never overflows and no client waits unseen.
func (a *admission) acceptLoop() {
	var delay time.Duration
	for {
		c, err := a.inner.Accept()
		if err != nil {
			select {
			case <-a.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				a.mu.Lock()
				a.err = err
				a.wake.Broadcast()
				a.mu.Unlock()
				return
			}
			// Out of file descriptors, or a connection reset before it was
			// accepted: pass, as http.Server does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			a.logf("keyserver: accepting connections: %v; retrying in %v", err, delay)
			select {
			case <-a.done:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		a.mu.Lock()
		switch {
		case a.closed:
			c.Close()
		case len(a.queue) >= a.opts.MaxQueued:
			a.shed([]net.Conn{c}, shedFull)
		default:
			a.queue = append(a.queue, queued{c, time.Now()})
			a.metrics.queued.Set(float64(len(a.queue)))
			a.wake.Signal()
		}
		a.mu.Unlock()
	}
}

// reap sheds connections that have waited MaxWait, when they reach it.
// The queue is in order of arrival, so only its head needs a timer: after
// a look at an empty queue, anything queued later expires no sooner than
// MaxWait from then.
func (a *admission) reap() {
	t := time.NewTimer(a.opts.MaxWait)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
		}
		a.mu.Lock()
		a.shedExpired(time.Now())
		next := a.opts.MaxWait
		if len(a.queue) > 0 {
			next = time.Until(a.queue[0].arrived.Add(a.opts.MaxWait))
		}
		a.flushLog(false)
		a.mu.Unlock()
		t.Reset(max(next, time.Millisecond))
	}
}

// shedExpired drops the queue's head while it has waited MaxWait. Called
// with mu held.
func (a *admission) shedExpired(now time.Time) {
	n := 0
	for n < len(a.queue) && now.Sub(a.queue[n].arrived) >= a.opts.MaxWait {
		n++
	}
	if n == 0 {
		return
	}
	conns := make([]net.Conn, n)
	for i := range n {
		conns[i] = a.queue[i].conn
	}
	clear(a.queue[:n])
	a.queue = a.queue[n:]
	a.metrics.queued.Set(float64(len(a.queue)))
	a.shed(conns, shedWaited)
}

// shed closes conns unanswered: no handshake, so their clients fail at
// once. Called with mu held; closing a socket does not block.
func (a *admission) shed(conns []net.Conn, reason string) {
	for _, c := range conns {
		c.Close()
	}
	a.metrics.shed.WithLabelValues(reason).Add(float64(len(conns)))
	a.unlogged[reason] += len(conns)
	a.flushLog(false)
}

// flushLog logs the connections shed since the last line, at most once per
// shedLogEvery unless final. Called with mu held.
func (a *admission) flushLog(final bool) {
	full, waited := a.unlogged[shedFull], a.unlogged[shedWaited]
	if full+waited == 0 || (!final && time.Since(a.logged) < shedLogEvery) {
		return
	}
	a.logf("keyserver: overloaded: closed %d connections before their handshake (%d found %d already waiting, %d waited %v), working on %d at once",
		full+waited, full, a.opts.MaxQueued, waited, a.opts.MaxWait, a.opts.MaxActive)
	clear(a.unlogged)
	a.logged = time.Now()
}

// Accept returns the oldest queued connection once a slot is free; it
// holds the slot until it is idle or closed.
func (a *admission) Accept() (net.Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.closed {
			return nil, net.ErrClosed
		}
		a.shedExpired(time.Now()) // the reaper may not have run yet
		if len(a.queue) > 0 && a.active < a.opts.MaxActive {
			c := a.queue[0].conn
			a.queue[0] = queued{}
			a.queue = a.queue[1:]
			a.metrics.queued.Set(float64(len(a.queue)))
			a.take()
			return &admitted{Conn: c, a: a, holds: true}, nil
		}
		if len(a.queue) == 0 && a.err != nil {
			return nil, a.err
		}
		a.wake.Wait()
	}
}

// take and give count a slot taken and freed. Called with mu held.
func (a *admission) take() {
	a.active++
	a.metrics.active.Set(float64(a.active))
}

func (a *admission) give() {
	a.active--
	a.metrics.active.Set(float64(a.active))
	a.wake.Signal()
}

// Close stops accepting, closes every queued connection and unblocks
// Accept; connections handed out are the server's to close.
func (a *admission) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.done)
	for _, q := range a.queue {
		q.conn.Close()
	}
	a.queue = nil
	a.metrics.queued.Set(0)
	a.flushLog(true)
	a.wake.Broadcast()
	a.mu.Unlock()
	return a.inner.Close()
}

func (a *admission) Addr() net.Addr { return a.inner.Addr() }

// connState is the server's ConnState hook: a connection frees its slot
// while idle between requests (an idle keep-alive connection must not
// keep others waiting) and when closed or hijacked, and takes one back
// when a request arrives on it. That one is taken even beyond MaxActive:
// the request is already being read, and making it wait would stall a
// request mid-way; new connections wait the longer instead.
func (a *admission) connState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	ac, ok := c.(*admitted)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		ac.hold(true, false)
	case http.StateIdle:
		ac.hold(false, false)
	case http.StateHijacked, http.StateClosed:
		ac.hold(false, true)
	}
}

// admitted is a connection Accept handed out.
type admitted struct {
	net.Conn
	a *admission

	mu     sync.Mutex
	holds  bool // a slot
	closed bool // or hijacked: it never takes a slot again
}

// hold takes or frees the connection's slot, once either way.
func (c *admitted) hold(want, closing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if closing {
		c.closed = true
	}
	if c.closed {
		want = false
	}
	if want == c.holds {
		return
	}
	c.holds = want
	c.a.mu.Lock()
	if want {
		c.a.take()
	} else {
		c.a.give()
	}
	c.a.mu.Unlock()
}

func (c *admitted) Close() error {
	c.hold(false, true)
	return c.Conn.Close()
}

// Package daemon is what Homeworld's small daemons share: one main (stop
// on SIGTERM or interrupt, on failure "NAME: error" on stderr and exit code
// 1) and serving HTTP until stopped with a graceful shutdown. The daemons'
// cmd/ mains and command lines import it.
package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// GoGC is the GOGC of Homeworld's own daemons. Go's default, 100, lets
// the heap grow to twice what is live before collecting, and never below
// 4 MiB; the daemons are idle with a few MiB live, so half that headroom
// saved 55 MiB across them on a virtual cluster, for collections that
// still come seconds apart when idle (25 saved nothing more: their heaps
// are at the runtime's floor). The Kubernetes services run at
// services.GoGC.
const GoGC = 50

// Main runs c until it returns or a stop signal cancels its context, and
// exits 1 with "NAME: error" if it failed. Unless GOGC says otherwise, the
// collector runs at GoGC.
func Main(c *cobra.Command) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GoGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name(), err)
		os.Exit(1)
	}
}

// ShutdownGrace is how long requests in flight (a scrape) get to finish
// once a daemon is asked to stop.
const ShutdownGrace = 5 * time.Second

// Serve answers HTTP on addr with h until ctx ends, then shuts down
// gracefully and returns nil.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, l, h)
}

// ServeTLS answers HTTPS on addr with h until ctx ends, as Serve; ready
// is called once the address is bound (to log it and tell systemd).
func ServeTLS(ctx context.Context, addr string, cfg *tls.Config, h http.Handler, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	ready(l.Addr())
	return ServeListener(ctx, tls.NewListener(l, cfg), h)
}

// ServeListener is Serve on a listener already open.
func ServeListener(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close() // a request that outlasts the grace is cut off
	}
	return nil
}

// Every runs f now and then every interval until ctx ends. A run that
// overruns the interval is followed by the next one minGap after it ended,
// so a slow cycle (timeouts) never makes the next start back to back.
func Every(ctx context.Context, interval, minGap time.Duration, f func(context.Context)) {
	loop(ctx, interval, minGap, minGap, 0, nil, func(ctx context.Context) bool { f(ctx); return true })
}

// EveryOrWoken is Every for a worker told when work arrives: a receive on
// wake starts the next run early, minGap after the last one ended, so new
// work waits a second rather than an interval; the interval still bounds
// the wait when a wake-up is missed.
func EveryOrWoken(ctx context.Context, interval, minGap time.Duration, wake <-chan struct{}, f func(context.Context)) {
	loop(ctx, interval, minGap, minGap, 0, wake, func(ctx context.Context) bool { f(ctx); return true })
}

// EveryUntilSettled is Every for a monitor whose peers start when it does:
// f reports whether its result was complete (every peer found and
// answering), and while it was not, for the first window after the start,
// the next run follows retry after instead of an interval. A new
// cluster's monitors so report their first complete result within a
// second or two of the last peer coming up, not up to an interval later;
// after the window a lasting fault is measured at the interval like
// anything else. minGap still follows a run that overran the interval.
func EveryUntilSettled(ctx context.Context, interval, minGap, retry, window time.Duration, f func(context.Context) bool) {
	loop(ctx, interval, minGap, retry, window, nil, f)
}

// ReturnMemoryIdle is the shortest wait for the next run before which a
// periodic daemon gives back to the system what its run allocated.
const ReturnMemoryIdle = time.Second

// returnMemory collects and returns every free page to the system at
// once. Left to the runtime's background scavenger, a daemon that wakes
// every few seconds keeps what its last run allocated (pull-monitor, 1-2
// MiB live: 6.8 MiB anonymous memory, 5.3 with this); a soft memory limit
// low enough to do the same (GOMEMLIMIT=8MiB) made its collector run all
// the time, at ten times the CPU. This costs a collection of a few MiB per
// run: pull-monitor used 0.08-0.11 % of a core instead of 0.06.
var returnMemory = debug.FreeOSMemory

func loop(ctx context.Context, interval, minGap, retry, window time.Duration, wake <-chan struct{}, f func(context.Context) bool) {
	began := time.Now()
	for {
		start := time.Now()
		settled := f(ctx)
		end := time.Now()
		wait := interval - end.Sub(start)
		if wait < minGap {
			wait = minGap
		}
		if !settled && end.Sub(began) < window {
			wait = retry
		}
		if wait >= ReturnMemoryIdle {
			returnMemory()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-wake:
			timer.Stop()
			if gap := minGap - time.Since(end); gap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap):
				}
			}
		}
	}
}

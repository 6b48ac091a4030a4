// Package seq runs sequences: ordered steps, each retried until it passes
// or its deadline ends, with live progress on a terminal and plain lines
// elsewhere, and the time each step took. spire seq uses it to bring a
// cluster up to proven-working.
package seq

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Step is one named, retryable action.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
	// Retry, when set, replaces Options.Retry for this step: a step that
	// only reads (a Prometheus query) can look again sooner than one that
	// changes something or logs in over SSH.
	Retry time.Duration
}

// Options tune a run.
type Options struct {
	Out      io.Writer
	Terminal bool          // rewrite one status line instead of printing each retry
	Width    int           // of the terminal; the status line is cut to fit
	Deadline time.Duration // per step
	Retry    time.Duration // between attempts
}

// DryRun prints the steps without running them.
func DryRun(w io.Writer, steps []Step) {
	for i, s := range steps {
		fmt.Fprintf(w, "[%d/%d] %s\n", i+1, len(steps), s.Name)
	}
}

// Run runs steps in order and stops at the first that does not pass in time.
func Run(ctx context.Context, steps []Step, o Options) error {
	if o.Retry == 0 {
		o.Retry = time.Second
	}
	total := time.Now()
	for i, s := range steps {
		label := fmt.Sprintf("[%d/%d] %s", i+1, len(steps), s.Name)
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, o.Deadline)
		retry := o.Retry
		if s.Retry > 0 {
			retry = s.Retry
		}
		var err, lastErr error
		for attempt := 1; ; attempt++ {
			err = s.Run(sctx)
			if err != nil && sctx.Err() != nil && lastErr != nil {
				err = lastErr // the deadline cut the last attempt short; report the one before
			}
			if err == nil || sctx.Err() != nil {
				break
			}
			lastErr = err
			if o.Terminal {
				line := fmt.Sprintf("%s ... %s (attempt %d: %s)", label, time.Since(start).Round(time.Second), attempt, strings.ReplaceAll(err.Error(), "\n", " "))
				fmt.Fprintf(o.Out, "\r\033[K%s", fit(line, o.Width))
			} else if attempt == 1 {
				fmt.Fprintf(o.Out, "%s ... waiting: %s\n", label, err)
			}
			select {
			case <-sctx.Done():
			case <-time.After(retry):
			}
		}
		cancel()
		if o.Terminal {
			fmt.Fprint(o.Out, "\r\033[K")
		}
		took := time.Since(start).Round(10 * time.Millisecond)
		if err != nil {
			fmt.Fprintf(o.Out, "%s FAILED after %s: %v\n", label, took, err)
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		fmt.Fprintf(o.Out, "%s ok (%s)\n", label, took)
	}
	fmt.Fprintf(o.Out, "all %d steps passed in %s\n", len(steps), time.Since(total).Round(10*time.Millisecond))
	return nil
}

// fit cuts a status line to the terminal's width, so rewriting it in place
// never leaves wrapped remains behind.
func fit(s string, width int) string {
	if width <= 0 {
		width = 80
	}
	if r := []rune(s); len(r) >= width {
		return string(r[:width-4]) + "..."
	}
	return s
}

// Package supervise is a small service manager: it starts services in
// dependency order, waits for each to be ready before starting what depends
// on it, restarts a service that exits (with backoff), stops everything in
// reverse order (SIGTERM, then SIGKILL after a timeout), and reports each
// service's state with the metric names systemd hosts export through the
// node exporter, so checks read both alike. The virtual cluster's nodes use
// it in place of systemd.
package supervise

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"
)

// States, named as systemd names unit active states.
const (
	Inactive     = "inactive"
	Activating   = "activating"
	Active       = "active"
	Deactivating = "deactivating"
	Failed       = "failed"
)

var allStates = []string{Active, Activating, Deactivating, Inactive, Failed}

// Spec is one service to supervise.
type Spec struct {
	Name string
	// Unit is the systemd unit name the metrics report (the name a real
	// host's node exporter would show); default Name + ".service".
	Unit string
	// Type is the unit's systemd type the metrics report; default "simple".
	Type string
	Argv []string
	Env  []string // added to the supervisor's environment
	Deps []string // services that must be active first
	// Ready reports whether the started service is ready; nil means ready
	// as soon as it runs.
	Ready func(ctx context.Context) error
	// RestartSec is the first restart delay; it doubles on quick repeated
	// failures, up to MaxRestartDelay.
	RestartSec time.Duration
	// Log receives the service's output; nil discards it.
	Log *os.File
}

// Options tune the supervisor.
type Options struct {
	StopTimeout     time.Duration // SIGTERM to SIGKILL; default 10 s
	MaxRestartDelay time.Duration // default 1 min
	Logf            func(format string, args ...any)
}

// Supervisor manages a fixed set of services.
type Supervisor struct {
	opts    Options
	units   []*unit // in start order
	byName  map[string]*unit
	metrics *metrics
}

// New checks that every dependency names an earlier service.
func New(specs []Spec, opts Options) (*Supervisor, error) {
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.MaxRestartDelay == 0 {
		opts.MaxRestartDelay = time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	s := &Supervisor{opts: opts, byName: map[string]*unit{}}
	for _, spec := range specs {
		if len(spec.Argv) == 0 {
			return nil, fmt.Errorf("service %s has no command", spec.Name)
		}
		if spec.Unit == "" {
			spec.Unit = spec.Name + ".service"
		}
		if spec.Type == "" {
			spec.Type = "simple"
		}
		for _, d := range spec.Deps {
			if s.byName[d] == nil {
				return nil, fmt.Errorf("service %s depends on %s, which is not listed before it", spec.Name, d)
			}
		}
		u := &unit{spec: spec, sup: s, state: Inactive, changed: make(chan struct{}), halt: make(chan struct{})}
		s.units = append(s.units, u)
		s.byName[spec.Name] = u
	}
	s.metrics = newMetrics(s)
	return s, nil
}

// Run starts every service and keeps them running until ctx ends, then
// stops them in reverse order and returns.
func (s *Supervisor) Run(ctx context.Context) error {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	rs := make([]running, len(s.units))
	for i, u := range s.units {
		uctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		rs[i] = running{cancel, done}
		go func() {
			defer close(done)
			u.run(uctx)
		}()
	}
	<-ctx.Done()
	for i := len(s.units) - 1; i >= 0; i-- {
		rs[i].cancel()
		<-rs[i].done
	}
	return nil
}

// Status is one service's state.
type Status struct {
	Name     string `json:"name"`
	Unit     string `json:"unit"`
	Type     string `json:"type"`
	State    string `json:"state"`
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	Since    string `json:"since"`
	// Started and Ready time the current run: when its process started and
	// when it became active (RFC 3339 with nanoseconds; empty before).
	Started string `json:"started,omitempty"`
	Ready   string `json:"ready,omitempty"`
}

// Status reports every service, in start order.
func (s *Supervisor) Status() []Status {
	out := make([]Status, len(s.units))
	for i, u := range s.units {
		u.mu.Lock()
		out[i] = Status{Name: u.spec.Name, Unit: u.spec.Unit, Type: u.spec.Type, State: u.state, PID: u.pid, Restarts: u.restarts, Since: u.since.UTC().Format(time.RFC3339),
			Started: stamp(u.started), Ready: stamp(u.ready)}
		u.mu.Unlock()
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WaitState blocks until the named service is in state, or ctx ends.
func (s *Supervisor) WaitState(ctx context.Context, name, state string) error {
	u := s.byName[name]
	if u == nil {
		return fmt.Errorf("no service %s", name)
	}
	for {
		u.mu.Lock()
		cur, ch := u.state, u.changed
		u.mu.Unlock()
		if cur == state {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s is %s, not %s: %w", name, cur, state, ctx.Err())
		}
	}
}

// Stop stops a service the way the supervisor stops it at the end
// (SIGTERM, then SIGKILL after the stop timeout) and keeps it stopped (no
// restart) until Start. It returns at once; the state shows the progress.
func (s *Supervisor) Stop(name string) error {
	u := s.byName[name]
	if u == nil {
		return fmt.Errorf("no service %s", name)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.held {
		u.held, u.resume = true, make(chan struct{})
		close(u.halt)
	}
	return nil
}

// Start lets a stopped service run again.
func (s *Supervisor) Start(name string) error {
	u := s.byName[name]
	if u == nil {
		return fmt.Errorf("no service %s", name)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.held {
		u.held = false
		close(u.resume)
		u.halt = make(chan struct{})
	}
	return nil
}

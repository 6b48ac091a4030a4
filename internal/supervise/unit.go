package supervise

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// unit is the running state of one service.
type unit struct {
	spec Spec
	sup  *Supervisor

	mu       sync.Mutex
	state    string
	since    time.Time
	started  time.Time // the current run's start
	ready    time.Time // when the current run became active; zero before
	pid      int
	restarts int
	changed  chan struct{} // closed and replaced on every state change
	held     bool          // stopped by request: not restarted until started
	resume   chan struct{} // closed by Start while held
	halt     chan struct{} // closed by Stop: end the running process
}

func (u *unit) setState(state string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state == state {
		return
	}
	u.state, u.since = state, time.Now()
	switch state {
	case Activating:
		u.started, u.ready = u.since, time.Time{}
	case Active:
		u.ready = u.since
	}
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *unit) current() (string, chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state, u.changed
}

// run is the service's life: wait for dependencies, start, watch, restart,
// until ctx ends.
func (u *unit) run(ctx context.Context) {
	delay := u.spec.RestartSec
	for {
		// A service stopped by request waits here, whatever it was doing
		// when the request came (running, backing off, waiting on deps).
		if resume := u.heldChan(); resume != nil {
			u.setState(Inactive)
			select {
			case <-resume:
				delay = u.spec.RestartSec
			case <-ctx.Done():
				return
			}
		}
		if !u.waitDeps(ctx) {
			return
		}
		if u.heldChan() != nil {
			continue
		}
		started := time.Now()
		exited := u.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if u.heldChan() != nil {
			continue // stopped by request: not a failure
		}
		u.setState(Failed)
		u.mu.Lock()
		u.restarts++
		u.mu.Unlock()
		u.sup.metrics.restarts.WithLabelValues(u.spec.Unit).Inc()
		if time.Since(started) > u.sup.opts.MaxRestartDelay {
			delay = u.spec.RestartSec // it ran a good while: start the backoff over
		}
		u.sup.opts.Logf("supervise: %s exited (%v); restarting in %v", u.spec.Name, exited, delay)
		select {
		case <-ctx.Done():
			u.setState(Inactive)
			return
		case <-time.After(delay):
		}
		delay = min(max(2*delay, time.Second/10), u.sup.opts.MaxRestartDelay)
	}
}

// waitDeps blocks until every dependency is active.
func (u *unit) waitDeps(ctx context.Context) bool {
	for _, d := range u.spec.Deps {
		dep := u.sup.byName[d]
		for {
			state, ch := dep.current()
			if state == Active {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				u.setState(Inactive)
				return false
			}
		}
	}
	return true
}

// runOnce starts the process and returns when it exits (its error) or, once
// ctx ends or Stop halts the unit, after stopping it.
func (u *unit) runOnce(ctx context.Context) error {
	u.mu.Lock()
	halt := u.halt
	u.mu.Unlock()
	select {
	case <-halt:
		return nil // stopped before it started
	default:
	}
	u.setState(Activating)
	cmd := exec.Command(u.spec.Argv[0], u.spec.Argv[1:]...)
	cmd.Env = append(os.Environ(), u.spec.Env...)
	if u.spec.Log != nil {
		cmd.Stdout, cmd.Stderr = u.spec.Log, u.spec.Log
	}
	// Its own process group, so stopping reaches its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	u.mu.Lock()
	u.pid = cmd.Process.Pid
	u.mu.Unlock()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	readyCtx, cancelReady := context.WithCancel(ctx)
	defer cancelReady()
	go u.watchReady(readyCtx)

	select {
	case <-exited:
		u.clearPID()
		if waitErr == nil {
			waitErr = errors.New("exited with status 0")
		}
		return waitErr
	case <-ctx.Done():
	case <-halt:
	}
	cancelReady()
	u.stop(cmd.Process.Pid, exited)
	return nil
}

// heldChan returns the channel Start closes if the unit is held, else nil.
func (u *unit) heldChan() chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.held {
		return nil
	}
	return u.resume
}

func (u *unit) clearPID() {
	u.mu.Lock()
	u.pid = 0
	u.mu.Unlock()
}

// watchReady polls the readiness check until it passes, then marks the
// service active.
func (u *unit) watchReady(ctx context.Context) {
	for {
		if u.spec.Ready == nil {
			u.setState(Active)
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := u.spec.Ready(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if state, _ := u.current(); state == Activating {
				u.setState(Active)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after the stop
// timeout.
func (u *unit) stop(pid int, exited <-chan struct{}) {
	u.setState(Deactivating)
	if Stop(Process{PID: pid, Group: true, Exited: exited}, u.sup.opts.StopTimeout) {
		u.sup.opts.Logf("supervise: %s did not stop within %v; killed it", u.spec.Name, u.sup.opts.StopTimeout)
	}
	u.clearPID()
	u.setState(Inactive)
}

package supervise

import (
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/procstat"
)

// Process is a process for Stop to end.
type Process struct {
	PID int
	// Group signals the process group PID leads rather than PID alone, and
	// once PID is gone kills what is left of the group, so a service's
	// children do not outlive it.
	Group bool
	// Exited, if set, is closed once the process has been reaped (its
	// Wait returned). Stop then waits on it; without it Stop polls /proc,
	// which is how a process that is not our child is watched.
	Exited <-chan struct{}
}

// Stop asks p to end with SIGTERM and, if it is still there after grace,
// kills it with SIGKILL. It returns once the process is gone and reports
// whether it had to be killed.
func Stop(p Process, grace time.Duration) (killed bool) {
	target := p.PID
	if p.Group {
		target = -p.PID
	}
	syscall.Kill(target, syscall.SIGTERM)
	if !p.waitGone(time.After(grace)) {
		killed = true
		syscall.Kill(target, syscall.SIGKILL)
		p.waitGone(nil) // SIGKILL cannot be refused: wait as long as it takes
	}
	if p.Group {
		syscall.Kill(target, syscall.SIGKILL)
	}
	return killed
}

// waitGone waits until the process is gone (true) or timeout fires (false);
// a nil timeout never fires.
func (p Process) waitGone(timeout <-chan time.Time) bool {
	if p.Exited != nil {
		select {
		case <-p.Exited:
			return true
		case <-timeout:
			return false
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for Alive(p.PID) {
		select {
		case <-tick.C:
		case <-timeout:
			return !Alive(p.PID)
		}
	}
	return true
}

// Alive reports whether pid runs. A zombie does not count: it has ended and
// waits only for its parent to collect its status.
func Alive(pid int) bool {
	f, err := procstat.Fields(pid)
	return err == nil && len(f) > 0 && f[0] != "Z"
}

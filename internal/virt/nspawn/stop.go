package nspawn

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// StopTimeout bounds how long Stop waits for the host to power off
// cleanly before it kills what is left.
const StopTimeout = 30 * time.Second

// killTimeout bounds the wait for killed processes to be gone.
const killTimeout = 10 * time.Second

// Stop powers the host off cleanly (systemd stops its units), kills
// whatever is left after StopTimeout or when ctx ends, and removes the
// host's cgroups and recorded state. Its root filesystem stays for the
// next Boot. Mounts need no removing: they were all in the host's own
// mount namespaces, gone with its processes. Stopping a stopped host does
// nothing.
func Stop(ctx context.Context, h Host) error {
	unlock, err := lockHost(ctx, h)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(h)
	if err != nil || st == nil {
		return err
	}
	return stop(ctx, h, st)
}

// stop stops the host of st; the caller holds the host's lock.
func stop(ctx context.Context, h Host, st *state) error {
	if st.alive() {
		// systemd-nspawn asks the host's systemd to power off on SIGTERM.
		syscall.Kill(st.PID, syscall.SIGTERM)
		cctx, cancel := context.WithTimeout(ctx, StopTimeout)
		waitGone(cctx, st)
		cancel()
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	for {
		left := cgroupPIDs(st.Cgroups)
		if st.alive() {
			left = append(left, st.PID)
		}
		if len(left) == 0 {
			break
		}
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-kctx.Done():
			return fmt.Errorf("stopping %s: processes %v are still there after SIGKILL", h.Name, left)
		case <-time.After(bootPoll):
		}
	}
	if err := removeCgroups(st.Cgroups); err != nil {
		return fmt.Errorf("stopping %s: %w", h.Name, err)
	}
	if err := os.Remove(h.statePath()); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// waitGone waits until the host has no process left, or ctx ends.
func waitGone(ctx context.Context, st *state) {
	for st.alive() || len(cgroupPIDs(st.Cgroups)) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(bootPoll):
		}
	}
}

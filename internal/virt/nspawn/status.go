package nspawn

import "homeworld.dev/homeworld/internal/procstat"

// State is what Status finds of a host.
type State struct {
	Running bool
	PID     int // systemd-nspawn's, while running
	Leader  int // the host's PID 1, while running
	// Processes and RSS count every process of the host: systemd-nspawn,
	// the host's systemd and everything under it, the containers it runs
	// included. RSS is the sum of their resident memory, in bytes (pages
	// shared between them counted in each).
	Processes int
	RSS       int64
}

// Status reports whether host h is running and what memory it holds.
func Status(h Host) (State, error) {
	st, err := readState(h)
	if err != nil || st == nil || !st.alive() {
		return State{}, err
	}
	s := State{Running: true, PID: st.PID, Leader: st.Leader}
	for _, pid := range cgroupPIDs(st.Cgroups) {
		s.Processes++
		s.RSS += rss(pid)
	}
	return s, nil
}

// rss is a process's resident memory in bytes, 0 if it is gone (or a
// kernel thread).
func rss(pid int) int64 {
	b, _ := procstat.Resident(pid)
	return b
}

package nspawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"homeworld.dev/homeworld/internal/procstat"
)

// state is what Boot records in the host's folder so that Stop and Status,
// in another process, find the host's processes.
type state struct {
	PID int `json:"pid"` // systemd-nspawn
	// Start is systemd-nspawn's start time (clock ticks after the
	// machine's boot): with it a process that reused the PID is not taken
	// for the host.
	Start  uint64 `json:"start"`
	Leader int    `json:"leader,omitempty"` // the host's PID 1
	// Cgroups are the host's cgroup in every hierarchy: every process of
	// the host, nested containers included, is in one of their subtrees.
	Cgroups []string `json:"cgroups"`
}

// readState returns the host's recorded state, or nil if it has none.
func readState(h Host) (*state, error) {
	data, err := os.ReadFile(h.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", h.statePath(), err)
	}
	return &st, nil
}

// save replaces the recorded state as a whole, so that a reader never sees
// half of it.
func (st *state) save(h Host) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := h.statePath() + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, h.statePath())
}

// alive reports whether systemd-nspawn is still the recorded process and
// has not exited (a zombie has exited).
func (st *state) alive() bool {
	s, err := readStat(st.PID)
	return err == nil && s.start == st.Start && s.state != 'Z' && s.state != 'X'
}

// stat is what the host's code needs from /proc/PID/stat.
type stat struct {
	state byte
	ppid  int
	start uint64
}

func readStat(pid int) (stat, error) {
	f, err := procstat.Fields(pid)
	if err != nil {
		return stat{}, err
	}
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (start).
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return stat{}, err
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return stat{}, err
	}
	return stat{state: f[0][0], ppid: ppid, start: start}, nil
}

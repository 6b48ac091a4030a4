package virt

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// State records what up created, written after every step, so down (or a
// failed up) removes exactly that even if spire died midway.
type State struct {
	path        string
	Bridge      string         `json:"bridge,omitempty"`
	Netns       []string       `json:"netns,omitempty"`
	Veths       []string       `json:"veths,omitempty"`
	MountPoints []string       `json:"mount_points,omitempty"` // host folders up created
	Nodes       map[string]int `json:"nodes,omitempty"`        // hostname -> node supervisor PID
	UpstreamDNS int            `json:"upstream_dns,omitempty"` // the host's resolver for the cluster DNS (upstreamdns.go)
	// Mode is ModeSystemd for systemd hosts (hosts.go); empty for the
	// fast path, whose Nodes are virtnode processes.
	Mode         string `json:"mode,omitempty"`
	BranchServer int    `json:"branch_server,omitempty"` // serves the apt branch to systemd hosts
}

// ModeSystemd marks a cluster of systemd hosts.
const ModeSystemd = "systemd"

func statePath(t *Topology) string { return filepath.Join(t.Dir, "state.json") }

func loadState(t *Topology) (*State, error) {
	st := &State{path: statePath(t), Nodes: map[string]int{}}
	data, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	if st.Nodes == nil {
		st.Nodes = map[string]int{}
	}
	return st, nil
}

func (st *State) save() error {
	if err := os.MkdirAll(filepath.Dir(st.path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return renameio.WriteFile(st.path, data, 0o600)
}

func (st *State) exists() bool {
	_, err := os.Stat(st.path)
	return err == nil
}

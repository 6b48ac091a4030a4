package virt

import (
	"errors"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/config"
)

// markerName marks a workspace whose cluster is virtual. It outlives down
// (which removes the virt folder), so spire knows the cluster's addresses
// exist only while its bridge does.
const markerName = "virtual-cluster"

// ErrNotRunning is returned for a virtual cluster that is down.
var ErrNotRunning = errors.New("virtual cluster is not running: spire virt up")

// MarkVirtual records that the workspace's cluster is virtual.
func MarkVirtual(workspace string) error {
	return os.WriteFile(filepath.Join(workspace, markerName), []byte("this workspace's cluster runs with `spire virt up`\n"), 0o644)
}

// IsVirtual reports whether the workspace's cluster is virtual.
func IsVirtual(workspace string) bool {
	_, err := os.Stat(filepath.Join(workspace, markerName))
	return err == nil
}

// CheckReachable says whether spire may dial the cluster's addresses: for a
// virtual cluster only while its bridge exists, since without it those
// addresses would be routed off this machine. An address the operator named
// (explicit, non-empty) is theirs to dial.
func CheckReachable(workspace string, cfg *config.Config, explicit string) error {
	if explicit != "" || !IsVirtual(workspace) {
		return nil
	}
	t, err := NewTopology(workspace, cfg)
	if err != nil {
		return err
	}
	if !linkExists(t.Bridge) {
		return ErrNotRunning
	}
	return nil
}

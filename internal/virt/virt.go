// Package virt is the virtual cluster: every node of setup.yaml as Linux
// namespaces on one machine — its own network namespace on a shared bridge
// with its setup.yaml address, its own hostname, and a mount namespace in
// which the node's own folders appear at the production paths — with its
// services run by the node supervisor (internal/virtnode) from the service
// map. Nodes are admitted exactly as real ones: the keyserver issues a token
// and the node's keyclient redeems it. This is the host side; spire imports
// it.
package virt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"

	"homeworld.dev/homeworld/internal/config"
)

// Production folders a node sees as its own. Each is bound from the node's
// folder under the workspace; the host gets an empty mount point if it
// lacks one (and loses it again on down).
var nodeMounts = []string{
	"/etc/homeworld", "/etc/ssh", "/var/lib/homeworld", "/var/log/homeworld",
	"/etc/cni/net.d", "/var/lib/cni", "/var/log/containers", // pod networking and logs
}

// Topology is every name the virtual cluster of one workspace uses. Names
// derive from the workspace path, so two workspaces never collide and down
// can find leftovers even without a state file.
type Topology struct {
	ID      string // short hash of the workspace path
	Dir     string // $HOMEWORLD_DIR/virt
	Bridge  string
	Gateway netip.Prefix // the host's address on the bridge
	Nodes   []NodeTopo
}

// NodeTopo is one node's names.
type NodeTopo struct {
	config.Node
	Netns string
	Veth  string // host side; the node side is eth0
	Dir   string // the node's folders and logs
}

// Folder returns the node folder that appears at production path p.
func (n NodeTopo) Folder(p string) string { return filepath.Join(n.Dir, "root", p) }

// HostsFile is the /etc/hosts the node sees.
func (n NodeTopo) HostsFile() string { return filepath.Join(n.Dir, "hosts") }

// ControlSocket is where the node supervisor takes stop/start requests.
func (n NodeTopo) ControlSocket() string { return filepath.Join(n.Dir, "control.sock") }

// LogDir holds the node supervisor's and services' output.
func (n NodeTopo) LogDir() string { return filepath.Join(n.Dir, "logs") }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// NewTopology names everything for the cluster of workspace dir.
func NewTopology(workspace string, cfg *config.Config) (*Topology, error) {
	id := shortHash(workspace)
	nodes := netip.MustParsePrefix(cfg.Addresses.CIDRNodes)
	gw := nodes.Addr().Next()
	t := &Topology{
		ID:      id,
		Dir:     filepath.Join(workspace, "virt"),
		Bridge:  "hwb" + id,
		Gateway: netip.PrefixFrom(gw, nodes.Bits()),
	}
	for _, n := range cfg.Nodes {
		if n.IP == gw.String() {
			return nil, fmt.Errorf("node %s has %s, the first address of cidr-nodes, which the virtual cluster gives the host as gateway; pick another address", n.Hostname, gw)
		}
		t.Nodes = append(t.Nodes, NodeTopo{
			Node:  n,
			Netns: "hw" + id + "-" + n.Hostname,
			Veth:  "hwv" + shortHash(id+"/"+n.Hostname),
			Dir:   filepath.Join(t.Dir, "nodes", n.Hostname),
		})
	}
	return t, nil
}

package config

import (
	"strings"
)

// FQDN is the node's keysystem identity: <hostname>.<external-domain>.
func (c *Config) FQDN(n Node) string {
	return n.Hostname + "." + c.Cluster.ExternalDomain
}

// NodesOf returns the nodes of one kind, in file order.
func (c *Config) NodesOf(k Kind) []Node {
	var out []Node
	for _, n := range c.Nodes {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// Supervisor returns the cluster's single supervisor node. It is valid only on
// a validated Config.
func (c *Config) Supervisor() Node { return c.NodesOf(KindSupervisor)[0] }

// FindNode resolves a short hostname or a name under either cluster domain.
func (c *Config) FindNode(name string) (Node, bool) {
	// Each suffix is tried on the name as given: one domain may sit under
	// the other (k8s.cluster.example.org under cluster.example.org).
	for _, candidate := range []string{name, strings.TrimSuffix(name, "."+c.Cluster.ExternalDomain), strings.TrimSuffix(name, "."+c.Cluster.InternalDomain)} {
		for _, n := range c.Nodes {
			if n.Hostname == candidate {
				return n, true
			}
		}
	}
	return Node{}, false
}

// NodePodPrefix is the size of each Kubernetes node's pod range, which the
// controller-manager allocates from cidr-pods as nodes register: a /24
// holds 254 pods, more than a node runs.
const NodePodPrefix = 24

// KubeNodes counts the nodes that run pods (masters and workers), each of
// which needs a pod range.
func (c *Config) KubeNodes() int {
	return len(c.NodesOf(KindMaster)) + len(c.NodesOf(KindWorker))
}

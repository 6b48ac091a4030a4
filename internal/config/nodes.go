package config

import "strings"

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
	for _, suffix := range []string{"." + c.Cluster.ExternalDomain, "." + c.Cluster.InternalDomain} {
		name = strings.TrimSuffix(name, suffix)
	}
	for _, n := range c.Nodes {
		if n.Hostname == name {
			return n, true
		}
	}
	return Node{}, false
}

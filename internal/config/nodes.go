package config

import (
	"net/netip"
	"slices"
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

// PodCIDR is the /24 of cidr-pods a node's pods get addresses from: the
// node's position in setup.yaml picks it, so it never changes while the
// node list only grows. Validation guarantees there is room.
func (c *Config) PodCIDR(n Node) netip.Prefix {
	pods := netip.MustParsePrefix(c.Addresses.CIDRPods)
	i := slices.IndexFunc(c.Nodes, func(o Node) bool { return o.Hostname == n.Hostname })
	b := pods.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
}

package virt

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
)

// checkHostOverlap refuses a node range that this machine already uses:
// the virtual nodes' traffic would leave through a real interface towards
// machines that are not ours.
// A Homeworld bridge whose cluster is an orphan is removed (and said so on
// out) rather than refused.
func checkHostOverlap(t *Topology, out io.Writer) error {
	nodes := t.Gateway.Masked()
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, ifc := range ifaces {
		if ifc.Name == t.Bridge {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, err := netip.ParsePrefix(ipn.String())
			if err != nil || !p.Addr().Is4() {
				continue
			}
			if p.Masked().Overlaps(nodes) && !p.Addr().IsLoopback() {
				if strings.HasPrefix(ifc.Name, "hwb") {
					if gone, err := reclaimOrphan(ifc.Name, out); err != nil {
						return fmt.Errorf("removing the orphaned virtual cluster on bridge %s: %w", ifc.Name, err)
					} else if gone {
						break // its other addresses went with it
					}
					return fmt.Errorf("cidr-nodes %s is in use by another Homeworld virtual cluster (bridge %s); take that one down first (spire virt down in its workspace)", nodes, ifc.Name)
				}
				return fmt.Errorf("cidr-nodes %s overlaps this machine's network %s on %s; a virtual cluster needs a range of its own (spire virt init writes one)", nodes, p.Masked(), ifc.Name)
			}
		}
	}
	routes, err := ipOut("-4", "route", "show")
	if err != nil {
		return nil // no routing table to compare with
	}
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "default" || strings.Contains(line, "dev "+t.Bridge+" ") || strings.HasSuffix(line, "dev "+t.Bridge) {
			continue
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			if a, aerr := netip.ParseAddr(f[0]); aerr == nil {
				p = netip.PrefixFrom(a, 32)
			} else {
				continue
			}
		}
		if p.Overlaps(nodes) {
			return fmt.Errorf("cidr-nodes %s overlaps the route %q of this machine; a virtual cluster needs a range of its own (spire virt init writes one)", nodes, strings.TrimSpace(line))
		}
	}
	return nil
}

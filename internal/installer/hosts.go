package installer

import (
	"fmt"
	"slices"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// HostsMarker ends every line the installer adds to /etc/hosts, so later
// tools can find and replace them once cluster DNS runs.
const HostsMarker = "# AUTO-HOMEWORLD-BOOTSTRAP"

// Hosts writes the /etc/hosts lines a new node resolves names with before
// cluster DNS exists: every dns-bootstrap entry (sorted), then each node's
// short name and FQDN (file order), then the registry's name, which is the
// supervisor's (nodes pull their images from it; the virtual clusters write
// the same line). A name given twice is refused: the two answers would
// race in every resolver.
func Hosts(c *config.Config) ([]byte, error) {
	type entry struct{ name, ip, field string }
	var entries []entry
	names := make([]string, 0, len(c.DNSBootstrap))
	for name := range c.DNSBootstrap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		entries = append(entries, entry{name, c.DNSBootstrap[name], "dns-bootstrap." + name})
	}
	for i, n := range c.Nodes {
		field := fmt.Sprintf("nodes[%d].hostname", i)
		entries = append(entries, entry{n.Hostname, n.IP, field}, entry{c.FQDN(n), n.IP, field})
	}
	entries = append(entries, entry{services.RegistryName, c.Supervisor().IP, "the supervisor's registry"})
	first := map[string]string{}
	var b strings.Builder
	for _, e := range entries {
		if prev, dup := first[e.name]; dup {
			return nil, source{}.problem(e.field, "%q is also named by %s; a bootstrap name must resolve one way", e.name, prev)
		}
		first[e.name] = e.field
		for _, v := range []string{e.name, e.ip} {
			if msg := lineSafe(v); msg != "" || strings.ContainsAny(v, " \t#") {
				return nil, source{}.problem(e.field, "cannot go into /etc/hosts: %q", v)
			}
		}
		fmt.Fprintf(&b, "%s\t%s %s\n", e.ip, e.name, HostsMarker)
	}
	return []byte(b.String()), nil
}

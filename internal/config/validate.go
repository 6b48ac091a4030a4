package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// validator runs the checks that types alone cannot express. Errors and
// warnings are kept apart: warnings never stop a command.
type validator struct {
	file     string
	where    map[string]pos
	errors   Problems
	warnings Problems
}

func (v *validator) problem(field, format string, args ...any) Problem {
	p := Problem{File: v.file, Field: field, Message: fmt.Sprintf(format, args...)}
	// An absent optional field has no position; point at its closest parent.
	for f := field; ; {
		if at, ok := v.where[f]; ok {
			p.Line, p.Column = at.line, at.col
			break
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			if at, ok := v.where[""]; ok {
				p.Line, p.Column = at.line, at.col
			}
			break
		}
		f = f[:i]
	}
	return p
}

func (v *validator) errorf(field, format string, args ...any) {
	v.errors = append(v.errors, v.problem(field, format, args...))
}

func (v *validator) warnf(field, format string, args ...any) {
	v.warnings = append(v.warnings, v.problem(field, format, args...))
}

func (v *validator) line(field string) int { return v.where[field].line }

var (
	labelRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	realmRE     = regexp.MustCompile(`^[A-Z0-9]([A-Z0-9.-]*[A-Z0-9])?$`)
	principalRE = regexp.MustCompile(`^[a-z0-9._-]+(/[a-z0-9._-]+)?(@[A-Z0-9.-]+)?$`)
	tokenRE     = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// domainProblem says what is wrong with a DNS name, or "" if it is valid.
func domainProblem(name string) string {
	if name == "" {
		return "must not be empty"
	}
	if len(name) > 253 {
		return "is longer than 253 characters"
	}
	if strings.ToLower(name) != name {
		return fmt.Sprintf("%q must be lowercase", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if !labelRE.MatchString(label) {
			return fmt.Sprintf("%q is not a valid DNS name (label %q: use a-z, 0-9 and inner '-', at most 63 characters)", name, label)
		}
	}
	return ""
}

func (v *validator) domain(field, name string) {
	if msg := domainProblem(name); msg != "" {
		v.errorf(field, "%s", msg)
	}
}

func (v *validator) check(c *Config) {
	v.checkCluster(c)
	if c.VLAN < 0 || c.VLAN > 4095 {
		v.errorf("vlan", "%d is not a VLAN id (use 1-4095, or 0/absent for untagged)", c.VLAN)
	}
	nodes := v.checkAddresses(&c.Addresses)
	for i, s := range c.DNSUpstreams {
		v.ipv4(fmt.Sprintf("dns-upstreams[%d]", i), s)
	}
	for name, ip := range c.DNSBootstrap {
		field := "dns-bootstrap." + name
		v.domain(field, name)
		v.ipv4(field, ip)
	}
	v.checkAdmins(c)
	v.checkNodes(c.Nodes, nodes)
	if p, err := netip.ParsePrefix(c.Addresses.CIDRPods); err == nil && p.Addr().Is4() && p.Masked() == p {
		if room := NodePodPrefix - p.Bits(); room < 0 || (room < 31 && 1<<room < c.KubeNodes()) {
			v.errorf("addresses.cidr-pods", "%s is too small: each of the %d masters and workers gets a /%d of it", p, c.KubeNodes(), NodePodPrefix)
		}
	}
}

func (v *validator) checkCluster(c *Config) {
	cl := &c.Cluster
	v.domain("cluster.external-domain", cl.ExternalDomain)
	v.domain("cluster.internal-domain", cl.InternalDomain)
	if cl.ExternalDomain != "" && cl.ExternalDomain == cl.InternalDomain {
		v.errorf("cluster.internal-domain", "must differ from external-domain %q: node names and cluster-internal names would collide", cl.ExternalDomain)
	}
	if !tokenRE.MatchString(cl.EtcdToken) {
		v.errorf("cluster.etcd-token", "must be non-empty and use only letters, digits, '.', '_' and '-'")
	}
	if cl.KerberosRealm != "" && !realmRE.MatchString(cl.KerberosRealm) {
		v.errorf("cluster.kerberos-realm", "%q is not a Kerberos realm (conventionally uppercase, e.g. EXAMPLE.ORG)", cl.KerberosRealm)
	}
	if m := cl.Mirror; m != "" {
		host, path, ok := strings.Cut(m, "/")
		switch {
		case strings.Contains(m, "://"):
			v.errorf("cluster.mirror", "%q must be host/path without a scheme, e.g. deb.debian.org/debian", m)
		case !ok || path == "":
			v.errorf("cluster.mirror", "%q must be host/path, e.g. deb.debian.org/debian", m)
		case domainProblem(host) != "" || !strings.Contains(host, "."):
			v.errorf("cluster.mirror", "%q: host %q is not a fully qualified DNS name", m, host)
		}
	}
	if cl.UserGrantDomain != "" {
		v.domain("cluster.user-grant-domain", cl.UserGrantDomain)
		if cl.KerberosRealm == "" {
			v.errorf("cluster.user-grant-domain", "needs cluster.kerberos-realm too: users obtain grants with their Kerberos tickets")
		}
	}
	if cl.UserGrantEmailDomain != "" {
		v.domain("cluster.user-grant-email-domain", cl.UserGrantEmailDomain)
	}
}

// ipv4 parses an IPv4 address, reporting at field if it is not one.
func (v *validator) ipv4(field, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		v.errorf(field, "%q is not an IPv4 address", s)
		return netip.Addr{}, false
	}
	return a, true
}

func (v *validator) prefix(field, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is4():
		v.errorf(field, "%q is not an IPv4 range in CIDR form, e.g. 10.0.0.0/24", s)
		return netip.Prefix{}, false
	case p.Masked() != p:
		v.errorf(field, "%q has host bits set; did you mean %s?", s, p.Masked())
		return netip.Prefix{}, false
	case p.Bits() > 30:
		v.errorf(field, "%q is too small to hold any hosts (use /30 or larger)", s)
		return netip.Prefix{}, false
	}
	return p, true
}

// usable reports whether a is a host address of p: inside it, and neither its
// network nor its broadcast address.
func usable(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) || a == p.Addr() {
		return false
	}
	return a != lastAddr(p)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(b)
}

// checkAddresses validates the ranges and returns the node range if valid.
func (v *validator) checkAddresses(a *Addresses) netip.Prefix {
	type rng struct {
		field string
		p     netip.Prefix
	}
	var ranges []rng
	var nodes, services netip.Prefix
	for _, r := range []struct {
		field string
		val   string
		into  *netip.Prefix
	}{
		{"addresses.cidr-nodes", a.CIDRNodes, &nodes},
		{"addresses.cidr-pods", a.CIDRPods, nil},
		{"addresses.cidr-services", a.CIDRServices, &services},
	} {
		if p, ok := v.prefix(r.field, r.val); ok {
			ranges = append(ranges, rng{r.field, p})
			if r.into != nil {
				*r.into = p
			}
		}
	}
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			if ranges[i].p.Overlaps(ranges[j].p) {
				short := strings.TrimPrefix(ranges[i].field, "addresses.")
				v.errorf(ranges[j].field, "%s overlaps %s %s (line %d); the ranges must be disjoint",
					ranges[j].p, short, ranges[i].p, v.line(ranges[i].field))
			}
		}
	}
	api, apiOK := v.ipv4("addresses.service-api", a.ServiceAPI)
	dns, dnsOK := v.ipv4("addresses.service-dns", a.ServiceDNS)
	for _, s := range []struct {
		field string
		addr  netip.Addr
		ok    bool
	}{{"addresses.service-api", api, apiOK}, {"addresses.service-dns", dns, dnsOK}} {
		if s.ok && services.IsValid() && !usable(services, s.addr) {
			v.errorf(s.field, "%s is not a usable address of cidr-services %s", s.addr, services)
		}
	}
	if apiOK && dnsOK && api == dns {
		v.errorf("addresses.service-dns", "%s is also service-api; the API and DNS need different service IPs", dns)
	}
	return nodes
}

func (v *validator) checkAdmins(c *Config) {
	realm := c.Cluster.KerberosRealm
	if realm != "" && len(c.RootAdmins) == 0 {
		v.errorf("cluster.kerberos-realm", "is set but root-admins is empty: Kerberos access needs at least one root admin (or remove the realm)")
	}
	seen := map[string]int{}
	for i, admin := range c.RootAdmins {
		field := fmt.Sprintf("root-admins[%d]", i)
		if !principalRE.MatchString(admin) {
			v.errorf(field, "%q is not a principal (use user, user/instance or user@REALM, lowercase user)", admin)
			continue
		}
		if _, r, ok := strings.Cut(admin, "@"); ok && realm != "" && r != realm {
			v.errorf(field, "%q is in realm %s, but cluster.kerberos-realm is %s", admin, r, realm)
		}
		if first, dup := seen[admin]; dup {
			v.errorf(field, "%q is listed twice (first at line %d)", admin, first)
		}
		seen[admin] = v.line(field)
	}
}

func (v *validator) checkNodes(nodes []Node, cidr netip.Prefix) {
	if len(nodes) == 0 {
		v.errorf("nodes", "must list at least one supervisor and one master")
		return
	}
	hostnames := map[string]string{}
	ips := map[netip.Addr]string{}
	count := map[Kind]int{}
	for i, n := range nodes {
		base := fmt.Sprintf("nodes[%d]", i)
		switch {
		case strings.Contains(n.Hostname, "."):
			v.errorf(base+".hostname", "%q must be a short hostname without dots; the domain comes from cluster.external-domain", n.Hostname)
		case !labelRE.MatchString(n.Hostname):
			v.errorf(base+".hostname", "%q is not a valid hostname (lowercase a-z, 0-9 and inner '-', at most 63 characters)", n.Hostname)
		default:
			if first, dup := hostnames[n.Hostname]; dup {
				v.errorf(base+".hostname", "%q is already used by %s (line %d)", n.Hostname, first, v.line(first+".hostname"))
			}
			hostnames[n.Hostname] = base
		}
		if ip, ok := v.ipv4(base+".ip", n.IP); ok {
			if first, dup := ips[ip]; dup {
				v.errorf(base+".ip", "%s is already used by %s (line %d)", ip, first, v.line(first+".ip"))
			}
			ips[ip] = base
			if cidr.IsValid() && !usable(cidr, ip) {
				v.errorf(base+".ip", "%s is not a usable address of cidr-nodes %s", ip, cidr)
			}
		}
		switch n.Kind {
		case KindSupervisor, KindMaster, KindWorker:
			count[n.Kind]++
			if n.Kind == KindSupervisor && count[n.Kind] == 2 {
				v.errorf(base+".kind", "a second supervisor; a cluster has exactly one")
			}
		default:
			v.errorf(base+".kind", "%q is not a node kind (use supervisor, master or worker)", n.Kind)
		}
	}
	if count[KindSupervisor] == 0 {
		v.errorf("nodes", "no node has kind supervisor; a cluster has exactly one")
	}
	if count[KindMaster] == 0 {
		v.errorf("nodes", "no node has kind master; the control plane needs at least one")
	} else if count[KindMaster]%2 == 0 {
		v.warnf("nodes", "%d masters: an even number of etcd members tolerates no more failures than one fewer; use an odd number", count[KindMaster])
	}
}

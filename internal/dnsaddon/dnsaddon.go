// Package dnsaddon renders the cluster DNS add-on from setup.yaml: CoreDNS
// (our pinned build, image homeworld.private/coredns) as a Deployment of two
// replicas spread over the schedulable nodes, the kube-dns Service at
// addresses.service-dns, its Corefile, and the least privilege its
// kubernetes plugin needs. spire applies it (spire deploy dns-addon, and
// spire virt up).
package dnsaddon

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"strings"
	"text/template"

	"homeworld.dev/homeworld/internal/config"
)

// Image is CoreDNS's image; scripts/build makes it from upstream/coredns
// (a test checks the two agree).
const Image = "homeworld.private/coredns:1.15.0"

// Port is one port of the CoreDNS container.
type Port struct {
	Name     string // referred to by the Service and the probes
	Number   int
	Protocol string // UDP or TCP
}

// The container's ports. All are unprivileged: CoreDNS runs as nobody, so
// it cannot bind 53; the Service maps ServicePort to DNS and DNSTCP.
var (
	DNS     = Port{Name: "dns", Number: 1053, Protocol: "UDP"}
	DNSTCP  = Port{Name: "dns-tcp", Number: 1053, Protocol: "TCP"}
	Metrics = Port{Name: "metrics", Number: 9153, Protocol: "TCP"} // prometheus plugin
	Health  = Port{Name: "health", Number: 8080, Protocol: "TCP"}  // health plugin: /health, liveness
	Ready   = Port{Name: "ready", Number: 8181, Protocol: "TCP"}   // ready plugin: /ready, readiness
)

// Ports is every port of the container.
func Ports() []Port { return []Port{DNS, DNSTCP, Metrics, Health, Ready} }

// ServicePort is where clients ask: the kube-dns Service's DNS port.
const ServicePort = 53

// Names of the objects, for whoever looks them up.
const (
	Namespace      = "kube-system"
	Name           = "coredns"  // ServiceAccount, ConfigMap, Deployment
	ServiceName    = "kube-dns" // what kubelets' clusterDNS and Kubernetes' own tests expect
	Role           = "homeworld:coredns"
	AppLabel       = "k8s-app"
	AppLabelValue  = "kube-dns"
	Replicas       = 2
	corefilePath   = "/etc/coredns"
	corefileKey    = "Corefile"
	managedByLabel = "app.kubernetes.io/managed-by: homeworld"
)

// Options change what setup.yaml alone would give.
type Options struct {
	// Upstreams replace setup.yaml's dns-upstreams; the virtual cluster
	// names its own resolver on the host, since queries must not leave the
	// machine.
	Upstreams []string
}

// Corefile is CoreDNS's configuration for the cluster of c: the cluster
// domain and the reverse zones of the pod and service ranges from the
// Kubernetes API, everything else forwarded to the upstreams (none: only
// cluster names resolve).
func Corefile(c *config.Config, o Options) (string, error) {
	upstreams := c.DNSUpstreams
	if o.Upstreams != nil {
		upstreams = o.Upstreams
	}
	zones := []string{c.Cluster.InternalDomain}
	for _, cidr := range []string{c.Addresses.CIDRServices, c.Addresses.CIDRPods} {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return "", err
		}
		rz, err := ReverseZones(p)
		if err != nil {
			return "", err
		}
		zones = append(zones, rz...)
	}
	for _, u := range upstreams {
		if _, err := netip.ParseAddr(u); err != nil {
			return "", fmt.Errorf("DNS upstream %q: %w", u, err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".:%d {\n", DNS.Number)
	b.WriteString("    errors\n")
	// lameduck: a stopping replica keeps answering while the Service
	// stops sending it queries.
	fmt.Fprintf(&b, "    health :%d {\n        lameduck 5s\n    }\n", Health.Number)
	fmt.Fprintf(&b, "    ready :%d\n", Ready.Number)
	// pods insecure answers pod A records (a-b-c-d.NS.pod.DOMAIN) without
	// watching pods, so CoreDNS needs no access to them.
	fmt.Fprintf(&b, "    kubernetes %s {\n        pods insecure\n        ttl 30\n    }\n", strings.Join(zones, " "))
	fmt.Fprintf(&b, "    prometheus :%d\n", Metrics.Number)
	if len(upstreams) > 0 {
		fmt.Fprintf(&b, "    forward . %s\n", strings.Join(upstreams, " "))
	}
	b.WriteString("    cache 30\n    loop\n    reload\n    loadbalance\n}\n")
	return b.String(), nil
}

// ReverseZones names the in-addr.arpa zones that cover p: one per octet
// boundary at or below its mask (a /12 is sixteen /16 zones), so every
// address of p, and no other, falls into one of them.
func ReverseZones(p netip.Prefix) ([]string, error) {
	if !p.Addr().Is4() || p.Masked() != p {
		return nil, fmt.Errorf("%s is not an IPv4 network", p)
	}
	bits := (p.Bits() + 7) / 8 * 8
	if bits == 0 {
		return []string{"in-addr.arpa"}, nil
	}
	var zones []string
	n := 1 << (bits - p.Bits())
	for i, a := 0, p.Addr(); i < n; i++ {
		o := a.As4()
		labels := []string{"in-addr.arpa"}
		for _, x := range o[:bits/8] {
			labels = append([]string{fmt.Sprint(x)}, labels...)
		}
		zones = append(zones, strings.Join(labels, "."))
		// the next zone starts 2^(32-bits) addresses further on
		v := uint32(o[0])<<24 | uint32(o[1])<<16 | uint32(o[2])<<8 | uint32(o[3])
		v += 1 << (32 - bits)
		a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return zones, nil
}

//go:embed manifest.yaml
var manifestText string

var manifest = template.Must(template.New("manifest.yaml").Funcs(template.FuncMap{
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad)
	},
}).Parse(manifestText))

// Manifest returns the add-on's objects as one YAML document stream.
func Manifest(c *config.Config, o Options) (string, error) {
	corefile, err := Corefile(c, o)
	if err != nil {
		return "", err
	}
	if _, err := netip.ParseAddr(c.Addresses.ServiceDNS); err != nil {
		return "", fmt.Errorf("addresses.service-dns: %w", err)
	}
	var b bytes.Buffer
	err = manifest.Execute(&b, map[string]any{
		"Namespace": Namespace, "Name": Name, "ServiceName": ServiceName, "Role": Role,
		"AppLabel": AppLabel, "AppLabelValue": AppLabelValue, "ManagedBy": managedByLabel,
		"Replicas": Replicas, "Image": Image, "ClusterIP": c.Addresses.ServiceDNS,
		"CorefileDir": corefilePath, "CorefileKey": corefileKey, "Corefile": corefile,
		"Ports": Ports(), "ServicePort": ServicePort,
		"DNS": DNS, "DNSTCP": DNSTCP, "Metrics": Metrics, "Health": Health, "Ready": Ready,
	})
	return b.String(), err
}

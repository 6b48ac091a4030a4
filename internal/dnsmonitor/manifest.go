package dnsmonitor

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"text/template"
	"time"

	"homeworld.dev/homeworld/internal/config"
)

// Image is dns-monitor's image; scripts/build makes it (a test checks the
// two agree).
const Image = "homeworld.private/dns-monitor:1"

// Names of the objects, for whoever looks them up.
const (
	Namespace = "kube-system"
	Name      = "dns-monitor" // ServiceAccount, Deployment, Service
	App       = "dns-monitor"
	// MetricsPort names the Service's port; Prometheus reads it through
	// the apiserver's service proxy.
	MetricsPort = "metrics"
	// ServicePort is the Service's port, as the original's; it maps to
	// Port in the pod.
	ServicePort    = 80
	managedByLabel = "app.kubernetes.io/managed-by: homeworld"
)

// Options change what setup.yaml alone would give.
type Options struct {
	// Upstream is a name outside the cluster and its address, checked
	// through the cluster DNS's forwarding; none when empty. The virtual
	// cluster names its own upstream resolver's.
	Upstream []Expectation
	// Interval between lookups; zero is the default (Interval).
	Interval time.Duration
}

// Expected is what the monitor checks in the cluster of c: the API's and
// the DNS's own Service names, at their addresses from setup.yaml.
func Expected(c *config.Config) ([]Expectation, error) {
	var out []Expectation
	for _, e := range []struct{ name, addr, field string }{
		{"kubernetes.default.svc." + c.Cluster.InternalDomain, c.Addresses.ServiceAPI, "addresses.service-api"},
		{"kube-dns.kube-system.svc." + c.Cluster.InternalDomain, c.Addresses.ServiceDNS, "addresses.service-dns"},
	} {
		a, err := netip.ParseAddr(e.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.field, err)
		}
		out = append(out, Expectation{e.name, a})
	}
	return out, nil
}

//go:embed manifest.yaml
var manifestText string

var manifest = template.Must(template.New("manifest.yaml").Parse(manifestText))

// Manifest returns dns-monitor's objects for the cluster of c as one YAML
// document stream.
func Manifest(c *config.Config, o Options) (string, error) {
	internal, err := Expected(c)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = manifest.Execute(&b, map[string]any{
		"Namespace": Namespace, "Name": Name, "App": App, "ManagedBy": managedByLabel, "Image": Image,
		"Port": Port, "MetricsPort": MetricsPort, "ServicePort": ServicePort,
		"Internal": internal, "Upstream": o.Upstream, "Interval": o.Interval,
	})
	return b.String(), err
}

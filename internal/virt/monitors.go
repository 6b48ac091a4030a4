package virt

import (
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsaddon"
	"homeworld.dev/homeworld/internal/dnsmonitor"
	"homeworld.dev/homeworld/internal/flannelmonitor"
	"homeworld.dev/homeworld/internal/launch"
)

// DNSMonitorOptions is the virtual cluster's dns-monitor: besides the
// cluster's names it checks the upstream resolver's one name, which only
// the cluster DNS's forwarding can answer.
func DNSMonitorOptions() dnsmonitor.Options {
	return dnsmonitor.Options{Upstream: []dnsmonitor.Expectation{{Name: UpstreamCheckName, Addr: UpstreamCheckAddr}}, Interval: MonitorInterval}
}

// FlannelMonitorOptions is the virtual cluster's flannel-monitor.
func FlannelMonitorOptions() flannelmonitor.Options {
	return flannelmonitor.Options{Interval: MonitorInterval}
}

// MonitorInterval is how often the virtual cluster's monitors measure:
// as often as its Prometheus scrapes, so a new cluster is proven soon.
const MonitorInterval = launch.VirtualInterval

// AddonManifests are the virtual cluster's add-ons, as virt up queues
// them: the cluster DNS forwarding to the cluster's own upstream resolver,
// and the monitors measuring every MonitorInterval.
func AddonManifests(t *Topology, c *config.Config) ([]Manifest, error) {
	dns, err := dnsaddon.Manifest(c, dnsaddon.Options{Upstreams: DNSUpstreams(t)})
	if err != nil {
		return nil, err
	}
	fm, err := flannelmonitor.Manifest(c, FlannelMonitorOptions())
	if err != nil {
		return nil, err
	}
	dm, err := dnsmonitor.Manifest(c, DNSMonitorOptions())
	if err != nil {
		return nil, err
	}
	return []Manifest{{"dns-addon", dns}, {"flannel-monitor", fm}, {"dns-monitor", dm}}, nil
}

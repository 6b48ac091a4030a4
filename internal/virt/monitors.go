package virt

import (
	"context"
	"fmt"
	"path/filepath"

	"homeworld.dev/homeworld/internal/dnsmonitor"
	"homeworld.dev/homeworld/internal/flannelmonitor"
	"homeworld.dev/homeworld/internal/kubeapply"
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

// deployMonitors applies flannel-monitor and dns-monitor, whose results
// spire seq cluster then reads from Prometheus.
func deployMonitors(ctx context.Context, t *Topology, o Options, progress func(string, ...any)) error {
	fm, err := flannelmonitor.Manifest(o.Config, FlannelMonitorOptions())
	if err != nil {
		return err
	}
	dm, err := dnsmonitor.Manifest(o.Config, DNSMonitorOptions())
	if err != nil {
		return err
	}
	k := kubeapply.Kubectl{Path: filepath.Join(o.BinDir, "kubectl"), Kubeconfig: t.Kubeconfig()}
	n := 0
	for _, m := range []struct{ name, manifest string }{{"flannel-monitor", fm}, {"dns-monitor", dm}} {
		var results []kubeapply.Result
		if err := retry(ctx, func() error {
			results, err = kubeapply.Apply(ctx, k, m.manifest)
			return err
		}); err != nil {
			return fmt.Errorf("applying %s: %w", m.name, err)
		}
		n += len(results)
	}
	progress("flannel-monitor and dns-monitor applied (%d objects)", n)
	return nil
}

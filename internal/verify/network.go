package verify

import (
	"context"
	"fmt"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsmonitor"
)

// The freshest results the network checks accept: the original's limits.
// The monitors measure every 15 s and Prometheus scrapes every 15 s.
const (
	FlannelRecency = 60 * time.Second
	DNSRecency     = 30 * time.Second
)

func seconds(v float64) time.Duration {
	return time.Duration(v * float64(time.Second)).Round(time.Second)
}

// flannel checks the pod network from flannel-monitor's results: the
// collector finds the monitors and reads one on every Kubernetes node,
// each finds the other monitors (one per node), measured lately, and pods on
// every node reach pods on every node (K² pairs). flanneld itself is a
// node service, which the services check covers.
func flannel(ctx context.Context, p *Prometheus, c *config.Config) error {
	q, err := lastRead(ctx, p, "flannel", "flannel-monitor", FlannelRecency)
	if err != nil {
		return err
	}
	enum, err := q.Query(ctx, `flannel_collect_enum_check`)
	if err != nil {
		return err
	}
	if len(enum) == 0 {
		return fmt.Errorf("flannel: no results from flannel-monitor's collector (is it deployed? spire deploy flannel-monitor)")
	}
	if enum[0].Value != 1 {
		return fmt.Errorf("flannel: flannel-monitor's collector cannot find the monitors (see its log)")
	}
	var ps Problems
	dups, err := q.Query(ctx, `flannel_collect_enum_dup_check`)
	if err != nil {
		return err
	}
	for _, s := range dups {
		if s.Value != 1 {
			ps = append(ps, "flannel: some node runs more than one flannel monitor")
		}
	}
	collected, err := byLabel(ctx, q, `flannel_collect_check`, "monitor_hostip")
	if err != nil {
		return err
	}
	found, err := byLabel(ctx, q, `flannel_monitor_check`, "ping_from_host")
	if err != nil {
		return err
	}
	unique, err := byLabel(ctx, q, `flannel_duplicate_check`, "ping_from_host")
	if err != nil {
		return err
	}
	age, err := byLabel(ctx, q, `time() - flannel_monitor_recency`, "ping_from_host")
	if err != nil {
		return err
	}
	talk, err := q.Query(ctx, `flannel_talk_check`)
	if err != nil {
		return err
	}
	pairs := map[[2]string]float64{}
	for _, s := range talk {
		pairs[[2]string{s.Labels["ping_from_host"], s.Labels["ping_to_host"]}] = s.Value
	}
	kube := nodesOf(c, config.KindMaster, config.KindWorker)
	for _, from := range kube {
		if v, ok := collected[from.IP]; !ok || v != 1 {
			ps = append(ps, fmt.Sprintf("flannel: no monitor results from %s (no flannel-monitor pod there, or the collector cannot reach it)", from.Hostname))
			continue
		}
		if found[from.IP] != 1 {
			ps = append(ps, fmt.Sprintf("flannel: the monitor on %s cannot find the other nodes' monitors (see its log)", from.Hostname))
			continue
		}
		if unique[from.IP] != 1 {
			ps = append(ps, fmt.Sprintf("flannel: the monitor on %s finds more than one monitor on a node", from.Hostname))
		}
		switch a, ok := age[from.IP]; {
		case !ok:
			ps = append(ps, fmt.Sprintf("flannel: the monitor on %s reports no time of measurement", from.Hostname))
		case seconds(a) > FlannelRecency:
			ps = append(ps, fmt.Sprintf("flannel: the monitor on %s last measured %s ago, want at most %s", from.Hostname, seconds(a), FlannelRecency))
		}
		for _, to := range kube {
			switch v, ok := pairs[[2]string{from.IP, to.IP}]; {
			case !ok:
				ps = append(ps, fmt.Sprintf("flannel: the monitor on %s has not measured pods on %s", from.Hostname, to.Hostname))
			case v != 1:
				ps = append(ps, fmt.Sprintf("flannel: pods on %s cannot reach pods on %s", from.Hostname, to.Hostname))
			}
		}
	}
	return ps.err()
}

// dns checks the cluster DNS from dns-monitor's results: lately, from a
// pod, the API's and the DNS's own Service names resolved to their
// addresses; and a name outside the cluster resolved through forwarding,
// where dns-monitor checks one (spire deploy dns-monitor --upstream-check;
// the virtual cluster's always does).
func dns(ctx context.Context, p *Prometheus, c *config.Config) error {
	want, err := dnsmonitor.Expected(c)
	if err != nil {
		return err
	}
	q, err := lastRead(ctx, p, "dns", "dns-monitor", DNSRecency)
	if err != nil {
		return err
	}
	age, err := q.Query(ctx, `time() - dns_lookup_recency`)
	if err != nil {
		return err
	}
	if len(age) == 0 {
		return fmt.Errorf("dns: no results from dns-monitor (is it deployed? spire deploy dns-monitor)")
	}
	var ps Problems
	oldest := age[0].Value
	for _, s := range age {
		oldest = max(oldest, s.Value)
	}
	if seconds(oldest) > DNSRecency {
		ps = append(ps, fmt.Sprintf("dns: dns-monitor last looked names up %s ago, want at most %s", seconds(oldest), DNSRecency))
	}
	internal, err := byLabel(ctx, q, `dns_lookup_internal_check`, "hostname")
	if err != nil {
		return err
	}
	for _, e := range want {
		switch v, ok := internal[e.Name]; {
		case !ok:
			ps = append(ps, fmt.Sprintf("dns: dns-monitor does not look up %s (redeploy it: spire deploy dns-monitor)", e.Name))
		case v != 1:
			ps = append(ps, fmt.Sprintf("dns: %s does not resolve to %s from a pod", e.Name, e.Addr))
		}
	}
	upstream, err := q.Query(ctx, `dns_lookup_upstream_check`)
	if err != nil {
		return err
	}
	for _, s := range upstream {
		if s.Value != 1 {
			ps = append(ps, fmt.Sprintf("dns: %s, outside the cluster, does not resolve from a pod: forwarding to the upstream resolvers fails", s.Labels["hostname"]))
		}
	}
	return ps.err()
}

// byLabel indexes query's samples by one label's value.
func byLabel(ctx context.Context, p querier, query, label string) (map[string]float64, error) {
	samples, err := p.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range samples {
		out[s.Labels[label]] = s.Value
	}
	return out, nil
}

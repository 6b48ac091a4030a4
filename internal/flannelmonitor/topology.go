// Package flannelmonitor proves the pod network end to end, from inside
// it: a monitor pod on every node answers pings and pings every node's
// monitor each cycle (flannel_talk_check and flannel_talk_timing per pair
// of nodes), and one collector reads every monitor and serves all their
// metrics in one place, where Prometheus scrapes them through the API
// server's service proxy. Both are one binary (cmd/flannel-monitor) in one
// image, deployed by spire deploy flannel-monitor from Manifest. Metric
// names and behaviour are the original Homeworld's (spec §5.2), except that
// the original's reflector, a third pod on every node that only answered
// pings, is part of the monitor.
package flannelmonitor

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"homeworld.dev/homeworld/internal/incluster"
)

// API is what the monitors read from Kubernetes.
type API interface {
	Nodes(ctx context.Context) ([]incluster.Node, error)
	RunningPods(ctx context.Context, namespace, app string) ([]incluster.Pod, error)
}

// Placement is where the pods of one app run, by node address (the
// node's InternalIP, which is also the pod's hostIP).
type Placement struct {
	// PodByHost is the pod address to talk to on each node that runs
	// one; of several, the first by name.
	PodByHost map[string]string
	// Missing lists the nodes that run none, sorted.
	Missing []string
	// Duplicates is true when some node runs more than one.
	Duplicates bool
}

// Match finds the running pods with label app=app in namespace and the
// node each runs on. A node with no InternalIP or several, or two pods
// with one address, make it fail: the answer would be a guess.
func Match(ctx context.Context, api API, namespace, app string) (Placement, error) {
	nodes, err := api.Nodes(ctx)
	if err != nil {
		return Placement{}, fmt.Errorf("listing nodes: %w", err)
	}
	hosts := map[string]bool{}
	for _, n := range nodes {
		ips := map[string]bool{}
		for _, a := range n.InternalIPs {
			ips[a] = true
		}
		if len(ips) != 1 {
			return Placement{}, fmt.Errorf("node %s has %d distinct InternalIP addresses, want exactly one", n.Name, len(ips))
		}
		for ip := range ips {
			hosts[ip] = true
		}
	}
	pods, err := api.RunningPods(ctx, namespace, app)
	if err != nil {
		return Placement{}, fmt.Errorf("listing pods app=%s: %w", app, err)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	hostOf := map[string]string{} // pod address -> node address
	p := Placement{PodByHost: map[string]string{}}
	for _, pod := range pods {
		// A pod being deleted is on its way out; its successor counts.
		if pod.Deleting || pod.PodIP == "" || !hosts[pod.HostIP] {
			continue
		}
		if _, err := netip.ParseAddr(pod.PodIP); err != nil {
			return Placement{}, fmt.Errorf("pod %s: address %q: %w", pod.Name, pod.PodIP, err)
		}
		if h, dup := hostOf[pod.PodIP]; dup {
			return Placement{}, fmt.Errorf("pod address %s is used on %s and %s", pod.PodIP, h, pod.HostIP)
		}
		hostOf[pod.PodIP] = pod.HostIP
		if _, ok := p.PodByHost[pod.HostIP]; ok {
			p.Duplicates = true
			continue
		}
		p.PodByHost[pod.HostIP] = pod.PodIP
	}
	for h := range hosts {
		if _, ok := p.PodByHost[h]; !ok {
			p.Missing = append(p.Missing, h)
		}
	}
	sort.Strings(p.Missing)
	return p, nil
}

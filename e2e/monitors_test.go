//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/verify"
)

// flannelDevice is the VXLAN device flanneld makes on each node.
const flannelDevice = "flannel.1"

// monitors proves flannel-monitor and dns-monitor end to end: spire
// verify flannel and dns pass; with worker2's pod network cut, verify
// flannel fails naming worker2; once flannel runs there again it passes.
func (v *virtCluster) monitors(t *testing.T) {
	v.diagnoseOnFailure(t)
	verifies := func(checks ...string) func() error {
		return func() error {
			out, _, err := v.trySpire(append([]string{"verify"}, checks...)...)
			if err != nil {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		}
	}
	// verify passes on the last good read of the last minute, which can
	// predate the earlier subtests' restarts of worker1 and worker2 (a
	// monitor then reports 0 for a node whose monitor pod is restarting).
	// Blaming only worker2 below needs every monitor to have measured a
	// whole network since this subtest began, and the check to pass on it.
	began := time.Now()
	prom := verify.NewPrometheus(services.Prometheus.URL(v.cfg.Supervisor().IP, ""))
	waitFor(t, "spire verify flannel dns to pass on results measured since this subtest began", 3*time.Minute, func() error {
		if err := verifies("flannel", "dns")(); err != nil {
			return err
		}
		return freshFlannel(prom, len(v.cfg.NodesOf(config.KindMaster))+len(v.cfg.NodesOf(config.KindWorker)), began)
	})

	var worker2 string
	for _, n := range v.topo.Nodes {
		if n.Hostname == "worker2" {
			worker2 = n.Netns
		}
	}
	if worker2 == "" {
		t.Fatal("the cluster has no worker2")
	}
	// The collector prefers masters (by the kind label each kubelet
	// registers with), so cutting a worker never takes it down too.
	where := v.kubectl(t, "get", "pods", "-n", "kube-system", "-l", "app=flannel-monitor-collector", "-o", "jsonpath={.items[*].spec.nodeName}")
	if !strings.HasPrefix(strings.TrimSpace(where), "master") {
		t.Errorf("flannel-monitor's collector runs on %q, not on a master", where)
	}
	v.spire(t, "virt", "service", "worker2", "flannel", "stop")
	// Whatever happens below, worker2's pod network comes back for the
	// tests after this one.
	defer v.trySpire("virt", "service", "worker2", "flannel", "start")
	// A stopped flanneld leaves its VXLAN device, routes and neighbour
	// entries in place (flannel keeps pod traffic flowing across its own
	// restarts), so stopping it changes nothing for pods. Its device goes
	// too, as on a node where flannel never came up: then worker2's pods
	// are cut off. flanneld makes it again when it starts, with the MAC
	// address the other nodes know (from worker2's node annotation).
	if out, err := inNetns(worker2, "ip", "link", "delete", flannelDevice); err != nil {
		t.Fatalf("deleting %s on worker2: %v\n%s", flannelDevice, err, out)
	}
	var last string
	waitFor(t, "spire verify flannel to fail naming worker2", 2*time.Minute, func() error {
		out, _, err := v.trySpire("verify", "flannel")
		last = out
		if err == nil {
			return errors.New("verify flannel still passes")
		}
		if !strings.Contains(out, "cannot reach pods on worker2") {
			return fmt.Errorf("verify flannel fails without naming worker2:\n%s", out)
		}
		return nil
	})
	for _, line := range strings.Split(last, "\n") {
		// Every pair that fails involves worker2.
		for _, p := range strings.Split(line, "; ") {
			if strings.Contains(p, "cannot reach") && !strings.Contains(p, "worker2") {
				t.Errorf("verify flannel blames a pair without worker2: %s", p)
			}
		}
	}
	v.spire(t, "virt", "service", "worker2", "flannel", "start")
	waitFor(t, "spire verify flannel to pass again", 3*time.Minute, verifies("flannel"))
}

// freshFlannel reports why Prometheus's latest read of flannel-monitor is
// not one where each of the nodes' monitors measured after since and
// reached every node.
func freshFlannel(p *verify.Prometheus, nodes int, since time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up, err := p.Query(ctx, `up{job="flannel-monitor"}`)
	if err != nil {
		return err
	}
	if len(up) != 1 || up[0].Value != 1 {
		return fmt.Errorf("Prometheus's last scrape of flannel-monitor failed: %v", up)
	}
	measured, err := p.Query(ctx, `flannel_monitor_recency`)
	if err != nil {
		return err
	}
	fresh := 0
	for _, s := range measured {
		if s.Value >= float64(since.Unix()) {
			fresh++
		}
	}
	if fresh != nodes {
		return fmt.Errorf("%d of %d monitors have measured since %s", fresh, nodes, since.Format(time.TimeOnly))
	}
	talk, err := p.Query(ctx, `flannel_talk_check`)
	if err != nil {
		return err
	}
	for _, s := range talk {
		if s.Value != 1 {
			return fmt.Errorf("pods on %s do not reach pods on %s", s.Labels["ping_from_host"], s.Labels["ping_to_host"])
		}
	}
	if len(talk) != nodes*nodes {
		return fmt.Errorf("%d pairs measured, want %d", len(talk), nodes*nodes)
	}
	return nil
}

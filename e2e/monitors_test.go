//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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
	waitFor(t, "spire verify flannel dns to pass", 3*time.Minute, verifies("flannel", "dns"))

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

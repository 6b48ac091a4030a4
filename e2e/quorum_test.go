//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// quorumLost stops two of the three masters: etcd has no quorum, so the
// remaining apiserver says it is not ready for want of etcd and refuses
// requests, and verify etcd names both dead masters and the leaderless
// one. Started again, the cluster heals by itself, and what was stored
// before is still there.
func (v *virtCluster) quorumLost(t *testing.T) {
	masters := v.cfg.NodesOf(config.KindMaster)
	if len(masters) != 3 {
		t.Fatalf("this test needs 3 masters, the cluster has %d", len(masters))
	}
	m1 := services.APIServer.URL(masters[0].IP, "")
	for _, m := range masters {
		v.apiserverReady(t, m, 2*time.Minute) // earlier subtests restart masters
	}
	v.kubectl(t, "--server", m1, "create", "configmap", "quorum-probe", "--from-literal=stored=before-the-outage")

	start := time.Now()
	for _, m := range masters[1:] {
		v.spire(t, "virt", "stop", m.Hostname)
	}
	waitFor(t, "master1's apiserver to report etcd unavailable", time.Minute, func() error {
		out, err := v.tryKubectl("--server", m1, "get", "--raw", "/readyz?verbose")
		if err == nil || !strings.Contains(out, "[-]etcd failed") {
			return fmt.Errorf("readyz: %v\n%s", err, out)
		}
		return nil
	})
	if out, err := v.tryKubectl("--server", m1, "create", "configmap", "quorum-write", "--from-literal=k=v"); err == nil {
		t.Errorf("a write succeeded without etcd quorum:\n%s", out)
	} else {
		t.Logf("a write without quorum is refused: %s", lastLine(out))
	}
	var said string
	waitFor(t, "verify etcd to name both stopped masters", 2*time.Minute, func() error {
		out, errOut, err := v.trySpire("verify", "etcd")
		said = out + errOut
		if err == nil || !strings.Contains(said, masters[1].Hostname) || !strings.Contains(said, masters[2].Hostname) {
			return fmt.Errorf("verify etcd: %v\n%s", err, said)
		}
		return nil
	})
	t.Logf("verify etcd without quorum:\n%s", said)
	t.Logf("measured: quorum loss reported by the API and verify in %v", time.Since(start).Round(time.Second))

	start = time.Now()
	for _, m := range masters[1:] {
		v.spire(t, "virt", "start", m.Hostname, "--bin-dir", bin)
	}
	waitFor(t, "etcd back to 3 healthy members", 2*time.Minute, func() error {
		if n := v.etcdHealthy(t, v.masterEndpoints()); n != 3 {
			return fmt.Errorf("%d healthy", n)
		}
		return nil
	})
	v.apiserverReady(t, masters[0], time.Minute)
	if got := v.kubectl(t, "--server", m1, "get", "configmap", "quorum-probe", "-o", "jsonpath={.data.stored}"); got != "before-the-outage" {
		t.Errorf("the configmap stored before the outage reads %q", got)
	}
	v.kubectl(t, "--server", m1, "delete", "configmap", "quorum-probe")
	waitFor(t, "verify etcd to pass again", 2*time.Minute, func() error {
		out, errOut, err := v.trySpire("verify", "etcd")
		if err != nil {
			return fmt.Errorf("%v\n%s%s", err, out, errOut)
		}
		return nil
	})
	t.Logf("measured: recovered without intervention in %v", time.Since(start).Round(time.Second))
}

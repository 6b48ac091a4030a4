package spirecmd

import (
	"strings"
	"testing"
)

// TestDeployDNSExport: the exported add-on forwards to setup.yaml's
// upstreams, and a virtual cluster's to its resolver on the bridge.
func TestDeployDNSExport(t *testing.T) {
	e := newEnv(t)
	e.mustRun("config", "populate")
	r := e.mustRun("deploy", "dns-addon", "--export")
	for _, want := range []string{"kind: Deployment", "clusterIP: 172.28.0.2", "forward . 192.0.2.53\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exported add-on lacks %q", want)
		}
	}

	v := newEnv(t)
	v.mustRun("virt", "init", "--masters", "1", "--workers", "1")
	r = v.mustRun("deploy", "dns-addon", "--export")
	if !strings.Contains(r.stdout, "forward . 10.213.0.1\n") || !strings.Contains(r.stdout, "clusterIP: 10.215.0.10") {
		t.Errorf("the virtual cluster's add-on does not forward to the host's resolver:\n%s", r.stdout)
	}
}

// TestDeployMonitorsExport: flannel's RBAC alone; flannel-monitor with the
// pod network; dns-monitor with the cluster's names, an upstream check only
// when given or in a virtual cluster.
func TestDeployMonitorsExport(t *testing.T) {
	e := newEnv(t)
	e.mustRun("config", "populate")
	if r := e.mustRun("deploy", "flannel", "--export"); !strings.Contains(r.stdout, "name: homeworld:flannel") || strings.Contains(r.stdout, "supervisor") {
		t.Errorf("deploy flannel exports:\n%s", r.stdout)
	}
	if r := e.mustRun("deploy", "flannel-monitor", "--export"); !strings.Contains(r.stdout, "kind: DaemonSet") || !strings.Contains(r.stdout, "--pod-network, 172.18.0.0/16]") {
		t.Errorf("deploy flannel-monitor exports:\n%s", r.stdout)
	}
	r := e.mustRun("deploy", "dns-monitor", "--export")
	if !strings.Contains(r.stdout, "- kubernetes.default.svc.cluster.internal=172.28.0.1\n") || strings.Contains(r.stdout, "--upstream-check") {
		t.Errorf("deploy dns-monitor exports:\n%s", r.stdout)
	}
	r = e.mustRun("deploy", "dns-monitor", "--export", "--upstream-check", "www.example.com=192.0.2.80")
	if !strings.Contains(r.stdout, "- --upstream-check=www.example.com=192.0.2.80\n") {
		t.Errorf("deploy dns-monitor --upstream-check exports:\n%s", r.stdout)
	}
	if r := e.run("deploy", "dns-monitor", "--export", "--upstream-check", "www.example.com"); r.code == 0 || !strings.Contains(r.stderr, `--upstream-check: "www.example.com" is not HOSTNAME=IP`) {
		t.Errorf("a malformed --upstream-check: %+v", r)
	}

	v := newEnv(t)
	v.mustRun("virt", "init", "--masters", "1", "--workers", "1")
	r = v.mustRun("deploy", "dns-monitor", "--export")
	if !strings.Contains(r.stdout, "- --upstream-check=upstream-check.homeworld.test=198.51.100.53\n") {
		t.Errorf("the virtual cluster's dns-monitor does not check its upstream:\n%s", r.stdout)
	}
}

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

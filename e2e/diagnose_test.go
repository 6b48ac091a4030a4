//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// diagnoseOnFailure logs, once t has failed, what a person would look at
// first when a monitoring check fails unexpectedly: where the kube-system
// pods run and how often they restarted, and the last lines of each
// monitor pod's log. A flake that happens once in several CI runs is then
// explained by the run that saw it.
func (v *virtCluster) diagnoseOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out, _ := v.tryKubectl("get", "pods", "-n", "kube-system", "-o", "wide")
		t.Logf("diagnosis: kube-system pods:\n%s", out)
		names, _ := v.tryKubectl("get", "pods", "-n", "kube-system", "-o", "name")
		for _, p := range strings.Fields(names) {
			if !strings.Contains(p, "monitor") {
				continue
			}
			out, _ := v.tryKubectl("logs", "-n", "kube-system", "--tail", "15", p)
			t.Logf("diagnosis: %s, last lines of its log:\n%s", p, out)
		}
	})
}

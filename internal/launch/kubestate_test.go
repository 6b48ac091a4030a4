package launch

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// TestKubeStateMetricsAgainstTheAPI runs the pinned kube-state-metrics with
// the flags the supervisor's launch gives it against a real 1.37 API
// server: it serves the families spire verify reads, under the original's
// names, promtool accepts them, and none of its lists fail.
func TestKubeStateMetricsAgainstTheAPI(t *testing.T) {
	api := kubetest.Start(t)
	bin := upstreamtest.Binary(t, "kube-state-metrics", "kube-state-metrics")
	node := filepath.Join(t.TempDir(), "node.yaml")
	os.WriteFile(node, []byte(`apiVersion: v1
kind: Node
metadata: {name: master1}
spec:
  taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
`), 0o644)
	api.Kubectl(t, "create", "-f", node)
	api.Kubectl(t, "patch", "node", "master1", "--subresource=status", "--type=merge",
		"-p", `{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Test","message":"set by the test"}]}}`)

	l, _ := argv(t, testNode(t, "supervisor"), "kube-state-metrics")
	port, telemetry := kubetest.FreePort(t), kubetest.FreePort(t)
	args := setFlags(t, l.Argv[1:], map[string]string{
		"--kubeconfig": api.Kubeconfig,
		"--host":       "127.0.0.1", "--port": strconv.Itoa(port),
		"--telemetry-host": "127.0.0.1", "--telemetry-port": strconv.Itoa(telemetry),
	})
	ksm := testutil.StartChild(t, "kube-state-metrics", exec.Command(bin, args...))
	get := func(port int, path string) (string, error) {
		resp, err := http.Get("http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}

	var metrics string
	// The apiserver makes kube-system a moment after it serves, and
	// kube-state-metrics lists it once it is there.
	ksm.WaitFor(t, 60*time.Second, "kube-state-metrics reporting master1 and kube-system", func() (bool, error) {
		var err error
		metrics, err = get(port, "/metrics")
		return strings.Contains(metrics, `kube_node_info{node="master1"`) && strings.Contains(metrics, `kube_namespace_status_phase{namespace="kube-system"`), err
	})
	for _, want := range []string{
		`kube_node_status_condition{node="master1",condition="Ready",status="true"} 1`,
		`kube_node_spec_taint{node="master1",key="node-role.kubernetes.io/control-plane",value="",effect="NoSchedule"} 1`,
		`kube_namespace_status_phase{namespace="kube-system",phase="Active"} 1`,
		`kube_node_spec_unschedulable{node="master1"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("kube-state-metrics lacks %s", want)
		}
	}
	if health, err := get(port, "/healthz"); err != nil || !strings.Contains(health, "OK") {
		t.Errorf("/healthz: %q %v", health, err)
	}
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(metrics)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	own, err := get(telemetry, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(own, "\n") {
		if strings.HasPrefix(line, "kube_state_metrics_list_total{") && strings.Contains(line, `result="error"`) && !strings.HasSuffix(line, " 0") {
			t.Errorf("a list failed: %s", line)
		}
	}
	if !strings.Contains(own, `kube_state_metrics_list_total{resource="*v1.Node",result="success"}`) {
		t.Errorf("kube-state-metrics' own metrics lack its node lists:\n%s", own)
	}
}

// setFlags replaces the values of the given flags in args, each of which
// must be there.
func setFlags(t *testing.T, args []string, values map[string]string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for flag, v := range values {
		found := false
		for i := 0; i+1 < len(out); i++ {
			if out[i] == flag {
				out[i+1], found = v, true
			}
		}
		if !found {
			t.Fatalf("the launch has no %s: %q", flag, args)
		}
	}
	return out
}

package launch

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/testutil"
)

// TestNodeExporterLeavesOutPodDevices runs Debian's node exporter with the
// launch's flags in a private network namespace holding a node device
// (eth0) and a pod's veth end: the node's device is reported, the pod's
// is not, by either network collector.
func TestNodeExporterLeavesOutPodDevices(t *testing.T) {
	if _, inside := testutil.InPrivateNetns(t, func() string { return "" }); !inside {
		return
	}
	// A veth pair, as this kernel has no dummy devices: the pod's end
	// stands in for the node's device.
	for _, args := range [][]string{{"link", "add", "veth3f9a1c2e", "type", "veth", "peer", "name", "eth0"},
		{"link", "set", "veth3f9a1c2e", "up"}, {"link", "set", "eth0", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	l, _ := argv(t, testNode(t, "worker1"), "node-exporter")
	args := setFlags(t, l.Argv[1:], map[string]string{"--web.listen-address": services.NodeExporter.Addr("127.0.0.1")})
	exporter := testutil.StartChild(t, "node exporter", exec.Command(l.Argv[0], args...))
	url := services.NodeExporter.URL("127.0.0.1", "/metrics")
	exporter.WaitAnswers(t, 30*time.Second, url)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	metrics := string(body)
	for _, want := range []string{`node_network_up{device="eth0"}`, `node_network_receive_bytes_total{device="eth0"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the exporter does not report the node's own device: no %s", want)
		}
	}
	if strings.Contains(metrics, `device="veth3f9a1c2e"`) {
		t.Errorf("the exporter reports a pod's veth:\n%s", testutil.Grep(metrics, "veth3f9a1c2e"))
	}
}

package launch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/services"
)

// testNode is a node of the example cluster, with its conf files written
// as the keyclient would.
func testNode(t *testing.T, host string) *Node {
	t.Helper()
	node, err := Load(writeConf(t, host, nil), "/opt/hw")
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// writeConf writes host's cluster.conf and local.conf into a fresh root,
// after edit (if any) changes cluster.conf.
func writeConf(t *testing.T, host string, edit func(string) string) layout.Node {
	t.Helper()
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := c.FindNode(host)
	cluster := nodeconf.ForCluster(c).Render()
	if edit != nil {
		cluster = edit(cluster)
	}
	l := layout.Node{Root: t.TempDir()}
	for path, text := range map[string]string{l.ClusterConf(): cluster, l.LocalConf(): nodeconf.ForNode(c, n).Render()} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func argv(t *testing.T, n *Node, component string) (*Launch, string) {
	t.Helper()
	l, err := Plan(component, n)
	if err != nil {
		t.Fatal(err)
	}
	return l, strings.Join(l.Argv, " ")
}

func TestEtcdUsesTLSEverywhere(t *testing.T) {
	_, a := argv(t, testNode(t, "master1"), "etcd")
	for _, want := range []string{
		"/opt/hw/etcd --name master1",
		"--listen-client-urls " + services.EtcdClient.URL("192.0.2.21", ""),
		"--initial-cluster master1=" + services.EtcdPeer.URL("192.0.2.21", "") + ",master2=" + services.EtcdPeer.URL("192.0.2.22", "") + ",master3=" + services.EtcdPeer.URL("192.0.2.23", ""),
		"--client-cert-auth --trusted-ca-file /etc/homeworld/authorities/etcd-client.pem",
		"--peer-client-cert-auth --peer-trusted-ca-file /etc/homeworld/authorities/etcd-server.pem",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("etcd argv lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "http://192.0.2") {
		t.Error("etcd listens without TLS on the node's address")
	}
}

func TestAPIServer(t *testing.T) {
	l, a := argv(t, testNode(t, "master2"), "apiserver")
	for _, want := range []string{
		// its own member, then the next: a quorum of the three
		"--etcd-servers " + services.EtcdClient.URL("192.0.2.22", "") + "," + services.EtcdClient.URL("192.0.2.23", "") + " ",
		"--authorization-mode Node,RBAC",
		"--service-cluster-ip-range 172.28.0.0/16",
		"--service-account-signing-key-file /etc/homeworld/keys/serviceaccount.key",
		"--client-ca-file /etc/homeworld/authorities/kubernetes.pem",
		"--enable-admission-plugins NodeRestriction",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("apiserver argv lacks %q", want)
		}
	}
	if !strings.Contains(l.Files["/etc/homeworld/config/apiserver-authentication.yaml"], "path: /readyz") {
		t.Error("anonymous access is not limited to health endpoints")
	}
}

func TestKubeconfigsPointAtTheRightAPIServer(t *testing.T) {
	l, _ := argv(t, testNode(t, "master3"), "scheduler")
	if kc := l.Files["/etc/homeworld/config/kubeconfig-scheduler"]; !strings.Contains(kc, "server: "+services.APIServer.URL("192.0.2.23", "")) || !strings.Contains(kc, "kubernetes-scheduler.pem") {
		t.Errorf("master's scheduler kubeconfig:\n%s", kc)
	}
	l, _ = argv(t, testNode(t, "worker2"), "kubelet")
	if kc := l.Files["/etc/homeworld/config/kubeconfig-kubelet"]; !strings.Contains(kc, "server: "+services.APIServer.URL("192.0.2.21", "")) || !strings.Contains(kc, "name: system:node:worker2") {
		t.Errorf("worker's kubelet kubeconfig:\n%s", kc)
	}
}

func TestKubeletScheduling(t *testing.T) {
	master, _ := argv(t, testNode(t, "master1"), "kubelet")
	worker, wa := argv(t, testNode(t, "worker1"), "kubelet")
	if !strings.Contains(master.Files["/etc/homeworld/config/kubelet.yaml"], "node-role.kubernetes.io/control-plane, effect: NoSchedule") {
		t.Error("masters are not registered unschedulable")
	}
	wc := worker.Files["/etc/homeworld/config/kubelet.yaml"]
	for _, want := range []string{"registerWithTaints: []", "anonymous: {enabled: false}", "cgroupRoot: /homeworld-worker1", "clusterDNS: [172.28.0.2]"} {
		if !strings.Contains(wc, want) {
			t.Errorf("worker kubelet config lacks %q:\n%s", want, wc)
		}
	}
	if !strings.Contains(wa, "--node-labels homeworld.node.kubernetes.io/kind=worker") {
		t.Errorf("the kubelet does not label its node with its kind: %s", wa)
	}
	if !strings.Contains(wa, "--node-ip 192.0.2.31") {
		t.Errorf("kubelet argv %s", wa)
	}
}

func TestContainerdAndCNI(t *testing.T) {
	l, _ := argv(t, testNode(t, "worker1"), "containerd")
	if c := l.Files[containerdConfig]; !strings.Contains(c, "restrict_oom_score_adj = true") || !strings.Contains(c, `sandbox_image = "homeworld.private/pause:1"`) {
		t.Errorf("containerd config:\n%s", c)
	}
	// Pods join flannel's network through Homeworld's plugin, which
	// containerd finds beside Debian's in the node's own plugin folder.
	if c := l.Files[cniConfigPath]; !strings.Contains(c, `"type": "homeworld-flannel"`) || !strings.Contains(c, `"subnetFile": "/run/flannel/subnet.env"`) {
		t.Errorf("CNI config:\n%s", c)
	}
	// Images come from the cluster's registry, trusted through the cluster
	// CA, pull only.
	if c := l.Files[containerdConfig]; !strings.Contains(c, `config_path = "/etc/homeworld/config/registry-hosts"`) {
		t.Errorf("containerd does not read the registry hosts:\n%s", c)
	}
	hosts := l.Files["/etc/homeworld/config/registry-hosts/homeworld.private/hosts.toml"]
	for _, want := range []string{`server = "https://homeworld.private"`, `capabilities = ["pull", "resolve"]`, `ca = "/etc/homeworld/authorities/clusterca.pem"`} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts.toml lacks %q:\n%s", want, hosts)
		}
	}
	if c := l.Files[containerdConfig]; !strings.Contains(c, `bin_dir = "/var/lib/homeworld/cni/bin"`) {
		t.Errorf("containerd does not look for plugins in the node's folder:\n%s", c)
	}
}

func TestMissingConfigIsNamed(t *testing.T) {
	l := writeConf(t, "master1", func(s string) string {
		return strings.Replace(s, "ETCD_TOKEN=", "ETCD_TOKN=", 1)
	})
	if _, err := Load(l, "/opt/hw"); err == nil || !strings.Contains(err.Error(), "cluster.conf: ETCD_TOKEN is missing") {
		t.Errorf("Load = %v", err)
	}
	l = writeConf(t, "master1", nil)
	os.Remove(l.LocalConf())
	if _, err := Load(l, "/opt/hw"); err == nil || !strings.Contains(err.Error(), "local.conf") || !strings.Contains(err.Error(), "keyclient fetches it") {
		t.Errorf("Load without local.conf = %v", err)
	}
	if _, err := Plan("nonsense", testNode(t, "master1")); err == nil || !strings.Contains(err.Error(), "known:") {
		t.Errorf("Plan = %v", err)
	}
}

// TestVirtualNodes: cluster.conf's VIRTUAL decides where service states
// come from (virtnode reports them; there is no systemd to collect).
func TestVirtualNodes(t *testing.T) {
	_, real := argv(t, testNode(t, "worker1"), "node-exporter")
	virtual := testNode(t, "worker1")
	virtual.Cluster.Virtual = true
	_, virt := argv(t, virtual, "node-exporter")
	if !strings.Contains(real, "--collector.systemd") || strings.Contains(virt, "--collector.systemd") {
		t.Errorf("node exporter on a real host: %s; on a virtual node: %s", real, virt)
	}
}

// TestGoRuntimeSettings: a service with a Go memory limit runs with it and
// with services.GoGC, or Go's default GOGC if its limit holds it; one without
// (sshd, not a Go program) gets neither.
func TestGoRuntimeSettings(t *testing.T) {
	n := testNode(t, "master1")
	etcd, _ := argv(t, n, "etcd")
	want := []string{fmt.Sprintf("GOMEMLIMIT=%dMiB", services.MustGet("etcd").GoMemLimit), fmt.Sprintf("GOGC=%d", services.GoGC)}
	if !slices.Equal(etcd.Env, want) {
		t.Errorf("etcd's environment %q, want %q", etcd.Env, want)
	}
	api, _ := argv(t, n, "apiserver")
	if want := []string{fmt.Sprintf("GOMEMLIMIT=%dMiB", services.MustGet("kube-apiserver").GoMemLimit)}; !slices.Equal(api.Env, want) {
		t.Errorf("the apiserver's environment %q, want %q", api.Env, want)
	}
	if sshd, _ := argv(t, n, "sshd"); len(sshd.Env) != 0 {
		t.Errorf("sshd's environment %q, want none of Go's", sshd.Env)
	}
}

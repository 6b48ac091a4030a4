package launch

import (
	"os"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/monitoring"
	"homeworld.dev/homeworld/internal/services"
)

// PodDevices matches the host ends of pods' veth pairs (the CNI bridge
// plugin names them veth and a random suffix). The node exporter leaves
// them out: about 40 series each, new ones with every pod sandbox, that no
// rule or check reads (flannel-monitor proves the pod network; traffic per
// pod is the kubelet's to report). The node's own devices stay.
const PodDevices = "^veth.+$"

func nodeExporter(n *Node) (*Launch, error) {
	argv := []string{"/usr/bin/prometheus-node-exporter", "--web.listen-address", services.NodeExporter.Addr(n.ip()),
		"--collector.netclass.ignored-devices", PodDevices,
		"--collector.netdev.device-exclude", "^lo$|" + PodDevices} // loopback is the collector's default exclusion
	if !n.Cluster.Virtual {
		// Service states, as node_systemd_unit_state, and restarts, as
		// node_systemd_service_restart_total (verify services notices them).
		argv = append(argv, "--collector.systemd", "--collector.systemd.enable-restarts-metrics")
	}
	return &Launch{Argv: argv}, nil
}

func etcdExporter(n *Node) (*Launch, error) {
	ip := n.ip()
	return &Launch{Argv: []string{n.bin("etcd-metrics-exporter"),
		"--listen", services.EtcdExporter.Addr(ip), "--etcd", services.EtcdClient.URL(ip, ""),
		"--ca", etcdServerCA, "--cert", cert("etcd-client"), "--key", key("etcd-client")}}, nil
}

// PrometheusHeadBlock is the span of Prometheus's blocks as its head cuts
// them (Prometheus's default is 2h; the flag is one it does not list in
// --help). The head holds up to one and a half blocks of samples in
// memory, and every series' list of chunks grows until the head is cut:
// with 2 h blocks that is for the first 3 hours of a new Prometheus; with
// 1 h the head is cut after 90 minutes and then every hour. Blocks are
// merged on disk later, as before.
const PrometheusHeadBlock = "1h"

func prometheus(n *Node) (*Launch, error) {
	setup, _, err := config.Load(n.Layout.SetupYAML())
	if err != nil {
		return nil, err
	}
	o := monitoring.Options{
		ScrapeInterval: ScrapeInterval,
		RulesFile:      layout.ConfigDir + "/prometheus-rules.yaml",
		ClusterCA:      layout.AuthoritiesDir + "/clusterca.pem",
		KubeCA:         kubeCA,
		SupervisorCert: cert("kubernetes-supervisor"),
		SupervisorKey:  key("kubernetes-supervisor"),
	}
	if n.Cluster.Virtual {
		o.Virtual = true
		o.ScrapeInterval = VirtualInterval
		o.LateInterval = VirtualLateInterval
		o.BulkInterval = VirtualBulkInterval
	}
	conf, err := monitoring.PrometheusConfig(setup, o)
	if err != nil {
		return nil, err
	}
	path := layout.ConfigDir + "/prometheus.yaml"
	return &Launch{
		Files: map[string]string{path: conf, o.RulesFile: monitoring.Rules()},
		Argv: []string{"/usr/bin/prometheus", "--config.file", path,
			"--storage.tsdb.path", layout.StateDir + "/prometheus",
			"--storage.tsdb.retention.time", "15d",
			"--storage.tsdb.min-block-duration", PrometheusHeadBlock,
			"--web.listen-address", services.Prometheus.Addr(n.ip())},
	}, nil
}

// sshd runs OpenSSH with Homeworld's drop-in as its whole configuration (a
// virtual node has no distribution sshd_config), on the node's address.
func sshd(n *Node) (*Launch, error) {
	return &Launch{
		Prepare: func() error { return os.MkdirAll("/run/sshd", 0o755) }, // privilege separation
		Argv: []string{"/usr/sbin/sshd", "-D", "-e", "-f", layout.SSHDir + "/sshd_config.d/homeworld.conf",
			"-o", "ListenAddress=" + services.SSH.Addr(n.ip()), "-o", "PidFile=/run/sshd.pid"},
	}, nil
}

// KubeStateResources are the objects kube-state-metrics reports on: what
// the supervisor's monitoring may read (internal/rbac), so no list is
// forbidden.
var KubeStateResources = []string{"configmaps", "cronjobs", "daemonsets", "deployments", "endpoints", "jobs",
	"limitranges", "namespaces", "nodes", "persistentvolumeclaims", "persistentvolumes", "pods", "replicasets",
	"replicationcontrollers", "resourcequotas", "services", "statefulsets"}

// kubeState runs the pinned kube-state-metrics as the supervisor, which may
// only read; its own metrics (list and watch outcomes) on loopback.
func kubeState(n *Node) (*Launch, error) {
	kc := kubeconfigPath("kube-state-metrics")
	text, err := n.kubeconfig("supervisor:"+n.Local.Hostname, "kubernetes-supervisor")
	if err != nil {
		return nil, err
	}
	server := n.apiServerURL()
	return &Launch{Files: map[string]string{kc: text}, Prepare: func() error {
		return waitForAPI(server, n.apiClient("kubernetes-supervisor"), time.Second, os.Stderr)
	}, Argv: []string{n.bin("kube-state-metrics"), "--kubeconfig", kc,
		"--host", services.KubeState.Host(n.ip()), "--port", services.KubeState.PortString(),
		"--telemetry-host", services.KubeStateTelemetry.Host(n.ip()), "--telemetry-port", services.KubeStateTelemetry.PortString(),
		"--resources", strings.Join(KubeStateResources, ",")}}, nil
}

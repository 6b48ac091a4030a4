package launch

import (
	"fmt"
	"path/filepath"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

// Containerd's per-node paths.
const (
	containerdConfig = layout.ConfigDir + "/containerd.toml"
	// PauseImage is the sandbox image, built by Homeworld and pulled from
	// the cluster's registry like every other image.
	PauseImage = policy.RegistryName + "/pause:1"
	// registryHostsDir is containerd's per-registry configuration
	// (hosts.toml): the cluster's registry, trusted through the cluster CA.
	registryHostsDir = layout.ConfigDir + "/registry-hosts"
)

// registryHosts tells containerd how to reach the cluster's registry:
// HTTPS under its own name, whose certificate the cluster CA signs; pull
// and resolve only, since nodes never push.
func registryHosts() (path, content string) {
	name := policy.RegistryName
	// containerd 1.6 wants a [host] table, and the CA also at the top
	// (else a missing image shows as a certificate error).
	return registryHostsDir + "/" + name + "/hosts.toml", fmt.Sprintf(`server = "https://%s"
ca = "%s"

[host."https://%s"]
  capabilities = ["pull", "resolve"]
  ca = "%s"
`, name, clusterCA, name, clusterCA)
}

func containerd(n *Node) (*Launch, error) {
	conf := fmt.Sprintf(`version = 2
root = "%s/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "%s"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%s"
  # Lowering oom_score_adj needs CAP_SYS_RESOURCE, which these machines lack.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "%s"
    conf_dir = "%s"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "%s"
`, layout.StateDir, layout.ContainerdSocket, PauseImage, cniBinDir, filepath.Dir(cniConfigPath), registryHostsDir)
	cni, err := cniConfig()
	if err != nil {
		return nil, err
	}
	hostsPath, hosts := registryHosts()
	return &Launch{
		Files:   map[string]string{containerdConfig: conf, cniConfigPath: cni, hostsPath: hosts},
		Prepare: n.linkCNIPlugins,
		Argv:    []string{"/usr/bin/containerd", "--config", containerdConfig},
	}, nil
}

// CgroupRoot is where a node's kubelet puts its pods' cgroups.
func CgroupRoot(host string) string { return "homeworld-" + host }

func kubelet(n *Node) (*Launch, error) {
	kc := kubeconfigPath("kubelet")
	host := n.Local.Hostname
	taints := "[]"
	if !n.Local.ScheduleWork() {
		taints = `[{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]`
	}
	conf := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: %s
healthzPort: %d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization:
  mode: Webhook
tlsCertFile: %s
tlsPrivateKeyFile: %s
clusterDNS: [%s]
clusterDomain: %s
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
# Each virtual node shares the host's cgroup hierarchy: keep its pods apart.
cgroupRoot: /%s
# These machines (and the virtual cluster) have cgroup v1 hierarchies;
# Kubernetes 1.35+ refuses them unless told otherwise.
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: false
registerWithTaints: %s
podLogsDir: /var/log/homeworld/pods
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
`, n.ip(), services.KubeletAPI.Port, services.KubeletHealth.Host(""), services.KubeletHealth.Port, kubeCA, cert("kubernetes-worker"), key("kubernetes-worker"),
		n.Cluster.ServiceDNS, n.Cluster.ClusterDomain, layout.ContainerdSocket, CgroupRoot(host), taints)
	confPath := layout.ConfigDir + "/kubelet.yaml"
	kcText, err := n.kubeconfig("system:node:"+host, "kubernetes-worker")
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files: map[string]string{kc: kcText, confPath: conf},
		Prepare: func() error {
			if err := prepareCgroups(CgroupRoot(host)); err != nil {
				return fmt.Errorf("preparing cgroups: %w", err)
			}
			return nil
		},
		Argv: []string{n.bin("kubelet"),
			"--config", confPath,
			"--kubeconfig", kc,
			"--hostname-override", host,
			"--node-labels", config.KindLabel + "=" + string(n.Local.Kind),
			"--node-ip", n.ip(),
			"--root-dir", layout.StateDir + "/kubelet",
		}}, nil
}

// PullcheckImage is what pull-monitor pulls from the cluster's registry and
// runs on every master and worker.
const PullcheckImage = policy.RegistryName + "/pullcheck:1"

// pullMonitor runs Homeworld's pull-monitor against the node's containerd;
// its containers live under the node's pod cgroups.
func pullMonitor(n *Node) (*Launch, error) {
	argv := []string{n.bin("pull-monitor"), "--image", PullcheckImage,
		"--listen", services.PullMonitor.Addr(n.ip()), "--runtime-endpoint", layout.ContainerdSocket,
		"--cgroup-parent", "/" + CgroupRoot(n.Local.Hostname) + "/pullcheck"}
	// Its default interval even on a virtual cluster: each cycle starts
	// a container (ctr, a shim, runc), the costliest check of an idle
	// cluster, and a failing one is retried within seconds at start.
	return &Launch{Argv: argv}, nil
}

// VirtualInterval is how often a virtual cluster's Prometheus scrapes and
// its monitors measure: quick feedback for checks on a test cluster.
const VirtualInterval = 5 * time.Second

// VirtualLateInterval is how often a virtual cluster's Prometheus scrapes
// monitoring.LateJobs: a bring-up's proof waits on their first results,
// on average half an interval after they exist. Each is small (about 750
// series in all), so scraping them more often costs Prometheus little.
const VirtualLateInterval = 2 * time.Second

// ScrapeInterval is how often Prometheus scrapes on real hosts, and
// evaluates its rules.
const ScrapeInterval = 15 * time.Second

// VirtualBulkInterval is how often a virtual cluster's Prometheus scrapes
// monitoring.BulkJobs: as often as on real hosts. At 5 s Prometheus
// filled a chunk of every series each 10 minutes, and its mapped chunk
// files grew by about 3.8 MB each time until the head was cut.
const VirtualBulkInterval = ScrapeInterval

package launch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
)

// Containerd's per-node paths.
const (
	ContainerdSocket = "/run/containerd/containerd.sock"
	containerdConfig = layout.ConfigDir + "/containerd.toml"
	// PauseImage is the sandbox image, built by Homeworld and imported
	// locally: nothing is ever pulled.
	PauseImage = "homeworld.private/pause:1"
	// ImagesDir holds OCI image archives imported before kubelet starts on
	// real hosts.
	ImagesDir = "/usr/lib/homeworld/images"
)

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
`, layout.StateDir, ContainerdSocket, PauseImage, cniBinDir, filepath.Dir(cniConfigPath))
	cni, err := cniConfig()
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files:   map[string]string{containerdConfig: conf, cniConfigPath: cni},
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
		n.Cluster.ServiceDNS, n.Cluster.ClusterDomain, ContainerdSocket, CgroupRoot(host), taints)
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
			return n.importImages()
		},
		Argv: []string{n.bin("kubelet"),
			"--config", confPath,
			"--kubeconfig", kc,
			"--hostname-override", host,
			"--node-ip", n.ip(),
			"--root-dir", layout.StateDir + "/kubelet",
		}}, nil
}

// importImages loads Homeworld's images (the pause image among them) into
// containerd, so no pod ever needs a registry to start.
func (n *Node) importImages() error {
	archives, _ := filepath.Glob(filepath.Join(n.Images, "*.tar"))
	if len(archives) == 0 {
		return fmt.Errorf("no images in %s; the pause image is required", n.Images)
	}
	for _, a := range archives {
		cmd := exec.Command("/usr/bin/ctr", "--address", ContainerdSocket, "--namespace", "k8s.io", "images", "import", a)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("importing %s: %v: %s", a, err, out)
		}
	}
	fmt.Fprintf(os.Stderr, "kube-launch: imported %d images\n", len(archives))
	return nil
}

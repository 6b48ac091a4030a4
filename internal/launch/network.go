package launch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/flannelcni"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
)

// The pod network: flanneld leases the node's pod range (allocated by the
// controller-manager) and connects nodes over VXLAN; containerd's CNI
// configuration puts pods on it through Homeworld's flannel plugin.
const (
	flannelNetConf    = layout.ConfigDir + "/flannel-net-conf.json"
	flannelSubnetFile = "/run/flannel/subnet.env"
	cniConfigPath     = layout.ConfigDir + "/cni/10-homeworld.conflist"
	// cniBinDir holds the plugins containerd may run: Debian's and ours,
	// linked into one folder of the node's own (CRI takes one folder).
	cniBinDir     = layout.StateDir + "/cni/bin"
	debianCNIDir  = "/usr/lib/cni"
	cniBridge     = "cni0"
	cniNetwork    = "homeworld"
	cniPluginsDir = layout.StateDir + "/cni"
)

// debianPlugins are the CNI plugins the network uses from Debian's
// containernetworking-plugins.
var debianPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// cniConfig is the node's network: Homeworld's flannel plugin (which
// delegates to bridge and host-local) followed by portmap for hostPorts.
func cniConfig() (string, error) {
	out, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetwork,
		"plugins": []map[string]any{
			{"type": flannelcni.Type, "subnetFile": flannelSubnetFile, "dataDir": cniPluginsDir, "bridge": cniBridge},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
	return string(out) + "\n", err
}

// linkCNIPlugins fills cniBinDir with links to the plugins, replacing
// stale ones, so a package upgrade of either side takes effect.
func (n *Node) linkCNIPlugins() error {
	dir := n.Layout.Path(cniBinDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	targets := map[string]string{flannelcni.Type: n.bin(flannelcni.Type)}
	for _, p := range debianPlugins {
		targets[p] = filepath.Join(debianCNIDir, p)
	}
	for name, target := range targets {
		if _, err := os.Stat(target); err != nil {
			return fmt.Errorf("CNI plugin %s: %w", name, err)
		}
		link := filepath.Join(dir, name)
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

func flannel(n *Node) (*Launch, error) {
	netConf, err := json.Marshal(map[string]any{
		"Network": n.Cluster.ClusterCIDR.String(),
		"Backend": map[string]any{"Type": "vxlan", "Port": services.FlannelVXLAN.Port},
	})
	if err != nil {
		return nil, err
	}
	kc := kubeconfigPath("flannel")
	kcText, err := n.kubeconfig("flannel:"+n.Local.Hostname, "kubernetes-flannel")
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files: map[string]string{kc: kcText, flannelNetConf: string(netConf) + "\n"},
		// Nodes route between pods, VXLAN and Services: without
		// forwarding a node reaches only its own pods (found on masters,
		// which run none: only the bridge plugin turned it on elsewhere).
		Prepare: func() error {
			if err := enableForwarding(); err != nil {
				return err
			}
			return waitForPodCIDR(n, "kubernetes-flannel")
		},
		Argv: []string{n.bin("flanneld"),
			"--kube-subnet-mgr", "--kubeconfig-file", kc,
			"--net-config-path", flannelNetConf,
			"--iface", n.ip(), // the node's address carries VXLAN
			"--ip-masq",
			// flanneld checks each of its rules with one iptables process:
			// every 5 s by default, the busiest process spawner of an idle
			// cluster. A rule someone removed comes back within a minute.
			"--iptables-resync", fmt.Sprint(flannelIPTablesResync),
			"--subnet-file", flannelSubnetFile,
			"--healthz-ip", services.FlannelHealth.Host(n.ip()), "--healthz-port", services.FlannelHealth.PortString(),
		},
		// Outside a pod, flanneld learns its node's name from NODE_NAME.
		Env: []string{"NODE_NAME=" + n.Local.Hostname},
	}, nil
}

// flannelIPTablesResync is how often, in seconds, flanneld puts back its
// iptables rules if they were removed.
const flannelIPTablesResync = 60

func enableForwarding() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	return nil
}

package launch

import (
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/kubeconfig"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
)

// Paths of the keysystem's files, as the components see them.
const (
	kubeCA       = layout.AuthoritiesDir + "/kubernetes.pem"
	clusterCA    = layout.AuthoritiesDir + "/clusterca.pem"
	etcdServerCA = layout.AuthoritiesDir + "/etcd-server.pem"
	etcdClientCA = layout.AuthoritiesDir + "/etcd-client.pem"
	saKey        = layout.KeysDir + "/serviceaccount.key"
	saPub        = layout.KeysDir + "/serviceaccount.pem"
)

func key(name string) string  { return layout.KeysDir + "/" + name + ".key" }
func cert(name string) string { return layout.KeysDir + "/" + name + ".pem" }

// apiServerURL is the API the node's components talk to: a master its own
// apiserver (so each master stands alone when others fail), other nodes the
// first master.
func (n *Node) apiServerURL() string {
	if n.isMaster() {
		return services.APIServer.URL(n.ip(), "")
	}
	return n.Cluster.APIServer()
}

// kubeconfig renders a kubeconfig for one component's certificate.
func (n *Node) kubeconfig(user, certName string) (string, error) {
	kc, err := kubeconfig.Render("homeworld", user, kubeconfig.Files{
		Server: n.apiServerURL(), CA: kubeCA, Cert: cert(certName), Key: key(certName),
	})
	return string(kc), err
}

func kubeconfigPath(component string) string {
	return layout.ConfigDir + "/kubeconfig-" + component
}

func etcd(n *Node) (*Launch, error) {
	ip := n.ip()
	return &Launch{Argv: []string{n.bin("etcd"),
		"--name", n.Local.Hostname,
		"--data-dir", layout.StateDir + "/etcd",
		"--listen-client-urls", services.EtcdClient.URL(ip, ""),
		"--advertise-client-urls", services.EtcdClient.URL(ip, ""),
		"--listen-peer-urls", services.EtcdPeer.URL(ip, ""),
		"--initial-advertise-peer-urls", services.EtcdPeer.URL(ip, ""),
		"--listen-metrics-urls", services.EtcdHealth.URL(ip, ""),
		"--initial-cluster", n.Cluster.EtcdCluster(),
		"--initial-cluster-token", n.Cluster.EtcdToken,
		"--initial-cluster-state", "new",
		"--client-cert-auth", "--trusted-ca-file", etcdClientCA,
		"--cert-file", cert("etcd-server"), "--key-file", key("etcd-server"),
		"--peer-client-cert-auth", "--peer-trusted-ca-file", etcdServerCA,
		"--peer-cert-file", cert("etcd-server"), "--peer-key-file", key("etcd-server"),
		"--tls-min-version", "TLS1.2",
		// etcd keeps its raft log in memory from one snapshot to the next,
		// plus the entries kept for a slow follower: 10,000 and 5,000 by
		// default, more than an hour of an idle small cluster's writes
		// (3.4 a second), and its memory grew all that time. A follower
		// further behind than the kept entries gets a snapshot instead,
		// which is a few MiB here.
		"--snapshot-count", "2000",
		"--snapshot-catchup-entries", "1000",
	}}, nil
}

// apiserverAuthn lets unauthenticated requests reach only the health
// endpoints (for readiness checks); everything else needs a certificate.
const apiserverAuthn = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
  - path: /healthz
`

func apiserver(n *Node) (*Launch, error) {
	authn := layout.ConfigDir + "/apiserver-authentication.yaml"
	return &Launch{Files: map[string]string{authn: apiserverAuthn}, Argv: []string{n.bin("kube-apiserver"),
		"--advertise-address", n.ip(),
		"--bind-address", n.ip(),
		"--secure-port", services.APIServer.PortString(),
		"--etcd-servers", strings.Join(n.Cluster.EtcdQuorumEndpoints(n.Local.IP), ","),
		"--etcd-cafile", etcdServerCA, "--etcd-certfile", cert("etcd-client"), "--etcd-keyfile", key("etcd-client"),
		"--service-cluster-ip-range", n.Cluster.ServiceCIDR.String(),
		"--authorization-mode", "Node,RBAC",
		"--authentication-config", authn,
		"--allow-privileged=true",
		"--enable-admission-plugins", "NodeRestriction",
		"--client-ca-file", kubeCA,
		"--tls-cert-file", cert("kubernetes-master"), "--tls-private-key-file", key("kubernetes-master"),
		"--kubelet-certificate-authority", kubeCA,
		"--kubelet-client-certificate", cert("kubernetes-master"), "--kubelet-client-key", key("kubernetes-master"),
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc." + n.Cluster.ClusterDomain,
		"--service-account-lookup",
		"--profiling=false",
		"--disabled-metrics", strings.Join(APIServerDiagnosticHistograms, ","),
	}}, nil
}

// APIServerDiagnosticHistograms are per-resource latency and size
// histograms for debugging the apiserver itself, turned off. On a small
// virtual cluster they were 14,000 of each apiserver's 21,000 series;
// observing them and rendering them on every scrape made up most of an idle
// apiserver's CPU and garbage (3 apiservers: 0.1-0.4 cores each before,
// 0.03 after; Prometheus: 0.19 cores before, 0.02 after) and slowed its
// start. The last three (storage list latency, response sizes, filter
// latency) were 2,600 of the 12,600 lines each apiserver still rendered
// every 5 s and Prometheus then dropped (1.7 MB a scrape; 1.0 MB without).
// Request counts and apiserver_request_duration_seconds, the latency
// clients see, stay. The informers' and work queues' histograms are not
// the apiserver's own metrics and --disabled-metrics cannot turn them off.
var APIServerDiagnosticHistograms = []string{
	"etcd_request_duration_seconds",
	"apiserver_watch_events_dispatch_duration_seconds",
	"apiserver_watch_list_duration_seconds",
	"apiserver_request_sli_duration_seconds",
	"apiserver_request_body_size_bytes",
	"apiserver_watch_cache_read_wait_seconds",
	"apiserver_watch_cache_initialization_duration_seconds",
	"apiserver_watch_events_sizes",
	"apiserver_storage_list_duration_seconds",
	"apiserver_response_sizes",
	"apiserver_request_filter_duration_seconds",
}

func controllerManager(n *Node) (*Launch, error) {
	kc := kubeconfigPath("controller-manager")
	kcText, err := n.kubeconfig("system:kube-controller-manager", "kubernetes-ctrl-mgr")
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files: map[string]string{kc: kcText},
		Argv: []string{n.bin("kube-controller-manager"),
			"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
			"--bind-address", services.ControllerManager.Host(""),
			"--secure-port", services.ControllerManager.PortString(),
			"--cluster-name", "homeworld",
			// Each node's pod range (node.spec.podCIDR), which flannel
			// leases to the node.
			"--allocate-node-cidrs",
			"--cluster-cidr", n.Cluster.ClusterCIDR.String(),
			"--node-cidr-mask-size", strconv.Itoa(config.NodePodPrefix),
			"--service-cluster-ip-range", n.Cluster.ServiceCIDR.String(),
			"--leader-elect",
			"--use-service-account-credentials",
			"--service-account-private-key-file", saKey,
			"--root-ca-file", kubeCA,
			"--profiling=false",
		}}, nil
}

func scheduler(n *Node) (*Launch, error) {
	kc := kubeconfigPath("scheduler")
	kcText, err := n.kubeconfig("system:kube-scheduler", "kubernetes-scheduler")
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files: map[string]string{kc: kcText},
		Argv: []string{n.bin("kube-scheduler"),
			"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
			"--bind-address", services.Scheduler.Host(""),
			"--secure-port", services.Scheduler.PortString(),
			"--leader-elect",
			"--profiling=false",
		}}, nil
}

func proxy(n *Node) (*Launch, error) {
	kc := kubeconfigPath("proxy")
	kcText, err := n.kubeconfig("system:kube-proxy", "kubernetes-proxy")
	if err != nil {
		return nil, err
	}
	return &Launch{
		Files: map[string]string{kc: kcText},
		Argv: []string{n.bin("kube-proxy"),
			"--kubeconfig", kc,
			"--hostname-override", n.Local.Hostname,
			"--cluster-cidr", n.Cluster.ClusterCIDR.String(),
			"--proxy-mode", "iptables",
			"--conntrack-max-per-core", "0",
			"--metrics-bind-address", services.ProxyMetrics.Addr(""),
			"--healthz-bind-address", services.ProxyHealth.Addr(""),
			"--config-sync-period", "1m",
		}}, nil
}

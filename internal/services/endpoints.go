package services

import (
	"net"
	"strconv"

	"homeworld.dev/homeworld/internal/keyapi"
)

// Scheme is how an endpoint is spoken to.
type Scheme string

const (
	HTTP  Scheme = "http"
	HTTPS Scheme = "https"
	TCP   Scheme = "tcp" // a plain stream (SSH, etcd peers)
	UDP   Scheme = "udp" // datagrams (VXLAN)
)

// Trust says how Prometheus authenticates an HTTPS endpoint it scrapes.
type Trust int

const (
	TrustNone       Trust = iota // plain HTTP
	TrustClusterCA               // server certificate from clusterca, named after the supervisor
	TrustKubernetes              // kubernetes CA, and the supervisor's client certificate
	TrustRegistry                // server certificate from clusterca, named RegistryName
)

// RegistryName is the name the cluster's image registry serves under:
// images are homeworld.private/NAME, and its certificate names only it.
const RegistryName = "homeworld.private"

// Endpoint is one port a service listens on. Every port number of the
// cluster is written here and nowhere else; a repository test
// (internal/tree) holds the rest of the tree to that.
type Endpoint struct {
	Port   int
	Scheme Scheme
	// Loopback endpoints listen on 127.0.0.1 only: the node itself is
	// their only client.
	Loopback bool
	// Job is the Prometheus job that scrapes MetricsPath here; empty
	// when Prometheus does not scrape the endpoint.
	Job         string
	MetricsPath string
	Trust       Trust
	// HonorLabels keeps the node label the target sets itself: services
	// that report about other nodes (auth-monitor) or objects
	// (kube-state) put the subject there, not the scraped node.
	HonorLabels bool
	// Drop is a regular expression of metric names Prometheus drops at
	// scrape (empty: none). No rule, check or alert reads what it drops:
	//   - histogram buckets (.+_bucket): _sum and _count stay, so averages
	//     and rates do; buckets were about 4,500 of an apiserver's 7,000
	//     series even with its diagnostic histograms off (internal/launch),
	//     and 600 of an etcd member's 1,700;
	//   - inventories that are the same on every scrape: which feature
	//     gates are on (254 series an apiserver), and etcd's gRPC outcome
	//     per method and status code, made up front for all 45 methods
	//     times 17 codes and nearly all zero (765 series a member); etcd's
	//     failures show in etcd_server_proposals_failed_total and the
	//     apiservers' etcd_request_errors_total;
	//   - an apiserver's bookkeeping per resource of how it lists from
	//     etcd and keeps its watch caches (apiserver_storage_list_*,
	//     apiserver_watch_cache_*, watch_cache_capacity, consistency
	//     checks, bookmarks, size estimates, its requests to itself):
	//     about 1,000 series an apiserver, a fifth of Prometheus's, that
	//     only someone tuning the apiserver reads, and its /metrics still
	//     serves them. Object counts (apiserver_resource_objects) and
	//     request counts and durations stay.
	// Together they were most of Prometheus's series and memory.
	Drop string
}

// apiserverBookkeeping is the APIServer endpoint's per-resource
// bookkeeping that Prometheus drops (see Drop).
const apiserverBookkeeping = `apiserver_storage_list_.+|apiserver_watch_cache_.+|watch_cache_capacity|` +
	`apiserver_storage_consistency_checks_total|etcd_bookmark_total|apiserver_resource_size_estimate_bytes|apiserver_selfrequest_total`

// The cluster's endpoints.
var (
	KeyserverAPI = Endpoint{Port: 20557, Scheme: HTTPS, Job: "keyserver", MetricsPath: keyapi.PathMetrics, Trust: TrustClusterCA}
	// KeyclientStatus serves the keyclient's /readyz and /metrics.
	KeyclientStatus = Endpoint{Port: 9108, Scheme: HTTP, Job: "keyclient", MetricsPath: "/metrics"}
	NodeExporter    = Endpoint{Port: 9100, Scheme: HTTP, Job: "node-resources", MetricsPath: "/metrics"}
	SSH             = Endpoint{Port: 22, Scheme: TCP}
	AuthMonitor     = Endpoint{Port: 9102, Scheme: HTTP, Job: "auth-monitor", MetricsPath: "/metrics", HonorLabels: true}
	KubeState       = Endpoint{Port: 9104, Scheme: HTTP, Job: "kube-state-metrics", MetricsPath: "/metrics", HonorLabels: true}
	// KubeStateTelemetry is kube-state-metrics' own health (/metrics of
	// its lists and watches), for the node only.
	KubeStateTelemetry = Endpoint{Port: 9105, Scheme: HTTP, Loopback: true}
	Prometheus         = Endpoint{Port: 9090, Scheme: HTTP, Job: "prometheus", MetricsPath: "/metrics"}
	EtcdClient         = Endpoint{Port: 2379, Scheme: HTTPS}
	EtcdPeer           = Endpoint{Port: 2380, Scheme: HTTPS}
	// EtcdHealth is etcd's plain-HTTP /health and /metrics, for the node
	// alone; Prometheus reads etcd through EtcdExporter instead.
	EtcdHealth        = Endpoint{Port: 2381, Scheme: HTTP, Loopback: true}
	EtcdExporter      = Endpoint{Port: 9101, Scheme: HTTP, Job: "etcd", MetricsPath: "/metrics", Drop: `.+_bucket|grpc_server_handled_total|etcd_server_feature_enabled`}
	APIServer         = Endpoint{Port: 443, Scheme: HTTPS, Job: "kubernetes-apiservers", MetricsPath: "/metrics", Trust: TrustKubernetes, Drop: `.+_bucket|kubernetes_feature_enabled|` + apiserverBookkeeping}
	ControllerManager = Endpoint{Port: 10257, Scheme: HTTPS, Loopback: true}
	Scheduler         = Endpoint{Port: 10259, Scheme: HTTPS, Loopback: true}
	KubeletAPI        = Endpoint{Port: 10250, Scheme: HTTPS}
	KubeletHealth     = Endpoint{Port: 10248, Scheme: HTTP, Loopback: true}
	ProxyMetrics      = Endpoint{Port: 10249, Scheme: HTTP, Loopback: true}
	ProxyHealth       = Endpoint{Port: 10256, Scheme: HTTP, Loopback: true}
	// FlannelVXLAN carries pod traffic between nodes (the kernel's VXLAN
	// device; flanneld only configures it).
	FlannelVXLAN = Endpoint{Port: 8472, Scheme: UDP}
	// FlannelHealth is flanneld's /healthz and /readyz (ready once the
	// node's subnet is leased and subnet.env written).
	FlannelHealth = Endpoint{Port: 9110, Scheme: HTTP, Loopback: true}
	// The cluster's image registry on the supervisor: Homeworld's TLS
	// front under the name homeworld.private (what nodes pull from), and
	// the distribution registry behind it, on loopback only.
	RegistryFront   = Endpoint{Port: 443, Scheme: HTTPS, Job: "registry", MetricsPath: "/metrics", Trust: TrustRegistry}
	RegistryBackend = Endpoint{Port: 5000, Scheme: HTTP, Loopback: true}
	// SetupQueue serves the setup queue's metrics (what is pending, what
	// keeps failing).
	SetupQueue = Endpoint{Port: 9106, Scheme: HTTP, Job: "setup-queue", MetricsPath: "/metrics"}
	// NodeSupervisor is the virtual cluster's node supervisor (/status,
	// and service states in node_systemd_unit_state, which the node
	// exporter's systemd collector reports on real hosts).
	NodeSupervisor = Endpoint{Port: 9107, Scheme: HTTP, Job: "node-services", MetricsPath: "/metrics"}
	// PullMonitor serves pull-monitor's image pull and container run checks
	// (oci_pull_check, oci_exec_check); the original Homeworld's port.
	PullMonitor = Endpoint{Port: 9103, Scheme: HTTP, Job: "pull-monitor", MetricsPath: "/metrics"}
	// KeyGateway is the Kerberos key gateway on the supervisor: the
	// keyserver's batch API for admins with tickets (the original's port,
	// where kerberized netcat listened).
	KeyGateway = Endpoint{Port: 20575, Scheme: HTTPS}
	// UserGrant gives Kerberos users a namespace and a kubeconfig.
	UserGrant = Endpoint{Port: 20576, Scheme: HTTPS}
)

// Endpoints lists every endpoint above, for the tests that hold the tree to
// the table.
func Endpoints() []Endpoint {
	return []Endpoint{KeyserverAPI, KeyclientStatus, NodeExporter, SSH, AuthMonitor, KubeState, KubeStateTelemetry, Prometheus,
		EtcdClient, EtcdPeer, EtcdHealth, EtcdExporter, APIServer, ControllerManager, Scheduler,
		KubeletAPI, KubeletHealth, ProxyMetrics, ProxyHealth, FlannelVXLAN, FlannelHealth, RegistryFront, RegistryBackend, SetupQueue, NodeSupervisor, PullMonitor,
		KeyGateway, UserGrant}
}

// Host is the address the endpoint listens on for a node with address ip.
func (e Endpoint) Host(ip string) string {
	if e.Loopback {
		return "127.0.0.1"
	}
	return ip
}

// Addr is host:port of the endpoint on the node with address ip.
func (e Endpoint) Addr(ip string) string {
	return net.JoinHostPort(e.Host(ip), strconv.Itoa(e.Port))
}

// URL is the endpoint's URL for path on the node with address ip.
func (e Endpoint) URL(ip, path string) string {
	return string(e.Scheme) + "://" + e.Addr(ip) + path
}

// PortString is the port as flags and configuration files write it.
func (e Endpoint) PortString() string { return strconv.Itoa(e.Port) }

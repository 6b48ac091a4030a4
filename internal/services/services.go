// Package services is the service map: one table saying which services each
// node kind runs, how each starts (binary and arguments built from the
// node's configuration), what it waits for, how its readiness is checked and
// how systemd should confine it. systemd units for real hosts, the virtual
// cluster's node supervisor and the verify checks are all derived from it;
// a new service is added here and nowhere else.
package services

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
)

// Host is one node as its services see it.
type Host struct {
	Cluster *config.Config
	Node    config.Node
	BinDir  string // where Homeworld's binaries are installed
}

// Bin is the path of a Homeworld binary.
func (h Host) Bin(name string) string { return filepath.Join(h.BinDir, name) }

// Addr is where endpoint e of a service listens on this node.
func (h Host) Addr(e Endpoint) string { return e.Addr(h.Node.IP) }

// Sandbox lists what systemd allows a service beyond a locked-down default.
type Sandbox struct {
	ReadWritePaths []string
	// Capabilities the service keeps; empty means none.
	Capabilities []string
	// Unconfined services manage the machine itself (containers, network
	// rules) and get no sandbox beyond systemd's defaults.
	Unconfined bool
}

// GoGC is the GOGC of the services with a GoMemLimit that it does not hold
// (HeldByLimit): the heap grows to 1.25 times what is live before a
// collection, instead of Go's 2 times. They are the upstream programs of
// every node (kubelet, containerd, kube-proxy, flannel, etcd, the
// controller manager and scheduler), mostly idle with 5-40 MiB live: on a
// virtual cluster 25 kept 35 MiB less than 50 (kubelets 10, etcd 10,
// containerd 12) for 0.02 cores more collecting in all. Homeworld's own
// daemons run at daemon.GoGC, where 25 saved nothing.
const GoGC = 25

// Service is one entry of the map.
type Service struct {
	Name        string
	Description string
	Kinds       []config.Kind
	// After lists services (on the same node) that must be ready before
	// this one starts; entries absent on the node's kind are ignored.
	After []string
	// Launch is the kube-launch component that starts the service; empty
	// for Homeworld's own daemons, which Command runs directly.
	Launch  string
	Command func(h Host) []string // full argv, when Launch is empty
	// Endpoints are the ports the service listens on; those with a Job
	// are scraped by Prometheus on every node the service runs on.
	Endpoints  []Endpoint
	Ready      Probe
	RestartSec time.Duration
	Sandbox    Sandbox
	// Notify: the program tells systemd when it is ready (sd_notify
	// READY=1), so its unit is Type=notify; other units are Type=exec and
	// systemd judges them started once the program runs.
	Notify bool
	// OSUnit names the unit of a service the operating system provides on
	// real hosts (Debian's "ssh.service"): no unit is rendered for it, the
	// virtual cluster (having no OS services) runs it itself, and its
	// state is reported under this name everywhere.
	OSUnit string
	// Displaces names the unit Debian's own package of the program installs
	// and enables (prometheus-node-exporter.service). Homeworld's unit
	// conflicts with it, so starting ours stops Debian's and the two never
	// fight over a port or a socket. Where Debian's unit has the service's
	// own name (containerd.service), Homeworld's is homeworld-NAME.service:
	// a package may not ship a file another package owns.
	Displaces string
	// GoMemLimit is the Go runtime's soft memory limit for the service's
	// program (GOMEMLIMIT, in MiB; 0: none). Go's default lets the heap
	// grow to twice what is live before collecting, which on a small
	// cluster's masters doubled the apiservers' memory; with a limit a
	// little above the live heap the collector runs sooner once near it.
	// It is soft: a program that needs more gets it, at the cost of more
	// collection, never an out-of-memory kill. A service with a limit also
	// runs with GOGC=GoGC, unless HeldByLimit.
	GoMemLimit int
	// HeldByLimit marks a service whose live heap sits near its GoMemLimit
	// (the apiservers, Prometheus), so the limit, not GOGC, sets when it
	// collects; it keeps Go's default GOGC, which would otherwise only add
	// collections while its heap grows at start (an apiserver's start,
	// which is CPU-bound, took 40 s instead of 30 with GOGC=50).
	HeldByLimit bool
	// Enabled says whether a cluster runs the service at all (nil: always):
	// the Kerberos services only where setup.yaml names a realm, so nothing
	// listens that the cluster does not use.
	Enabled func(c *config.Config) bool
}

// OSProvided reports whether real hosts get s from the operating system.
func (s Service) OSProvided() bool { return s.OSUnit != "" }

// UnitType is the systemd Type= of s's unit.
func (s Service) UnitType() string {
	if s.Notify {
		return "notify"
	}
	return "exec"
}

// Unit is the systemd unit name of s on a real host, which is also the
// name its state is reported under in the virtual cluster.
func (s Service) Unit() string {
	if s.OSUnit != "" {
		return s.OSUnit
	}
	if s.Displaces == s.Name+".service" {
		return "homeworld-" + s.Name + ".service"
	}
	return s.Name + ".service"
}

var (
	kubeNodes = []config.Kind{config.KindMaster, config.KindWorker}
	masters   = []config.Kind{config.KindMaster}
)

// ForLaunch is the service kube-launch component runs.
func ForLaunch(component string) (Service, bool) {
	for _, s := range Map {
		if s.Launch == component {
			return s, true
		}
	}
	return Service{}, false
}

// Argv is the command line that starts s on h.
func (s Service) Argv(h Host) []string {
	if s.Launch != "" {
		return []string{h.Bin("kube-launch"), s.Launch}
	}
	return s.Command(h)
}

// Map is the service map, in start order.
var Map = []Service{
	{
		Name:        "keyserver",
		Description: "Homeworld keyserver (issues the cluster's credentials)",
		Kinds:       []config.Kind{config.KindSupervisor},
		Command: func(h Host) []string {
			// It listens on the supervisor's address from setup.yaml,
			// which it reads anyway: the unit stays the same on every
			// supervisor, as a package ships it.
			return []string{h.Bin("keyserver"), "--root", "/"}
		},
		Endpoints:  []Endpoint{KeyserverAPI},
		Ready:      Probe{Endpoint: KeyserverAPI, Path: keyapi.PathHealthz},
		RestartSec: 5 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/var/lib/homeworld/keyserver", "/var/log/homeworld"}},
		Notify:     true,
	},
	{
		Name:        "keyclient",
		Description: "Homeworld keyclient (obtains and renews this node's credentials)",
		Kinds:       []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker},
		After:       []string{"keyserver"},
		Command: func(h Host) []string {
			return []string{h.Bin("keyclient"), "--root", "/", "--metrics-listen", h.Addr(KeyclientStatus)}
		},
		Endpoints:  []Endpoint{KeyclientStatus},
		Ready:      Probe{Endpoint: KeyclientStatus, Path: "/readyz"},
		RestartSec: 10 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/etc/homeworld", "/etc/ssh", "/var/lib/homeworld"}},
		Notify:     true,
	},
	{
		Name:        "node-exporter",
		Description: "Prometheus node exporter (machine metrics; service states on real hosts)",
		Kinds:       []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker},
		After:       []string{"keyclient"}, // its launch reads local.conf
		Launch:      "node-exporter",
		Displaces:   "prometheus-node-exporter.service",
		Endpoints:   []Endpoint{NodeExporter},
		Ready:       Probe{Endpoint: NodeExporter, Path: "/metrics"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  16, // and so GoGC: a few MiB live, on every node
	},
	{
		Name:        "sshd",
		Description: "OpenSSH server (host certificate and admin CA from the keysystem)",
		Kinds:       []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker},
		After:       []string{"keyclient"},
		Launch:      "sshd",
		Endpoints:   []Endpoint{SSH},
		Ready:       Probe{Endpoint: SSH},
		RestartSec:  5 * time.Second,
		OSUnit:      "ssh.service",
		Notify:      true, // Debian's ssh.service is Type=notify
	},
	{
		Name:        "auth-monitor",
		Description: "checks the keysystem end to end: grants, and SSH logins to every node",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyserver", "keyclient"},
		Command: func(h Host) []string {
			return []string{h.Bin("auth-monitor"), "--listen", h.Addr(AuthMonitor), "--keyserver", h.Addr(KeyserverAPI)}
		},
		Endpoints:  []Endpoint{AuthMonitor},
		Ready:      Probe{Endpoint: AuthMonitor, Path: "/metrics"},
		RestartSec: 5 * time.Second,
	},
	{
		Name:        "keygateway",
		Description: "Kerberos key gateway: root admins obtain credentials with their tickets",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyserver", "keyclient"},
		Enabled:     kerberosEnabled,
		Command: func(h Host) []string {
			return []string{h.Bin("keygateway"), "--root", "/", "--listen", h.Addr(KeyGateway), "--keyserver", h.Addr(KeyserverAPI)}
		},
		Endpoints:  []Endpoint{KeyGateway},
		Ready:      Probe{Endpoint: KeyGateway, Path: keyapi.PathHealthz},
		RestartSec: 5 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/var/log/homeworld"}},
		Notify:     true,
	},
	{
		Name:        "user-grant",
		Description: "user-grant: Kerberos users get a namespace of their own and a kubeconfig",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyserver", "keyclient"},
		Enabled:     func(c *config.Config) bool { return kerberosEnabled(c) && c.Cluster.UserGrantDomain != "" },
		Command: func(h Host) []string {
			return []string{h.Bin("user-grant"), "--root", "/", "--listen", h.Addr(UserGrant), "--keyserver", h.Addr(KeyserverAPI)}
		},
		Endpoints:  []Endpoint{UserGrant},
		Ready:      Probe{Endpoint: UserGrant, Path: keyapi.PathHealthz},
		RestartSec: 5 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/var/log/homeworld"}},
		Notify:     true,
	},
	{
		Name:        "kube-state-metrics",
		Description: "kube-state-metrics: the state of Kubernetes objects (nodes, namespaces, workloads) as metrics",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyclient"},
		Launch:      "kube-state-metrics",
		Endpoints:   []Endpoint{KubeState},
		Ready:       Probe{Endpoint: KubeState, Path: "/healthz"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  24,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config"}}, // its kubeconfig
	},
	{
		Name:        "registry",
		Description: "distribution registry: the cluster's image storage, on loopback behind registry-front",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyclient"}, // kube-launch reads the configuration the keyclient fetches
		Launch:      "registry",
		Endpoints:   []Endpoint{RegistryBackend},
		Ready:       Probe{Endpoint: RegistryBackend, Path: "/v2/"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  24,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config", "/var/lib/homeworld/registry"}},
	},
	{
		Name:        "registry-front",
		Description: "the cluster's image registry over HTTPS (homeworld.private); only administrators push",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyclient", "registry"},
		Command: func(h Host) []string {
			return []string{h.Bin("registry-front"), "--listen", h.Addr(RegistryFront), "--backend", RegistryBackend.URL(h.Node.IP, ""),
				"--cert", "/etc/homeworld/ssl/homeworld.private.pem", "--key", "/etc/homeworld/ssl/homeworld.private.key",
				"--client-ca", "/etc/homeworld/authorities/kubernetes.pem", "--audit-log", "/var/log/homeworld/registry-audit.log"}
		},
		Endpoints:  []Endpoint{RegistryFront},
		Ready:      Probe{Endpoint: RegistryFront, Path: "/v2/"},
		RestartSec: 5 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/var/log/homeworld"}, Capabilities: []string{"CAP_NET_BIND_SERVICE"}},
	},
	{
		Name:        "setup-queue",
		Description: "applies the cluster's queued manifests (RBAC, add-ons) with server-side apply",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyclient"},
		Launch:      "setup-queue",
		Endpoints:   []Endpoint{SetupQueue},
		Ready:       Probe{Endpoint: SetupQueue, Path: "/metrics"},
		RestartSec:  5 * time.Second,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config", "/etc/homeworld/deployqueue"}},
	},
	{
		Name:        "prometheus",
		Description: "Prometheus (the cluster's monitoring, queried by spire verify)",
		Kinds:       []config.Kind{config.KindSupervisor},
		After:       []string{"keyclient"},
		Launch:      "prometheus",
		Displaces:   "prometheus.service",
		Endpoints:   []Endpoint{Prometheus},
		Ready:       Probe{Endpoint: Prometheus, Path: "/-/ready"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  96,
		HeldByLimit: true,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config", "/var/lib/homeworld/prometheus"}},
	},
	{
		Name:        "etcd",
		Description: "etcd member (TLS peers and clients, keysystem certificates)",
		Kinds:       masters,
		After:       []string{"keyclient"},
		Launch:      "etcd",
		Endpoints:   []Endpoint{EtcdClient, EtcdPeer, EtcdHealth},
		Ready:       Probe{Endpoint: EtcdHealth, Path: "/health"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  48,
		Notify:      true, // etcdmain notifies systemd once it serves
		Sandbox:     Sandbox{ReadWritePaths: []string{"/var/lib/homeworld/etcd"}},
	},
	{
		Name:        "etcd-exporter",
		Description: "etcd metrics for Prometheus, without etcd credentials",
		Kinds:       masters,
		After:       []string{"etcd"},
		Launch:      "etcd-exporter",
		Endpoints:   []Endpoint{EtcdExporter},
		Ready:       Probe{Endpoint: EtcdExporter, Path: "/metrics"},
		RestartSec:  5 * time.Second,
	},
	{
		Name:        "kube-apiserver",
		Description: "Kubernetes API server",
		Kinds:       masters,
		After:       []string{"etcd"},
		Launch:      "apiserver",
		Endpoints:   []Endpoint{APIServer},
		Ready:       Probe{Endpoint: APIServer, Path: "/readyz"},
		RestartSec:  5 * time.Second,
		// An idle virtual cluster's apiserver has about 95 MiB live and
		// 30 MiB of stacks and runtime: 168 collected every 5-15 s, as
		// 192 did, and saved 20 MiB a master; at 160 it collected up to
		// once a second, at 144 twice a second, spending a quarter of a
		// core doing so. Dialing only a quorum of etcd members
		// (nodeconf.EtcdQuorumEndpoints) left 2-3 MiB less live and 200
		// goroutines fewer, and 164 then collects as often as 168 did.
		GoMemLimit:  164,
		HeldByLimit: true,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config"}, Capabilities: []string{"CAP_NET_BIND_SERVICE"}},
	},
	{
		Name:        "kube-controller-manager",
		Description: "Kubernetes controller manager",
		Kinds:       masters,
		After:       []string{"kube-apiserver"},
		Launch:      "controller-manager",
		Endpoints:   []Endpoint{ControllerManager},
		Ready:       Probe{Endpoint: ControllerManager, Path: "/healthz"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  64,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config"}},
	},
	{
		Name:        "kube-scheduler",
		Description: "Kubernetes scheduler",
		Kinds:       masters,
		After:       []string{"kube-apiserver"},
		Launch:      "scheduler",
		Endpoints:   []Endpoint{Scheduler},
		Ready:       Probe{Endpoint: Scheduler, Path: "/healthz"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  28,
		Sandbox:     Sandbox{ReadWritePaths: []string{"/etc/homeworld/config"}},
	},
	{
		Name:        "containerd",
		Description: "containerd container runtime (CRI, runc)",
		Kinds:       kubeNodes,
		After:       []string{"keyclient"},
		Launch:      "containerd",
		Displaces:   "containerd.service",
		Ready:       Probe{Socket: "/run/containerd/containerd.sock"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  28,
		Notify:      true, // containerd notifies systemd once it serves
		Sandbox:     Sandbox{Unconfined: true},
	},
	{
		Name:        "kubelet",
		Description: "Kubernetes node agent",
		Kinds:       kubeNodes,
		After:       []string{"containerd", "kube-apiserver"},
		Launch:      "kubelet",
		Endpoints:   []Endpoint{KubeletAPI, KubeletHealth},
		Ready:       Probe{Endpoint: KubeletHealth, Path: "/healthz"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  36,
		Notify:      true, // the kubelet notifies systemd once it runs
		Sandbox:     Sandbox{Unconfined: true},
	},
	{
		Name:        "kube-proxy",
		Description: "Kubernetes service proxy (iptables)",
		Kinds:       kubeNodes,
		After:       []string{"keyclient"},
		Launch:      "proxy",
		Endpoints:   []Endpoint{ProxyMetrics, ProxyHealth},
		Ready:       Probe{Endpoint: ProxyHealth, Path: "/healthz"},
		RestartSec:  5 * time.Second,
		GoMemLimit:  20,
		Sandbox:     Sandbox{Unconfined: true},
	},
	{
		Name:        "flannel",
		Description: "flannel (pod network between nodes over VXLAN; pod ranges from the Kubernetes API)",
		Kinds:       kubeNodes,
		// Its launch reads the keyclient's files; on masters it talks to
		// the node's own apiserver.
		After:      []string{"keyclient", "kube-apiserver"},
		Launch:     "flannel",
		Endpoints:  []Endpoint{FlannelVXLAN, FlannelHealth},
		Ready:      Probe{Endpoint: FlannelHealth, Path: "/readyz"},
		RestartSec: 5 * time.Second,
		GoMemLimit: 16,
		Notify:     true, // flanneld notifies systemd once subnet.env is written
		Sandbox:    Sandbox{Unconfined: true},
	},
	{
		Name:        "pull-monitor",
		Description: "pulls and runs a small image from the cluster's registry, proving the node can start pods",
		Kinds:       kubeNodes,
		After:       []string{"containerd"},
		Launch:      "pull-monitor",
		Endpoints:   []Endpoint{PullMonitor},
		Ready:       Probe{Endpoint: PullMonitor, Path: "/metrics"},
		RestartSec:  5 * time.Second,
		Sandbox:     Sandbox{Unconfined: true}, // runs containers through containerd's socket
	},
}

// For returns the services nodes of kind k may run, in dependency order:
// what their packages ship. On says which of them a node runs.
func For(k config.Kind) []Service {
	var out []Service
	for _, s := range Map {
		if slices.Contains(s.Kinds, k) {
			out = append(out, s)
		}
	}
	return out
}

// On returns the services node n of cluster c runs, in dependency order:
// those of its kind that the cluster's configuration enables.
func On(c *config.Config, n config.Node) []Service {
	var out []Service
	for _, s := range For(n.Kind) {
		if s.Enabled == nil || s.Enabled(c) {
			out = append(out, s)
		}
	}
	return out
}

// kerberosEnabled: the cluster names a Kerberos realm (its admins then get
// credentials through the key gateway).
func kerberosEnabled(c *config.Config) bool { return c.Cluster.KerberosRealm != "" }

// MustGet returns the named service of the map; asking for one that is not
// there is a programming error.
func MustGet(name string) Service {
	for _, s := range Map {
		if s.Name == name {
			return s
		}
	}
	panic("services: no service " + name)
}

// Deps returns the dependencies of s that run on nodes of kind k.
func Deps(s Service, k config.Kind) []string {
	var out []string
	for _, d := range s.After {
		for _, o := range For(k) {
			if o.Name == d {
				out = append(out, d)
			}
		}
	}
	return out
}

// Validate checks the map itself: known kinds, dependencies that exist and
// come earlier (so start order is the table order), unique names.
func Validate() error {
	seen := map[string]bool{}
	for _, s := range Map {
		if seen[s.Name] {
			return fmt.Errorf("service %s listed twice", s.Name)
		}
		if len(s.Kinds) == 0 || (s.Command == nil) == (s.Launch == "") || s.Ready == (Probe{}) {
			return fmt.Errorf("service %s needs kinds, a command or a launch component (one of them), and a readiness check", s.Name)
		}
		for _, d := range s.After {
			if !seen[d] {
				return fmt.Errorf("service %s depends on %s, which is not listed before it", s.Name, d)
			}
		}
		seen[s.Name] = true
	}
	return nil
}

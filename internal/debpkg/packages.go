package debpkg

import (
	"io/fs"
	"slices"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// Package is one Debian package: files from a build's bin folder, units
// rendered from the service map, and what it needs installed beside it.
type Package struct {
	Name    string
	Section string
	Summary string // the Description's first line
	About   string // the extended description, one paragraph
	// Bins are files of the bin folder installed into BinDir.
	Bins []string
	// Images: the bin folder's images/ (index.tsv and every archive it
	// names) go into ImagesDir.
	Images bool
	// Units are the services of the map whose units the package ships.
	Units []string
	// Needs are the Homeworld packages it depends on, at the same version.
	Needs []string
	// Debian are the Debian packages it depends on.
	Debian []string
	// Upstream are the other projects' programs it carries.
	Upstream []Upstream
	// Files are made by spire rather than taken from a build: the apt
	// branch's keyring and sources entry of homeworld-apt-setup.
	Files []File
}

// File is one generated file of a package.
type File struct {
	Path string // absolute, where it is installed
	Data []byte
	Mode fs.FileMode
}

// AptSetup is homeworld-apt-setup for a branch: the files that make a
// machine trust the branch's key and install from it
// (internal/aptbranch.SetupFiles gives them).
func AptSetup(branch string, files []File) Package {
	return Package{
		Name: "homeworld-apt-setup", Section: "admin",
		Summary: "Homeworld apt setup: trust and use the " + branch + " branch",
		About: "The branch's OpenPGP keyring under /usr/share/keyrings and a sources.list.d entry " +
			"that names it with signed-by, so apt installs Homeworld's packages from this branch only " +
			"when they carry its signature.",
		Files: files,
	}
}

// Upstream is another project whose program a package carries, for its
// copyright file. License is the name of a file in
// /usr/share/common-licenses.
type Upstream struct {
	Name, Source, Copyright, License string
}

// The pinned upstream projects (upstream/), all under the Apache License.
var (
	kubernetes = Upstream{"Kubernetes", "https://github.com/kubernetes/kubernetes", "The Kubernetes Authors", "Apache-2.0"}
	etcd       = Upstream{"etcd", "https://github.com/etcd-io/etcd", "The etcd Authors", "Apache-2.0"}
	flannel    = Upstream{"flannel", "https://github.com/flannel-io/flannel", "The flannel Authors", "Apache-2.0"}
	coredns    = Upstream{"CoreDNS", "https://github.com/coredns/coredns", "The CoreDNS Authors", "Apache-2.0"}
	registry   = Upstream{"distribution", "https://github.com/distribution/distribution", "The distribution Authors", "Apache-2.0"}
	ksm        = Upstream{"kube-state-metrics", "https://github.com/kubernetes/kube-state-metrics", "The Kubernetes Authors", "Apache-2.0"}
)

// Components are the packages of Homeworld's programs. Every binary goes
// into BinDir, since kube-launch finds the programs it runs beside itself.
// Units go with the program they run; kube-launch's components that run a
// Debian program (node exporter, Prometheus, containerd) go with
// kube-launch.
var Components = []Package{
	{
		Name: "homeworld-keyserver", Section: "admin",
		Summary: "Homeworld keyserver: issues the cluster's credentials",
		About: "The supervisor's credential service: node identities, TLS and SSH certificates " +
			"and the cluster's configuration, under a policy derived from setup.yaml, with an audit log; " +
			"the key gateway, through which root admins obtain credentials with Kerberos tickets; " +
			"and user-grant, which gives Kerberos users a Kubernetes namespace and a kubeconfig.",
		Bins: []string{"keyserver", "keygateway", "user-grant"}, Units: []string{"keyserver", "keygateway", "user-grant"},
	},
	{
		Name: "homeworld-keyclient", Section: "admin",
		Summary: "Homeworld keyclient: obtains and renews a node's credentials",
		About: "Runs on every node: redeems the node's admission token for its identity, then keeps " +
			"every certificate of the node's kind valid and fetches the node's configuration.",
		Bins: []string{"keyclient"}, Units: []string{"keyclient"},
	},
	{
		Name: "homeworld-services", Section: "admin",
		Summary: "Homeworld node services: kube-launch, monitors and exporters",
		About: "kube-launch, which starts every upstream component with the node's configuration; " +
			"the node agents and exporters (auth-monitor, etcd-metrics-exporter, pull-monitor, " +
			"registry-front, setup-queue); the homeworld-flannel CNI plugin; and the units of the " +
			"services kube-launch starts from Debian's programs (node exporter, Prometheus, containerd).",
		Bins: []string{"kube-launch", "auth-monitor", "etcd-metrics-exporter", "pull-monitor",
			"registry-front", "setup-queue", "homeworld-flannel"},
		Units: []string{"node-exporter", "auth-monitor", "registry-front", "setup-queue", "prometheus",
			"etcd-exporter", "containerd", "pull-monitor"},
		Needs: []string{"homeworld-keyclient"},
	},
	{
		Name: "homeworld-kubernetes", Section: "admin",
		Summary: "Kubernetes for Homeworld, built from pinned source",
		About: "kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and " +
			"kubectl, with the units that start them through kube-launch.",
		Bins: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
			"kube-proxy", "kubectl"},
		Units:    []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"},
		Needs:    []string{"homeworld-services"},
		Upstream: []Upstream{kubernetes},
	},
	{
		Name: "homeworld-etcd", Section: "admin",
		Summary: "etcd for Homeworld, built from pinned source",
		About:   "The masters' etcd member and etcdctl, with the unit that starts it through kube-launch.",
		Bins:    []string{"etcd", "etcdctl"}, Units: []string{"etcd"},
		Needs: []string{"homeworld-services"}, Upstream: []Upstream{etcd},
	},
	{
		Name: "homeworld-flannel", Section: "admin",
		Summary: "flannel for Homeworld, built from pinned source",
		About:   "flanneld, the pod network between nodes over VXLAN, with the unit that starts it through kube-launch.",
		Bins:    []string{"flanneld"}, Units: []string{"flannel"},
		Needs: []string{"homeworld-services"}, Upstream: []Upstream{flannel},
	},
	{
		Name: "homeworld-coredns", Section: "admin",
		Summary: "CoreDNS for Homeworld, built from pinned source",
		About: "The cluster DNS program. The cluster runs it as a pod from the coredns image " +
			"(homeworld-images); this package carries the same program for inspection and tests.",
		Bins: []string{"coredns"}, Upstream: []Upstream{coredns},
	},
	{
		Name: "homeworld-registry", Section: "admin",
		Summary: "distribution registry for Homeworld, built from pinned source",
		About: "The image storage of the supervisor's registry, on loopback behind registry-front, " +
			"with the unit that starts it through kube-launch.",
		Bins: []string{"registry"}, Units: []string{"registry"},
		Needs: []string{"homeworld-services"}, Upstream: []Upstream{registry},
	},
	{
		Name: "homeworld-kube-state-metrics", Section: "admin",
		Summary: "kube-state-metrics for Homeworld, built from pinned source",
		About: "The state of Kubernetes objects as metrics for the supervisor's Prometheus, with " +
			"the unit that starts it through kube-launch.",
		Bins: []string{"kube-state-metrics"}, Units: []string{"kube-state-metrics"},
		Needs: []string{"homeworld-services"}, Upstream: []Upstream{ksm},
	},
	{
		Name: "homeworld-images", Section: "admin",
		Summary: "Homeworld's container images as OCI archives",
		About: "pause, hello, CoreDNS, flannel-monitor, dns-monitor and pullcheck as OCI archives " +
			"with their index (index.tsv): what the supervisor pushes into the cluster's registry.",
		Images: true, Upstream: []Upstream{coredns},
	},
	{
		Name: "homeworld-spire", Section: "admin",
		Summary: "spire: the Homeworld administrator's tool",
		About: "Describes, sets up, admits, verifies and operates a Homeworld cluster from the " +
			"administrator's machine.",
		Bins:   []string{"spire"},
		Debian: []string{"sensible-utils"}, // config edit runs sensible-editor
	},
}

// runtimeNeeds lists, per service of the map, what its program needs on a
// real host beyond the package that ships its unit: the Debian programs
// kube-launch runs, and Homeworld packages another program of it calls.
var runtimeNeeds = map[string][]string{
	"sshd":          {"openssh-server"}, // the keyclient writes its configuration
	"node-exporter": {"prometheus-node-exporter"},
	"prometheus":    {"prometheus"},
	"registry":      {"homeworld-images"},     // what the supervisor pushes into it
	"setup-queue":   {"homeworld-kubernetes"}, // kubectl
	"containerd":    {"containerd", "runc", "containernetworking-plugins"},
	"pull-monitor":  {"containerd"}, // ctr
	"kube-proxy":    {"iptables", "conntrack"},
	"flannel":       {"iptables"},
}

// DebianNeeds is the Debian packages of every node kind, sorted: what a
// machine must have installed to run every kind's services from its own
// operating system, as the virtual cluster's nodes do.
func DebianNeeds() []string {
	var out []string
	for _, k := range config.Kinds {
		for _, d := range KindPackage(k).Debian {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	slices.Sort(out)
	return out
}

// KindPackage is the package that makes a machine a node of kind k: it
// depends on the packages of every service the map runs on k and on the
// Debian programs they run. The Debian dependencies are here rather than
// on the component packages because Debian's daemons start when they are
// installed: Prometheus must not come to every node with homeworld-services,
// nor containerd to the supervisor with kubectl.
func KindPackage(k config.Kind) Package {
	p := Package{
		Name: "homeworld-" + string(k), Section: "metapackages",
		Summary: "makes this machine a Homeworld " + string(k),
		About: "Depends on every package a " + string(k) + " node runs, as Homeworld's service " +
			"map places them. Installing it enables and starts nothing: the node's setup does.",
	}
	add := func(dep string) {
		switch {
		case isHomeworld(dep) && !slices.Contains(p.Needs, dep):
			p.Needs = append(p.Needs, dep)
		case !isHomeworld(dep) && !slices.Contains(p.Debian, dep):
			p.Debian = append(p.Debian, dep)
		}
	}
	for _, s := range services.For(k) {
		if c, ok := shipping(s.Name); ok {
			add(c.Name)
		}
		for _, d := range runtimeNeeds[s.Name] {
			add(d)
		}
	}
	slices.Sort(p.Needs)
	slices.Sort(p.Debian)
	return p
}

// All is every package: the components, then one per node kind.
func All() []Package {
	out := slices.Clone(Components)
	for _, k := range config.Kinds {
		out = append(out, KindPackage(k))
	}
	return out
}

// shipping is the component package that ships service's unit.
func shipping(service string) (Package, bool) {
	for _, c := range Components {
		if slices.Contains(c.Units, service) {
			return c, true
		}
	}
	return Package{}, false
}

func isHomeworld(name string) bool {
	return slices.ContainsFunc(Components, func(c Package) bool { return c.Name == name })
}

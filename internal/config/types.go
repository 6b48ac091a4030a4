// Package config defines setup.yaml, the one file that describes a Homeworld
// cluster: its domains, address ranges, administrators and nodes. It parses the
// file strictly, validates it completely (every problem, each with file, line
// and field), and derives the JSON Schema shipped for editors from the same
// types. Everything that needs to know the cluster's shape imports this package.
package config

// Kind is the role of a node in the cluster.
type Kind string

// The three node kinds.
const (
	KindSupervisor Kind = "supervisor"
	KindMaster     Kind = "master"
	KindWorker     Kind = "worker"
)

// KindLabel is the label every kubelet registers its node with, naming the
// node's kind. A kubelet may set it itself (NodeRestriction allows
// *.node.kubernetes.io), so it is there before any pod is scheduled,
// unlike the control-plane role label, which only an admin may set.
const KindLabel = "homeworld.node.kubernetes.io/kind"

// Kinds lists every node kind, in the order they are brought up.
var Kinds = []Kind{KindSupervisor, KindMaster, KindWorker}

// Config is the parsed content of setup.yaml. The yaml tags are the file's keys;
// the jsonschema tags feed the generated schema, so they must agree with the
// checks in validate.go.
type Config struct {
	Cluster      Cluster           `yaml:"cluster" jsonschema:"required" jsonschema_description:"Names and secrets that identify the cluster."`
	VLAN         int               `yaml:"vlan,omitempty" jsonschema:"minimum=0,maximum=4095" jsonschema_description:"802.1Q VLAN tag of the node network; 0 or absent means untagged."`
	Addresses    Addresses         `yaml:"addresses" jsonschema:"required" jsonschema_description:"IPv4 address ranges of nodes, pods and services."`
	DNSUpstreams []string          `yaml:"dns-upstreams,omitempty" jsonschema:"format=ipv4" jsonschema_description:"Recursive DNS servers the cluster forwards queries to."`
	DNSBootstrap map[string]string `yaml:"dns-bootstrap,omitempty" jsonschema_description:"Static name-to-IPv4 entries served before cluster DNS is up."`
	RootAdmins   []string          `yaml:"root-admins,omitempty" jsonschema_description:"Principals (user or user@REALM) granted full administrative access."`
	Nodes        []Node            `yaml:"nodes" jsonschema:"required,minItems=1" jsonschema_description:"Every machine of the cluster: exactly one supervisor, at least one master."`
}

// Cluster holds the cluster-wide names.
type Cluster struct {
	ExternalDomain       string `yaml:"external-domain" jsonschema:"required,minLength=1" jsonschema_description:"DNS domain of the nodes; a node's identity is <hostname>.<external-domain>."`
	InternalDomain       string `yaml:"internal-domain" jsonschema:"required,minLength=1" jsonschema_description:"DNS domain served by cluster DNS for services and pods."`
	EtcdToken            string `yaml:"etcd-token" jsonschema:"required,minLength=1" jsonschema_description:"Initial etcd cluster token; unique per cluster so members of different clusters never join."`
	KerberosRealm        string `yaml:"kerberos-realm,omitempty" jsonschema_description:"Kerberos realm of the root admins; empty disables the Kerberos gateway."`
	Mirror               string `yaml:"mirror,omitempty" jsonschema_description:"Debian mirror as host/path (no scheme) used by installers."`
	UserGrantDomain      string `yaml:"user-grant-domain,omitempty" jsonschema_description:"DNS name of the user-grant service (served by the supervisor), whose Kerberos service is HTTP/<this name>; empty disables it. Needs kerberos-realm."`
	UserGrantEmailDomain string `yaml:"user-grant-email-domain,omitempty" jsonschema_description:"The original's email domain of users with upstream client certificates; accepted but unused: user-grant authenticates users by Kerberos."`
}

// Addresses holds the cluster's IPv4 ranges and fixed service addresses.
type Addresses struct {
	CIDRNodes    string `yaml:"cidr-nodes" jsonschema:"required" jsonschema_description:"Range every node address lies in, e.g. 192.0.2.0/24."`
	CIDRPods     string `yaml:"cidr-pods" jsonschema:"required" jsonschema_description:"Range pod addresses are allocated from; must not overlap the others."`
	CIDRServices string `yaml:"cidr-services" jsonschema:"required" jsonschema_description:"Range service (cluster) IPs are allocated from."`
	ServiceAPI   string `yaml:"service-api" jsonschema:"required,format=ipv4" jsonschema_description:"Service IP of the Kubernetes API, inside cidr-services."`
	ServiceDNS   string `yaml:"service-dns" jsonschema:"required,format=ipv4" jsonschema_description:"Service IP of cluster DNS, inside cidr-services."`
}

// Node is one machine of the cluster.
type Node struct {
	Hostname string `yaml:"hostname" jsonschema:"required,pattern=^[a-z0-9]([a-z0-9-]{0\\,61}[a-z0-9])?$" jsonschema_description:"Short hostname (one DNS label, lowercase)."`
	IP       string `yaml:"ip" jsonschema:"required,format=ipv4" jsonschema_description:"The node's IPv4 address, inside cidr-nodes."`
	Kind     Kind   `yaml:"kind" jsonschema:"required,enum=supervisor,enum=master,enum=worker" jsonschema_description:"Role of the node."`
}

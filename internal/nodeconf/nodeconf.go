// Package nodeconf is the configuration every node gets from the keyserver:
// cluster.conf (the same on every node) and local.conf (the node's own), as
// typed values. The keyserver's policy builds them from setup.yaml and
// renders them; the keyclient, kube-launch and auth-monitor parse them; spire
// asks them where the apiserver is. On disk they stay sorted KEY=VALUE lines
// under the original key names, so shell scripts can source them.
package nodeconf

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// The files' names, on nodes and as the keyserver's static download.
const (
	ClusterFile = "cluster.conf"
	LocalFile   = "local.conf"
)

// Cluster is cluster.conf. The addresses of the apiservers and etcd members
// are not fields: they follow from the masters and the service map, so the
// file's APISERVER, APISERVERS, APISERVER_COUNT, ETCD_CLUSTER and
// ETCD_ENDPOINTS cannot disagree with each other.
type Cluster struct {
	Domain        string       // DOMAIN: setup.yaml's external-domain
	ClusterDomain string       // CLUSTER_DOMAIN: internal-domain
	ClusterCIDR   netip.Prefix // CLUSTER_CIDR: cidr-pods
	ServiceCIDR   netip.Prefix // SERVICE_CIDR
	ServiceAPI    netip.Addr   // SERVICE_API
	ServiceDNS    netip.Addr   // SERVICE_DNS
	EtcdToken     string       // ETCD_TOKEN
	Masters       []Master     // in setup.yaml order; written as ETCD_CLUSTER and the rest
	// Virtual (VIRTUAL): the nodes are the namespaces of `spire virt up`,
	// where the node supervisor, not systemd, reports service states. It
	// is not in setup.yaml: the keyserver learns it from its installer.
	Virtual bool
}

// Master is one master node.
type Master struct {
	Name string
	IP   netip.Addr
}

// Local is one node's local.conf.
type Local struct {
	Hostname string      // HOST_NODE
	FQDN     string      // HOST_DNS
	IP       netip.Addr  // HOST_IP
	Kind     config.Kind // KIND
}

// ForCluster builds cluster.conf from a validated setup.yaml; Virtual is
// left false for the keyserver to set.
func ForCluster(c *config.Config) Cluster {
	cl := Cluster{
		Domain:        c.Cluster.ExternalDomain,
		ClusterDomain: c.Cluster.InternalDomain,
		ClusterCIDR:   netip.MustParsePrefix(c.Addresses.CIDRPods),
		ServiceCIDR:   netip.MustParsePrefix(c.Addresses.CIDRServices),
		ServiceAPI:    netip.MustParseAddr(c.Addresses.ServiceAPI),
		ServiceDNS:    netip.MustParseAddr(c.Addresses.ServiceDNS),
		EtcdToken:     c.Cluster.EtcdToken,
	}
	for _, m := range c.NodesOf(config.KindMaster) {
		cl.Masters = append(cl.Masters, Master{Name: m.Hostname, IP: netip.MustParseAddr(m.IP)})
	}
	return cl
}

// ForNode builds node n's local.conf from a validated setup.yaml.
func ForNode(c *config.Config, n config.Node) Local {
	return Local{
		Hostname: n.Hostname,
		FQDN:     c.FQDN(n),
		IP:       netip.MustParseAddr(n.IP),
		Kind:     n.Kind,
	}
}

// APIServer is the apiserver URL of nodes that run none themselves: the
// first master's ("" in a Cluster without masters, which no parse returns).
func (c Cluster) APIServer() string {
	if len(c.Masters) == 0 {
		return ""
	}
	return services.APIServer.URL(c.Masters[0].IP.String(), "")
}

// APIServers lists every master's apiserver URL.
func (c Cluster) APIServers() []string { return c.masterURLs(services.APIServer) }

// EtcdEndpoints lists every etcd member's client URL.
func (c Cluster) EtcdEndpoints() []string { return c.masterURLs(services.EtcdClient) }

// EtcdQuorumEndpoints is the etcd client URLs an apiserver on the master
// at ip dials: its own member first, then the members after it in order,
// as many as make a quorum. etcd works only while a quorum lives, and
// while no more members are lost than that allows, one of these is still
// up, so the apiserver stays available as long as with every member named;
// but etcd's client dials each URL from each of the apiserver's ~70
// clients (one per resource), and every connection holds buffers and
// goroutines on both ends. Every member is named if ip is no master's.
func (c Cluster) EtcdQuorumEndpoints(ip netip.Addr) []string {
	all := c.EtcdEndpoints()
	self := slices.IndexFunc(c.Masters, func(m Master) bool { return m.IP == ip })
	if self < 0 {
		return all
	}
	var out []string
	for i := range len(all)/2 + 1 {
		out = append(out, all[(self+i)%len(all)])
	}
	return out
}

// EtcdCluster is etcd's --initial-cluster: name=peer-URL for each member.
func (c Cluster) EtcdCluster() string {
	var out []string
	for _, m := range c.Masters {
		out = append(out, m.Name+"="+services.EtcdPeer.URL(m.IP.String(), ""))
	}
	return strings.Join(out, ",")
}

func (c Cluster) masterURLs(e services.Endpoint) []string {
	var out []string
	for _, m := range c.Masters {
		out = append(out, e.URL(m.IP.String(), ""))
	}
	return out
}

// ScheduleWork (SCHEDULE_WORK) reports whether pods may run on the node:
// only workers take them.
func (l Local) ScheduleWork() bool { return l.Kind == config.KindWorker }

// Render writes cluster.conf.
func (c Cluster) Render() string {
	return render("# generated from setup.yaml\n", c.values())
}

func (c Cluster) values() map[string]string {
	return map[string]string{
		"APISERVER":       c.APIServer(),
		"APISERVER_COUNT": strconv.Itoa(len(c.Masters)),
		"APISERVERS":      strings.Join(c.APIServers(), ","),
		"CLUSTER_CIDR":    c.ClusterCIDR.String(),
		"CLUSTER_DOMAIN":  c.ClusterDomain,
		"DOMAIN":          c.Domain,
		"ETCD_CLUSTER":    c.EtcdCluster(),
		"ETCD_ENDPOINTS":  strings.Join(c.EtcdEndpoints(), ","),
		"ETCD_TOKEN":      c.EtcdToken,
		"SERVICE_API":     c.ServiceAPI.String(),
		"SERVICE_CIDR":    c.ServiceCIDR.String(),
		"SERVICE_DNS":     c.ServiceDNS.String(),
		"VIRTUAL":         strconv.FormatBool(c.Virtual),
	}
}

// Render writes local.conf.
func (l Local) Render() string {
	return render("# generated by the keyserver for this node\n", l.values())
}

func (l Local) values() map[string]string {
	return map[string]string{
		"HOST_NODE":     l.Hostname,
		"HOST_DNS":      l.FQDN,
		"HOST_IP":       l.IP.String(),
		"KIND":          string(l.Kind),
		"SCHEDULE_WORK": strconv.FormatBool(l.ScheduleWork()),
	}
}

// render writes sorted KEY=VALUE lines, so the same values always give the
// same bytes.
func render(header string, kv map[string]string) string {
	var b strings.Builder
	b.WriteString(header)
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		b.WriteString(k + "=" + kv[k] + "\n")
	}
	return b.String()
}

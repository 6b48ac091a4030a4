// Package credential is the catalogue of what a node holds: for each node
// kind, every certificate, key, CA certificate and configuration file, where
// it lives, and which keyserver API or download provides it. The keyserver's
// policy grants exactly these APIs and the keyclient fetches exactly these
// files, so this one table decides what each kind of node may have.
package credential

import (
	"os"
	"slices"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
)

// Type says how a credential is obtained.
type Type string

// Credential types.
const (
	Authority Type = "authority" // public half of an authority: GET /pub/<Source>
	Static    Type = "static"    // cluster-wide file: GET /static/<Source>
	Text      Type = "text"      // API call with an empty body returning text
	TLSCert   Type = "tls-cert"  // key made on the node; API call with a CSR returns the certificate
	SSHCert   Type = "ssh-cert"  // host key made on the node; API call with its public key returns the certificate
)

// Credential is one entry of the catalogue. Paths are production paths;
// layout.Node roots them.
type Credential struct {
	Name string
	Type Type
	// Where it comes from: one of these, by Type.
	API       keyapi.API       // Text, TLSCert and SSHCert: the operation that returns it
	Authority keyapi.Authority // Authority: whose public half
	Static    string           // Static: the file's name
	Kinds     []config.Kind
	Path      string      // the certificate or file written
	KeyPath   string      // TLSCert and SSHCert: the private key, made on the node
	Mode      os.FileMode // of Path
}

// ForKind reports whether nodes of kind k hold c.
func (c Credential) ForKind(k config.Kind) bool { return slices.Contains(c.Kinds, k) }

// Expires reports whether the credential has a lifetime and must be renewed.
func (c Credential) Expires() bool { return c.Type == TLSCert || c.Type == SSHCert }

var (
	all     = []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker}
	kube    = []config.Kind{config.KindMaster, config.KindWorker}
	masters = []config.Kind{config.KindMaster}
	sup     = []config.Kind{config.KindSupervisor}
)

// Granting is the node's identity certificate: obtained first with the
// bootstrap token, then renewed with itself.
var Granting = Credential{
	Name: "keygranting", Type: TLSCert, API: keyapi.RenewKeygrant, Kinds: all,
	KeyPath: layout.KeyclientDir + "/granting.key", Path: layout.KeyclientDir + "/granting.pem", Mode: 0o644,
}

// AuthMonitor is auth-monitor's identity on the supervisor: it can run the
// monitor's checks and nothing else.
var AuthMonitor = Credential{
	Name: "auth-monitor", Type: TLSCert, API: keyapi.GrantAuthMonitor, Kinds: sup,
	KeyPath: layout.KeysDir + "/auth-monitor.key", Path: layout.KeysDir + "/auth-monitor.pem", Mode: 0o644,
}

// SetupQueue is the supervisor's setup queue's identity in Kubernetes: it
// applies the cluster's manifests, RBAC among them, so it is an
// administrator (system:masters) and nothing else on the supervisor is.
var SetupQueue = Credential{
	Name: "kubernetes-setup-queue", Type: TLSCert, API: keyapi.GrantKubeSetupQueue, Kinds: sup,
	KeyPath: layout.KeysDir + "/kubernetes-setup-queue.key", Path: layout.KeysDir + "/kubernetes-setup-queue.pem", Mode: 0o644,
}

// Keygateway is the Kerberos key gateway's identity towards the keyserver:
// it may act for the admins it authenticated and nothing else.
var Keygateway = Credential{
	Name: "keygateway", Type: TLSCert, API: keyapi.GrantKeygateway, Kinds: sup,
	KeyPath: layout.KeysDir + "/keygateway.key", Path: layout.KeysDir + "/keygateway.pem", Mode: 0o644,
}

// KeygatewayHTTPS is the key gateway's serving certificate; it carries
// keyapi.GatewayURI, so keyserver clients refuse it and gateway clients
// refuse the keyserver.
var KeygatewayHTTPS = Credential{
	Name: "keygateway-https", Type: TLSCert, API: keyapi.GrantKeygatewayHTTPS, Kinds: sup,
	KeyPath: layout.SSLDir + "/keygateway.key", Path: layout.SSLDir + "/keygateway.pem", Mode: 0o644,
}

// UserGrant is the user-grant service's identity towards the keyserver: it
// may have Kubernetes user certificates signed and nothing else.
var UserGrant = Credential{
	Name: "user-grant", Type: TLSCert, API: keyapi.GrantUserGrant, Kinds: sup,
	KeyPath: layout.KeysDir + "/user-grant.key", Path: layout.KeysDir + "/user-grant.pem", Mode: 0o644,
}

// UserGrantHTTPS is the user-grant service's serving certificate.
var UserGrantHTTPS = Credential{
	Name: "user-grant-https", Type: TLSCert, API: keyapi.GrantUserGrantHTTPS, Kinds: sup,
	KeyPath: layout.SSLDir + "/user-grant.key", Path: layout.SSLDir + "/user-grant.pem", Mode: 0o644,
}

// KubeUserGrant is the user-grant service's identity in Kubernetes: it
// gives users their namespaces (internal/rbac).
var KubeUserGrant = Credential{
	Name: "kubernetes-user-grant", Type: TLSCert, API: keyapi.GrantKubeUserGrant, Kinds: sup,
	KeyPath: layout.KeysDir + "/kubernetes-user-grant.key", Path: layout.KeysDir + "/kubernetes-user-grant.pem", Mode: 0o644,
}

// Catalogue lists every credential in the order a node obtains them: its
// identity, then what identifies the cluster, then role certificates.
var Catalogue = []Credential{
	Granting,
	{Name: nodeconf.ClusterFile, Type: Static, Static: nodeconf.ClusterFile, Kinds: all, Path: layout.ConfigDir + "/" + nodeconf.ClusterFile, Mode: 0o644},
	{Name: nodeconf.LocalFile, Type: Text, API: keyapi.GetLocalConfig, Kinds: all, Path: layout.ConfigDir + "/" + nodeconf.LocalFile, Mode: 0o644},
	{Name: "clusterca", Type: Authority, Authority: keyapi.ClusterCA, Kinds: all, Path: layout.AuthoritiesDir + "/clusterca.pem", Mode: 0o644},
	{Name: "kubernetes-ca", Type: Authority, Authority: keyapi.Kubernetes, Kinds: all, Path: layout.AuthoritiesDir + "/kubernetes.pem", Mode: 0o644},
	{Name: "ssh-user-ca", Type: Authority, Authority: keyapi.SSHUser, Kinds: all, Path: layout.SSHDir + "/ssh_user_ca.pub", Mode: 0o644},
	{Name: "ssh-host", Type: SSHCert, API: keyapi.GrantSSHHost, Kinds: all,
		KeyPath: layout.SSHDir + "/ssh_host_ed25519_key", Path: layout.SSHDir + "/ssh_host_ed25519_key-cert.pub", Mode: 0o644},

	{Name: "registry", Type: TLSCert, API: keyapi.GrantRegistryHost, Kinds: sup,
		KeyPath: layout.SSLDir + "/homeworld.private.key", Path: layout.SSLDir + "/homeworld.private.pem", Mode: 0o644},
	AuthMonitor,
	{Name: "kubernetes-supervisor", Type: TLSCert, API: keyapi.GrantKubeSupervisor, Kinds: sup,
		KeyPath: layout.KeysDir + "/kubernetes-supervisor.key", Path: layout.KeysDir + "/kubernetes-supervisor.pem", Mode: 0o644},
	SetupQueue,
	Keygateway,
	KeygatewayHTTPS,
	UserGrant,
	UserGrantHTTPS,
	KubeUserGrant,

	{Name: "kubernetes-worker", Type: TLSCert, API: keyapi.GrantKubeWorker, Kinds: kube,
		KeyPath: layout.KeysDir + "/kubernetes-worker.key", Path: layout.KeysDir + "/kubernetes-worker.pem", Mode: 0o644},
	{Name: "kubernetes-proxy", Type: TLSCert, API: keyapi.GrantKubeProxy, Kinds: kube,
		KeyPath: layout.KeysDir + "/kubernetes-proxy.key", Path: layout.KeysDir + "/kubernetes-proxy.pem", Mode: 0o644},
	{Name: "kubernetes-flannel", Type: TLSCert, API: keyapi.GrantKubeFlannel, Kinds: kube,
		KeyPath: layout.KeysDir + "/kubernetes-flannel.key", Path: layout.KeysDir + "/kubernetes-flannel.pem", Mode: 0o644},

	{Name: "etcd-server-ca", Type: Authority, Authority: keyapi.EtcdServer, Kinds: masters, Path: layout.AuthoritiesDir + "/etcd-server.pem", Mode: 0o644},
	{Name: "etcd-client-ca", Type: Authority, Authority: keyapi.EtcdClient, Kinds: masters, Path: layout.AuthoritiesDir + "/etcd-client.pem", Mode: 0o644},
	{Name: "serviceaccount-pub", Type: Authority, Authority: keyapi.ServiceAccount, Kinds: masters, Path: layout.KeysDir + "/serviceaccount.pem", Mode: 0o644},
	{Name: "serviceaccount-key", Type: Text, API: keyapi.FetchServiceAccountKey, Kinds: masters, Path: layout.KeysDir + "/serviceaccount.key", Mode: 0o600},
	{Name: "kubernetes-master", Type: TLSCert, API: keyapi.GrantKubeMaster, Kinds: masters,
		KeyPath: layout.KeysDir + "/kubernetes-master.key", Path: layout.KeysDir + "/kubernetes-master.pem", Mode: 0o644},
	{Name: "kubernetes-ctrl-mgr", Type: TLSCert, API: keyapi.GrantKubeCtrlMgr, Kinds: masters,
		KeyPath: layout.KeysDir + "/kubernetes-ctrl-mgr.key", Path: layout.KeysDir + "/kubernetes-ctrl-mgr.pem", Mode: 0o644},
	{Name: "kubernetes-scheduler", Type: TLSCert, API: keyapi.GrantKubeScheduler, Kinds: masters,
		KeyPath: layout.KeysDir + "/kubernetes-scheduler.key", Path: layout.KeysDir + "/kubernetes-scheduler.pem", Mode: 0o644},
	{Name: "etcd-server", Type: TLSCert, API: keyapi.GrantEtcdServer, Kinds: masters,
		KeyPath: layout.KeysDir + "/etcd-server.key", Path: layout.KeysDir + "/etcd-server.pem", Mode: 0o644},
	{Name: "etcd-client", Type: TLSCert, API: keyapi.GrantEtcdClient, Kinds: masters,
		KeyPath: layout.KeysDir + "/etcd-client.key", Path: layout.KeysDir + "/etcd-client.pem", Mode: 0o644},
}

// For returns the catalogue entries nodes of kind k hold, in order.
func For(k config.Kind) []Credential {
	var out []Credential
	for _, c := range Catalogue {
		if c.ForKind(k) {
			out = append(out, c)
		}
	}
	return out
}

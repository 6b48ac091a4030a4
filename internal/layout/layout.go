// Package layout names the files Homeworld keeps on a node (spec §0.3):
// credentials under /etc/homeworld, SSH material under /etc/ssh, state under
// /var/lib/homeworld. Paths hang off a root folder so tests and virtual nodes
// can keep a node's files in a folder of their own; on a real host the root
// is "/". The keyclient, keyserver and node services import it.
package layout

import "path/filepath"

// Node is the file layout of one node.
type Node struct {
	Root string // "/" on a real host
}

// Path joins a production path (such as "/etc/homeworld") onto the root.
func (n Node) Path(p string) string { return filepath.Join(n.Root, p) }

// Well-known production paths, relative to the root.
const (
	HomeworldDir   = "/etc/homeworld"
	ConfigDir      = "/etc/homeworld/config"
	KeyclientDir   = "/etc/homeworld/keyclient"
	KeysDir        = "/etc/homeworld/keys"
	AuthoritiesDir = "/etc/homeworld/authorities"
	SSLDir         = "/etc/homeworld/ssl"
	SSHDir         = "/etc/ssh"
	StateDir       = "/var/lib/homeworld"
	LogDir         = "/var/log/homeworld"
	SystemCADir    = "/usr/local/share/ca-certificates/extra"
	// ContainerdSocket is where containerd answers on masters and workers:
	// kube-launch configures it there, the kubelet and pull-monitor dial it.
	ContainerdSocket = "/run/containerd/containerd.sock"
	// Keytab holds the supervisor's Kerberos service keys (the key
	// gateway's, user-grant's, and the host key auth-monitor checks with).
	// Not /etc/krb5.keytab, the original's: that is the machine's, which
	// other services (sshd's GSSAPI) may use for other principals.
	Keytab = "/etc/homeworld/kerberos/krb5.keytab"
	// Krb5Conf is the realm's krb5.conf on the supervisor, for
	// auth-monitor's own ticket; not /etc/krb5.conf, which is the
	// machine's.
	Krb5Conf = "/etc/homeworld/kerberos/krb5.conf"
)

// Files the keyclient reads before it has any credential.
func (n Node) KeyserverDomain() string { return n.Path(ConfigDir + "/keyserver.domain") }
func (n Node) KeyserverCA() string     { return n.Path(KeyclientDir + "/keyservertls.pem") }
func (n Node) BootstrapToken() string  { return n.Path(KeyclientDir + "/bootstrap.token") }

// Node identity.
func (n Node) GrantingKey() string  { return n.Path(KeyclientDir + "/granting.key") }
func (n Node) GrantingCert() string { return n.Path(KeyclientDir + "/granting.pem") }

// Configuration fetched from the keyserver.
func (n Node) ClusterConf() string { return n.Path(ConfigDir + "/cluster.conf") }
func (n Node) LocalConf() string   { return n.Path(ConfigDir + "/local.conf") }

// SSH server material.
func (n Node) SSHHostKey() string  { return n.Path(SSHDir + "/ssh_host_ed25519_key") }
func (n Node) SSHHostCert() string { return n.Path(SSHDir + "/ssh_host_ed25519_key-cert.pub") }
func (n Node) SSHUserCA() string   { return n.Path(SSHDir + "/ssh_user_ca.pub") }
func (n Node) SSHDConfig() string  { return n.Path(SSHDir + "/sshd_config.d/homeworld.conf") }

// Supervisor-only files of the keyserver.
func (n Node) SetupYAML() string              { return n.Path(ConfigDir + "/setup.yaml") }
func (n Node) KeyserverAuthorities() string   { return n.Path(HomeworldDir + "/keyserver/authorities") }
func (n Node) KeyserverVirtual() string       { return n.Path(HomeworldDir + "/keyserver/virtual-cluster") }
func (n Node) KeyserverState() string         { return n.Path(StateDir + "/keyserver") }
func (n Node) KeyserverAuditLog() string      { return n.Path(LogDir + "/keyserver-audit.log") }
func (n Node) KeyclientState() string         { return n.Path(StateDir + "/keyclient") }
func (n Node) ClusterCAInSystemStore() string { return n.Path(SystemCADir + "/homeworld-cluster.crt") }

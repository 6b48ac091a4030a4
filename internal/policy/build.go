package policy

import (
	"fmt"
	"net/netip"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/pki"
)

// Administrator APIs.
const (
	APIAccessSSH        = "access-ssh"
	APIAccessKubernetes = "access-kubernetes"
	APIAccessEtcd       = "access-etcd"
	APIAdmit            = "admit"         // issue an admission token for a node
	APIImpersonateAdmin = "auth-as-admin" // the supervisor's gateway acting for an admin
	APIMonitorSSH       = "monitor-ssh"   // auth-monitor's SSH certificate for its login checks
)

// MonitorSSHLifetime bounds the supervisor's SSH certificate: one round of
// login checks.
const MonitorSSHLifetime = 10 * time.Minute

// Build compiles the policy of a validated cluster description.
func Build(c *config.Config, l Lifetimes) (*Policy, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	sup := c.Supervisor()
	p := &Policy{
		Accounts:   map[string]*Account{},
		Groups:     map[string]map[string]bool{GroupNodes: {}, GroupRootAdmins: {}},
		Static:     map[string]string{"cluster.conf": config.ClusterConf(c)},
		ServerName: c.FQDN(sup),
		ServerIP:   netip.MustParseAddr(sup.IP),
	}
	for _, n := range c.Nodes {
		acct, err := nodeAccount(c, n, l)
		if err != nil {
			return nil, err
		}
		p.Accounts[acct.Principal] = acct
		p.Groups[GroupNodes][acct.Principal] = true
	}
	for _, admin := range c.RootAdmins {
		if _, clash := p.Accounts[admin]; clash {
			return nil, fmt.Errorf("policy: root admin %q has the name of a node", admin)
		}
		p.Accounts[admin] = adminAccount(admin, l)
		p.Groups[GroupRootAdmins][admin] = true
	}
	return p, nil
}

func adminAccount(principal string, l Lifetimes) *Account {
	a := &Account{Principal: principal, DirectAuth: true, Grants: map[string]*Grant{}}
	a.add(&Grant{API: APIAccessSSH, Privilege: SignSSH, Authority: "ssh-user", SSH: pki.SSHGrant{
		KeyID: "admin-ssh-" + principal, Principals: []string{"root"}, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: APIAccessKubernetes, Privilege: SignTLS, Authority: "kubernetes", TLS: pki.TLSGrant{
		CommonName: "root:" + principal, Organizations: []string{"system:masters"}, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: APIAccessEtcd, Privilege: SignTLS, Authority: "etcd-client", TLS: pki.TLSGrant{
		CommonName: "admin-etcd-" + principal, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: APIAdmit, Privilege: IssueToken, Scope: GroupNodes, TokenTTL: l.Token})
	return a
}

func (a *Account) add(g *Grant) { a.Grants[g.API] = g }

// nodeAccount grants a node exactly the APIs of its kind's credentials.
func nodeAccount(c *config.Config, n config.Node, l Lifetimes) (*Account, error) {
	fqdn := c.FQDN(n)
	a := &Account{
		Principal:  fqdn,
		Kind:       n.Kind,
		IP:         netip.MustParseAddr(n.IP),
		DirectAuth: true,
		Grants:     map[string]*Grant{},
	}
	hostNames := []string{fqdn, n.Hostname, n.IP}
	for _, cred := range credential.For(n.Kind) {
		if cred.Type == credential.Authority || cred.Type == credential.Static {
			continue // public downloads need no grant
		}
		g := &Grant{API: cred.Source}
		tls := func(authority, cn string, host bool, names []string, orgs ...string) {
			g.Privilege, g.Authority = SignTLS, authority
			g.TLS = pki.TLSGrant{CommonName: cn, Names: names, Organizations: orgs, Host: host, Lifetime: l.NodeCert}
		}
		switch cred.Source {
		case credential.APIRenewKeygrant:
			tls("keygranting", fqdn, false, nil)
			g.TLS.Lifetime = l.Keygrant
		case credential.APIGetLocalConfig:
			g.Privilege, g.Contents = Text, config.LocalConf(c, n)
		case credential.APIGrantSSHHost:
			g.Privilege, g.Authority = SignSSH, "ssh-host"
			g.SSH = pki.SSHGrant{KeyID: "admitted-" + fqdn, Principals: hostNames, Host: true, Lifetime: l.SSHHost}
		case credential.APIGrantRegistryHost:
			tls("clusterca", "homeworld-registry-"+n.Hostname, true, []string{"homeworld.private", fqdn, n.IP})
		case credential.APIGrantKubeSupervisor:
			// Not system:masters: the supervisor's monitoring only reads (see
			// internal/rbac).
			tls("kubernetes", "supervisor:"+n.Hostname, false, nil)
		case credential.APIGrantKubeWorker:
			tls("kubernetes", "system:node:"+n.Hostname, true, hostNames, "system:nodes")
		case credential.APIGrantKubeProxy:
			tls("kubernetes", "system:kube-proxy", false, nil)
		case credential.APIGrantKubeMaster:
			d := c.Cluster.InternalDomain
			tls("kubernetes", "apiserver:"+n.Hostname, true, []string{
				fqdn, n.Hostname, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc." + d, n.IP, c.Addresses.ServiceAPI,
			})
		case credential.APIGrantKubeCtrlMgr:
			tls("kubernetes", "system:kube-controller-manager", false, nil)
		case credential.APIGrantKubeScheduler:
			tls("kubernetes", "system:kube-scheduler", false, nil)
		case credential.APIGrantEtcdServer:
			tls("etcd-server", "etcd-server-"+n.Hostname, true, hostNames)
		case credential.APIGrantEtcdClient:
			tls("etcd-client", "etcd-client-"+n.Hostname, false, hostNames)
		case credential.APIFetchServiceAccountKey:
			g.Privilege, g.Authority = FetchKey, "serviceaccount"
		default:
			return nil, fmt.Errorf("policy: credential %s uses API %s, which the policy does not know", cred.Name, cred.Source)
		}
		a.add(g)
	}
	if n.Kind == config.KindSupervisor {
		// The (future) Kerberos gateway runs on the supervisor and acts for
		// the admin it authenticated.
		a.add(&Grant{API: APIImpersonateAdmin, Privilege: Impersonate, Scope: GroupRootAdmins})
		// auth-monitor proves that admins could log in everywhere by
		// logging in itself, with a certificate of minutes.
		a.add(&Grant{API: APIMonitorSSH, Privilege: SignSSH, Authority: "ssh-user", SSH: pki.SSHGrant{
			KeyID: "auth-monitor-" + fqdn, Principals: []string{"root"}, Lifetime: MonitorSSHLifetime,
		}})
	}
	return a, nil
}

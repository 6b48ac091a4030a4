package policy

import (
	"fmt"
	"net/netip"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/rbac"
)

// MonitorProbe is the account auth-monitor acts as to prove the
// impersonation path works; it holds only an SSH certificate for a user
// that exists nowhere.
const MonitorProbe = "homeworld-monitor-probe"

// MonitorPrincipal is auth-monitor's own identity on the supervisor: it may
// run the monitor's checks and nothing else (not act for a root admin).
func MonitorPrincipal(supervisorFQDN string) string { return "auth-monitor@" + supervisorFQDN }

// MonitorSSHLifetime bounds the supervisor's SSH certificate: one round of
// login checks.
const MonitorSSHLifetime = 10 * time.Minute

// Build compiles the policy of a validated cluster description; cluster is
// what it serves as cluster.conf (nodeconf.ForCluster(c), with what the
// keyserver knows beyond setup.yaml).
func Build(c *config.Config, cluster nodeconf.Cluster, l Lifetimes) (*Policy, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	sup := c.Supervisor()
	p := &Policy{
		Accounts:   map[string]*Account{},
		Groups:     map[string]map[string]bool{GroupNodes: {}, GroupRootAdmins: {}, GroupMonitorProbes: {}, GroupKerberos: {}},
		Static:     map[string]string{nodeconf.ClusterFile: cluster.Render()},
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
	supIP := netip.MustParseAddr(sup.IP)
	for _, acct := range []*Account{
		monitorAccount(c.FQDN(sup), supIP), probeAccount(),
		gatewayAccount(c.FQDN(sup), supIP), userGrantAccount(c.FQDN(sup), supIP, l),
	} {
		p.Accounts[acct.Principal] = acct
	}
	p.Groups[GroupMonitorProbes][MonitorProbe] = true
	if probe := GatewayProbe(c); probe != "" {
		p.Accounts[probe] = gatewayProbeAccount(probe)
		p.Groups[GroupKerberos][probe] = true
	}
	for _, admin := range c.RootAdmins {
		if _, clash := p.Accounts[admin]; clash {
			return nil, fmt.Errorf("policy: root admin %q has the name of a node or of a Homeworld account; rename it in root-admins of setup.yaml", admin)
		}
		p.Accounts[admin] = adminAccount(admin, l)
		p.Groups[GroupRootAdmins][admin] = true
		p.Groups[GroupKerberos][admin] = true
	}
	return p, nil
}

// monitorAccount is auth-monitor: an SSH certificate of minutes for its
// login checks, and impersonation of the probe account only.
func monitorAccount(supFQDN string, ip netip.Addr) *Account {
	a := &Account{Principal: MonitorPrincipal(supFQDN), IP: ip, DirectAuth: true, Grants: map[keyapi.API]*Grant{}}
	a.add(&Grant{API: keyapi.MonitorSSH, Privilege: SignSSH, Authority: keyapi.SSHUser, SSH: pki.SSHGrant{
		KeyID: "auth-monitor-" + supFQDN, Principals: []string{"root"}, Lifetime: MonitorSSHLifetime,
	}})
	a.add(&Grant{API: keyapi.ImpersonateAdmin, Privilege: Impersonate, Scope: GroupMonitorProbes})
	return a
}

// probeAccount is reachable only by impersonation; its SSH certificate names
// a user no node has.
func probeAccount() *Account {
	a := &Account{Principal: MonitorProbe, Grants: map[keyapi.API]*Grant{}}
	a.add(&Grant{API: keyapi.AccessSSH, Privilege: SignSSH, Authority: keyapi.SSHUser, SSH: pki.SSHGrant{
		KeyID: MonitorProbe, Principals: []string{MonitorProbe}, Lifetime: MonitorSSHLifetime,
	}})
	return a
}

func adminAccount(principal string, l Lifetimes) *Account {
	a := &Account{Principal: principal, DirectAuth: true, Grants: map[keyapi.API]*Grant{}}
	a.add(&Grant{API: keyapi.AccessSSH, Privilege: SignSSH, Authority: keyapi.SSHUser, SSH: pki.SSHGrant{
		KeyID: "admin-ssh-" + principal, Principals: []string{"root"}, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: keyapi.AccessKubernetes, Privilege: SignTLS, Authority: keyapi.Kubernetes, TLS: pki.TLSGrant{
		CommonName: "root:" + principal, Organizations: []string{"system:masters"}, Usage: pki.ClientAuth, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: keyapi.AccessEtcd, Privilege: SignTLS, Authority: keyapi.EtcdClient, TLS: pki.TLSGrant{
		CommonName: "admin-etcd-" + principal, Usage: pki.ClientAuth, Lifetime: l.Admin,
	}})
	a.add(&Grant{API: keyapi.Admit, Privilege: IssueToken, Scope: GroupNodes, TokenTTL: l.Token})
	a.add(&Grant{API: keyapi.Deny, Privilege: Deny})
	a.add(&Grant{API: keyapi.Allow, Privilege: Allow})
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
		Grants:     map[keyapi.API]*Grant{},
	}
	hostNames := []string{fqdn, n.Hostname, n.IP}
	for _, cred := range credential.For(n.Kind) {
		if cred.Type == credential.Authority || cred.Type == credential.Static {
			continue // public downloads need no grant
		}
		g := &Grant{API: cred.API}
		tls := func(authority keyapi.Authority, cn string, usage pki.Usage, names []string, orgs ...string) {
			g.Privilege, g.Authority = SignTLS, authority
			g.TLS = pki.TLSGrant{CommonName: cn, Names: names, Organizations: orgs, Usage: usage, Lifetime: l.NodeCert}
		}
		const client, server, both = pki.ClientAuth, pki.ServerAuth, pki.ClientAuth | pki.ServerAuth
		switch cred.API {
		case keyapi.RenewKeygrant:
			tls(keyapi.Keygranting, fqdn, client, nil)
			g.TLS.Lifetime = l.Keygrant
		case keyapi.GetLocalConfig:
			g.Privilege, g.Contents = Text, nodeconf.ForNode(c, n).Render()
		case keyapi.GrantSSHHost:
			g.Privilege, g.Authority = SignSSH, keyapi.SSHHost
			g.SSH = pki.SSHGrant{KeyID: "admitted-" + fqdn, Principals: hostNames, Host: true, Lifetime: l.SSHHost}
		case keyapi.GrantAuthMonitor:
			tls(keyapi.Keygranting, MonitorPrincipal(fqdn), client, nil)
		case keyapi.GrantKeygateway:
			tls(keyapi.Keygranting, GatewayPrincipal(fqdn), client, nil)
		case keyapi.GrantKeygatewayHTTPS:
			// Names the supervisor, as the keyserver's does; GatewayURI
			// keeps the two apart for their clients.
			tls(keyapi.ClusterCA, "keygateway "+fqdn, server, []string{fqdn, n.IP})
			g.TLS.URIs = []string{keyapi.GatewayURI}
		case keyapi.GrantUserGrant:
			tls(keyapi.Keygranting, UserGrantPrincipal(fqdn), client, nil)
		case keyapi.GrantUserGrantHTTPS:
			name := c.Cluster.UserGrantDomain
			if name == "" {
				name = fqdn
			}
			tls(keyapi.ClusterCA, "user-grant "+name, server, []string{name})
		case keyapi.GrantKubeUserGrant:
			// Gives users namespaces and binds them admin there
			// (internal/rbac); not system:masters.
			tls(keyapi.Kubernetes, rbac.UserGrantUser(n.Hostname), client, nil)
		case keyapi.GrantRegistryHost:
			// Only the registry's own name: not the supervisor's name or
			// address, which the keyserver's certificate carries (and the
			// gateway's, with a mark of its own).
			tls(keyapi.ClusterCA, "homeworld-registry", server, []string{RegistryName})
		case keyapi.GrantKubeSupervisor:
			// Not system:masters: the supervisor's monitoring only reads (see
			// internal/rbac).
			tls(keyapi.Kubernetes, "supervisor:"+n.Hostname, client, nil)
		case keyapi.GrantKubeSetupQueue:
			// Applies RBAC among the cluster's manifests; creating a role
			// needs every permission in it, so only an administrator can.
			tls(keyapi.Kubernetes, "setup-queue:"+n.Hostname, client, nil, "system:masters")
		case keyapi.GrantKubeWorker:
			// The kubelet's client and serving certificate.
			tls(keyapi.Kubernetes, "system:node:"+n.Hostname, both, hostNames, "system:nodes")
		case keyapi.GrantKubeProxy:
			tls(keyapi.Kubernetes, "system:kube-proxy", client, nil)
		case keyapi.GrantKubeFlannel:
			// flanneld's API identity: its group may read nodes and
			// patch their status, nothing else (internal/rbac).
			tls(keyapi.Kubernetes, "flannel:"+n.Hostname, client, nil, rbac.FlannelGroup)
		case keyapi.GrantKubeMaster:
			// The apiserver's serving certificate and its client
			// certificate towards kubelets.
			d := c.Cluster.InternalDomain
			tls(keyapi.Kubernetes, "apiserver:"+n.Hostname, both, []string{
				fqdn, n.Hostname, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc." + d, n.IP, c.Addresses.ServiceAPI,
			})
		case keyapi.GrantKubeCtrlMgr:
			tls(keyapi.Kubernetes, "system:kube-controller-manager", client, nil)
		case keyapi.GrantKubeScheduler:
			tls(keyapi.Kubernetes, "system:kube-scheduler", client, nil)
		case keyapi.GrantEtcdServer:
			// Serves clients and peers, and is the client side of peer
			// connections.
			tls(keyapi.EtcdServer, "etcd-server-"+n.Hostname, both, hostNames)
		case keyapi.GrantEtcdClient:
			tls(keyapi.EtcdClient, "etcd-client-"+n.Hostname, client, hostNames)
		case keyapi.FetchServiceAccountKey:
			g.Privilege, g.Authority = FetchKey, keyapi.ServiceAccount
		default:
			return nil, fmt.Errorf("policy: credential %s uses API %s, which the policy does not know", cred.Name, cred.API)
		}
		a.add(g)
	}
	return a, nil
}

package policy

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNodeGrantsMatchCatalogue(t *testing.T) {
	c := testConfig(t)
	p, err := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		acct := p.Accounts[c.FQDN(n)]
		if acct == nil {
			t.Fatalf("no account for %s", n.Hostname)
		}
		var want []keyapi.API
		for _, cred := range credential.For(n.Kind) {
			if cred.Type != credential.Authority && cred.Type != credential.Static {
				want = append(want, cred.API)
			}
		}
		slices.Sort(want)
		if got := acct.APIs(); !slices.Equal(got, want) {
			t.Errorf("%s (%s) grants %v, want %v", n.Hostname, n.Kind, got, want)
		}
		if acct.IP.String() != n.IP {
			t.Errorf("%s bound to %v, want %s", n.Hostname, acct.IP, n.IP)
		}
		if !p.InGroup(GroupNodes, acct.Principal) {
			t.Errorf("%s not in nodes group", n.Hostname)
		}
	}
}

func TestWorkersGetNoEtcdOrSigningMaterial(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	for _, n := range c.NodesOf(config.KindWorker) {
		for api, g := range p.Accounts[c.FQDN(n)].Grants {
			if strings.Contains(string(g.Authority), "etcd") || g.Privilege == FetchKey || g.Privilege == IssueToken || g.Privilege == Impersonate {
				t.Errorf("worker %s may call %s (%s on %s)", n.Hostname, api, g.Privilege, g.Authority)
			}
			if g.Authority == keyapi.ServiceAccount || strings.Contains(string(api), "master") || strings.Contains(string(api), "ctrl-mgr") {
				t.Errorf("worker %s may call %s", n.Hostname, api)
			}
		}
	}
}

func TestNamesComeFromPolicy(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	m := p.Accounts["master1.cluster.example.org"]
	g := m.Grants[keyapi.GrantKubeMaster]
	for _, want := range []string{"master1.cluster.example.org", "master1", "192.0.2.21", "kubernetes.default.svc.cluster.internal", "172.28.0.1"} {
		if !slices.Contains(g.TLS.Names, want) {
			t.Errorf("apiserver names %v lack %s", g.TLS.Names, want)
		}
	}
	if g.TLS.Usage != pki.ClientAuth|pki.ServerAuth {
		t.Error("apiserver certificate does not serve and authenticate to kubelets")
	}
	w := p.Accounts["worker1.cluster.example.org"].Grants[keyapi.GrantKubeWorker]
	if w.TLS.CommonName != "system:node:worker1" || !slices.Equal(w.TLS.Organizations, []string{"system:nodes"}) {
		t.Errorf("kubelet cert: %+v", w.TLS)
	}
	ssh := p.Accounts["worker1.cluster.example.org"].Grants[keyapi.GrantSSHHost]
	if !slices.Equal(ssh.SSH.Principals, []string{"worker1.cluster.example.org", "worker1", "192.0.2.31"}) || !ssh.SSH.Host {
		t.Errorf("ssh host grant: %+v", ssh.SSH)
	}
}

func TestAdminGrantsAreShortLived(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	a := p.Accounts["admin"]
	if a == nil || a.IP.IsValid() || !p.InGroup(GroupRootAdmins, "admin") {
		t.Fatalf("admin account: %+v", a)
	}
	for _, api := range []keyapi.API{keyapi.AccessSSH, keyapi.AccessKubernetes, keyapi.AccessEtcd} {
		g := a.Grants[api]
		life := g.TLS.Lifetime + g.SSH.Lifetime
		if life <= 0 || life > 8*time.Hour {
			t.Errorf("%s lifetime %v, want a few hours", api, life)
		}
	}
	if g := a.Grants[keyapi.Admit]; g.Scope != GroupNodes || g.TokenTTL != time.Hour {
		t.Errorf("admit grant: %+v", g)
	}
}

func TestBadLifetimes(t *testing.T) {
	l := DefaultLifetimes
	l.Admin = 0
	c := testConfig(t)
	if _, err := Build(c, nodeconf.ForCluster(c), l); err == nil || !strings.Contains(err.Error(), "admin lifetime") {
		t.Errorf("Build = %v", err)
	}
	l = DefaultLifetimes
	l.User = 0
	if _, err := Build(c, nodeconf.ForCluster(c), l); err == nil || !strings.Contains(err.Error(), "user lifetime") {
		t.Errorf("Build without a user lifetime = %v", err)
	}
}

// TestOnlyHostCertificatesServe keeps server authentication to the
// certificates that serve something, and URI names (the servers' marks)
// out of every grant but the key gateway's, which carries its own: no
// credential the policy issues can pose as the keyserver.
func TestOnlyHostCertificatesServe(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	serving := map[keyapi.API]bool{
		keyapi.GrantKubeWorker: true, keyapi.GrantKubeMaster: true,
		keyapi.GrantEtcdServer: true, keyapi.GrantRegistryHost: true,
		keyapi.GrantKeygatewayHTTPS: true, keyapi.GrantUserGrantHTTPS: true,
	}
	// Servers on the supervisor that may name it: their clients tell them
	// from the keyserver by its mark.
	namesSupervisor := map[keyapi.API]bool{
		keyapi.GrantKubeMaster: true, keyapi.GrantKubeWorker: true, keyapi.GrantEtcdServer: true,
		keyapi.GrantKeygatewayHTTPS: true, keyapi.GrantUserGrantHTTPS: true,
	}
	sup := c.Supervisor()
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Privilege != SignTLS && g.Privilege != SignUserTLS {
				continue
			}
			var wantURIs []string
			if api == keyapi.GrantKeygatewayHTTPS {
				wantURIs = []string{keyapi.GatewayURI}
			}
			if !slices.Equal(g.TLS.URIs, wantURIs) {
				t.Errorf("%s: %s grants URI names %v, want %v", acct.Principal, api, g.TLS.URIs, wantURIs)
			}
			if got := g.TLS.Usage&pki.ServerAuth != 0; got != serving[api] {
				t.Errorf("%s: %s server auth = %v, want %v", acct.Principal, api, got, serving[api])
			}
			if g.TLS.Usage == 0 {
				t.Errorf("%s: %s has no usage", acct.Principal, api)
			}
			if !namesSupervisor[api] {
				for _, n := range g.TLS.Names {
					if n == c.FQDN(sup) || n == sup.IP {
						t.Errorf("%s: %s names the keyserver's %s", acct.Principal, api, n)
					}
				}
			}
		}
	}
	if r := p.Accounts[c.FQDN(sup)].Grants[keyapi.GrantRegistryHost]; !slices.Equal(r.TLS.Names, []string{RegistryName}) {
		t.Errorf("registry names %v, want only %s", r.TLS.Names, RegistryName)
	}
	// Only the setup queue is a Kubernetes administrator among the nodes'
	// identities.
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Privilege != SignTLS || !slices.Contains(g.TLS.Organizations, "system:masters") {
				continue
			}
			if acct.Kind == config.KindSupervisor && api == keyapi.GrantKubeSetupQueue {
				continue
			}
			if acct.Kind != "" { // nodes; admins reach system:masters through access-kubernetes
				t.Errorf("%s: %s grants system:masters", acct.Principal, api)
			}
		}
	}
	if g := p.Accounts[c.FQDN(sup)].Grants[keyapi.GrantKubeSetupQueue]; g == nil || g.TLS.CommonName != "setup-queue:"+sup.Hostname {
		t.Errorf("the supervisor's setup-queue grant: %+v", g)
	}
}

// TestMonitorCannotActForAdmins: auth-monitor's identity runs its checks
// and nothing else.
func TestMonitorCannotActForAdmins(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	sup := c.Supervisor()
	mon := p.Accounts[MonitorPrincipal(c.FQDN(sup))]
	if mon == nil || mon.IP.String() != sup.IP {
		t.Fatalf("monitor account %+v", mon)
	}
	if got := mon.APIs(); !slices.Equal(got, []keyapi.API{keyapi.ImpersonateAdmin, keyapi.MonitorSSH}) {
		t.Errorf("monitor APIs %v", got)
	}
	if g := mon.Grants[keyapi.ImpersonateAdmin]; g.Scope != GroupMonitorProbes {
		t.Errorf("monitor may impersonate %s", g.Scope)
	}
	for _, admin := range c.RootAdmins {
		if p.InGroup(GroupMonitorProbes, admin) {
			t.Errorf("root admin %s is a monitor probe", admin)
		}
	}
	probe := p.Accounts[MonitorProbe]
	if probe.DirectAuth || !slices.Equal(probe.APIs(), []keyapi.API{keyapi.AccessSSH}) || slices.Contains(probe.Grants[keyapi.AccessSSH].SSH.Principals, "root") {
		t.Errorf("probe account %+v", probe)
	}
}

// TestGatewayActsForKerberosAccountsOnly: the Kerberos gateway has an
// account of its own that may act for the root admins and the gateway
// probe, and nothing else; the supervisor's node identity may act for
// nobody.
func TestGatewayActsForKerberosAccountsOnly(t *testing.T) {
	c := testConfig(t)
	c.Cluster.KerberosRealm = "EXAMPLE.ORG"
	p, err := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	if err != nil {
		t.Fatal(err)
	}
	sup := c.Supervisor()
	gw := p.Accounts[GatewayPrincipal(c.FQDN(sup))]
	if gw == nil || gw.IP.String() != sup.IP || !gw.DirectAuth || gw.Kind != "" {
		t.Fatalf("gateway account %+v", gw)
	}
	if got := gw.APIs(); !slices.Equal(got, []keyapi.API{keyapi.ImpersonateAdmin}) {
		t.Errorf("gateway APIs %v, want only %s", got, keyapi.ImpersonateAdmin)
	}
	if g := gw.Grants[keyapi.ImpersonateAdmin]; g.Privilege != Impersonate || g.Scope != GroupKerberos {
		t.Errorf("gateway grant %+v, want impersonation of %s", g, GroupKerberos)
	}
	probe := GatewayProbe(c)
	if probe != "host/supervisor.cluster.example.org@EXAMPLE.ORG" {
		t.Errorf("GatewayProbe = %q", probe)
	}
	want := append([]string{probe}, c.RootAdmins...)
	if got := slices.Sorted(maps.Keys(p.Groups[GroupKerberos])); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("%s = %v, want %v", GroupKerberos, got, want)
	}
	if a := p.Accounts[probe]; a == nil || a.DirectAuth || len(a.Grants) != 0 || a.IP.IsValid() {
		t.Errorf("gateway probe account %+v, want one reachable only by impersonation, granting nothing", a)
	}
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Privilege == Impersonate && acct != gw && acct.Principal != MonitorPrincipal(c.FQDN(sup)) {
				t.Errorf("%s may act for %s through %s", acct.Principal, g.Scope, api)
			}
		}
	}

	// Without a realm there is no probe, and the gateway acts for admins.
	c.Cluster.KerberosRealm = ""
	p, _ = Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	if GatewayProbe(c) != "" || len(p.Groups[GroupKerberos]) != len(c.RootAdmins) {
		t.Errorf("without a realm: probe %q, %s = %v", GatewayProbe(c), GroupKerberos, p.Groups[GroupKerberos])
	}
	for principal := range p.Accounts {
		if strings.HasPrefix(principal, "host/") {
			t.Errorf("account %s without a realm", principal)
		}
	}
}

// TestSupervisorServiceCredentials: the supervisor obtains the gateway's
// and user-grant's certificates, each naming that service's own account or
// server, and the Kubernetes identity user-grant acts as.
func TestSupervisorServiceCredentials(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	sup := c.Supervisor()
	fqdn := c.FQDN(sup)
	grants := p.Accounts[fqdn].Grants
	for api, want := range map[keyapi.API]struct {
		authority keyapi.Authority
		cn        string
		names     []string
		usage     pki.Usage
	}{
		keyapi.GrantKeygateway:      {keyapi.Keygranting, GatewayPrincipal(fqdn), nil, pki.ClientAuth},
		keyapi.GrantKeygatewayHTTPS: {keyapi.ClusterCA, "keygateway " + fqdn, []string{fqdn, sup.IP}, pki.ServerAuth},
		keyapi.GrantUserGrant:       {keyapi.Keygranting, UserGrantPrincipal(fqdn), nil, pki.ClientAuth},
		keyapi.GrantUserGrantHTTPS:  {keyapi.ClusterCA, "user-grant " + fqdn, []string{fqdn}, pki.ServerAuth},
		keyapi.GrantKubeUserGrant:   {keyapi.Kubernetes, "user-grant:supervisor", nil, pki.ClientAuth},
	} {
		g := grants[api]
		if g == nil {
			t.Errorf("the supervisor may not call %s", api)
			continue
		}
		if g.Privilege != SignTLS || g.Authority != want.authority || g.TLS.CommonName != want.cn || !slices.Equal(g.TLS.Names, want.names) || g.TLS.Usage != want.usage || len(g.TLS.Organizations) != 0 {
			t.Errorf("%s: %+v", api, g)
		}
	}
	c.Cluster.UserGrantDomain = "grant.example.org"
	p, _ = Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	if g := p.Accounts[fqdn].Grants[keyapi.GrantUserGrantHTTPS]; !slices.Equal(g.TLS.Names, []string{"grant.example.org"}) {
		t.Errorf("user-grant serves %v, want only cluster.user-grant-domain", g.TLS.Names)
	}
	for _, n := range c.Nodes {
		if n.Kind != config.KindSupervisor && p.Accounts[c.FQDN(n)].Grants[keyapi.GrantKeygateway] != nil {
			t.Errorf("%s may obtain the gateway's identity", n.Hostname)
		}
	}
}

// TestUserGrantSignsUsersOnly: user-grant's account has Kubernetes user
// certificates signed, for the user's name alone.
func TestUserGrantSignsUsersOnly(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	sup := c.Supervisor()
	ug := p.Accounts[UserGrantPrincipal(c.FQDN(sup))]
	if ug == nil || ug.IP.String() != sup.IP || !ug.DirectAuth {
		t.Fatalf("user-grant account %+v", ug)
	}
	if got := ug.APIs(); !slices.Equal(got, []keyapi.API{keyapi.SignKubeUser}) {
		t.Errorf("user-grant APIs %v", got)
	}
	g := ug.Grants[keyapi.SignKubeUser]
	if g.Privilege != SignUserTLS || g.Authority != keyapi.Kubernetes || g.TLS.Lifetime != DefaultLifetimes.User || g.TLS.Usage != pki.ClientAuth {
		t.Errorf("user-grant grant %+v", g)
	}
	// Whatever the grant held, the certificate names the user alone.
	g.TLS.Organizations, g.TLS.Names, g.TLS.URIs, g.TLS.CommonName = []string{"system:masters"}, []string{"x"}, []string{"urn:x"}, "root:x"
	if got := g.UserTLS("alice"); got.CommonName != "user:alice" || got.Organizations != nil || got.Names != nil || got.URIs != nil || got.Usage != pki.ClientAuth || got.Lifetime != DefaultLifetimes.User {
		t.Errorf("UserTLS = %+v", got)
	}
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Privilege == SignUserTLS && acct != ug {
				t.Errorf("%s may sign users through %s", acct.Principal, api)
			}
		}
	}
}

func TestKubeUserName(t *testing.T) {
	for cn, want := range map[string]string{
		"user:alice": "alice", "user:a1": "a1", "user:bob-smith": "bob-smith",
		"user:" + strings.Repeat("a", 32): strings.Repeat("a", 32),
	} {
		if got, err := KubeUserName(cn); err != nil || got != want || KubeUserCN(got) != cn {
			t.Errorf("KubeUserName(%q) = %q, %v; want %q", cn, got, err, want)
		}
	}
	for _, cn := range []string{
		"alice", "root:alice", "system:masters", "user:", "user:a", "user:Alice", "user:1a", "user:a-",
		"user:../x", "user:a/b", "user:a:b", "user:a b", "user:" + strings.Repeat("a", 33), "User:alice", " user:alice",
	} {
		if name, err := KubeUserName(cn); err == nil {
			t.Errorf("KubeUserName(%q) = %q, want an error", cn, name)
		}
	}
}

// TestKeygrantingCarriesNoOrganization: no keygranting certificate the
// policy issues has an organization, so keyapi.BreakGlassOrg marks only
// what spire mints with the disaster key.
func TestKeygrantingCarriesNoOrganization(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Authority == keyapi.Keygranting && len(g.TLS.Organizations) != 0 {
				t.Errorf("%s: %s puts %v in a keygranting certificate", acct.Principal, api, g.TLS.Organizations)
			}
		}
	}
}

// TestServiceAccountsClaimTheirNames: a root admin named like a Homeworld
// account is refused, the gateway probe among them.
func TestServiceAccountsClaimTheirNames(t *testing.T) {
	c := testConfig(t)
	c.Cluster.KerberosRealm = "EXAMPLE.ORG"
	for _, name := range []string{GatewayPrincipal(c.FQDN(c.Supervisor())), UserGrantPrincipal(c.FQDN(c.Supervisor())), GatewayProbe(c)} {
		c.RootAdmins = []string{name}
		if _, err := Build(c, nodeconf.ForCluster(c), DefaultLifetimes); err == nil || !strings.Contains(err.Error(), "Homeworld account") {
			t.Errorf("root admin %s: Build = %v", name, err)
		}
	}
}

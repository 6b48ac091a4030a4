package policy

import (
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
		if n.Kind == config.KindSupervisor {
			want = append(want, keyapi.ImpersonateAdmin)
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
}

// TestOnlyHostCertificatesServe keeps server authentication to the
// certificates that serve something, and URI names (the keyserver's mark)
// out of every grant: no credential the policy issues can pose as the
// keyserver.
func TestOnlyHostCertificatesServe(t *testing.T) {
	c := testConfig(t)
	p, _ := Build(c, nodeconf.ForCluster(c), DefaultLifetimes)
	serving := map[keyapi.API]bool{
		keyapi.GrantKubeWorker: true, keyapi.GrantKubeMaster: true,
		keyapi.GrantEtcdServer: true, keyapi.GrantRegistryHost: true,
	}
	sup := c.Supervisor()
	for _, acct := range p.Accounts {
		for api, g := range acct.Grants {
			if g.Privilege != SignTLS {
				continue
			}
			if len(g.TLS.URIs) > 0 {
				t.Errorf("%s: %s grants URI names %v", acct.Principal, api, g.TLS.URIs)
			}
			if got := g.TLS.Usage&pki.ServerAuth != 0; got != serving[api] {
				t.Errorf("%s: %s server auth = %v, want %v", acct.Principal, api, got, serving[api])
			}
			if g.TLS.Usage == 0 {
				t.Errorf("%s: %s has no usage", acct.Principal, api)
			}
			if api != keyapi.GrantKubeMaster && api != keyapi.GrantKubeWorker && api != keyapi.GrantEtcdServer {
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

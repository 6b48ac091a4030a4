package spirecmd

import (
	"context"
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
)

// clusterEnv is a spire workspace for a running test keyserver.
func clusterEnv(t *testing.T) (*env, *keysystemtest.Cluster) {
	t.Helper()
	c := keysystemtest.Start(t, policy.Lifetimes{})
	return workspaceFor(t, c), c
}

// workspaceFor is an admin's workspace for c, with a fresh disaster key.
func workspaceFor(t *testing.T, c *keysystemtest.Cluster) *env {
	t.Helper()
	e := newEnv(t)
	if err := disaster.Generate(e.key); err != nil {
		t.Fatal(err)
	}
	key, err := disaster.Load(e.key)
	if err != nil {
		t.Fatal(err)
	}
	key.SetWorkFactor(10)
	c.Workspace(e.dir, key)
	return e
}

var tokenRE = regexp.MustCompile(`Token granted for worker1: (\S{22})\n`)

func TestInfraAdmit(t *testing.T) {
	e, c := clusterEnv(t)
	out := e.mustRun("infra", "admit", "--keyserver", c.Addr, "worker1")
	m := tokenRE.FindStringSubmatch(out.stdout)
	if m == nil {
		t.Fatalf("admit output %q", out.stdout)
	}
	csr, _ := pki.MakeCSR(mustKey(t))
	if _, err := c.Client("127.0.0.31", nil).Call1(context.Background(), m[1], keyapi.RenewKeygrant, string(csr)); err != nil {
		t.Errorf("the admitted token does not bootstrap worker1: %v", err)
	}
	e.fails(`no node named "worker9"`, "infra", "admit", "--keyserver", c.Addr, "worker9")
	e.fails("not in root-admins", "infra", "admit", "--keyserver", c.Addr, "--as", "mallory", "worker1")

	all := e.mustRun("infra", "admit-all", "--keyserver", c.Addr).stdout
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 6 || strings.Contains(all, "supervisor") {
		t.Errorf("admit-all output:\n%s", all)
	}
	if !strings.Contains(c.AuditLog(), `"action":"token-issue","principal":"admin"`) {
		t.Error("token issue not audited with the admin's principal")
	}
}

func TestInfraAdmitKeyserverDown(t *testing.T) {
	e, c := clusterEnv(t)
	c.StopServer()
	e.fails("keyserver unreachable", "infra", "admit", "--keyserver", c.Addr, "worker1")
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAccessCommands(t *testing.T) {
	e, c := clusterEnv(t)
	ks := []string{"--keyserver", c.Addr}

	out := e.mustRun(append([]string{"access", "kubeconfig"}, ks...)...)
	if !strings.Contains(out.stdout, `certificate "root:admin" valid until`) {
		t.Errorf("kubeconfig output %q", out.stdout)
	}
	kc := readFile(t, filepath.Join(e.dir, "kubeconfig"))
	for _, want := range []string{"server: " + services.APIServer.URL("127.0.0.21", ""), "client-key: " + filepath.Join(e.dir, "kube-access.key")} {
		if !strings.Contains(kc, want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, kc)
		}
	}
	cert, err := pki.ParseCert([]byte(readFile(t, filepath.Join(e.dir, "kube-access.pem"))))
	if err != nil || cert.Subject.Organization[0] != "system:masters" {
		t.Errorf("kube cert: %v %v", cert.Subject, err)
	}
	if st, _ := os.Stat(filepath.Join(e.dir, "kube-access.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("kube key mode %v", st.Mode().Perm())
	}

	e.mustRun(append([]string{"access", "etcd"}, ks...)...)
	etcdServer := c.Authority(keyapi.EtcdServer)
	if readFile(t, filepath.Join(e.dir, "etcd-ca.pem")) != string(pki.EncodeCert(etcdServer.Cert)) {
		t.Error("etcd-ca.pem is not the etcd-server authority (it must verify etcd's servers)")
	}

	out = e.mustRun(append([]string{"access", "ssh", "--no-agent"}, ks...)...)
	if !strings.Contains(out.stdout, "principals root") {
		t.Errorf("ssh output %q", out.stdout)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, filepath.Join(e.dir, "ssh-key-cert.pub"))))
	if err != nil {
		t.Fatal(err)
	}
	pub := readFile(t, filepath.Join(e.dir, "ssh-key.pub"))
	if string(ssh.MarshalAuthorizedKey(k.(*ssh.Certificate).Key)) != pub {
		t.Error("the SSH certificate is not for the workspace's key")
	}
	// A second run keeps the key.
	e.mustRun(append([]string{"access", "ssh", "--no-agent"}, ks...)...)
	if readFile(t, filepath.Join(e.dir, "ssh-key.pub")) != pub {
		t.Error("access ssh replaced the admin's key")
	}
}

func TestUpdateKnownHosts(t *testing.T) {
	e, c := clusterEnv(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o644)
	e.mustRun("access", "update-known-hosts", "--known-hosts", kh)
	e.mustRun("access", "update-known-hosts", "--known-hosts", kh)
	content := readFile(t, kh)
	hostCA := c.Authority(keyapi.SSHHost)
	want := "@cert-authority *.test.homeworld.example " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostCA.SSHKey)))
	if strings.Count(content, want) != 1 || !strings.HasPrefix(content, "github.com ") {
		t.Errorf("known_hosts:\n%s", content)
	}
}

func TestInfraDenyAllow(t *testing.T) {
	e, c := clusterEnv(t)
	ks := []string{"--keyserver", c.Addr}
	out := e.mustRun(append([]string{"infra", "deny", "worker1"}, ks...)...)
	if !strings.Contains(out.stdout, "denied worker1") || !strings.Contains(out.stdout, "worker1.test.homeworld.example (by admin") {
		t.Errorf("deny output %q", out.stdout)
	}
	e.fails("denied by an administrator", append([]string{"infra", "admit", "worker1"}, ks...)...)
	out = e.mustRun(append([]string{"infra", "allow", "worker1"}, ks...)...)
	if !strings.Contains(out.stdout, "(empty)") {
		t.Errorf("allow output %q", out.stdout)
	}
	e.mustRun(append([]string{"infra", "admit", "worker1"}, ks...)...)
	e.fails("not a certificate serial", append([]string{"infra", "deny", "serial:xyz"}, ks...)...)
}

// spire refuses a server that presents a cluster certificate other than
// the keyserver's, even one naming the supervisor.
func TestSpireRefusesImpostorKeyserver(t *testing.T) {
	e, c := clusterEnv(t)
	e.fails("not the keyserver's", "infra", "admit", "--keyserver", c.Impostor(), "worker1")
}

// A command aimed at a virtual cluster that is down says so instead of
// dialing addresses that, without the cluster's bridge, leave the machine.
func TestVirtualClusterDownIsNotDialed(t *testing.T) {
	e, _ := clusterEnv(t)
	if err := virt.MarkVirtual(e.dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"infra", "admit", "worker1"},
		{"access", "kubeconfig"},
		{"verify", "all"},
		{"seq", "cluster"},
	} {
		e.fails("virtual cluster is not running: spire virt up", args...)
	}
	// Naming an address explicitly is the operator's decision.
	e.fails("keyserver unreachable", "infra", "admit", "--keyserver", "127.0.0.1:1", "worker1")
}

// spire setup keyserver installs what the keyserver loads; spire setup node
// what a node's keyclient needs to be admitted.
func TestSetupCommands(t *testing.T) {
	e, c := clusterEnv(t)
	sup := layout.Node{Root: t.TempDir()}
	e.mustRun("setup", "keyserver", "--root", sup.Root)
	if _, _, err := keyserver.Load(sup, policy.DefaultLifetimes, keyserver.Options{Logf: t.Logf}); err != nil {
		t.Errorf("the keyserver cannot load what setup keyserver installed: %v", err)
	}
	if st, err := os.Stat(sup.KeyserverAuthorities()); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("authorities folder: %v %v", st, err)
	}

	node := layout.Node{Root: t.TempDir()}
	e.mustRun("setup", "node", "worker1", "--root", node.Root, "--keyserver", c.Addr)
	if got := readFile(t, node.KeyserverDomain()); got != "supervisor.test.homeworld.example" {
		t.Errorf("keyserver.domain %q", got)
	}
	clusterCA := c.Authority(keyapi.ClusterCA)
	if readFile(t, node.KeyserverCA()) != string(pki.EncodeCert(clusterCA.Cert)) {
		t.Error("the node's keyserver CA is not clusterca")
	}
	tok := strings.TrimSpace(readFile(t, node.BootstrapToken()))
	csr, _ := pki.MakeCSR(mustKey(t))
	if _, err := c.Client("127.0.0.31", nil).Call1(context.Background(), tok, keyapi.RenewKeygrant, string(csr)); err != nil {
		t.Errorf("the installed token does not bootstrap worker1: %v", err)
	}
	e.fails(`no node named "worker9"`, "setup", "node", "worker9", "--root", node.Root, "--keyserver", c.Addr)
}

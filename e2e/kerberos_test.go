//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

// realm is the virtual cluster's Kerberos realm: a real KDC on this
// machine, on loopback for spire and on the bridge's address for the
// supervisor.
const realm = "HOMEWORLD.TEST"

const adminPassword = "an admin's password, for tests only"

// enableKerberos names the realm and user-grant's domain in setup.yaml,
// before up.
func (v *virtCluster) enableKerberos(t *testing.T) {
	t.Helper()
	v.editSetup(t, "  etcd-token: virt-etcd\n",
		"  etcd-token: virt-etcd\n  kerberos-realm: "+realm+"\n  user-grant-domain: "+userGrantDomain+"\n")
}

// editSetup replaces old with new in the workspace's setup.yaml, as an
// operator's editor would, and reloads it.
func (v *virtCluster) editSetup(t *testing.T, old, new string) {
	t.Helper()
	path := filepath.Join(v.dir, config.FileName)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), old) {
		t.Fatalf("setup.yaml has no %q:\n%s", old, text)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(text), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if v.cfg, _, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
}

// startKerberos runs the realm, gives the supervisor its keytab the
// operator's way (keytab import, setup keygateway) and the admin a ticket,
// which every later spire command of the test uses, and waits until
// auth-monitor sees the gateway work.
func (v *virtCluster) startKerberos(t *testing.T) *krb5test.KDC {
	t.Helper()
	gw := v.topo.Gateway.Addr().String()
	kdc := krb5test.Start(t, krb5test.Options{Realm: realm, AlsoListen: []string{gw}})
	service, probe := policy.GatewayService(v.cfg), "host/"+v.cfg.FQDN(v.cfg.Supervisor())+"@"+realm
	users := "HTTP/" + userGrantDomain
	for _, p := range []string{service, probe, users} {
		kdc.AddService(t, p)
	}
	dir := t.TempDir()
	kt := filepath.Join(dir, "supervisor.keytab")
	kdc.Keytab(t, kt, service, probe, users)
	v.spire(t, "keytab", "import", "supervisor", kt)
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte(kdc.ConfigFor(gw)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.spire(t, "setup", "keygateway", "--krb5-conf", conf)
	kdc.AddPrincipal(t, "admin", adminPassword)
	v.vars = []string{"KRB5_CONFIG=" + kdc.Config, "KRB5CCNAME=FILE:" + kdc.Kinit(t, "admin", adminPassword)}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, errOut, err := v.trySpire("verify", "keygateway")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs := filepath.Join(v.topo.Dir, "nodes", "supervisor", "logs")
			t.Fatalf("auth-monitor's check of the key gateway still fails after 2m: %s%s\nauth-monitor:\n%s\nkeygateway:\n%s",
				out, errOut, tailFile(filepath.Join(logs, "auth-monitor.log"), 10), tailFile(filepath.Join(logs, "keygateway.log"), 10))
		}
		time.Sleep(2 * time.Second)
	}
	return kdc
}

// tailFile is the last n lines of a file, for failure messages.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kerberosAccess: with a ticket and no disaster key, spire access ssh goes
// through the key gateway and the certificate logs in to a node; without a
// ticket it is refused, and --break-glass is audited as such.
func (v *virtCluster) kerberosAccess(t *testing.T) {
	supRoot := layout.Node{Root: v.topo.SupervisorRoot()}
	disaster := v.key
	v.key = filepath.Join(t.TempDir(), "no-disaster-key")
	out := v.spire(t, "access", "ssh", "--no-agent")
	v.key = disaster
	if !strings.Contains(out, "SSH certificate for admin") {
		t.Errorf("access ssh: %s", out)
	}
	gatewayAudit, _ := os.ReadFile(supRoot.Path(layout.LogDir + "/keygateway-audit.log"))
	if !strings.Contains(string(gatewayAudit), `"action":"grant","principal":"admin@`+realm+`"`) {
		t.Errorf("the gateway's audit log has no grant for admin@%s:\n%s", realm, gatewayAudit)
	}
	keyserverAudit, _ := os.ReadFile(supRoot.KeyserverAuditLog())
	if !strings.Contains(string(keyserverAudit), `"principal":"admin","via":"keygateway@`) {
		t.Error("the keyserver's audit log does not show the gateway acting for admin")
	}

	// The certificate logs in to a worker, whose host certificate is checked.
	signer := v.adminSigner(t)
	set, err := authority.NewStore(v.dir).LoadPublic()
	if err != nil {
		t.Fatal(err)
	}
	hostCA, err := set.Get(keyapi.SSHHost)
	if err != nil {
		t.Fatal(err)
	}
	checker := &ssh.CertChecker{IsHostAuthority: func(k ssh.PublicKey, _ string) bool {
		return string(k.Marshal()) == string(hostCA.SSHKey.Marshal())
	}}
	worker := v.cfg.NodesOf(config.KindWorker)[0]
	conn, err := ssh.Dial("tcp", services.SSH.Addr(worker.IP), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: checker.CheckHostKey, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("logging in to %s with the certificate from the gateway: %v", worker.Hostname, err)
	}
	sess, err := conn.NewSession()
	if err == nil {
		var out []byte
		out, err = sess.Output("hostname")
		if strings.TrimSpace(string(out)) != worker.Hostname {
			t.Errorf("hostname on %s: %q", worker.Hostname, out)
		}
	}
	conn.Close()
	if err != nil {
		t.Error(err)
	}

	saved := v.vars
	v.vars = []string{saved[0], "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "no-tickets")}
	_, errOut, err := v.trySpire("access", "ssh", "--no-agent")
	if err == nil || !strings.Contains(errOut, "run kinit") || !strings.Contains(errOut, "--break-glass") {
		t.Errorf("access ssh without a ticket: %v\n%s", err, errOut)
	}
	v.spire(t, "access", "ssh", "--no-agent", "--break-glass")
	v.vars = saved
	keyserverAudit, _ = os.ReadFile(supRoot.KeyserverAuditLog())
	if !strings.Contains(string(keyserverAudit), `"auth":"break-glass"`) {
		t.Error("--break-glass is not audited as such")
	}
}

// adminSigner is the workspace's SSH key with its certificate.
func (v *virtCluster) adminSigner(t *testing.T) ssh.Signer {
	t.Helper()
	keyPath := access.SSHKeyPath(v.dir)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certLine, err := os.ReadFile(keyPath + "-cert.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(certLine)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewCertSigner(pub.(*ssh.Certificate), key)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// userGrantDomain is user-grant's name in the virtual cluster; clients
// reach it with curl --resolve, as no DNS serves it.
const userGrantDomain = "users.virt.homeworld.test"

// userGrant: two users fetch kubeconfigs from user-grant with real curl
// --negotiate; with real kubectl each creates a pod in their own namespace
// and is Forbidden in the other's and at cluster scope.
func (v *virtCluster) userGrant(t *testing.T, kdc *krb5test.KDC) {
	set, err := authority.NewStore(v.dir).LoadPublic()
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := set.Get(keyapi.ClusterCA)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "clusterca.pem")
	if err := os.WriteFile(caFile, pki.EncodeCert(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	sup := v.cfg.Supervisor()
	kubeconfigs := map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		kdc.AddPrincipal(t, user, user+"'s password, for tests only")
		ccache := kdc.Kinit(t, user, user+"'s password, for tests only")
		path := filepath.Join(dir, user+".kubeconfig")
		curl := exec.Command("curl", "-sS", "--fail-with-body", "--negotiate", "-u", ":", "--cacert", caFile,
			"--resolve", userGrantDomain+":"+services.UserGrant.PortString()+":"+sup.IP,
			"-o", path, "https://"+userGrantDomain+":"+services.UserGrant.PortString()+"/")
		curl.Env = append(os.Environ(), "KRB5_CONFIG="+kdc.Config, "KRB5CCNAME=FILE:"+ccache)
		if out, err := curl.CombinedOutput(); err != nil {
			body, _ := os.ReadFile(path)
			t.Fatalf("curl --negotiate as %s: %v\n%s%s", user, err, out, body)
		}
		kubeconfigs[user] = path
	}
	as := func(user string, args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfigs[user]}, args...)...).CombinedOutput()
		return string(out), err
	}
	for user, other := range map[string]string{"alice": "bob", "bob": "alice"} {
		if out, err := as(user, "run", user+"-pod", "--image="+services.RegistryName+"/pause", "--restart=Never"); err != nil {
			t.Errorf("%s cannot create a pod in their namespace: %v\n%s", user, err, out)
		}
		if out, err := as(user, "get", "pod", user+"-pod", "-o", "jsonpath={.metadata.namespace}"); err != nil || out != "user-"+user {
			t.Errorf("%s's pod: %q, %v", user, out, err)
		}
		for _, args := range [][]string{
			{"get", "pods", "-n", "user-" + other},
			{"run", "intruder", "-n", "user-" + other, "--image=" + services.RegistryName + "/pause"},
			{"get", "nodes"},
			{"get", "namespaces"},
			{"get", "secrets", "-n", "kube-system"},
		} {
			if out, err := as(user, args...); err == nil || !strings.Contains(out, "Forbidden") {
				t.Errorf("%s: kubectl %s: %v\n%s, want Forbidden", user, strings.Join(args, " "), err, out)
			}
		}
		if out, err := as(user, "delete", "pod", user+"-pod", "--wait=false"); err != nil {
			t.Errorf("%s cannot delete their pod: %v\n%s", user, err, out)
		}
	}
	audit, _ := os.ReadFile(layout.Node{Root: v.topo.SupervisorRoot()}.Path(layout.LogDir + "/user-grant-audit.log"))
	for _, user := range []string{"alice", "bob"} {
		if !strings.Contains(string(audit), user+"@"+realm) {
			t.Errorf("user-grant's audit log does not name %s@%s:\n%s", user, realm, audit)
		}
	}
}

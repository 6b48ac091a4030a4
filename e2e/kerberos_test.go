package e2e

import (
	"os"
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
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

// realm is the virtual cluster's Kerberos realm: a real KDC on this
// machine, on loopback for spire and on the bridge's address for the
// supervisor.
const realm = "HOMEWORLD.TEST"

const adminPassword = "an admin's password, for tests only"

// enableKerberos names the realm in setup.yaml, before up.
func (v *virtCluster) enableKerberos(t *testing.T) {
	t.Helper()
	path := filepath.Join(v.dir, config.FileName)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), "  etcd-token: virt-etcd\n", "  etcd-token: virt-etcd\n  kerberos-realm: "+realm+"\n", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
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
	kdc.AddService(t, service)
	kdc.AddService(t, probe)
	dir := t.TempDir()
	kt := filepath.Join(dir, "supervisor.keytab")
	kdc.Keytab(t, kt, service, probe)
	v.spire("keytab", "import", "supervisor", kt)
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte(kdc.ConfigFor(gw)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.spire("setup", "keygateway", "--krb5-conf", conf)
	kdc.AddPrincipal(t, "admin", adminPassword)
	v.vars = []string{"KRB5_CONFIG=" + kdc.Config, "KRB5CCNAME=FILE:" + kdc.Kinit(t, "admin", adminPassword)}
	waitFor(t, "auth-monitor's check of the key gateway", 2*time.Minute, func() error {
		_, errOut, err := v.trySpire("verify", "keygateway")
		if err != nil {
			return &waitError{errOut}
		}
		return nil
	})
	return kdc
}

type waitError struct{ msg string }

func (e *waitError) Error() string { return e.msg }

// kerberosAccess: with a ticket and no disaster key, spire access ssh goes
// through the key gateway and the certificate logs in to a node; without a
// ticket it is refused, and --break-glass is audited as such.
func (v *virtCluster) kerberosAccess(t *testing.T) {
	supRoot := layout.Node{Root: v.topo.SupervisorRoot()}
	disaster := v.key
	v.key = filepath.Join(t.TempDir(), "no-disaster-key")
	out := v.spire("access", "ssh", "--no-agent")
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
	v.spire("access", "ssh", "--no-agent", "--break-glass")
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

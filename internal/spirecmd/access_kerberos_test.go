package spirecmd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keygateway/gatewaytest"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/remote/remotetest"
)

// kerberosEnv is a workspace for a cluster with a realm, its keyserver and
// key gateway, and a KDC with the admin's principal.
func kerberosEnv(t *testing.T) (*env, *keysystemtest.Cluster, *gatewaytest.Gateway) {
	t.Helper()
	kdc := krb5test.Start(t, krb5test.Options{})
	c := keysystemtest.StartWith(t, keysystemtest.Options{Setup: keysystemtest.KerberosSetup})
	gw := gatewaytest.Start(t, c, kdc)
	kdc.AddPrincipal(t, "admin", "admin's password here")
	e := workspaceFor(t, c)
	e.vars["KRB5_CONFIG"] = kdc.Config
	e.vars["KRB5CCNAME"] = "FILE:" + kdc.Kinit(t, "admin", "admin's password here")
	return e, c, gw
}

// spire access ssh with the operator's ticket: no disaster key, the
// certificate logs in to a real sshd, and the keyserver saw the gateway act
// for the admin. --break-glass takes the disaster key instead and is
// audited as such.
func TestAccessSSHWithKerberosTicket(t *testing.T) {
	e, c, gw := kerberosEnv(t)
	e.vars["HOMEWORLD_DISASTER"] = filepath.Join(t.TempDir(), "absent") // not needed
	out := e.mustRun("access", "ssh", "--no-agent", "--gateway", gw.Addr)
	if !strings.Contains(out.stdout, "SSH certificate for admin") {
		t.Errorf("access ssh: %q", out.stdout)
	}
	key, err := ssh.ParseRawPrivateKey([]byte(readFile(t, filepath.Join(e.dir, "ssh-key"))))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(key)
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, filepath.Join(e.dir, "ssh-key-cert.pub"))))
	if err != nil {
		t.Fatal(err)
	}
	certSigner, _ := ssh.NewCertSigner(pub.(*ssh.Certificate), signer)
	sshd := remotetest.Start(t, remotetest.Options{UserCA: c.Authority(keyapi.SSHUser).SSHKey})
	conn, err := ssh.Dial("tcp", sshd.Addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(certSigner)},
		HostKeyCallback: ssh.FixedHostKey(sshd.HostKey), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("logging in with the certificate spire wrote: %v", err)
	}
	conn.Close()
	if log := c.AuditLog(); !strings.Contains(log, `"principal":"admin","via":"keygateway@`) || strings.Contains(log, "break-glass") {
		t.Errorf("keyserver audit:\n%s", log)
	}

	e.mustRun("access", "kubeconfig", "--gateway", gw.Addr)
	cert, err := pki.ParseCert([]byte(readFile(t, filepath.Join(e.dir, "kube-access.pem"))))
	if err != nil || cert.Subject.CommonName != "root:admin" {
		t.Errorf("kube cert %v, %v", cert.Subject, err)
	}

	e.fails("--as applies to --break-glass only", "access", "ssh", "--no-agent", "--gateway", gw.Addr, "--as", "admin")
	e.vars["KRB5CCNAME"] = "FILE:" + filepath.Join(t.TempDir(), "no-such-cache")
	e.fails("no Kerberos tickets", "access", "ssh", "--no-agent", "--gateway", gw.Addr)
}

func TestAccessBreakGlassIsAudited(t *testing.T) {
	e, c, _ := kerberosEnv(t)
	e.mustRun("access", "ssh", "--no-agent", "--break-glass", "--keyserver", c.Addr)
	if log := c.AuditLog(); !strings.Contains(log, `"auth":"break-glass"`) {
		t.Errorf("break-glass not audited as such:\n%s", log)
	}
}

package keygateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keygateway/gatewaytest"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/remote/remotetest"
)

const password = "correct horse battery staple"

// rig is a realm, a keyserver whose cluster names it, and the gateway.
type rig struct {
	kdc *krb5test.KDC
	ks  *keysystemtest.Cluster
	gw  *gatewaytest.Gateway
}

func startRig(t testing.TB) *rig {
	t.Helper()
	kdc := krb5test.Start(t, krb5test.Options{})
	ks := keysystemtest.StartWith(t, keysystemtest.Options{Setup: keysystemtest.KerberosSetup})
	r := &rig{kdc: kdc, ks: ks, gw: gatewaytest.Start(t, ks, kdc)}
	kdc.AddPrincipal(t, "admin", password)
	kdc.AddPrincipal(t, "mallory", password)
	return r
}

func (r *rig) service() string { return policy.GatewayService(r.ks.Config) }

// client loads the tickets kinit left in ccache.
func (r *rig) client(t testing.TB, ccache string) *kerberos.Client {
	t.Helper()
	kc, err := kerberos.FromCCache(ccache, r.kdc.Config, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// post sends a batch to the gateway with the given Authorization header
// ("" for none) and returns the status and body.
func (r *rig) post(t testing.TB, authorization string, reqs ...keyapi.Request) (int, string) {
	t.Helper()
	body, _ := json.Marshal(keyapi.Batch{Requests: reqs})
	req, _ := http.NewRequest(http.MethodPost, "https://"+r.gw.Addr+keyapi.PathAPI, bytes.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.ks.ClusterCAPEM())
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, ServerName: r.ks.Config.FQDN(r.ks.Config.Supervisor()),
	}}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// handmade builds a Negotiate header from the service ticket in ccache (as
// kvno left it) with an authenticator dated skew from now: what a client
// with a wrong clock, or one holding an expired ticket, sends.
func handmade(t testing.TB, ccache, service string, skew time.Duration) string {
	t.Helper()
	cc, err := credentials.LoadCCache(ccache)
	if err != nil {
		t.Fatal(err)
	}
	var cred *credentials.Credential
	for _, c := range cc.GetEntries() {
		if c.Server.PrincipalName.PrincipalNameString() == service {
			cred = c
		}
	}
	if cred == nil {
		t.Fatalf("no ticket for %s in %s", service, ccache)
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(cred.Ticket); err != nil {
		t.Fatal(err)
	}
	auth, err := types.NewAuthenticator(cc.DefaultPrincipal.Realm, cc.DefaultPrincipal.PrincipalName)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = auth.CTime.Add(skew)
	apreq, err := messages.NewAPReq(tkt, cred.Key, auth)
	if err != nil {
		t.Fatal(err)
	}
	return negotiateHeader(t, apreq)
}

func negotiateHeader(t testing.TB, apreq messages.APReq) string {
	t.Helper()
	ap, err := apreq.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	mech := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), ap...), 0)
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: mech,
	}}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b)
}

// An admin with a ticket gets an SSH certificate through the gateway, with
// no disaster key, and logs in to a real sshd with it. The keyserver sees
// the gateway acting for the admin; both audit logs name the admin.
func TestAdminTicketGetsSSHCertificate(t *testing.T) {
	r := startRig(t)
	kc := r.client(t, r.kdc.Kinit(t, "admin", password))
	admin, err := access.ConnectGateway(r.ks.Config, r.ks.Authority(keyapi.ClusterCA).Cert, kc, access.Options{Gateway: r.gw.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if admin.Principal != "admin" {
		t.Errorf("acting as %q", admin.Principal)
	}
	key, err := pki.NewSSHKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromSigner(key)
	line, err := admin.SSHCert(context.Background(), ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	cert := pub.(*ssh.Certificate)
	certSigner, _ := ssh.NewCertSigner(cert, signer)

	sshd := remotetest.Start(t, remotetest.Options{UserCA: r.ks.Authority(keyapi.SSHUser).SSHKey})
	conn, err := ssh.Dial("tcp", sshd.Addr, &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(certSigner)},
		HostKeyCallback: ssh.FixedHostKey(sshd.HostKey), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("login with the certificate from the gateway: %v", err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := sess.Output("echo confirmed"); err != nil || string(out) != "confirmed\n" {
		t.Fatalf("echo confirmed: %q, %v", out, err)
	}

	if log := r.gw.AuditLog(); !strings.Contains(log, `"action":"grant","principal":"admin@HOMEWORLD.TEST"`) || !strings.Contains(log, `"api":"access-ssh"`) {
		t.Errorf("gateway audit log:\n%s", log)
	}
	via := policy.GatewayPrincipal(r.ks.Config.FQDN(r.ks.Config.Supervisor()))
	if log := r.ks.AuditLog(); !strings.Contains(log, `"principal":"admin","via":"`+via+`"`) {
		t.Errorf("keyserver audit log does not show the gateway acting for admin:\n%s", log)
	}
}

// Every way in without a valid admin ticket is refused, audited (naming
// the principal whenever the ticket shows it), and issues nothing; the
// gateway keeps serving.
func TestGatewayRefusals(t *testing.T) {
	r := startRig(t)
	sshReq := func(t *testing.T) keyapi.Request {
		key, _ := pki.NewSSHKey()
		pub, _ := ssh.NewPublicKey(key.Public())
		return keyapi.Request{API: keyapi.AccessSSH, Body: string(ssh.MarshalAuthorizedKey(pub))}
	}
	grants := func() int { return strings.Count(r.ks.AuditLog(), `"action":"grant"`) }
	before := grants()

	adminCC := r.kdc.Kinit(t, "admin", password)
	r.kdc.Kvno(t, adminCC, r.service())
	admin := r.client(t, adminCC)

	other := "HTTP/elsewhere.test.homeworld.example"
	r.kdc.AddService(t, other)
	r.kdc.Kvno(t, adminCC, other)

	short := r.kdc.Kinit(t, "admin", password, "-l", "5s")
	r.kdc.Kvno(t, short, r.service())

	replayed, err := admin.Negotiate(r.service())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := r.post(t, replayed); code != http.StatusOK {
		t.Fatalf("first use of a fresh token: %d %s", code, body)
	}
	mallory, err := r.client(t, r.kdc.Kinit(t, "mallory", password)).Negotiate(r.service())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header string
		status       int
		reason       string
		audit        string // in the gateway's audit line
	}{
		{"no ticket", "", http.StatusUnauthorized, "no Kerberos ticket", `"result":"unauthenticated","detail":"no Kerberos ticket`},
		{"not a root admin", mallory, http.StatusForbidden, "mallory@HOMEWORLD.TEST is not a root admin", `"principal":"mallory@HOMEWORLD.TEST","remote"`},
		{"replayed authenticator", replayed, http.StatusUnauthorized, "replayed", `"principal":"admin@HOMEWORLD.TEST","remote"`},
		{"ticket for another service", handmade(t, adminCC, other, 0), http.StatusUnauthorized, "the ticket is for " + other, "(ticket for " + other + "@HOMEWORLD.TEST)"},
		{"clock skew", handmade(t, adminCC, r.service(), -10*time.Minute), http.StatusUnauthorized, "clock", `"principal":"admin@HOMEWORLD.TEST","remote"`},
		{"malformed", "Negotiate bm90IGEgdGlja2V0", http.StatusBadRequest, "malformed Negotiate header", `"result":"invalid","detail":"malformed Negotiate header`},
		{"oversized", "Negotiate " + strings.Repeat("QUFB", 20000), http.StatusRequestHeaderFieldsTooLarge, "refused", `"detail":"Negotiate token of 80000 bytes refused`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := r.post(t, tc.header, sshReq(t))
			if code != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.status, tc.reason)
			}
			if !strings.Contains(r.gw.AuditLog(), tc.audit) {
				t.Errorf("no audit line with %s:\n%s", tc.audit, r.gw.AuditLog())
			}
		})
	}

	t.Run("expired ticket", func(t *testing.T) {
		cc, err := credentials.LoadCCache(short)
		if err != nil {
			t.Fatal(err)
		}
		tgt, _ := cc.GetEntry(types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", "HOMEWORLD.TEST"}})
		if life := tgt.EndTime.Sub(tgt.StartTime); life > time.Minute {
			t.Fatalf("kinit -l 5s gave a ticket for %s", life)
		}
		// Wait for the end the KDC wrote into the ticket, not a guess.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(tgt.EndTime.Add(time.Second)) {
			if time.Now().After(deadline) {
				t.Fatal("the ticket did not expire")
			}
			time.Sleep(200 * time.Millisecond)
		}
		code, body := r.post(t, handmade(t, short, r.service(), 0), sshReq(t))
		if code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
			t.Errorf("%d %s", code, body)
		}
		if !strings.Contains(r.gw.AuditLog(), `"principal":"admin@HOMEWORLD.TEST","remote"`) || !strings.Contains(r.gw.AuditLog(), "expired") {
			t.Errorf("expiry not audited with the principal:\n%s", r.gw.AuditLog())
		}
		if _, err := kerberos.FromCCache(short, r.kdc.Config, time.Now()); err == nil || !strings.Contains(err.Error(), "run kinit") {
			t.Errorf("spire's client with an expired ticket: %v", err)
		}
	})

	if got := grants(); got != before+1 { // the one fresh token's empty batch
		t.Errorf("%d grants after the refusals, want %d:\n%s", got, before+1, r.ks.AuditLog())
	}
	// Still serving.
	fresh, err := admin.Negotiate(r.service())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := r.post(t, fresh, sshReq(t)); code != http.StatusOK {
		t.Errorf("after the refusals: %d %s", code, body)
	}
}

// The gateway forwards no impersonation of its own and refuses batches it
// cannot parse, before asking the keyserver anything.
func TestGatewayRefusesBadBatches(t *testing.T) {
	r := startRig(t)
	admin := r.client(t, r.kdc.Kinit(t, "admin", password))
	for _, reqs := range [][]keyapi.Request{
		{{API: keyapi.ImpersonateAdmin, Body: "admin"}},
		{{API: ""}},
	} {
		h, _ := admin.Negotiate(r.service())
		if code, body := r.post(t, h, reqs...); code != http.StatusBadRequest {
			t.Errorf("%v: %d %s", reqs, code, body)
		}
	}
	// The admin's own refusal by policy comes back as the keyserver's 403,
	// numbered as the client sent it.
	h, _ := admin.Negotiate(r.service())
	code, body := r.post(t, h, keyapi.Request{API: keyapi.MonitorSSH, Body: "x"})
	if code != http.StatusForbidden || strings.Contains(body, `"index"`) {
		t.Errorf("forbidden operation: %d %s", code, body)
	}
}

// The allowed clock skew is the realm's: 5 minutes by default, the
// clockskew of the krb5.conf setup keygateway installs once there is one.
func TestGatewayTakesTheRealmsClockSkew(t *testing.T) {
	r := startRig(t)
	cc := r.kdc.Kinit(t, "admin", password)
	r.kdc.Kvno(t, cc, r.service())
	if code, body := r.post(t, handmade(t, cc, r.service(), -2*time.Minute)); code != http.StatusOK {
		t.Fatalf("2 minutes off, default skew: %d %s", code, body)
	}
	conf := "[libdefaults]\n\tdefault_realm = HOMEWORLD.TEST\n\tclockskew = 60\n"
	if err := os.WriteFile(r.gw.Files.Krb5Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := r.post(t, handmade(t, cc, r.service(), -2*time.Minute)); code != http.StatusUnauthorized || !strings.Contains(body, "clock") {
		t.Errorf("2 minutes off, realm's skew 60 s: %d %s", code, body)
	}
	if code, body := r.post(t, handmade(t, cc, r.service(), -30*time.Second)); code != http.StatusOK {
		t.Errorf("30 s off, realm's skew 60 s: %d %s", code, body)
	}
}

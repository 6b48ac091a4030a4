package keyserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/clock"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

var ctx = context.Background()

func csr(t *testing.T) string { return csrTB(t) }

func csrTB(t testing.TB) string {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.MakeCSR(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(req)
}

// bootstrap redeems tok as hostname, from the node's own address.
func bootstrap(t *testing.T, c *keysystemtest.Cluster, hostname, tok string) (*x509.Certificate, error) {
	t.Helper()
	n, _ := c.Config.FindNode(hostname)
	res, err := c.Client(n.IP, nil).Call1(ctx, tok, keyapi.RenewKeygrant, csr(t))
	if err != nil {
		return nil, err
	}
	return pki.ParseCert([]byte(res))
}

func wantStatus(t *testing.T, err error, status int, contains string) {
	t.Helper()
	var e *keyapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want keyserver status %d", err, status)
	}
	if e.Status != status || !strings.Contains(e.Message, contains) {
		t.Fatalf("err = %v, want status %d mentioning %q", err, status, contains)
	}
}

func TestBootstrapWithToken(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("worker1")
	cert, err := bootstrap(t, c, "worker1", tok)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "worker1.test.homeworld.example" {
		t.Errorf("identity CN = %q", cert.Subject.CommonName)
	}
	granting := c.Authority(keyapi.Keygranting)
	if err := cert.CheckSignatureFrom(granting.Cert); err != nil {
		t.Errorf("identity not from keygranting: %v", err)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 39*24*time.Hour {
		t.Errorf("identity lifetime %v", life)
	}
	_, err = bootstrap(t, c, "worker1", tok)
	wantStatus(t, err, http.StatusUnauthorized, "already used")
}

func TestConcurrentRedemptionOverTLS(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("master1")
	n, _ := c.Config.FindNode("master1")
	var wins, refusals atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		body := csr(t) // each its own key: the same key may repeat a redemption
		go func() {
			defer wg.Done()
			_, err := c.Client(n.IP, nil).Call1(ctx, tok, keyapi.RenewKeygrant, body)
			switch {
			case err == nil:
				wins.Add(1)
			case strings.Contains(err.Error(), "401"):
				refusals.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || refusals.Load() != 99 {
		t.Fatalf("%d successes and %d refusals, want 1 and 99", wins.Load(), refusals.Load())
	}
}

// TestExpiredTokenRefused: by the keyserver's clock, a token is honoured
// until its lifetime has passed and refused from then on.
func TestExpiredTokenRefused(t *testing.T) {
	clk := clock.NewFake(time.Now())
	c := keysystemtest.StartAt(t, policy.Lifetimes{}, clk.Now)
	early, late := c.Admit("worker1"), c.Admit("worker2")
	clk.Advance(c.Lifetimes.Token - time.Second)
	if _, err := bootstrap(t, c, "worker1", early); err != nil {
		t.Fatalf("token a second before it expires: %v", err)
	}
	clk.Advance(time.Second)
	_, err := bootstrap(t, c, "worker2", late)
	wantStatus(t, err, http.StatusUnauthorized, "expired")
}

func TestTokensSurviveRestart(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	valid, used := c.Admit("worker1"), c.Admit("worker2")
	if _, err := bootstrap(t, c, "worker2", used); err != nil {
		t.Fatal(err)
	}
	c.StopServer()
	c.StartServer()
	if _, err := bootstrap(t, c, "worker1", valid); err != nil {
		t.Errorf("valid token after restart: %v", err)
	}
	_, err := bootstrap(t, c, "worker2", used)
	wantStatus(t, err, http.StatusUnauthorized, "already used")
}

func TestTokenOnlyObtainsIdentityAndIsNotBurnedByFailure(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("master2")
	n, _ := c.Config.FindNode("master2")
	cl := c.Client(n.IP, nil)
	_, err := cl.Call1(ctx, tok, keyapi.GrantEtcdServer, csr(t))
	wantStatus(t, err, http.StatusForbidden, "admission token only obtains")
	_, err = cl.Call1(ctx, tok, keyapi.RenewKeygrant, "not a csr")
	wantStatus(t, err, http.StatusBadRequest, "CERTIFICATE REQUEST")
	if _, err := bootstrap(t, c, "master2", tok); err != nil {
		t.Fatalf("token unusable after failed attempts: %v", err)
	}
}

func TestWorkerCannotGetEtcdOrSigningMaterial(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	w := c.NodeClient("worker1")
	for _, api := range []keyapi.API{keyapi.GrantEtcdClient, keyapi.GrantEtcdServer, keyapi.GrantKubeMaster, keyapi.AccessKubernetes} {
		_, err := w.Call1(ctx, "", api, csr(t))
		wantStatus(t, err, http.StatusForbidden, "may not call "+string(api))
	}
	_, err := w.Call1(ctx, "", keyapi.FetchServiceAccountKey, "")
	wantStatus(t, err, http.StatusForbidden, "may not call")
	_, err = w.Call1(ctx, "", keyapi.Admit, "worker2.test.homeworld.example")
	wantStatus(t, err, http.StatusForbidden, "may not call")
	// A master may.
	if _, err := c.NodeClient("master1").Call1(ctx, "", keyapi.GrantEtcdServer, csr(t)); err != nil {
		t.Errorf("master etcd-server grant: %v", err)
	}
}

func TestNodeBoundToItsAddress(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	id := c.Identity("worker1.test.homeworld.example")
	_, err := c.Client("127.0.0.99", id).Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "may only call from 127.0.0.31, not 127.0.0.99")
	// Nor with a token from elsewhere.
	tok := c.Admit("worker1")
	_, err = c.Client("127.0.0.32", nil).Call1(ctx, tok, keyapi.RenewKeygrant, csr(t))
	wantStatus(t, err, http.StatusUnauthorized, "may only call from 127.0.0.31")
}

func TestNamesComeFromPolicyNotRequest(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:worker2", Organization: []string{"system:masters"}},
		DNSNames:    []string{"worker2.test.homeworld.example", "kubernetes"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.32")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	body := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	res, err := c.NodeClient("worker1").Call1(ctx, "", keyapi.GrantKubeWorker, body)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := pki.ParseCert([]byte(res))
	if cert.Subject.CommonName != "system:node:worker1" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if !slices.Equal(cert.DNSNames, []string{"worker1.test.homeworld.example", "worker1"}) || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "127.0.0.31" {
		t.Errorf("names %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certificate is not for the requested key")
	}
}

func TestMalformedRequestsAndServerKeepsServing(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	m := c.NodeClient("master1")
	cases := []struct {
		api       keyapi.API
		body, msg string
	}{
		{keyapi.GrantEtcdServer, "garbage", "not a PEM CERTIFICATE REQUEST"},
		{keyapi.GrantEtcdServer, truncatedCSR(t), "does not parse"},
		{keyapi.GrantSSHHost, "ssh-ed25519 nonsense", "not an SSH public key"},
		{keyapi.GetLocalConfig, "unexpected", "empty body"},
	}
	for _, tc := range cases {
		_, err := m.Call1(ctx, "", tc.api, tc.body)
		wantStatus(t, err, http.StatusBadRequest, tc.msg)
	}
	// Raw malformed bodies.
	hc := rawHTTP(t, c, c.Identity("master1.test.homeworld.example"), "127.0.0.21")
	for body, msg := range map[string]string{
		`{not json`:                          "not a JSON batch",
		`{"requests": []}`:                   "no requests",
		`{"requests": [{"body": "x"}]}`:      "no api",
		`{"requests": [{"api": 3}]}`:         "not a JSON batch",
		`{"requests": [], "extra": "field"}`: "unknown field",
	} {
		resp, err := hc.Post("https://"+c.Addr+keyapi.PathAPI, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), msg) {
			t.Errorf("body %s: %d %s, want 400 mentioning %q", body, resp.StatusCode, data, msg)
		}
	}
	if _, err := m.Call1(ctx, "", keyapi.GetLocalConfig, ""); err != nil {
		t.Fatalf("server stopped serving after bad requests: %v", err)
	}
}

func rawHTTP(t *testing.T, c *keysystemtest.Cluster, cert *tls.Certificate, source string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	cfg := &tls.Config{RootCAs: c.ClusterCA(), ServerName: c.Config.FQDN(c.Config.Supervisor())}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestAdminAccessAndImpersonation(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	admin := c.AdminClient()
	res, err := admin.Call1(ctx, "", keyapi.AccessKubernetes, csr(t))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := pki.ParseCert([]byte(res))
	if cert.Subject.CommonName != "root:admin" || cert.NotAfter.Sub(time.Now()) > 4*time.Hour+time.Minute {
		t.Errorf("admin kube cert %v until %v", cert.Subject, cert.NotAfter)
	}
	_, pub, _ := ed25519Key(t)
	sshRes, err := admin.Call1(ctx, "", keyapi.AccessSSH, pub)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(sshRes))
	if err != nil {
		t.Fatal(err)
	}
	sc := k.(*ssh.Certificate)
	if sc.CertType != ssh.UserCert || !slices.Equal(sc.ValidPrincipals, []string{"root"}) {
		t.Errorf("admin ssh cert: type %d principals %v", sc.CertType, sc.ValidPrincipals)
	}

	// The Kerberos gateway acts as the admin; the impersonation holds for
	// the rest of the batch.
	gw := c.GatewayClient()
	out, err := gw.Call(ctx, "", keyapi.Request{API: keyapi.ImpersonateAdmin, Body: "admin"}, keyapi.Request{API: keyapi.AccessSSH, Body: pub})
	if err != nil || out[0] != "" || !strings.HasPrefix(out[1], "ssh-ed25519-cert-v01@openssh.com ") {
		t.Errorf("impersonated batch = %q, %v", out, err)
	}
	_, err = gw.Call1(ctx, "", keyapi.ImpersonateAdmin, "worker1.test.homeworld.example")
	wantStatus(t, err, http.StatusForbidden, "may not act as")
	_, err = gw.Call1(ctx, "", keyapi.ImpersonateAdmin, policy.MonitorProbe)
	wantStatus(t, err, http.StatusForbidden, "may not act as")
	_, err = gw.Call1(ctx, "", keyapi.AccessSSH, pub)
	wantStatus(t, err, http.StatusForbidden, "may not call")
	// Neither the supervisor's node identity nor a node may act for anyone.
	for _, node := range []string{"supervisor", "worker1"} {
		_, err = c.NodeClient(node).Call1(ctx, "", keyapi.ImpersonateAdmin, "admin")
		wantStatus(t, err, http.StatusForbidden, "may not call")
	}
	// The gateway's identity works only from the supervisor.
	_, err = c.Client("127.0.0.200", c.Identity(policy.GatewayPrincipal("supervisor.test.homeworld.example"))).Call1(ctx, "", keyapi.ImpersonateAdmin, "admin")
	wantStatus(t, err, http.StatusUnauthorized, "may only call from 127.0.0.10")
	// Admission of something that is not a node.
	_, err = admin.Call1(ctx, "", keyapi.Admit, "admin")
	wantStatus(t, err, http.StatusForbidden, "not in group nodes")
	_, err = admin.Call1(ctx, "", keyapi.Admit, "stranger.example")
	wantStatus(t, err, http.StatusBadRequest, "no node or account")
}

func ed25519Key(t *testing.T) (ssh.Signer, string, error) {
	t.Helper()
	key, err := pki.NewSSHKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(ssh.MarshalAuthorizedKey(signer.PublicKey())), nil
}

func TestUnauthenticated(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	_, err := c.Client("127.0.0.31", nil).Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "no credentials")
	_, err = c.Client("127.0.0.200", c.Identity("nobody")).Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "unknown principal")
	_, err = c.Client("127.0.0.31", nil).Call1(ctx, "AAAAAAAAAAAAAAAAAAAAAA", keyapi.RenewKeygrant, csr(t))
	wantStatus(t, err, http.StatusUnauthorized, "checksum")
}

func TestForeignClientCertificateFailsHandshake(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	other := keysystemtest.Start(t, policy.Lifetimes{}) // another cluster's keygranting
	cl := c.Client("127.0.0.31", other.Identity("worker1.test.homeworld.example"))
	_, err := cl.Call1(ctx, "", keyapi.GetLocalConfig, "")
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("foreign certificate: %v, want a failed handshake", err)
	}
}

func TestTLSAndServerCertificate(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	conn, err := tls.Dial("tcp", c.Addr, &tls.Config{RootCAs: c.ClusterCA(), ServerName: "supervisor.test.homeworld.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if st.Version != tls.VersionTLS13 {
		t.Errorf("negotiated TLS %x, want 1.3", st.Version)
	}
	leaf := st.PeerCertificates[0]
	if err := leaf.VerifyHostname("127.0.0.10"); err != nil {
		t.Errorf("server cert lacks the supervisor IP: %v", err)
	}
	if _, err := tls.Dial("tcp", c.Addr, &tls.Config{RootCAs: c.ClusterCA(), MaxVersion: tls.VersionTLS11, ServerName: "supervisor.test.homeworld.example"}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
}

func TestPublicDownloads(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	cl := c.Client("127.0.0.200", nil)
	pub, err := cl.Pub(ctx, keyapi.ClusterCA)
	if err != nil || !bytes.Equal(pub, c.ClusterCAPEM()) {
		t.Errorf("pub clusterca = %v", err)
	}
	if sshPub, err := cl.Pub(ctx, keyapi.SSHUser); err != nil || !strings.HasPrefix(string(sshPub), "ssh-ed25519 ") {
		t.Errorf("pub ssh-user = %q, %v", sshPub, err)
	}
	conf, err := cl.Static(ctx, nodeconf.ClusterFile)
	if err != nil || !strings.Contains(string(conf), "ETCD_ENDPOINTS="+services.EtcdClient.URL("127.0.0.21", "")+","+services.EtcdClient.URL("127.0.0.22", "")+","+services.EtcdClient.URL("127.0.0.23", "")+"\n") {
		t.Errorf("cluster.conf = %q, %v", conf, err)
	}
	if !strings.Contains(string(conf), "VIRTUAL=false\n") {
		t.Errorf("cluster.conf of a cluster installed without spire virt up:\n%s", conf)
	}
	_, err = cl.Pub(ctx, "nonexistent")
	wantStatus(t, err, http.StatusNotFound, "no authority")
	_, err = cl.Static(ctx, "passwd")
	wantStatus(t, err, http.StatusNotFound, "no static file")
}

// TestVirtualClusterMarker: the marker spire virt up installs on the
// supervisor reaches every node as cluster.conf's VIRTUAL.
func TestVirtualClusterMarker(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	if err := os.WriteFile(c.Supervisor.KeyserverVirtual(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.StopServer()
	c.StartServer()
	data, err := c.Client("127.0.0.200", nil).Static(ctx, nodeconf.ClusterFile)
	if err != nil {
		t.Fatal(err)
	}
	if conf, err := nodeconf.ParseCluster(nodeconf.ClusterFile, data); err != nil || !conf.Virtual {
		t.Errorf("cluster.conf %+v, %v; want VIRTUAL=true", conf, err)
	}
}

func TestAuditAndMetrics(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("worker1")
	if _, err := bootstrap(t, c, "worker1", tok); err != nil {
		t.Fatal(err)
	}
	c.NodeClient("worker1").Call1(ctx, "", keyapi.GrantEtcdClient, csr(t))
	c.Admit("worker2")

	actions := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(c.AuditLog()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		actions[ev["action"].(string)+"/"+ev["result"].(string)]++
		if ev["time"] == nil || ev["remote"] == nil {
			t.Errorf("audit line lacks time or remote: %q", line)
		}
	}
	for _, want := range []string{"token-issue/ok", "token-redeem/ok", "grant/ok", "refuse/forbidden"} {
		if actions[want] == 0 {
			t.Errorf("no %s in audit log: %v", want, actions)
		}
	}

	hc := rawHTTP(t, c, nil, "127.0.0.200")
	resp, err := hc.Get("https://" + c.Addr + keyapi.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`homeworld_keyserver_operations_total{api="` + string(keyapi.GrantEtcdClient) + `",result="forbidden"} 1`,
		`homeworld_keyserver_operations_total{api="` + string(keyapi.RenewKeygrant) + `",result="ok"} 1`,
		`homeworld_keyserver_tokens_outstanding 1`,
		`homeworld_keyserver_request_duration_seconds_count{api="` + string(keyapi.Admit) + `"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// truncatedCSR is a PEM block whose DER is cut in half.
func truncatedCSR(t *testing.T) string {
	block, _ := pem.Decode([]byte(csr(t)))
	block.Bytes = block.Bytes[:len(block.Bytes)/2]
	return string(pem.EncodeToMemory(block))
}

// The keyserver speaks HTTP/1.1 only, even to a client offering HTTP/2
// first (keyapi's does): see Server.TLSConfig.
func TestServesHTTP1Only(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	conn, err := tls.Dial("tcp", c.Addr, &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: c.ClusterCA(), ServerName: c.Config.FQDN(c.Config.Supervisor()),
		NextProtos: []string{"h2", "http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", p)
	}
	if _, err := c.NodeClient("worker1").Call1(ctx, "", keyapi.GrantKubeProxy, csr(t)); err != nil {
		t.Error(err)
	}
}

// A keyserver in a child process (what BenchmarkIssuance measures) serves
// like the in-process one, across a restart, and its CPU time is readable.
func TestKeyserverInChildProcess(t *testing.T) {
	c := keysystemtest.StartWith(t, keysystemtest.Options{Process: keysystemtest.Process{Enable: true}})
	if c.Server() != nil {
		t.Error("Server() of a child-process keyserver is not nil")
	}
	grant := func() {
		t.Helper()
		if _, err := c.NodeClient("worker1").Call1(ctx, "", keyapi.GrantKubeProxy, csr(t)); err != nil {
			t.Fatal(err)
		}
	}
	grant()
	c.StopServer()
	c.StartServer()
	grant()
	if cpu := c.ServerCPU(); cpu < 0 || cpu > time.Minute {
		t.Errorf("ServerCPU() = %v", cpu)
	}
	if !strings.Contains(c.AuditLog(), `"api":"`+string(keyapi.GrantKubeProxy)+`"`) {
		t.Errorf("no grant in the audit log:\n%s", c.AuditLog())
	}
}

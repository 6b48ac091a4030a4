package usergrant

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	homeworldrbac "homeworld.dev/homeworld/internal/rbac"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
)

const (
	testRealm  = "HOMEWORLD.TEST"
	testDomain = "grant.homeworld.test"
)

// fixture is user-grant on a supervisor's files (below a temporary root)
// with a real KDC and a real apiserver.
type fixture struct {
	kdc       *testKDC
	api       *kubetest.APIServer
	cfg       *config.Config
	files     Files
	signer    keyserverStandIn
	clusterCA string            // PEM file of the CA of user-grant's HTTPS certificate
	caCert    *x509.Certificate // and the CA itself
	caKey     crypto.Signer
	client    *http.Client
	audited   int // audit lines seen so far
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	f.api = kubetest.Start(t)
	f.kdc = startKDC(t, testRealm)
	node := layout.Node{Root: t.TempDir()}
	f.files = NodeFiles(node)

	text := strings.NewReplacer(
		`kerberos-realm: ""`, "kerberos-realm: "+testRealm,
		`user-grant-domain: ""`, "user-grant-domain: "+testDomain,
		`user-grant-email-domain: ""`, "user-grant-email-domain: homeworld.test",
	).Replace(string(config.Template))
	write(t, node.SetupYAML(), text)
	var err error
	if f.cfg, err = LoadConfig(node.SetupYAML()); err != nil {
		t.Fatal(err)
	}

	f.kdc.addService(t, ServicePrincipal(f.cfg), f.files.Keytab)

	// clusterca's stand-in: user-grant's HTTPS certificate, and the
	// keyserver's trust.
	caCert, caKey := newCA(t, "test clusterca")
	f.caCert, f.caKey = caCert, caKey
	f.clusterCA = f.files.ClusterCA
	write(t, f.clusterCA, string(pki.EncodeCert(caCert)))
	writeLeaf(t, caCert, caKey, pki.TLSGrant{CommonName: testDomain, Names: []string{testDomain}, Usage: pki.ServerAuth, Lifetime: time.Hour}, f.files.ServingCert, f.files.ServingKey)
	writeLeaf(t, caCert, caKey, pki.TLSGrant{CommonName: "user-grant@supervisor." + f.cfg.Cluster.ExternalDomain, Usage: pki.ClientAuth, Lifetime: time.Hour}, f.files.IdentityCert, f.files.IdentityKey)

	// The apiserver's CA is the kubernetes CA: user-grant's identity and
	// the users' certificates.
	kubeCert, kubeKey, err := f.api.CA()
	if err != nil {
		t.Fatal(err)
	}
	write(t, f.files.KubeCA, string(pki.EncodeCert(kubeCert)))
	writeLeaf(t, kubeCert, kubeKey, pki.TLSGrant{CommonName: "user-grant:supervisor", Usage: pki.ClientAuth, Lifetime: time.Hour}, f.files.KubeCert, f.files.KubeKey)
	aggregateAdmin(t, f.api)
	rbac := filepath.Join(t.TempDir(), "user-grant-rbac.yaml")
	write(t, rbac, homeworldrbac.UserGrant("supervisor"))
	f.api.Kubectl(t, "apply", "-f", rbac)
	f.signer = keyserverStandIn{cert: kubeCert, key: kubeKey}

	if err := os.MkdirAll(filepath.Dir(f.files.Audit), 0o755); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	f.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: testDomain},
	}}
	t.Cleanup(f.client.CloseIdleConnections)
	return f
}

// serve runs a user-grant on the fixture's files with apiServer and signer
// until t ends, and returns its address.
func (f *fixture) serve(t *testing.T, apiServer string, signer Signer) string {
	t.Helper()
	srv, err := Open(f.cfg, f.files, apiServer, signer, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.ServeListener(ctx, tls.NewListener(ln, srv.TLS), srv.Service.Handler()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serving: %v", err)
		}
		srv.Close()
	})
	return ln.Addr().String()
}

// negotiate is an Authorization header for service from the tickets in
// ccache, as gokrb5 makes it.
func (f *fixture) negotiate(t *testing.T, ccache, service string) string {
	t.Helper()
	c, err := kerberos.FromCCache(ccache, f.kdc.Conf, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Negotiate(service)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// get asks the user-grant at addr for path with the Authorization header
// authz (none if empty).
func (f *fixture) get(t *testing.T, addr, path, authz string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// grant fetches ccache's user's kubeconfig from addr into a file, failing
// t unless it is granted.
func (f *fixture) grant(t *testing.T, addr, ccache string) string {
	t.Helper()
	resp, body := f.get(t, addr, "/", f.negotiate(t, ccache, ServicePrincipal(f.cfg)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("grant: %s: %s", resp.Status, body)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	write(t, path, body)
	return path
}

// lastAudit is the audit line of the one request made since the last
// call: it fails t unless exactly one line was added.
func (f *fixture) lastAudit(t *testing.T) audit.Event {
	t.Helper()
	events := f.newAudit(t)
	if len(events) != 1 {
		t.Fatalf("%d audit lines were added by one request, want 1: %+v", len(events), events)
	}
	return events[0]
}

// newAudit returns the audit lines added since the last call.
func (f *fixture) newAudit(t *testing.T) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(f.files.Audit)
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	added := events[f.audited:]
	f.audited = len(events)
	return added
}

// kubectl runs the pinned kubectl with kubeconfig.
func (f *fixture) kubectl(kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(f.api.KubectlBin, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", f.api.KubectlCache}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// keyserverStandIn signs as the keyserver's sign-kubernetes-user does (the
// keyserver's tests hold it to that): the request's user:<name> as the
// common name, in no group, for clients, 8 hours; with the test
// apiserver's CA in the kubernetes CA's place. orgs plays a keyserver that
// errs.
type keyserverStandIn struct {
	cert *x509.Certificate
	key  crypto.Signer
	orgs []string
}

func (s keyserverStandIn) Sign(_ context.Context, csrPEM []byte) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, errors.New("not a PEM request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(csr.Subject.CommonName, "user:") {
		return nil, fmt.Errorf("%q is not a user", csr.Subject.CommonName)
	}
	cert, err := pki.SignTLS(s.key, s.cert, csrPEM, pki.TLSGrant{CommonName: csr.Subject.CommonName, Organizations: s.orgs, Usage: pki.ClientAuth, Lifetime: 8 * time.Hour}, time.Now())
	if err != nil {
		return nil, err
	}
	return pki.EncodeCert(cert), nil
}

func newCA(t *testing.T, name string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writeLeaf(t *testing.T, caCert *x509.Certificate, caKey crypto.Signer, g pki.TLSGrant, certPath, keyPath string) {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.IssueTLS(caKey, caCert, key.Public(), g, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, keyPath, string(keyPEM))
	write(t, certPath, string(pki.EncodeCert(cert)))
}

// aggregateAdmin fills the ClusterRoles view, edit and admin with the
// rules of the roles their aggregation rules select, as
// kube-controller-manager's clusterrole-aggregation controller does (none
// runs here): without it admin grants nothing, and binding it would prove
// nothing. Each aggregates the one before it, hence the order.
func aggregateAdmin(t *testing.T, api *kubetest.APIServer) {
	t.Helper()
	for _, role := range []string{"view", "edit", "admin"} {
		var list struct {
			Items []struct {
				Metadata struct{ Name string }
				Rules    []any `json:"rules"`
			} `json:"items"`
		}
		out := api.Kubectl(t, "get", "clusterroles", "-l", "rbac.authorization.k8s.io/aggregate-to-"+role+"=true", "-o", "json")
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatal(err)
		}
		rules := []any{}
		for _, it := range list.Items {
			if it.Metadata.Name != role {
				rules = append(rules, it.Rules...)
			}
		}
		if len(rules) == 0 {
			t.Fatalf("no ClusterRole aggregates to %s: the apiserver's bootstrap roles are missing", role)
		}
		patch, err := json.Marshal(map[string]any{"rules": rules})
		if err != nil {
			t.Fatal(err)
		}
		api.Kubectl(t, "patch", "clusterrole", role, "--type", "merge", "-p", string(patch))
	}
}

package etcdexporter

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
)

const etcdMetrics = `# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# HELP etcd_server_proposals_committed_total The total number of consensus proposals committed.
# TYPE etcd_server_proposals_committed_total gauge
etcd_server_proposals_committed_total 42
# HELP etcd_debugging_noise Something not re-exposed.
# TYPE etcd_debugging_noise gauge
etcd_debugging_noise 7
`

// TestExporterOverMutualTLS runs a stand-in for etcd's HTTPS endpoint that
// demands a client certificate, and checks what the exporter serves.
func TestExporterOverMutualTLS(t *testing.T) {
	auths, err := authority.Generate("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	etcdCA, err := auths.Get(keyapi.EtcdServer)
	if err != nil {
		t.Fatal(err)
	}
	caKey, ca := etcdCA.Signer, etcdCA.Cert
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		return p
	}
	serverKey, _ := pki.NewKey()
	serverCert, _ := pki.IssueTLS(caKey, ca, serverKey.Public(), pki.TLSGrant{CommonName: "etcd", Names: []string{"127.0.0.1"}, Usage: pki.ServerAuth, Lifetime: time.Hour}, time.Now())
	clientKey, _ := pki.NewKey()
	clientCert, _ := pki.IssueTLS(caKey, ca, clientKey.Public(), pki.TLSGrant{CommonName: "client", Usage: pki.ClientAuth, Lifetime: time.Hour}, time.Now())
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Write([]byte(etcdMetrics))
		case "/version":
			w.Write([]byte(`{"etcdserver":"3.7.3","etcdcluster":"3.7.0"}`))
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}}}
	srv.StartTLS()
	defer srv.Close()

	clientKeyPEM, _ := pki.EncodeKey(clientKey)
	e, err := New(srv.URL, write("ca.pem", pki.EncodeCert(ca)), write("c.pem", pki.EncodeCert(clientCert)), write("c.key", clientKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil).WithContext(context.Background()))
	body := rec.Body.String()
	for _, want := range []string{"etcd_server_has_leader 1", "# TYPE etcd_server_proposals_committed_total counter", "etcd_server_proposals_committed_total 42", `etcd_version_info{binary_version="3.7.3"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("output lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "etcd_debugging_noise") {
		t.Error("re-exposed a family not in the list")
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(rec.Body.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// Without a usable etcd the scrape fails visibly.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	e.base = "https://" + addr
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("unreachable etcd: status %d", rec.Code)
	}
}

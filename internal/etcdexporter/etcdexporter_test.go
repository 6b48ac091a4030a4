package etcdexporter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// TestExporterPassesEtcdThrough runs the pinned etcd with mutual TLS, as a
// master does, and scrapes it through the exporter: every family etcd
// serves comes out, monotonic gauges as counters, with etcd_version_info,
// and promtool accepts the result. A client certificate renewed in place
// is used from the next connection on.
func TestExporterPassesEtcdThrough(t *testing.T) {
	etcdBin, inside := testutil.InPrivateNetns(t, func() string { return upstreamtest.Binary(t, "etcd", "etcd") })
	if !inside {
		return
	}
	auths, err := authority.Generate("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serverCA, _ := auths.Get(keyapi.EtcdServer)
	clientCA, _ := auths.Get(keyapi.EtcdClient)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(ca *authority.Authority, name string, g pki.TLSGrant) (cert, key string) {
		k, _ := pki.NewKey()
		c, err := pki.IssueTLS(ca.Signer, ca.Cert, k.Public(), g, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		kp, _ := pki.EncodeKey(k)
		return write(name+".pem", pki.EncodeCert(c)), write(name+".key", kp)
	}
	const ip = "127.0.0.1"
	serverCert, serverKey := issue(serverCA, "server", pki.TLSGrant{CommonName: "etcd", Names: []string{ip}, Usage: pki.ServerAuth, Lifetime: time.Hour})
	clientCert, clientKey := issue(clientCA, "client", pki.TLSGrant{CommonName: "exporter", Usage: pki.ClientAuth, Lifetime: time.Hour})

	etcd := testutil.StartChild(t, "etcd", exec.Command(etcdBin, "--name", "m1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", services.EtcdClient.URL(ip, ""), "--advertise-client-urls", services.EtcdClient.URL(ip, ""),
		"--listen-peer-urls", "http://"+services.EtcdPeer.Addr(ip), "--initial-advertise-peer-urls", "http://"+services.EtcdPeer.Addr(ip),
		"--initial-cluster", "m1=http://"+services.EtcdPeer.Addr(ip),
		"--client-cert-auth", "--trusted-ca-file", write("client-ca.pem", pki.EncodeCert(clientCA.Cert)),
		"--cert-file", serverCert, "--key-file", serverKey))

	e, err := New(services.EtcdClient.URL(ip, ""), write("server-ca.pem", pki.EncodeCert(serverCA.Cert)), clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() (int, string) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Code, rec.Body.String()
	}
	var body string
	etcd.WaitFor(t, 30*time.Second, "etcd's metrics through the exporter", func() (bool, error) {
		code, b := scrape()
		body = b
		return code == http.StatusOK && strings.Contains(b, "etcd_server_has_leader 1"), nil
	})
	families := strings.Count(body, "# TYPE ")
	if families < 100 {
		t.Errorf("only %d families passed through; etcd serves far more", families)
	}
	for _, name := range Families {
		if !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("output lacks %s", name)
		}
	}
	for _, want := range []string{"# TYPE etcd_server_proposals_committed_total counter", `etcd_version_info{binary_version="3.7.3"} 1`,
		"# TYPE etcd_disk_wal_fsync_duration_seconds histogram", "etcd_network_client_grpc_received_bytes_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// etcd names a few families against Prometheus's conventions; the
	// exporter keeps etcd's names (dashboards know them) and may add no
	// finding of its own.
	resp, err := e.get(context.Background(), "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	upstream := promtoolFindings(t, string(raw))
	for _, f := range promtoolFindings(t, body) {
		if !slices.Contains(upstream, f) {
			t.Errorf("promtool finds in the exporter's output what it does not find in etcd's: %s", f)
		}
	}

	// A renewed pair replaces the old files; new connections present it.
	// A pair from another authority is refused by etcd, so the scrape fails
	// visibly once it is in place.
	other, _ := auths.Get(keyapi.Kubernetes)
	badCert, badKey := issue(other, "bad", pki.TLSGrant{CommonName: "intruder", Usage: pki.ClientAuth, Lifetime: time.Hour})
	for src, dst := range map[string]string{badCert: clientCert, badKey: clientKey} {
		if err := os.Rename(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	e.client.CloseIdleConnections()
	if code, b := scrape(); code != http.StatusBadGateway {
		t.Errorf("with a pair etcd does not trust: status %d\n%s", code, b)
	}

	// Without a usable etcd the scrape fails visibly.
	etcd.Stop()
	if code, _ := scrape(); code != http.StatusBadGateway {
		t.Errorf("etcd stopped: status %d", code)
	}
}

// promtoolFindings runs promtool check metrics and returns its lint
// findings; output it cannot parse fails the test.
func promtoolFindings(t *testing.T, metrics string) []string {
	t.Helper()
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(metrics)
	out, err := check.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) { // 3: lint findings only
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

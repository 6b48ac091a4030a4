package launch

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/testutil"
)

// TestFlannelWaitsForThePodRange: against a real API server, flannel's
// launch waits, saying why, while the API refuses flannel (no RBAC yet),
// while the node is not registered and while it has no pod range, and
// returns the range as soon as the node has one.
func TestFlannelWaitsForThePodRange(t *testing.T) {
	api := kubetest.Start(t)
	caCert, caKey, err := api.CA()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	der, err := pki.IssueTLS(caKey, caCert, key.Public(), pki.TLSGrant{CommonName: "flannel:worker1", Usage: pki.ClientAuth, Lifetime: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{{Certificate: [][]byte{der.Raw}, PrivateKey: key}},
	}}}

	var log testutil.Buffer
	done := make(chan string, 1)
	go func() {
		done <- awaitPodCIDR(client, api.URL+"/api/v1/nodes/worker1", "worker1", 100*time.Millisecond, time.Minute, &log)
	}()
	waitLog := func(what string) {
		t.Helper()
		testutil.WaitFor(t, 30*time.Second, "the launch to say "+what, func() (bool, error) {
			return strings.Contains(log.String(), what), nil
		})
	}
	waitLog("the API server refuses flannel")
	api.Kubectl(t, "create", "clusterrole", "flannel-test", "--verb=get", "--resource=nodes")
	api.Kubectl(t, "create", "clusterrolebinding", "flannel-test", "--clusterrole=flannel-test", "--user=flannel:worker1")
	waitLog("the node is not registered yet")
	node := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(node, []byte("apiVersion: v1\nkind: Node\nmetadata: {name: worker1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	api.Kubectl(t, "create", "-f", node)
	waitLog("no pod range yet")
	select {
	case cidr := <-done:
		t.Fatalf("returned %q before the node had a pod range:\n%s", cidr, log.String())
	default:
	}
	api.Kubectl(t, "patch", "node", "worker1", "-p", `{"spec":{"podCIDR":"172.30.3.0/24"}}`)
	select {
	case cidr := <-done:
		if cidr != "172.30.3.0/24" {
			t.Errorf("returned %q, want 172.30.3.0/24:\n%s", cidr, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still waiting 30 s after the node got its range:\n%s", log.String())
	}
}

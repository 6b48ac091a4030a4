package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/testutil"
)

// TestWaitForAPIWaitsForAnAnswer: against a real apiserver, the wait
// kube-state-metrics gets before it starts goes on while its certificate is
// missing and while no answer can be trusted (an open port is not an
// answer), says why, and ends once GET /version answers.
func TestWaitForAPIWaitsForAnAnswer(t *testing.T) {
	api := kubetest.Start(t)
	caCert, caKey, err := api.CA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := apiClient{Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client.key"), CA: filepath.Join(dir, "ca.pem")}
	write := func(path string, data []byte) {
		// renamed into place, as the keyclient does: never read half-written
		if err := os.WriteFile(path+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	issue := func() {
		key, _ := pki.NewKey()
		cert, err := pki.IssueTLS(caKey, caCert, key.Public(), pki.TLSGrant{CommonName: "supervisor:test", Usage: pki.ClientAuth, Lifetime: time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := pki.EncodeKey(key)
		write(c.Key, keyPEM)
		write(c.Cert, pki.EncodeCert(cert))
	}

	log := &testutil.Buffer{}
	done := make(chan error, 1)
	go func() { done <- waitForAPI(api.URL, c, 50*time.Millisecond, log) }()
	waitLog := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(log.String(), want) {
			select {
			case err := <-done:
				t.Fatalf("waitForAPI returned %v before the log said %q; log:\n%s", err, want, log)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s the log does not say %q:\n%s", want, log)
			}
		}
	}

	waitLog("the API client certificate")
	issue()
	// the port is open and the certificate good, but the CA file is
	// another cluster's: no answer to trust yet
	others, err := authority.Generate("another cluster", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := others.Get(keyapi.Kubernetes)
	write(c.CA, pki.EncodeCert(other.Cert))
	waitLog("certificate signed by unknown authority")

	write(c.CA, pki.EncodeCert(caCert))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waitForAPI: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("waitForAPI still waits 30 s after the CA file is the cluster's; log:\n%s", log)
	}
	if !strings.HasSuffix(log.String(), "answers\n") {
		t.Errorf("the log does not end by saying the API answers:\n%s", log)
	}
}

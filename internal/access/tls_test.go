package access_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

func connect(t *testing.T) (*access.Admin, *keysystemtest.Cluster) {
	t.Helper()
	c := keysystemtest.Start(t, policy.Lifetimes{})
	admin, err := access.ConnectDirect(c.Config, c.Authorities, "admin", access.Options{Keyserver: c.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	return admin, c
}

// TestWriteKubeconfig: a fresh folder gets a kubeconfig naming the first
// apiserver and files holding an admin certificate, its private key (0600)
// and the kubernetes authority.
func TestWriteKubeconfig(t *testing.T) {
	admin, c := connect(t)
	dir := t.TempDir() + "/admin"
	kubeCA := c.Authority(keyapi.Kubernetes)
	cert, err := admin.WriteKubeconfig(context.Background(), dir, kubeCA.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "root:admin" {
		t.Errorf("certificate for %q, want root:admin", cert.Subject.CommonName)
	}
	f := access.KubeFiles(dir)
	kc, err := os.ReadFile(access.KubeconfigPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server: " + services.APIServer.URL("127.0.0.21", ""), "client-key: " + f.Key, "client-certificate: " + f.Cert, "certificate-authority: " + f.CA} {
		if !strings.Contains(string(kc), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, kc)
		}
	}
	if data, _ := os.ReadFile(f.CA); string(data) != string(pki.EncodeCert(kubeCA.Cert)) {
		t.Error("the CA file is not the kubernetes authority")
	}
	if data, _ := os.ReadFile(f.Cert); string(data) != string(pki.EncodeCert(cert)) {
		t.Error("the certificate file is not the certificate returned")
	}
	for path, mode := range map[string]os.FileMode{f.Key: 0o600, access.KubeconfigPath(dir): 0o600, dir: 0o700} {
		if st, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
}

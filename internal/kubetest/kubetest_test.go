package kubetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubeconfig"
	"homeworld.dev/homeworld/internal/pki"
)

// TestStart: the apiserver answers the admin, enforces RBAC for anyone
// else (so tests of RBAC manifests mean something) and validates objects;
// a certificate a test issues with CA is a user the apiserver knows.
func TestStart(t *testing.T) {
	api := Start(t)
	if out := api.Kubectl(t, "auth", "can-i", "create", "clusterroles"); strings.TrimSpace(string(out)) != "yes" {
		t.Errorf("the admin may not create clusterroles: %s", out)
	}
	out, _ := api.TryKubectl("auth", "can-i", "list", "secrets", "--as", "nobody")
	if strings.TrimSpace(string(out)) != "no" {
		t.Errorf("an unknown user may list secrets (%s): RBAC is not enforced", out)
	}
	_, err := api.TryKubectl("create", "configmap", "Not_A_Name")
	if err == nil || !strings.Contains(err.Error(), "Invalid value") {
		t.Errorf("an invalid name = %v, want the API's validation error", err)
	}

	caCert, caKey, err := api.CA()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	cert, err := pki.IssueTLS(caKey, caCert, key.Public(), pki.TLSGrant{CommonName: "kubetest-probe", Usage: pki.ClientAuth, Lifetime: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPEM, _ := pki.EncodeKey(key)
	files := kubeconfig.Files{Server: api.URL, CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "probe.pem"), Key: filepath.Join(dir, "probe.key")}
	kc, err := kubeconfig.Render("kubetest", "kubetest-probe", files)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{files.CA: pki.EncodeCert(caCert), files.Cert: pki.EncodeCert(cert), files.Key: keyPEM, filepath.Join(dir, "kubeconfig"): kc} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	who, err := exec.Command(api.KubectlBin, "--kubeconfig", filepath.Join(dir, "kubeconfig"), "--cache-dir", api.KubectlCache, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").CombinedOutput()
	if err != nil || string(who) != "kubetest-probe" {
		t.Errorf("kubectl auth whoami with a certificate from CA() = %q, %v; want kubetest-probe", who, err)
	}
}

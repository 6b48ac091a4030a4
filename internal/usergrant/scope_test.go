package usergrant

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubeconfig"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/testutil"
)

// The shipped admission policy holds user-grant's own Kubernetes identity
// to user-<name> namespaces and to binding admin to <name> there: with it
// (as a thief would hold it) kubectl cannot make anyone an admin elsewhere.
func TestUserGrantIdentityIsScoped(t *testing.T) {
	f := newFixture(t)
	kubeCert, _, err := f.api.CA()
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := os.ReadFile(f.files.KubeCert)
	key, _ := os.ReadFile(f.files.KubeKey)
	kc, err := kubeconfig.RenderInline("test", "user-grant:supervisor", kubeconfig.Inline{Server: f.api.URL, CA: pki.EncodeCert(kubeCert), Cert: cert, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user-grant.kubeconfig")
	write(t, path, string(kc))
	n := 0
	binding := func(ns, role, user string) string {
		n++
		return "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: x" + strconv.Itoa(n) + ", namespace: " + ns +
			"}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + role +
			"}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: '" + user + "'}\n"
	}
	create := func(manifest string) (string, error) {
		file := filepath.Join(t.TempDir(), "object.yaml")
		write(t, file, manifest)
		return f.kubectl(path, "create", "-f", file)
	}
	// An admission policy takes effect once the apiserver has loaded it.
	testutil.WaitFor(t, time.Minute, "the admission policy to deny user-grant a namespace not named user-", func() (bool, error) {
		_, err := create("apiVersion: v1\nkind: Namespace\nmetadata: {name: probe}\n")
		if err == nil {
			f.api.Kubectl(t, "delete", "namespace", "probe", "--wait=false")
		}
		return err != nil && strings.Contains(err.Error(), "denied"), err
	})
	// What user-grant does is allowed.
	if out, err := f.kubectl(path, "create", "namespace", "user-dave"); err != nil {
		t.Fatalf("creating user-dave: %v\n%s", err, out)
	}
	if out, err := create(binding("user-dave", "admin", "user:dave")); err != nil {
		t.Fatalf("binding dave in user-dave: %v\n%s", err, out)
	}
	for name, manifest := range map[string]string{
		"a namespace not named user-":           "apiVersion: v1\nkind: Namespace\nmetadata: {name: mallory}\n",
		"admin of kube-system":                  binding("kube-system", "admin", "user:mallory"),
		"another user in user-dave":             binding("user-dave", "admin", "user:mallory"),
		"a group in user-dave":                  strings.Replace(binding("user-dave", "admin", "system:masters"), "kind: User", "kind: Group", 1),
		"a role other than admin, though bound": binding("user-dave", "view", "user:dave"),
	} {
		if out, err := create(manifest); err == nil || !(strings.Contains(err.Error(), "denied") || strings.Contains(err.Error(), "forbidden")) {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}

// Package upstreamtest gives tests the pinned upstream programs and checks
// Kubernetes manifests with them, with no cluster: Binary builds a program
// with upstream/build (cached, so usually only a copy), and KubectlDryRun
// runs the pinned kubectl's client-side apply against a stand-in API server
// that serves the pinned Kubernetes' own discovery and OpenAPI documents.
// Only tests import it.
package upstreamtest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the checkout: the nearest folder above the test's with a go.mod.
func root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Binary returns the path of program name of the upstream component (as
// upstream/build names them, e.g. "kubernetes", "kubectl"), built from the
// pins. A cold build takes minutes (upstream/README.md); later ones copy.
func Binary(t testing.TB, component, name string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(root(t), "upstream", "build"), dir, component)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upstream/build %s: %v\n%s", component, err, out)
	}
	return filepath.Join(dir, name)
}

// kubernetesSource is the pinned k8s.io/kubernetes module in the module
// cache; upstream/build has downloaded it.
func kubernetesSource(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes")
	cmd.Dir = filepath.Join(root(t), "upstream", "kubernetes")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("locating k8s.io/kubernetes: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// apiServer serves what kubectl reads before it applies: the API's
// discovery documents (api/discovery) and OpenAPI v3 schemas
// (api/openapi-spec/v3) as the pinned Kubernetes publishes them. Every
// object is absent (404), so apply would create each one.
func apiServer(t testing.TB) *httptest.Server {
	src := kubernetesSource(t)
	files := map[string]string{} // URL path -> file
	discovery, _ := filepath.Glob(filepath.Join(src, "api", "discovery", "*.json"))
	for _, f := range discovery {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if strings.HasPrefix(name, "aggregated") {
			continue // kubectl falls back to the per-version documents
		}
		files["/"+strings.ReplaceAll(name, "__", "/")] = f
	}
	schemas, _ := filepath.Glob(filepath.Join(src, "api", "openapi-spec", "v3", "*_openapi.json"))
	var index []string
	for _, f := range schemas {
		gv := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(f), "_openapi.json"), "__", "/")
		files["/openapi/v3/"+gv] = f
		index = append(index, `"`+gv+`":{"serverRelativeURL":"/openapi/v3/`+gv+`"}`)
	}
	if len(discovery) == 0 || len(schemas) == 0 {
		t.Fatalf("no discovery or OpenAPI documents under %s/api", src)
	}
	indexJSON := `{"paths":{` + strings.Join(index, ",") + `}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/openapi/v3" {
			w.Write([]byte(indexJSON))
			return
		}
		if f, ok := files[r.URL.Path]; ok && r.Method == http.MethodGet {
			data, err := os.ReadFile(f)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write(data)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// CheckManifest fails the test unless every object of manifest is valid
// for the pinned Kubernetes, and returns kubectl's report. Two checks: each
// object against its kind's OpenAPI v3 schema (unknown fields, types,
// required fields, enums), and the pinned kubectl's apply --dry-run=client
// (kinds known to discovery, objects kubectl can decode and would apply).
// kubectl leaves the schema to a server that offers field validation, and
// its own schema check wants the OpenAPI v2 document as protobuf, which the
// source does not carry; hence the first check.
func CheckManifest(t testing.TB, manifest string) string {
	t.Helper()
	problems, err := loadSchemas(t, kubernetesSource(t)).checkManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	kubectl := Binary(t, "kubernetes", "kubectl")
	srv := apiServer(t)
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectl, "--server", srv.URL, "--kubeconfig", os.DevNull, "--cache-dir", t.TempDir(),
		"apply", "--dry-run=client", "-f", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=client: %v\n%s", err, out)
	}
	return string(out)
}

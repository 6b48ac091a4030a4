// Package upstreamtest gives tests the pinned upstream programs: Binary
// builds one with upstream/build (cached, so usually only a copy). Only
// tests import it. Manifests are checked by the real API server, in the
// end-to-end tests, not here.
package upstreamtest

import (
	"os"
	"os/exec"
	"path/filepath"
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

// Package debroot gives tests a Debian 12 root to install packages into
// with the real apt-get and dpkg: the minimal root of internal/debimage
// (made once per machine and cached outside the checkout), unpacked fresh
// for each test, which changes only its copy. Only tests import it.
package debroot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"homeworld.dev/homeworld/internal/debimage"
)

// Suite is the Debian release of the root.
const Suite = debimage.Suite

// New returns a fresh Debian root for t, removed after it. The first call
// on a machine runs debootstrap (about a minute) and caches the result.
func New(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: debootstrap and chroot (CI runs as root; run the tests with sudo)")
	}
	cache, err := debimage.Minbase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return FromArchive(t, cache)
}

// FromArchive returns a fresh root for t unpacked from a cached root
// archive (debimage's, or another made from it), removed after the test.
func FromArchive(t testing.TB, archive string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := debimage.Unpack(context.Background(), archive, root); err != nil {
		t.Fatal(err)
	}
	return root
}

// Run runs argv inside root (chroot, a clean environment) and returns its
// combined output.
func Run(root string, argv ...string) ([]byte, error) {
	return debimage.Chroot(context.Background(), root, argv...)
}

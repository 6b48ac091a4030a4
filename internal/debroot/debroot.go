// Package debroot gives tests a Debian 12 root to install packages into
// with the real apt-get and dpkg: made once with debootstrap (minbase, from
// Debian's mirror) and cached outside the checkout, then copied fresh for
// each test, which changes only its copy. Only tests import it.
package debroot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Suite is the Debian release of the root.
const Suite = "bookworm"

// mirror is where debootstrap fetches from; HOMEWORLD_DEBIAN_MIRROR
// overrides it.
func mirror() string {
	if m := os.Getenv("HOMEWORLD_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// cachePath is the cached root, a tar of it.
func cachePath() (string, error) {
	base := os.Getenv("HOMEWORLD_CACHE")
	if base == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(dir, "homeworld")
	}
	return filepath.Join(base, "debian", Suite+"-minbase.tar"), nil
}

// New returns a fresh Debian root for t, removed after it. The first call
// on a machine runs debootstrap (about a minute) and caches the result.
func New(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap and chroot")
	}
	cache, err := ensure()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xpf", cache, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpacking the Debian root: %v\n%s", err, out)
	}
	return root
}

// ensure makes the cached root if it is missing, one maker at a time.
func ensure() (string, error) {
	cache, err := cachePath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(cache+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(cache); err == nil {
		return cache, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("debootstrap is missing (scripts/install-deps installs it)")
	}
	work, err := os.MkdirTemp(filepath.Dir(cache), ".make-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	if out, err := exec.Command("debootstrap", "--variant=minbase", Suite, root, mirror()).CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s from %s: %v\n%s", Suite, mirror(), err, lastBytes(out, 2000))
	}
	tmp := filepath.Join(work, "root.tar")
	if out, err := exec.Command("tar", "-cpf", tmp, "-C", root, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("packing the root: %v\n%s", err, out)
	}
	return cache, os.Rename(tmp, cache)
}

// Run runs argv inside root (chroot, a clean environment) and returns its
// combined output.
func Run(root string, argv ...string) ([]byte, error) {
	cmd := exec.Command("chroot", append([]string{root}, argv...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8"}
	return cmd.CombinedOutput()
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Package debimage makes Debian 12 root filesystems as tar archives, built
// once per machine with Debian's own tools (debootstrap, apt-get in a
// chroot) and cached outside any checkout, so tests and virtual hosts start
// from a real Debian system without fetching it again. internal/debroot
// (test roots) and internal/virt/nspawn (booted hosts) import it.
package debimage

import (
	"os"
	"path/filepath"
)

// Suite is the Debian release of every root.
const Suite = "bookworm"

// Dir is the folder of the cached archives: debian/ under HOMEWORLD_CACHE,
// or under homeworld/ in the user's cache folder, where it survives fresh
// clones of the checkout.
func Dir() (string, error) {
	base := os.Getenv("HOMEWORLD_CACHE")
	if base == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(dir, "homeworld")
	}
	return filepath.Join(base, "debian"), nil
}

// Mirror is where Debian's packages come from; HOMEWORLD_DEBIAN_MIRROR
// overrides Debian's own redirector.
func Mirror() string {
	if m := os.Getenv("HOMEWORLD_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

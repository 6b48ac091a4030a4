package virt

import (
	"slices"
	"testing"

	"homeworld.dev/homeworld/internal/debpkg"
)

// A package dpkg has never heard of is reported, an installed one is not.
func TestMissingPackages(t *testing.T) {
	missing, err := missingPackages([]string{"containerd", "homeworld-no-such-package", "runc"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(missing, []string{"homeworld-no-such-package"}) {
		t.Errorf("missing = %v, want only homeworld-no-such-package", missing)
	}
}

// scripts/install-deps installs every Debian package the virtual nodes run
// programs from, so up's preflight passes on a machine it has set up.
func TestInstallDepsCoversTheNodes(t *testing.T) {
	needs := debpkg.DebianNeeds()
	for _, want := range []string{"containerd", "containernetworking-plugins", "openssh-server", "prometheus", "runc"} {
		if !slices.Contains(needs, want) {
			t.Errorf("DebianNeeds() = %v, lacks %s", needs, want)
		}
	}
	if err := checkHostPackages(); err != nil {
		t.Error(err)
	}
}

package nspawn

import (
	"slices"
	"testing"

	"homeworld.dev/homeworld/internal/debpkg"
)

// TestPackagesHoldHomeworldsDebianDependencies: the hosts cannot reach
// Debian's mirror, so every Debian package a Homeworld package depends on
// must be in the image.
func TestPackagesHoldHomeworldsDebianDependencies(t *testing.T) {
	for _, p := range debpkg.All() {
		for _, dep := range p.Debian {
			if !slices.Contains(Packages, dep) {
				t.Errorf("%s depends on Debian's %s, which the hosts' image lacks (add it to Packages)", p.Name, dep)
			}
		}
	}
}

// TestImageNameFollowsTheRecipe: a change of the package list or of a
// file names another image, so a cached image of the old recipe is not
// used; the order of the list does not matter.
func TestImageNameFollowsTheRecipe(t *testing.T) {
	before := recipeName(Packages, imageFiles)
	if got := recipeName(append(slices.Clone(Packages), "hello"), imageFiles); got == before {
		t.Error("adding a package keeps the image's name")
	}
	files := slices.Clone(imageFiles)
	files[0].data += "# changed\n"
	if got := recipeName(Packages, files); got == before {
		t.Error("changing a file keeps the image's name")
	}
	reversed := slices.Clone(Packages)
	slices.Reverse(reversed)
	if got := recipeName(reversed, imageFiles); got != before {
		t.Error("the order of the package list changes the image's name")
	}
}

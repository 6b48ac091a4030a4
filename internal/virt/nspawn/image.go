package nspawn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/debimage"
)

// Packages are the Debian packages of every host, installed in the image
// since the hosts have no route to Debian's mirror: systemd as PID 1, sshd
// for the admin, and every Debian program Homeworld's packages depend on
// (internal/debpkg), so that installing them from Homeworld's branch needs
// nothing else. Homeworld's own packages are not here: the hosts install
// them the production way.
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", // the init system a real host boots
	"openssh-server", "iproute2", "procps", "ca-certificates",
	"prometheus", "prometheus-node-exporter",
	"containerd", "runc", "containernetworking-plugins",
	"iptables", "conntrack",
	"sensible-utils", // homeworld-spire's: config edit runs sensible-editor
}

// recipeVersion changes whenever the steps of makeImage change in a way
// that changes the image, so that a cached image of the old recipe is not
// used.
const recipeVersion = "1"

// imageName is the cached image's file name: the hash of everything the
// image is made from, so a change of the package list or the recipe makes
// a new image and an unchanged one is never rebuilt.
func imageName() string { return recipeName(Packages, imageFiles) }

func recipeName(packages []string, files []imageFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\nsuite %s\n", recipeVersion, debimage.Suite)
	pkgs := slices.Sorted(slices.Values(packages))
	fmt.Fprintf(h, "packages %s\n", strings.Join(pkgs, " "))
	for _, f := range files {
		fmt.Fprintf(h, "file %s %o %d\n%s\n", f.path, f.mode, len(f.data), f.data)
	}
	return fmt.Sprintf("%s-nspawn-%s.tar", debimage.Suite, hex.EncodeToString(h.Sum(nil))[:16])
}

// EnsureImage returns the archive of the hosts' root filesystem, made once
// per machine (about half a minute after the minimal root, which itself
// takes a minute the first time) and cached beside internal/debimage's
// archives, named by a hash of Packages and the recipe. One maker at a
// time; progress goes to out. It needs Debian's mirror, so run it outside
// any private network namespace.
func EnsureImage(ctx context.Context, out io.Writer) (string, error) {
	return debimage.Cached(ctx, imageName(), func(ctx context.Context, tmp string) error {
		start := time.Now()
		fmt.Fprintf(out, "nspawn image: making %s\n", imageName())
		minbase, err := debimage.Minbase(ctx)
		if err != nil {
			return err
		}
		work := tmp + ".work"
		if err := os.Mkdir(work, 0o755); err != nil {
			return err
		}
		defer os.RemoveAll(work)
		root := filepath.Join(work, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			return err
		}
		if err := debimage.Unpack(ctx, minbase, root); err != nil {
			return err
		}
		if err := makeImage(ctx, out, root); err != nil {
			return err
		}
		fmt.Fprintf(out, "nspawn image: packing\n")
		if err := debimage.Pack(ctx, root, tmp); err != nil {
			return err
		}
		fmt.Fprintf(out, "nspawn image: made in %v\n", time.Since(start).Round(time.Second))
		pruneImages(filepath.Dir(tmp), imageName())
		return nil
	})
}

// pruneImages removes the images of recipes other than keep, which no
// Boot of this code uses: each is most of a gigabyte. (A checkout with
// another recipe makes its own again, in half a minute.)
func pruneImages(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, debimage.Suite+"-nspawn-*.tar"))
	for _, p := range old {
		if filepath.Base(p) != keep {
			os.Remove(p) // not its lock: a maker of it may hold that
		}
	}
}

package aptbranch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/branchkey"
)

// testDate is the Release Date of test branches: fixed, so builds can be
// compared, and in the past, as apt requires.
var testDate = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// need fails the test when a Debian tool it runs is not installed:
// scripts/install-deps installs them all, so CI always runs these tests.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/install-deps installs it)", tool)
		}
	}
}

// deb describes a tiny package for dpkg-deb to build.
type deb struct {
	name, version, arch string
	compress            string // dpkg-deb -Z: xz (its default), gzip, zstd, none
	content             string // of /usr/share/doc/<name>/hello
	extra               string // more control fields
}

// buildDeb builds d with the real dpkg-deb into dir and returns its path.
func buildDeb(t *testing.T, dir string, d deb) string {
	t.Helper()
	need(t, "dpkg-deb")
	if d.arch == "" {
		d.arch = "amd64"
	}
	if d.compress == "" {
		d.compress = "xz"
	}
	root := t.TempDir()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Homeworld <dev@homeworld.example>\n%sDescription: test package %s\n tiny, for the branch tests.\n",
		d.name, d.version, d.arch, d.extra, d.name)
	files := map[string]string{
		"DEBIAN/control":                     control,
		"usr/share/doc/" + d.name + "/hello": "hello from " + d.name + " " + d.version + "\n" + d.content,
	}
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", d.name, d.version, d.arch))
	cmd := exec.Command("dpkg-deb", "--build", "--root-owner-group", "-Z"+d.compress, root, out)
	// Fixed timestamps inside the archive, so rebuilding gives the same bytes.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build %s: %v\n%s", d.name, err, b)
	}
	return out
}

// debs builds each of ds into a new folder and returns it.
func debs(t *testing.T, ds ...deb) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range ds {
		buildDeb(t, dir, d)
	}
	return dir
}

// signingKey makes a branch-signing key for a test.
func signingKey(t *testing.T) *branchkey.Key {
	t.Helper()
	k, err := branchkey.Generate("Homeworld test.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func options(pkgs, out string, key Signer) Options {
	return Options{Packages: pkgs, Out: out, Name: "stable", Date: testDate, Signer: key}
}

func mustBuild(t *testing.T, o Options) *Result {
	t.Helper()
	r, err := Build(o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listDir names everything in dir, to show a refused build wrote nothing.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// signingKeyPublicOnly is a key whose private half is not loaded.
func signingKeyPublicOnly(t *testing.T) (*branchkey.Key, error) {
	t.Helper()
	ws := t.TempDir()
	dir := filepath.Join(ws, "authorities", branchkey.DirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, branchkey.KeyringName), signingKey(t).Keyring(), 0o644); err != nil {
		return nil, err
	}
	return branchkey.LoadPublic(ws)
}

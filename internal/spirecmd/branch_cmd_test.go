package spirecmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/disaster"
)

// buildDebs builds tiny packages NAME=VERSION with the real dpkg-deb into
// a new folder.
func buildDebs(t *testing.T, specs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb not installed: this is not a Debian machine")
	}
	dir := t.TempDir()
	for _, spec := range specs {
		name, version, _ := strings.Cut(spec, "=")
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
			t.Fatal(err)
		}
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Homeworld <dev@homeworld.example>\nDescription: test package\n", name, version)
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+"_"+version+".deb")
		cmd := exec.Command("dpkg-deb", "--build", "--root-owner-group", root, out)
		// Fixed timestamps inside, so the same package built twice is the
		// same bytes, as a reproducible build's would be.
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb: %v\n%s", err, b)
		}
	}
	return dir
}

// branchEnv is a workspace with authorities, branch-signing included.
func branchEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	return e
}

func TestBranchBuild(t *testing.T) {
	e := branchEnv(t)
	out := filepath.Join(t.TempDir(), "stable")
	e.vars["SOURCE_DATE_EPOCH"] = "1767323045"
	r := e.mustRun("branch", "build", "--packages", buildDebs(t, "hello=1.0", "world=2:0.1"), "--out", out)
	for _, want := range []string{"  hello 1.0 amd64\n", "  world 2:0.1 amd64\n", "branch stable, suite stable, 2 packages, signed by ", ": published at " + out} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("build output lacks %q:\n%s", want, r.stdout)
		}
	}
	if rel := readFile(t, filepath.Join(out, "dists/stable/Release")); !strings.Contains(rel, "Date: Fri, 02 Jan 2026 03:04:05 UTC\n") {
		t.Errorf("Release does not take its Date from SOURCE_DATE_EPOCH:\n%s", rel)
	}
	again := e.mustRun("branch", "build", "--packages", buildDebs(t, "hello=1.0", "world=2:0.1"), "--out", out)
	if !strings.Contains(again.stdout, "unchanged (already published)") {
		t.Errorf("rebuilding the same inputs and date:\n%s", again.stdout)
	}

	// With --url the branch carries its own homeworld-apt-setup.
	withSetup := filepath.Join(t.TempDir(), "with-setup")
	r = e.mustRun("branch", "build", "--packages", buildDebs(t, "hello=1.0"), "--out", withSetup, "--url", "http://192.0.2.10/apt/stable")
	if !strings.Contains(r.stdout, "  homeworld-apt-setup 1.1767323045 amd64\n") {
		t.Errorf("build --url output lacks homeworld-apt-setup:\n%s", r.stdout)
	}
	setupDebs, _ := filepath.Glob(filepath.Join(withSetup, "pool/main/h/homeworld-apt-setup/*.deb"))
	if len(setupDebs) != 1 {
		t.Fatalf("homeworld-apt-setup in the pool: %v", setupDebs)
	}
	if contents, err := exec.Command("dpkg-deb", "--contents", setupDebs[0]).Output(); err != nil ||
		!strings.Contains(string(contents), "./usr/share/keyrings/homeworld-stable.gpg") || !strings.Contains(string(contents), "./etc/apt/sources.list.d/homeworld-stable.list") {
		t.Errorf("homeworld-apt-setup holds: %v\n%s", err, contents)
	}

	keyring := filepath.Join(t.TempDir(), "homeworld.gpg")
	e.mustRun("branch", "keyring", "--out", keyring)
	// gpgv: scripts/install-deps installs it.
	b, err := exec.Command("gpgv", "--keyring", keyring, filepath.Join(out, "dists/stable/InRelease")).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "Good signature") {
		t.Errorf("gpgv with the exported keyring: %v\n%s", err, b)
	}
	if armored := e.mustRun("branch", "keyring", "--armor"); !strings.HasPrefix(armored.stdout, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Errorf("keyring --armor printed:\n%s", armored.stdout)
	}
	e.fails("needs --out", "branch", "keyring")

	e.fails("version goes backwards: 0.9 is older than the published 1.0", "branch", "build", "--packages", buildDebs(t, "hello=0.9"), "--out", out)
	e.fails("package hello comes twice", "branch", "build", "--packages", buildDebs(t, "hello=1.1", "hello=1.2"), "--out", out)
	e.vars["SOURCE_DATE_EPOCH"] = "yesterday"
	e.fails("SOURCE_DATE_EPOCH=\"yesterday\"", "branch", "build", "--packages", buildDebs(t, "hello=1.1"), "--out", out)
}

func TestBranchBuildWrongDisasterKey(t *testing.T) {
	e := branchEnv(t)
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := disaster.Generate(wrong); err != nil {
		t.Fatal(err)
	}
	e.vars["HOMEWORLD_DISASTER"] = wrong
	parent := t.TempDir()
	e.fails("the disaster key does not match", "branch", "build", "--packages", buildDebs(t, "hello=1.0"), "--out", filepath.Join(parent, "stable"))
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("a refused build wrote %v", entries)
	}
}

// TestBranchCommandsNameTheAddCommand: a workspace made before
// branch-signing existed is told exactly how to get it.
func TestBranchCommandsNameTheAddCommand(t *testing.T) {
	e := branchEnv(t)
	if err := os.RemoveAll(filepath.Join(e.dir, "authorities", "branch-signing")); err != nil {
		t.Fatal(err)
	}
	const add = "`spire authority add branch-signing`"
	out := filepath.Join(t.TempDir(), "stable")
	e.fails(add, "branch", "build", "--packages", t.TempDir(), "--out", out)
	e.fails(add, "branch", "keyring", "--armor")
	e.fails(add, "branch", "apt-setup", "--url", "http://x/apt", "--root", t.TempDir())
	e.mustRun("authority", "add", "branch-signing")
	e.mustRun("branch", "keyring", "--armor")
}

func TestBranchAptSetup(t *testing.T) {
	e := branchEnv(t)
	root := t.TempDir()
	e.mustRun("branch", "apt-setup", "--url", "http://supervisor.example/apt/dev", "--name", "dev", "--root", root)
	list := readFile(t, filepath.Join(root, "etc/apt/sources.list.d/homeworld-dev.list"))
	if !strings.Contains(list, "deb [signed-by=/usr/share/keyrings/homeworld-dev.gpg] http://supervisor.example/apt/dev dev main\n") {
		t.Errorf("sources list:\n%s", list)
	}
	keyring := filepath.Join(root, "usr/share/keyrings/homeworld-dev.gpg")
	exported := filepath.Join(t.TempDir(), "k.gpg")
	e.mustRun("branch", "keyring", "--out", exported)
	if readFile(t, keyring) != readFile(t, exported) {
		t.Error("apt-setup's keyring is not the branch-signing key")
	}
	e.fails("want http", "branch", "apt-setup", "--url", "supervisor/apt", "--root", root)
}

//go:build e2e

package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/aptbranch"
	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/debpkg"
	"homeworld.dev/homeworld/internal/debroot"
)

// TestPackagesInstallWithApt builds every package from the build the tests
// use, plus homeworld-apt-setup for a branch, publishes the signed branch,
// serves it over HTTP on loopback, and in a fresh Debian 12 root installs
// homeworld-apt-setup and then homeworld-keyclient with the real apt-get:
// the files land with their owners and modes. With a tampered InRelease,
// apt refuses the branch in its own words.
func TestPackagesInstallWithApt(t *testing.T) {
	epoch := time.Unix(1795700000, 0).UTC()
	debs := t.TempDir()
	opts := debpkg.Options{BinDir: bin, OutDir: debs, Version: "0.0.1+e2e", Epoch: epoch}
	start := time.Now()
	results, err := debpkg.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: %d packages built in %v", len(results), time.Since(start).Round(time.Millisecond))

	key, err := branchkey.Generate("homeworld test branch", epoch.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	setup, err := aptbranch.SetupFiles("stable", url, "", key.Keyring())
	if err != nil {
		t.Fatal(err)
	}
	var files []debpkg.File
	for _, f := range setup {
		files = append(files, debpkg.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
	}
	aptSetup, err := debpkg.BuildOne(opts, debpkg.AptSetup("stable", files))
	if err != nil {
		t.Fatal(err)
	}
	branch := filepath.Join(t.TempDir(), "branch")
	start = time.Now()
	if _, err := aptbranch.Build(aptbranch.Options{Packages: debs, Out: branch, Name: "stable", Date: epoch, Signer: key, Revision: strings.Repeat("5e", 20)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: the signed branch built in %v", time.Since(start).Round(time.Millisecond))
	// Every package has its provenance, signed by the branch key.
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, key.Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	statements, _ := filepath.Glob(filepath.Join(branch, aptbranch.ProvenanceDir, "*.intoto.json"))
	if len(statements) != len(results)+1 {
		t.Errorf("%d provenance statements for %d packages", len(statements), len(results)+1)
	}
	for _, st := range statements {
		if out, err := exec.Command("gpgv", "--keyring", keyring, st+".asc", st).CombinedOutput(); err != nil {
			t.Errorf("gpgv %s: %v\n%s", filepath.Base(st), err, out)
		}
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(branch))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	root := debroot.New(t)
	run := func(argv ...string) string {
		t.Helper()
		out, err := debroot.Run(root, argv...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	// Only the branch: the root's Debian sources would reach beyond this
	// machine.
	if err := os.Remove(filepath.Join(root, "etc/apt/sources.list")); err != nil {
		t.Fatal(err)
	}
	inRoot := filepath.Join(root, "tmp", filepath.Base(aptSetup.File))
	data, err := os.ReadFile(aptSetup.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inRoot, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run("dpkg", "-i", "/tmp/"+filepath.Base(aptSetup.File))
	run("apt-get", "update")
	run("apt-get", "install", "-y", "--no-install-recommends", "homeworld-keyclient")
	for path, want := range map[string]string{
		"/usr/lib/homeworld/bin/keyclient":                           "755 root root",
		"/lib/systemd/system/keyclient.service":                      "644 root root",
		aptbranch.KeyringPath("stable"):                              "644 root root",
		"/usr/share/doc/homeworld-keyclient/sbom/keyclient.cdx.json": "644 root root",
	} {
		if got := strings.TrimSpace(run("stat", "-c", "%a %U %G", path)); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if out := run("dpkg-query", "-W", "-f", "${Status} ${Version}", "homeworld-keyclient"); out != "install ok installed 0.0.1+e2e" {
		t.Errorf("homeworld-keyclient: %q", out)
	}

	// A tampered InRelease: apt refuses the branch, naming the signature.
	inRelease := filepath.Join(branch, "dists", "stable", "InRelease")
	signed, err := os.ReadFile(inRelease)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(signed), "Homeworld", "Homewor1d", 1)
	if tampered == string(signed) {
		t.Fatal("InRelease has nothing to tamper with")
	}
	if err := os.WriteFile(inRelease, []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := debroot.Run(root, "apt-get", "update")
	if !strings.Contains(string(out), "BADSIG") && !strings.Contains(string(out), "signatures were invalid") {
		t.Errorf("apt-get update with a tampered InRelease (exit %v) does not name the signature:\n%s", err, out)
	}
}

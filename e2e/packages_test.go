//go:build e2e

package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	br := servedBranch(t)
	// Every package has its provenance, signed by the branch key.
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, br.key.Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	statements, _ := filepath.Glob(filepath.Join(br.dir, aptbranch.ProvenanceDir, "*.intoto.json"))
	if len(statements) != len(br.packages)+1 {
		t.Errorf("%d provenance statements for %d packages", len(statements), len(br.packages)+1)
	}
	for _, st := range statements {
		if out, err := exec.Command("gpgv", "--keyring", keyring, st+".asc", st).CombinedOutput(); err != nil {
			t.Errorf("gpgv %s: %v\n%s", filepath.Base(st), err, out)
		}
	}
	aptSetup, branch := br.aptSetup, br.dir

	root := debroot.New(t)
	run := func(argv ...string) string { t.Helper(); return inRoot(t, root, argv...) }
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

// aptBranch is a signed apt branch of every package of this build, plus
// homeworld-apt-setup for it, served over HTTP on loopback.
type aptBranch struct {
	dir, url string
	key      *branchkey.Key
	packages []debpkg.Result // without homeworld-apt-setup
	aptSetup debpkg.Result
}

// packageEpoch and packageVersion are those of the packages the tests
// build from bin.
var (
	packageEpoch   = time.Unix(1795700000, 0).UTC()
	packageVersion = "0.0.1+e2e"
)

// built is the packages of bin, made once for the package's tests.
var built struct {
	once    sync.Once
	dir     string
	results []debpkg.Result
	err     error
}

// packages returns a new folder of the tests' packages, built from bin the
// first time (about half a minute) and linked from there after.
func packages(t *testing.T) (string, []debpkg.Result) {
	t.Helper()
	built.once.Do(func() {
		start := time.Now()
		built.dir, built.err = os.MkdirTemp("", "homeworld-e2e-debs-")
		if built.err == nil {
			built.results, built.err = debpkg.Build(debpkg.Options{BinDir: bin, OutDir: built.dir, Version: packageVersion, Epoch: packageEpoch})
		}
		t.Logf("measured: %d packages built in %v", len(built.results), time.Since(start).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	dir := t.TempDir()
	for _, r := range built.results {
		if err := os.Link(r.File, filepath.Join(dir, filepath.Base(r.File))); err != nil {
			t.Fatal(err)
		}
	}
	return dir, built.results
}

// servedBranch publishes the packages as the branch "stable", with
// homeworld-apt-setup for it, and serves it until the test ends.
func servedBranch(t *testing.T) aptBranch {
	t.Helper()
	epoch := packageEpoch
	debs, results := packages(t)
	opts := debpkg.Options{BinDir: bin, OutDir: debs, Version: packageVersion, Epoch: epoch}

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
	dir := filepath.Join(t.TempDir(), "branch")
	start := time.Now()
	if _, err := aptbranch.Build(aptbranch.Options{Packages: debs, Out: dir, Name: "stable", Date: epoch, Signer: key, Revision: strings.Repeat("5e", 20)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: the signed branch built in %v", time.Since(start).Round(time.Millisecond))
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return aptBranch{dir: dir, url: url, key: key, packages: results, aptSetup: aptSetup}
}

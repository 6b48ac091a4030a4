package aptbranch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apt runs the real apt-get and apt-cache against one sources list, with
// state and cache of its own, never the machine's.
type apt struct {
	t    *testing.T
	dir  string // state, cache, sources list
	opts []string
}

func newApt(t *testing.T, keyring []byte, url string) *apt {
	t.Helper()
	need(t, "apt-get", "apt-cache")
	a := &apt{t: t, dir: t.TempDir()}
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "download"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keyPath := filepath.Join(a.dir, "homeworld-stable.gpg")
	if err := os.WriteFile(keyPath, keyring, 0o644); err != nil {
		t.Fatal(err)
	}
	// The line homeworld-apt-setup installs, with the keyring in the test's
	// folder instead of /usr/share/keyrings.
	files, err := SetupFiles("stable", url, "", keyring)
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Replace(string(files[1].Data), KeyringPath("stable"), keyPath, 1)
	sources := filepath.Join(a.dir, "sources.list")
	if err := os.WriteFile(sources, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	a.opts = []string{
		"-o", "Dir::Etc::sourcelist=" + sources,
		"-o", "Dir::Etc::sourceparts=-",
		"-o", "Dir::State=" + filepath.Join(a.dir, "state"),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"-o", "APT::Get::List-Cleanup=0",
		// The test's folders are root's alone; fetching as root keeps apt
		// from warning that its _apt user cannot reach them.
		"-o", "APT::Sandbox::User=root",
		// A proxy configured on the machine must not carry local traffic.
		"-o", "Acquire::http::Proxy::127.0.0.1=DIRECT",
	}
	return a
}

// run runs an apt tool with the isolating options, in the download folder.
func (a *apt) run(tool string, args ...string) (string, error) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append(append([]string{}, a.opts...), args...)...)
	cmd.Dir = filepath.Join(a.dir, "download")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serve serves the branch at out over HTTP on 127.0.0.1, as a web server
// would: every request resolves the link again.
func serve(t *testing.T, out string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAptAcceptsBranch: apt-get update takes the branch without a warning,
// apt-cache policy offers its package from it, and apt-get download fetches
// exactly the published bytes.
func TestAptAcceptsBranch(t *testing.T) {
	key := signingKey(t)
	out := filepath.Join(t.TempDir(), "branch")
	mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}, deb{name: "hello-doc", version: "1.0", arch: "all"}), out, key))
	url := serve(t, out)
	a := newApt(t, key.Keyring(), url)

	msg, err := a.run("apt-get", "update")
	if err != nil || strings.Contains(msg, "W:") || strings.Contains(msg, "E:") {
		t.Fatalf("apt-get update: %v\n%s", err, msg)
	}
	for _, pkg := range []string{"hello", "hello-doc"} {
		msg, err = a.run("apt-cache", "policy", pkg)
		want := fmt.Sprintf("500 %s stable/main amd64 Packages", url)
		if err != nil || !strings.Contains(msg, "Candidate: 1.0") || !strings.Contains(msg, want) {
			t.Errorf("apt-cache policy %s: %v; want the candidate 1.0 from %q:\n%s", pkg, err, want, msg)
		}
	}
	if msg, err = a.run("apt-get", "download", "hello"); err != nil {
		t.Fatalf("apt-get download hello: %v\n%s", err, msg)
	}
	got := read(t, filepath.Join(a.dir, "download", "hello_1.0_amd64.deb"))
	if !bytes.Equal(got, read(t, filepath.Join(out, "pool/main/h/hello/hello_1.0_amd64.deb"))) {
		t.Error("apt downloaded other bytes than the branch holds")
	}
}

// TestAptRefusesTamperedInRelease: one byte changed in the signed text, and
// a machine without older lists gets nothing, with apt saying why.
func TestAptRefusesTamperedInRelease(t *testing.T) {
	key := signingKey(t)
	out := filepath.Join(t.TempDir(), "branch")
	mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, key))
	inRelease := filepath.Join(out, "dists/stable/InRelease")
	data := bytes.Replace(read(t, inRelease), []byte("Label: Homeworld stable"), []byte("Label: Homeworld stablf"), 1)
	if err := os.WriteFile(inRelease, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a := newApt(t, key.Keyring(), serve(t, out))
	msg, err := a.run("apt-get", "update")
	if err == nil {
		t.Errorf("apt-get update accepted a tampered InRelease:\n%s", msg)
	}
	for _, want := range []string{"The following signatures were invalid: BADSIG", "is not signed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("apt-get update does not say %q:\n%s", want, msg)
		}
	}
	if msg, _ := a.run("apt-cache", "policy", "hello"); strings.Contains(msg, "Candidate: 1.0") {
		t.Errorf("apt offers a package from a branch whose signature failed:\n%s", msg)
	}
}

// TestAptRefusesOtherKey: a branch signed by another cluster's key is
// refused by a machine trusting this one's.
func TestAptRefusesOtherKey(t *testing.T) {
	out := filepath.Join(t.TempDir(), "branch")
	mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, signingKey(t)))
	a := newApt(t, signingKey(t).Keyring(), serve(t, out))
	msg, err := a.run("apt-get", "update")
	if err == nil || !strings.Contains(msg, "NO_PUBKEY") {
		t.Errorf("apt-get update with another key: %v; want NO_PUBKEY:\n%s", err, msg)
	}
}

// TestAptRefusesChangedPackage: a .deb whose bytes differ from what
// Packages says is refused by apt-get download with its hash mismatch.
func TestAptRefusesChangedPackage(t *testing.T) {
	key := signingKey(t)
	out := filepath.Join(t.TempDir(), "branch")
	mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, key))
	a := newApt(t, key.Keyring(), serve(t, out))
	if msg, err := a.run("apt-get", "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, msg)
	}
	pooled := filepath.Join(out, "pool/main/h/hello/hello_1.0_amd64.deb")
	data := read(t, pooled)
	data[len(data)-1] ^= 0xff // same size, other bytes
	if err := os.WriteFile(pooled, data, 0o644); err != nil {
		t.Fatal(err)
	}
	msg, err := a.run("apt-get", "download", "hello")
	if err == nil || !strings.Contains(msg, "Hash Sum mismatch") {
		t.Errorf("apt-get download of a changed .deb: %v; want a hash mismatch:\n%s", err, msg)
	}
	if _, err := os.Stat(filepath.Join(a.dir, "download", "hello_1.0_amd64.deb")); err == nil {
		t.Error("apt kept the changed .deb")
	}
}

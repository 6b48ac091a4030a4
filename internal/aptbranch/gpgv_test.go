package aptbranch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGpgvVerifiesBranch runs the real gpgv, as apt does, against the
// exported binary keyring: InRelease and Release.gpg verify, and one
// changed byte in the signed text of InRelease does not.
func TestGpgvVerifiesBranch(t *testing.T) {
	need(t, "gpgv")
	key := signingKey(t)
	out := filepath.Join(t.TempDir(), "branch")
	mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, key))
	keyring := filepath.Join(t.TempDir(), "homeworld-stable.gpg")
	if err := os.WriteFile(keyring, key.Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	gpgv := func(files ...string) (string, error) {
		b, err := exec.Command("gpgv", append([]string{"--keyring", keyring}, files...)...).CombinedOutput()
		return string(b), err
	}
	dists := filepath.Join(out, "dists", "stable")
	inRelease := filepath.Join(dists, "InRelease")
	if msg, err := gpgv(inRelease); err != nil || !strings.Contains(msg, "Good signature") || !strings.Contains(msg, key.Fingerprint()) {
		t.Errorf("gpgv InRelease: %v\n%s", err, msg)
	}
	if msg, err := gpgv(filepath.Join(dists, "Release.gpg"), filepath.Join(dists, "Release")); err != nil || !strings.Contains(msg, "Good signature") {
		t.Errorf("gpgv Release.gpg Release: %v\n%s", err, msg)
	}
	// InRelease's signed text is Release itself.
	if !bytes.Contains(read(t, inRelease), read(t, filepath.Join(dists, "Release"))) {
		t.Error("InRelease does not hold the Release file")
	}

	tampered := filepath.Join(t.TempDir(), "InRelease")
	data := bytes.Replace(read(t, inRelease), []byte("Suite: stable"), []byte("Suite: stablf"), 1)
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := gpgv(tampered); err == nil || !strings.Contains(msg, "BAD signature") {
		t.Errorf("gpgv accepted a tampered InRelease: %v\n%s", err, msg)
	}
}

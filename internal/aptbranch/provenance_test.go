package aptbranch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProvenanceIsSignedAndNamesThePackage: with a source revision, every
// package of the branch has an in-toto statement naming its file and
// SHA-256 as published, which gpgv verifies with the branch's keyring; a
// changed statement fails.
func TestProvenanceIsSignedAndNamesThePackage(t *testing.T) {
	need(t, "gpgv")
	key := signingKey(t)
	out := filepath.Join(t.TempDir(), "branch")
	o := options(debs(t, deb{name: "hello", version: "1.0"}, deb{name: "world", version: "2.0"}), out, key)
	o.Revision = "0123456789abcdef0123456789abcdef01234567"
	r := mustBuild(t, o)
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, key.Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Packages {
		pool := read(t, filepath.Join(out, filepath.FromSlash(p.Filename)))
		sum := sha256.Sum256(pool)
		stPath := filepath.Join(out, ProvenanceDir, filepath.Base(p.Filename)+".intoto.json")
		var st struct {
			Type    string `json:"_type"`
			Subject []struct {
				Name   string
				Digest map[string]string
			}
			PredicateType string `json:"predicateType"`
			Predicate     struct {
				BuildDefinition struct {
					ExternalParameters map[string]string `json:"externalParameters"`
				} `json:"buildDefinition"`
			}
		}
		if err := json.Unmarshal(read(t, stPath), &st); err != nil {
			t.Fatal(err)
		}
		if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" ||
			len(st.Subject) != 1 || st.Subject[0].Name != filepath.Base(p.Filename) || st.Subject[0].Digest["sha256"] != hex.EncodeToString(sum[:]) ||
			st.Predicate.BuildDefinition.ExternalParameters["revision"] != o.Revision {
			t.Errorf("%s: %+v", stPath, st)
		}
		msg, err := exec.Command("gpgv", "--keyring", keyring, stPath+".asc", stPath).CombinedOutput()
		if err != nil || !strings.Contains(string(msg), "Good signature") {
			t.Errorf("gpgv %s: %v\n%s", stPath, err, msg)
		}
		changed := filepath.Join(t.TempDir(), "changed.json")
		os.WriteFile(changed, []byte(strings.Replace(string(read(t, stPath)), o.Revision, strings.Repeat("f", 40), 1)), 0o644)
		if msg, err := exec.Command("gpgv", "--keyring", keyring, stPath+".asc", changed).CombinedOutput(); err == nil {
			t.Errorf("gpgv accepts a changed statement:\n%s", msg)
		}
	}
}

// TestRevisionMustBeACommit: a revision that is no git commit is refused
// before anything is written.
func TestRevisionMustBeACommit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "branch")
	o := options(debs(t, deb{name: "hello", version: "1.0"}), out, signingKey(t))
	o.Revision = "v1.0"
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "not a git commit") {
		t.Errorf("revision v1.0: %v", err)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("something was written at %s: %v", out, err)
	}
}

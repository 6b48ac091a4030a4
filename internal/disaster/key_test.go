package disaster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKey(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disaster.key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := Load(writeKey(t, "correct horse battery staple\nsecond line ignored\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	k.SetWorkFactor(10)
	sealed, err := k.Seal([]byte("secret material"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret material")) {
		t.Fatal("sealed data contains the plaintext")
	}
	got, err := k.Open(sealed)
	if err != nil || string(got) != "secret material" {
		t.Fatalf("Open = %q, %v", got, err)
	}

	other, err := Load(writeKey(t, "a different passphrase here\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with wrong key = %v, want ErrWrongKey", err)
	}
}

func TestLoadRefusals(t *testing.T) {
	cases := []struct {
		name    string
		path    string
		message string
	}{
		{"missing", filepath.Join(t.TempDir(), "absent"), "does not exist"},
		{"too open", writeKey(t, "correct horse battery staple\n", 0o644), "chmod 600"},
		{"short", writeKey(t, "hunter2\n", 0o600), "at least 16 characters"},
		{"empty first line", writeKey(t, "\ncorrect horse battery staple\n", 0o600), "at least 16"},
		{"directory", t.TempDir(), "not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Load = %v, want error containing %q", err, tc.message)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := Generate(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	if _, err := Load(path); err != nil {
		t.Errorf("generated key does not load: %v", err)
	}
	before, _ := os.ReadFile(path)
	if err := Generate(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Generate = %v, want refusal", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("second Generate changed the key file")
	}
}

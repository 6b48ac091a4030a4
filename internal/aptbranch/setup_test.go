package aptbranch

import (
	"bytes"
	"strings"
	"testing"
)

func TestSetupFiles(t *testing.T) {
	keyring := signingKey(t).Keyring()
	files, err := SetupFiles("stable", "http://supervisor.cluster.example/apt/stable", "", keyring)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files, want the keyring and the sources list", len(files))
	}
	if f := files[0]; f.Path != "/usr/share/keyrings/homeworld-stable.gpg" || !bytes.Equal(f.Data, keyring) || f.Mode != 0o644 {
		t.Errorf("keyring file: %s mode %v (%d bytes)", f.Path, f.Mode, len(f.Data))
	}
	want := "# Homeworld apt branch stable, from the homeworld-apt-setup package.\n" +
		"deb [signed-by=/usr/share/keyrings/homeworld-stable.gpg] http://supervisor.cluster.example/apt/stable stable main\n"
	if f := files[1]; f.Path != "/etc/apt/sources.list.d/homeworld-stable.list" || string(f.Data) != want || f.Mode != 0o644 {
		t.Errorf("sources file %s mode %v:\n%s\nwant:\n%s", f.Path, f.Mode, f.Data, want)
	}

	files, err = SetupFiles("dev", "https://apt.example", "dev-2026", keyring)
	if err != nil || !strings.HasSuffix(string(files[1].Data), "] https://apt.example dev-2026 main\n") || files[0].Path != KeyringPath("dev") {
		t.Errorf("with a suite: %v\n%s", err, files[1].Data)
	}
}

func TestSetupFilesRefusals(t *testing.T) {
	keyring := signingKey(t).Keyring()
	for _, tc := range []struct {
		branch, url, want string
		keyring           []byte
	}{
		{"Stable", "http://x", "branch name", keyring},
		{"../etc", "http://x", "branch name", keyring},
		{"stable", "ftp://x", "want http", keyring},
		{"stable", "http://x/a b", "no spaces", keyring},
		{"stable", "supervisor/apt", "want http", keyring},
		{"stable", "http://x", "binary OpenPGP", []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")},
	} {
		if _, err := SetupFiles(tc.branch, tc.url, "", tc.keyring); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetupFiles(%q, %q): %v, want an error mentioning %q", tc.branch, tc.url, err, tc.want)
		}
	}
}

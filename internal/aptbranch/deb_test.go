package aptbranch

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadDebAgreesWithDpkg reads packages dpkg-deb built with each
// compression it offers and checks the control fields against what
// dpkg-deb itself reports.
func TestReadDebAgreesWithDpkg(t *testing.T) {
	dir := t.TempDir()
	for _, comp := range []string{"xz", "gzip", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			path := buildDeb(t, dir, deb{name: "hello-" + comp, version: "1:2.0-3", compress: comp, extra: "Depends: libc6 (>= 2.36)\nInstalled-Size: 4\n"})
			d, err := readDeb(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, field := range []string{"Package", "Version", "Architecture", "Maintainer", "Depends", "Installed-Size", "Description"} {
				out, err := exec.Command("dpkg-deb", "--field", path, field).Output()
				if err != nil {
					t.Fatalf("dpkg-deb --field %s: %v", field, err)
				}
				if got, want := d.control.Get(field), strings.TrimRight(string(out), "\n"); got != want {
					t.Errorf("%s: got %q, dpkg-deb says %q", field, got, want)
				}
			}
			data := read(t, path)
			sum := sha256.Sum256(data)
			if d.sha256 != hex.EncodeToString(sum[:]) || d.size != int64(len(data)) {
				t.Errorf("size %d sha256 %s, want %d %x", d.size, d.sha256, len(data), sum)
			}
		})
	}
}

func TestReadDebRefusesNonPackages(t *testing.T) {
	dir := t.TempDir()
	good := read(t, buildDeb(t, t.TempDir(), deb{name: "hello", version: "1.0"}))
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "no ar archive header", nil},
		{"text", "no ar archive header", []byte("not a package\n")},
		{"truncated", "", good[:len(good)/2]},
		{"no-data", "no data.tar member", good[:strings.Index(string(good), "data.tar")]},
	} {
		path := filepath.Join(dir, tc.name+".deb")
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readDeb(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

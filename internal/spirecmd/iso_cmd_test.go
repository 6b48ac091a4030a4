package spirecmd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/isoimage"
)

// spire iso gen writes one bootable (BIOS and UEFI) ISO per node, the same
// bytes twice, and refuses a setup.yaml without a mirror, naming the line.
func TestISOGen(t *testing.T) {
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	out := t.TempDir()
	res := e.mustRun("iso", "gen", "--all", "--out", out)
	for _, n := range []string{"supervisor", "master1", "worker1"} {
		if !strings.Contains(res.stdout, n+": "+filepath.Join(out, n+".iso")) {
			t.Errorf("no ISO reported for %s:\n%s", n, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "knows no apt branch URL") {
		t.Errorf("no note about the missing apt branch: %s", res.stderr)
	}
	iso := filepath.Join(out, "worker1.iso")
	r, err := isoimage.Inspect(iso)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasBoot("BIOS") || !r.HasBoot("UEFI") {
		t.Errorf("boot entries %+v", r.Boot)
	}
	first, _ := os.ReadFile(iso)
	e.mustRun("iso", "gen", "worker1", "--out", out)
	if again, _ := os.ReadFile(iso); string(again) != string(first) {
		t.Error("a second build differs")
	}

	setup := filepath.Join(e.dir, "setup.yaml")
	text := readFile(t, setup)
	lines := strings.Split(text, "\n")
	var kept []string
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "mirror:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(setup, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := e.fails("cluster.mirror", "iso", "gen", "worker1", "--out", t.TempDir())
	if !strings.Contains(bad.stderr, "setup.yaml:") {
		t.Errorf("the refusal names no line: %s", bad.stderr)
	}
	e.fails("name the nodes, or say --all", "iso", "gen", "--out", out)
}

// The ISO is handed around unencrypted: none of its bytes, nor those of
// the files its initrd unpacks, is a private key of the workspace or its
// disaster key; the apt branch it names comes with the public keyring
// only. (internal/installer's tests check its files for tokens.)
func TestISOHoldsNoSecret(t *testing.T) {
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	if err := os.WriteFile(filepath.Join(e.dir, "apt-url"), []byte("http://apt.example.org/homeworld/"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	e.mustRun("iso", "gen", "worker1", "--out", out)
	iso, err := os.ReadFile(filepath.Join(out, "worker1.iso"))
	if err != nil {
		t.Fatal(err)
	}
	// Debian's own initrd is left out: its programs have "PRIVATE KEY"
	// among their strings.
	appended, err := isoimage.Appended(filepath.Join(out, "worker1.iso"))
	if err != nil {
		t.Fatal(err)
	}
	var unpacked []byte
	for _, f := range appended {
		unpacked = append(append(unpacked, f.Path...), f.Data...)
	}
	if !bytes.Contains(unpacked, []byte("homeworld/root/usr/share/keyrings/homeworld-stable.gpg")) {
		t.Fatal("the initrd does not carry the apt branch's keyring: the premise of this test broke")
	}

	key, err := disaster.Load(e.key)
	if err != nil {
		t.Fatal(err)
	}
	set, err := authority.NewStore(e.dir).Load(key)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"disaster key": []byte(readFile(t, e.key))}
	for _, a := range set.List {
		switch k := a.Signer.(type) {
		case *ecdsa.PrivateKey:
			secrets[string(a.Name)] = k.D.Bytes()
		case *rsa.PrivateKey:
			secrets[string(a.Name)] = k.D.Bytes()
		case ed25519.PrivateKey:
			secrets[string(a.Name)] = k.Seed()
		default:
			t.Fatalf("%s: a %T private key this test does not know", a.Name, a.Signer)
		}
	}
	for where, data := range map[string][]byte{"the ISO": iso, "Homeworld's files in the initrd": unpacked} {
		for name, secret := range secrets {
			if bytes.Contains(data, secret) {
				t.Errorf("%s holds the %s", where, name)
			}
		}
		for _, marker := range []string{"PRIVATE KEY", "PGP PRIVATE KEY BLOCK"} {
			if bytes.Contains(data, []byte(marker)) {
				t.Errorf("%s holds %q", where, marker)
			}
		}
	}
}

package branchkey

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func newKey(t *testing.T) *Key {
	t.Helper()
	k, err := Generate("Homeworld test.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// packets lists the public keys and signatures in an OpenPGP stream.
func packets(t *testing.T, data []byte) (keys []*packet.PublicKey, sigs []*packet.Signature) {
	t.Helper()
	r := packet.NewReader(bytes.NewReader(data))
	for {
		p, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return keys, sigs
			}
			t.Fatalf("reading packets: %v", err)
		}
		switch p := p.(type) {
		case *packet.PublicKey:
			keys = append(keys, p)
		case *packet.Signature:
			sigs = append(sigs, p)
		}
	}
}

func dearmor(t *testing.T, data []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("dearmoring: %v", err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(block.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEverythingIsVersion4 holds the key and both kinds of signature to the
// format Debian 12's gpgv reads.
func TestEverythingIsVersion4(t *testing.T) {
	k := newKey(t)
	keys, sigs := packets(t, k.Keyring())
	if len(keys) != 1 || keys[0].Version != 4 || keys[0].PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Fatalf("keyring holds %d keys, want one v4 EdDSA key: %+v", len(keys), keys)
	}
	if !bytes.Equal(dearmor(t, k.Armored()), k.Keyring()) {
		t.Error("the armored keyring is not the binary one")
	}
	for _, s := range sigs {
		if s.Version != 4 {
			t.Errorf("self-signature version %d, want 4", s.Version)
		}
	}
	detached, err := k.DetachSign([]byte("hello\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cleartext, err := k.ClearSign([]byte("hello\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(cleartext, []byte("-----BEGIN PGP SIGNATURE-----"))
	if i < 0 {
		t.Fatalf("no signature block in:\n%s", cleartext)
	}
	for name, armored := range map[string][]byte{"detached": detached, "cleartext": cleartext[i:]} {
		_, sigs := packets(t, dearmor(t, armored))
		if len(sigs) != 1 || sigs[0].Version != 4 {
			t.Errorf("%s signature: %d signatures, want one of version 4", name, len(sigs))
		}
		for _, n := range sigs[0].Notations {
			t.Errorf("%s signature carries notation %q; signatures must be deterministic", name, n.Name)
		}
	}
}

// TestGpgvVerifies has the real gpgv check both kinds of signature against
// the exported keyring, and reject a changed message.
func TestGpgvVerifies(t *testing.T) {
	gpgv, err := exec.LookPath("gpgv")
	if err != nil {
		t.Fatal("gpgv not installed (scripts/install-deps installs it)")
	}
	k := newKey(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyring := write("keyring.gpg", k.Keyring())
	msg := []byte("Origin: Homeworld\nLabel: test\n")
	cleartext, err := k.ClearSign(msg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	detached, err := k.DetachSign(msg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(gpgv, append([]string{"--keyring", keyring}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run(write("InRelease", cleartext)); err != nil || !strings.Contains(out, "Good signature") || !strings.Contains(out, k.Fingerprint()) {
		t.Errorf("gpgv InRelease: %v\n%s", err, out)
	}
	if out, err := run(write("Release.gpg", detached), write("Release", msg)); err != nil || !strings.Contains(out, "Good signature") {
		t.Errorf("gpgv Release.gpg Release: %v\n%s", err, out)
	}
	if out, err := run(write("Release.gpg", detached), write("Release", append(msg, 'x'))); err == nil || !strings.Contains(out, "BAD signature") {
		t.Errorf("gpgv accepted a changed Release: %v\n%s", err, out)
	}
}

func TestSignaturesAreDeterministic(t *testing.T) {
	k := newKey(t)
	at := time.Now()
	for _, sign := range []func([]byte, time.Time) ([]byte, error){k.ClearSign, k.DetachSign} {
		a, err := sign([]byte("same\n"), at)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := sign([]byte("same\n"), at)
		if !bytes.Equal(a, b) {
			t.Errorf("two signatures of the same message at the same time differ:\n%s\n%s", a, b)
		}
	}
}

// TestSignatureNeverPredatesKey: gpgv rejects a signature older than its
// key, and SOURCE_DATE_EPOCH may be older than the key.
func TestSignatureNeverPredatesKey(t *testing.T) {
	k := newKey(t)
	sig, err := k.DetachSign([]byte("x"), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, sigs := packets(t, dearmor(t, sig))
	if got := sigs[0].CreationTime; got.Before(k.Created()) {
		t.Errorf("signature made at %v, before the key (%v)", got, k.Created())
	}
}

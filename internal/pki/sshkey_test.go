package pki

import (
	"crypto"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyLine renders a public key as an authorized_keys line.
func keyLine(t testing.TB, k crypto.PublicKey) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(pub))
}

// wireLine renders an authorized_keys line from a hand-built key blob, for
// types the SSH library cannot build (DSA, security keys, unknown ones).
func wireLine(blob any) string {
	b := ssh.Marshal(blob)
	name := string(b[4 : 4+int(b[3])])
	return name + " " + base64.StdEncoding.EncodeToString(b) + " test@example\n"
}

func TestSignSSHKeyFloor(t *testing.T) {
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	ec := func(c elliptic.Curve) *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(c, rand.Reader); return k }
	rsaKey := func(bits int) *rsa.PublicKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	var dsaKey dsa.PrivateKey
	if err := dsa.GenerateParameters(&dsaKey.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		t.Fatal(err)
	}
	dsa.GenerateKey(&dsaKey, rand.Reader)
	p256, _ := ec(elliptic.P256()).PublicKey.ECDH()

	type named struct{ Name string }
	dss := wireLine(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{ssh.InsecureKeyAlgoDSA, dsaKey.P, dsaKey.Q, dsaKey.G, dsaKey.Y})
	for _, tc := range []struct {
		name, line, want string // want is part of the refusal; "" accepts
	}{
		{"ed25519", keyLine(t, ed), ""},
		{"ecdsa p256", keyLine(t, ec(elliptic.P256()).Public()), ""},
		{"ecdsa p384", keyLine(t, ec(elliptic.P384()).Public()), ""},
		{"ecdsa p521", keyLine(t, ec(elliptic.P521()).Public()), ""},
		{"sk ed25519", wireLine(struct {
			Name string
			Key  []byte
			App  string
		}{ssh.KeyAlgoSKED25519, ed, "ssh:"}), ""},
		{"sk ecdsa", wireLine(struct {
			Name, Curve string
			Key         []byte
			App         string
		}{ssh.KeyAlgoSKECDSA256, "nistp256", p256.Bytes(), "ssh:"}), ""},
		{"rsa 2048", keyLine(t, rsaKey(2048)), ""},
		{"rsa 2047", keyLine(t, rsaKey(2047)), `ssh-rsa of 2047 bits is too small`},
		{"rsa 1024", keyLine(t, rsaKey(1024)), `ssh-rsa of 1024 bits is too small`},
		{"dsa", dss, `SSH key type "ssh-dss" is not accepted`},
		{"dsa with options", `restrict,command="true" ` + dss, `SSH key type "ssh-dss" is not accepted`},
		{"ml-dsa", wireLine(struct {
			Name string
			Key  []byte
		}{ssh.KeyAlgoMLDSA44, make([]byte, 1312)}), `SSH key type "ssh-mldsa-44" is not accepted`},
		{"unknown", wireLine(named{"ssh-unknown@example.org"}), `SSH key type "ssh-unknown@example.org" is not accepted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := testSSHCA(t)
			cert, err := SignSSH(ca, []byte(tc.line), SSHGrant{KeyID: "k", Principals: []string{"root"}, Lifetime: time.Hour}, time.Now())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && cert.Key.Type() != strings.Fields(tc.line)[0]:
				t.Errorf("certified a %s key", cert.Key.Type())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func testSSHCA(t testing.TB) ssh.Signer {
	t.Helper()
	k, _ := NewSSHKey()
	ca, err := ssh.NewSignerFromSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

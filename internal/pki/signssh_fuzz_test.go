package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"maps"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// fuzzSSHGrants are the fixed grants a fuzzed key is certified under.
var fuzzSSHGrants = []SSHGrant{
	{KeyID: "admin@example.org", Principals: []string{"root"}, Lifetime: 4 * time.Hour},
	{KeyID: "node1.cluster.example.org", Principals: []string{"node1.cluster.example.org", "node1"}, Host: true, Lifetime: 24 * time.Hour},
}

// FuzzSignSSH feeds arbitrary authorized_keys text to SignSSH with a fixed
// grant. Whatever the text says (options, comments, certificates), an
// issued certificate takes only the key from it, and only a key that meets
// the floor.
func FuzzSignSSH(f *testing.F) {
	for _, line := range seedSSHLines(f) {
		for g := range fuzzSSHGrants {
			f.Add([]byte(line), uint8(g))
		}
	}
	f.Add([]byte("# only a comment\n"), uint8(0))
	f.Add([]byte{}, uint8(1))
	ca := testSSHCA(f)
	f.Fuzz(func(t *testing.T, text []byte, grant uint8) {
		g := fuzzSSHGrants[int(grant)%len(fuzzSSHGrants)]
		cert, err := SignSSH(ca, text, g, fuzzNow)
		if err != nil {
			return
		}
		checkGrantedSSH(t, cert, ca, text, g)
	})
}

// seedSSHLines covers every accepted key type, refused ones, and texts that
// try to smuggle in more than a key.
func seedSSHLines(t testing.TB) []string {
	t.Helper()
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	ec := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		return &k.PublicKey
	}
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ec(elliptic.P256()).ECDH()
	edLine := keyLine(t, ed)
	certified, err := SignSSH(testSSHCA(t), []byte(edLine), fuzzSSHGrants[0], fuzzNow)
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		edLine,
		keyLine(t, ec(elliptic.P256())),
		keyLine(t, ec(elliptic.P384())),
		keyLine(t, ec(elliptic.P521())),
		keyLine(t, &rsa2048.PublicKey),
		keyLine(t, &rsa1024.PublicKey),
		wireLine(struct {
			Name string
			Key  []byte
			App  string
		}{ssh.KeyAlgoSKED25519, ed, "ssh:"}),
		wireLine(struct {
			Name, Curve string
			Key         []byte
			App         string
		}{ssh.KeyAlgoSKECDSA256, "nistp256", p256.Bytes(), "ssh:"}),
		`cert-authority,principals="root,admin",permit-port-forwarding ` + edLine,
		"# admin key\n\n" + edLine,
		edLine + edLine,
		string(ssh.MarshalAuthorizedKey(certified)),
	}
}

func checkGrantedSSH(t *testing.T, cert *ssh.Certificate, ca ssh.Signer, text []byte, g SSHGrant) {
	t.Helper()
	pub, _, _, _, err := ssh.ParseAuthorizedKey(text)
	if err != nil {
		t.Fatalf("SignSSH accepted text that does not parse: %v", err)
	}
	if !bytes.Equal(cert.Key.Marshal(), pub.Marshal()) {
		t.Errorf("certified key %s is not the text's %s", cert.Key.Type(), pub.Type())
	}
	if _, isCert := cert.Key.(*ssh.Certificate); isCert {
		t.Error("certified a certificate")
	}
	if err := acceptableSSHKey(cert.Key); err != nil {
		t.Errorf("certified a key below the floor: %v", err)
	}
	wantType, wantExt := uint32(ssh.UserCert), map[string]string{"permit-pty": ""}
	if g.Host {
		wantType, wantExt = ssh.HostCert, map[string]string{}
	}
	if cert.CertType != wantType || cert.KeyId != g.KeyID || !slices.Equal(cert.ValidPrincipals, g.Principals) {
		t.Errorf("type %d, key id %q, principals %q", cert.CertType, cert.KeyId, cert.ValidPrincipals)
	}
	if len(cert.CriticalOptions) > 0 || !maps.Equal(cert.Extensions, wantExt) {
		t.Errorf("critical options %v, extensions %v", cert.CriticalOptions, cert.Extensions)
	}
	after, before := uint64(fuzzNow.Add(-Backdate).Unix()), uint64(fuzzNow.Add(g.Lifetime).Unix())
	if cert.ValidAfter != after || cert.ValidBefore != before {
		t.Errorf("validity %d..%d, want %d..%d", cert.ValidAfter, cert.ValidBefore, after, before)
	}
	if !bytes.Equal(cert.SignatureKey.Marshal(), ca.PublicKey().Marshal()) {
		t.Errorf("signed by %s, not the authority", ssh.FingerprintSHA256(cert.SignatureKey))
	}
	checker := ssh.CertChecker{Clock: func() time.Time { return fuzzNow }}
	if err := checker.CheckCert(g.Principals[0], cert); err != nil {
		t.Errorf("issued certificate does not check: %v", err)
	}
}

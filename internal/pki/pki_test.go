package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func testCA(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := NewKey()
	tmpl := &x509.Certificate{
		SerialNumber: bigOne(), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func TestSignTLS(t *testing.T) {
	caKey, caCert := testCA(t)
	key, _ := NewKey()
	csr, _ := MakeCSR(key)
	now := time.Now()
	cert, err := SignTLS(caKey, caCert, csr, TLSGrant{CommonName: "n", Names: []string{"a.example", "10.0.0.1"}, Usage: ServerAuth | ClientAuth, Lifetime: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.DNSNames, []string{"a.example"}) || cert.IPAddresses[0].String() != "10.0.0.1" {
		t.Errorf("names %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || cert.IsCA {
		t.Errorf("usage %v IsCA %v", cert.ExtKeyUsage, cert.IsCA)
	}
	if !cert.NotBefore.Before(now) || cert.NotAfter.Sub(now.Add(time.Hour)).Abs() > time.Second {
		t.Errorf("validity %v..%v", cert.NotBefore, cert.NotAfter)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(caCert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("does not verify: %v", err)
	}

	client, _ := SignTLS(caKey, caCert, csr, TLSGrant{CommonName: "c", Usage: ClientAuth, Lifetime: time.Hour}, now)
	if slices.Contains(client.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Error("client grant got server auth")
	}
	server, _ := SignTLS(caKey, caCert, csr, TLSGrant{CommonName: "s", Usage: ServerAuth, Lifetime: time.Hour}, now)
	if !slices.Equal(server.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server grant usages %v, want server auth only", server.ExtKeyUsage)
	}
	if _, err := SignTLS(caKey, caCert, csr, TLSGrant{CommonName: "u", Lifetime: time.Hour}, now); err == nil {
		t.Error("a grant without a usage was issued")
	}
}

func TestSignTLSRejects(t *testing.T) {
	caKey, caCert := testCA(t)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakCSR, _ := MakeCSR(weak)
	p384, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224CSR, _ := MakeCSR(p384)
	key, _ := NewKey()
	good, _ := MakeCSR(key)
	block, _ := pem.Decode(good)
	block.Bytes[len(block.Bytes)-3] ^= 0xff // break the signature
	badSig := pem.EncodeToMemory(block)
	for name, tc := range map[string]struct {
		csr  []byte
		want string
	}{
		"weak rsa":      {weakCSR, "too small"},
		"p224":          {p224CSR, "not accepted"},
		"bad signature": {badSig, "signature"},
		"two blocks":    {append(append([]byte{}, good...), good...), "more than one"},
		"certificate":   {EncodeCert(caCert), "not a PEM CERTIFICATE REQUEST"},
	} {
		_, err := SignTLS(caKey, caCert, tc.csr, TLSGrant{CommonName: "x", Usage: ClientAuth, Lifetime: time.Hour}, time.Now())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestSignSSH(t *testing.T) {
	caKey, _ := NewSSHKey()
	ca, _ := ssh.NewSignerFromSigner(caKey)
	k, _ := NewSSHKey()
	pub, _ := ssh.NewPublicKey(k.Public())
	line := ssh.MarshalAuthorizedKey(pub)
	host, err := SignSSH(ca, line, SSHGrant{KeyID: "h", Principals: []string{"n.example"}, Host: true, Lifetime: time.Hour}, time.Now())
	if err != nil || host.CertType != ssh.HostCert || len(host.Permissions.Extensions) != 0 {
		t.Errorf("host cert %+v, %v", host, err)
	}
	user, _ := SignSSH(ca, line, SSHGrant{KeyID: "u", Principals: []string{"root"}, Lifetime: time.Hour}, time.Now())
	if _, ok := user.Permissions.Extensions["permit-pty"]; !ok || user.CertType != ssh.UserCert {
		t.Errorf("user cert %+v", user)
	}
	if _, err := SignSSH(ca, line, SSHGrant{KeyID: "u", Lifetime: time.Hour}, time.Now()); err == nil || !strings.Contains(err.Error(), "wildcard") {
		t.Errorf("no principals: %v", err)
	}
	if _, err := SignSSH(ca, ssh.MarshalAuthorizedKey(user), SSHGrant{KeyID: "u", Principals: []string{"root"}, Lifetime: time.Hour}, time.Now()); err == nil || !strings.Contains(err.Error(), "already a certificate") {
		t.Errorf("certificate as key: %v", err)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k, _ := NewKey()
	enc, _ := EncodeKey(k)
	back, err := ParseKey(enc)
	if err != nil || !back.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Errorf("ParseKey = %v", err)
	}
	if _, err := ParseKey([]byte("junk")); err == nil {
		t.Error("ParseKey accepted junk")
	}
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// TestMakeNamedCSR: the subject is the one asked for, and the request is
// signed by the key it carries.
func TestMakeNamedCSR(t *testing.T) {
	key, _ := NewKey()
	data, err := MakeNamedCSR(key, "user:alice")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("MakeNamedCSR = %q, want a PEM CERTIFICATE REQUEST", data)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "user:alice" || csr.CheckSignature() != nil || !key.PublicKey.Equal(csr.PublicKey) {
		t.Errorf("CN %q, signature %v, key matches %v", csr.Subject.CommonName, csr.CheckSignature(), key.PublicKey.Equal(csr.PublicKey))
	}
}

// What IssueTLSDER reports without parsing is what the certificate says,
// for every accepted key type.
func TestIssueTLSDERDescribesItsCertificate(t *testing.T) {
	caKey, caCert := testCA(t)
	ecKey, _ := NewKey()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []crypto.PublicKey{ecKey.Public(), edPub, rsaKey.Public()} {
		issued, err := IssueTLSDER(caKey, caCert, pub, TLSGrant{CommonName: "n", Usage: ClientAuth, Lifetime: time.Hour}, time.Now())
		if err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
		cert, err := ParseCert(issued.PEM())
		if err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
		if !bytes.Equal(cert.RawSubjectPublicKeyInfo, issued.SPKI) || cert.SerialNumber.Cmp(issued.Serial) != 0 || !cert.NotAfter.Equal(issued.NotAfter) {
			t.Errorf("%T: reported serial %x, expiry %v, key info %x; the certificate has %x, %v, %x", pub, issued.Serial, issued.NotAfter, issued.SPKI, cert.SerialNumber, cert.NotAfter, cert.RawSubjectPublicKeyInfo)
		}
		if err := cert.CheckSignatureFrom(caCert); err != nil {
			t.Errorf("%T: %v", pub, err)
		}
	}
}

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
	"encoding/asn1"
	"encoding/pem"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"
)

// fuzzNow is the fixed clock of the signing fuzz targets, so a crash found
// once reproduces.
var fuzzNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fuzzTLSGrants are the fixed grants a fuzzed request is signed under: one
// per usage, the server one with a URI marker like the keyserver's own.
var fuzzTLSGrants = []TLSGrant{
	{CommonName: "admin", Organizations: []string{"system:masters"}, Usage: ClientAuth, Lifetime: time.Hour},
	{CommonName: "node1.cluster.example.org", Organizations: []string{"system:nodes"},
		Names: []string{"node1.cluster.example.org", "192.0.2.21"}, Usage: ClientAuth | ServerAuth, Lifetime: 6 * time.Hour},
	{CommonName: "keyserver", Names: []string{"supervisor.cluster.example.org", "192.0.2.10"},
		URIs: []string{"urn:homeworld:fuzz-marker"}, Usage: ServerAuth, Lifetime: 24 * time.Hour},
}

// fuzzCA is a throwaway authority for the signing fuzz targets.
func fuzzCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := NewKey()
	tmpl := &x509.Certificate{
		SerialNumber: bigOne(), Subject: pkix.Name{CommonName: "fuzz ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: fuzzNow.Add(-time.Hour), NotAfter: fuzzNow.Add(48 * time.Hour), KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// FuzzSignTLS feeds arbitrary request bytes to SignTLS with a fixed grant.
// Whatever the request says, an issued certificate takes only its public key
// from it: everything else is the grant's and the authority's.
func FuzzSignTLS(f *testing.F) {
	for _, csr := range seedCSRs(f) {
		for g := range fuzzTLSGrants {
			f.Add(csr, uint8(g))
		}
	}
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"), uint8(0))
	f.Add([]byte{}, uint8(1))
	caKey, caCert := fuzzCA(f)
	f.Fuzz(func(t *testing.T, csrPEM []byte, grant uint8) {
		g := fuzzTLSGrants[int(grant)%len(fuzzTLSGrants)]
		cert, err := SignTLS(caKey, caCert, csrPEM, g, fuzzNow)
		if err != nil {
			return
		}
		checkGrantedTLS(t, cert, caCert, csrPEM, g)
	})
}

// seedCSRs are well-signed requests: plain ones of every accepted key type,
// refused key types, and one asking for everything a request must not get.
func seedCSRs(t testing.TB) [][]byte {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	var out [][]byte
	for _, k := range []crypto.Signer{p256, p384, p224, ed, rsa2048, rsa1024} {
		csr, err := MakeCSR(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, csr)
	}
	ca := mustMarshal(t, struct {
		IsCA    bool
		PathLen int
	}{true, 5})
	evil := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}, Country: []string{"XX"}},
		DNSNames:       []string{"kubernetes.default", "*.cluster.example.org"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		EmailAddresses: []string{"root@example.org"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "cluster", Path: "/admin"}},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: ca},
			{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}},
		},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, evil, p256)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsExtensions are the only extensions IssueTLS may put in a certificate.
var tlsExtensions = []string{
	"2.5.29.15", // key usage
	"2.5.29.37", // extended key usage
	"2.5.29.19", // basic constraints
	"2.5.29.17", // subject alternative names
	"2.5.29.35", // authority key id, from the authority's certificate
}

func checkGrantedTLS(t *testing.T, cert, caCert *x509.Certificate, csrPEM []byte, g TLSGrant) {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatalf("SignTLS accepted a request that does not parse: %v", err)
	}
	if k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(csr.PublicKey) {
		t.Errorf("certified key %T is not the request's %T", cert.PublicKey, csr.PublicKey)
	}
	if err := acceptableKey(cert.PublicKey); err != nil {
		t.Errorf("certified a key below the floor: %v", err)
	}
	if err := cert.CheckSignatureFrom(caCert); err != nil || !bytes.Equal(cert.RawIssuer, caCert.RawSubject) {
		t.Errorf("issuer %q, signature: %v", cert.Issuer, err)
	}
	subject := mustMarshal(t, pkix.Name{CommonName: g.CommonName, Organization: g.Organizations}.ToRDNSequence())
	if !bytes.Equal(cert.RawSubject, subject) {
		t.Errorf("subject %q is not the grant's", cert.Subject)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if names := append(slices.Clone(cert.DNSNames), ips...); !slices.Equal(names, g.Names) {
		t.Errorf("names %v, grant %v", names, g.Names)
	}
	var uris []string
	for _, u := range cert.URIs {
		uris = append(uris, u.String())
	}
	if !slices.Equal(uris, g.URIs) || len(cert.EmailAddresses) > 0 {
		t.Errorf("URIs %v (grant %v), emails %v", uris, g.URIs, cert.EmailAddresses)
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := cert.PublicKey.(*rsa.PublicKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	var ext []x509.ExtKeyUsage
	if g.Usage&ClientAuth != 0 {
		ext = append(ext, x509.ExtKeyUsageClientAuth)
	}
	if g.Usage&ServerAuth != 0 {
		ext = append(ext, x509.ExtKeyUsageServerAuth)
	}
	if cert.KeyUsage != usage || !slices.Equal(cert.ExtKeyUsage, ext) || len(cert.UnknownExtKeyUsage) > 0 {
		t.Errorf("usage %v %v %v, want %v %v", cert.KeyUsage, cert.ExtKeyUsage, cert.UnknownExtKeyUsage, usage, ext)
	}
	if cert.IsCA || !cert.BasicConstraintsValid {
		t.Errorf("IsCA %v, basic constraints %v", cert.IsCA, cert.BasicConstraintsValid)
	}
	if !cert.NotBefore.Equal(fuzzNow.Add(-Backdate)) || !cert.NotAfter.Equal(fuzzNow.Add(g.Lifetime)) {
		t.Errorf("validity %v..%v", cert.NotBefore, cert.NotAfter)
	}
	for _, e := range cert.Extensions {
		if !slices.Contains(tlsExtensions, e.Id.String()) {
			t.Errorf("unexpected extension %v (critical %v)", e.Id, e.Critical)
		}
	}
}

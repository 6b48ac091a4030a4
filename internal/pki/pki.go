// Package pki makes the cryptographic objects of the keysystem: node and
// admin key pairs, certificate requests, and certificates issued from an
// authority with parameters fixed by policy (never taken from the request).
// The keyserver issues with it; the keyclient and spire request with it.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"golang.org/x/crypto/ssh"
)

// NewKey makes an ECDSA P-256 key, the keysystem's key type for TLS.
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// EncodeKey renders a private key as a PKCS#8 PEM block.
func EncodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey reads a private key PEM (PKCS#8, or the SEC1/PKCS#1 forms other
// tools write).
func ParseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM private key found")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "OPENSSH PRIVATE KEY":
		k, err = ssh.ParseRawPrivateKey(data)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	if p, ok := k.(*ed25519.PrivateKey); ok {
		k = *p
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", k)
	}
	return s, nil
}

// MakeCSR builds a certificate request for key. Its subject is a placeholder:
// the keyserver decides every name in the certificate.
func MakeCSR(key crypto.Signer) ([]byte, error) {
	return MakeNamedCSR(key, "homeworld-request")
}

// MakeNamedCSR builds a certificate request for key whose subject is
// commonName, for the grants where the requester names the subject and the
// keyserver checks it (user-grant's user:<name>).
func MakeNamedCSR(key crypto.Signer, commonName string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName},
	}, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCert reads exactly one PEM certificate.
func ParseCert(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("expected a PEM CERTIFICATE block")
	}
	if b, _ := pem.Decode(rest); b != nil {
		return nil, errors.New("more than one PEM block where one certificate was expected")
	}
	return x509.ParseCertificate(block.Bytes)
}

// EncodeCert renders a certificate as PEM.
func EncodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Usage is what a certificate may authenticate: a client, a server, or
// both. Each grant says which; nothing gets both by default, so a client
// credential can never pose as a server.
type Usage uint8

// Usages.
const (
	ClientAuth Usage = 1 << iota
	ServerAuth
)

// TLSGrant fixes everything in an issued certificate except its public key.
type TLSGrant struct {
	CommonName    string
	Organizations []string
	Names         []string // DNS names and IP addresses
	URIs          []string // URI names (the keyserver's own marker)
	Usage         Usage
	Lifetime      time.Duration
}

// Backdate is how far before "now" certificates become valid, to tolerate
// clocks that run slightly behind the keyserver's.
const Backdate = time.Minute

// SignTLS issues a certificate from ca for the public key of csrPEM, after
// checking the request's self-signature. Only the key is taken from the
// request; subject and names come from g.
func SignTLS(ca crypto.Signer, caCert *x509.Certificate, csrPEM []byte, g TLSGrant, now time.Time) (*x509.Certificate, error) {
	issued, err := SignTLSDER(ca, caCert, csrPEM, g, now)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(issued.DER)
}

// SignTLSDER is SignTLS without parsing the certificate back, for a caller
// that only passes it on (the keyserver).
func SignTLSDER(ca crypto.Signer, caCert *x509.Certificate, csrPEM []byte, g TLSGrant, now time.Time) (*Issued, error) {
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	return IssueTLSDER(ca, caCert, csr.PublicKey, g, now)
}

// Issued is a certificate as it was signed: its DER, and what it says
// that callers report (serial, expiry, the certified key), taken from what
// went into it rather than by parsing it back.
type Issued struct {
	DER      []byte
	Serial   *big.Int
	NotAfter time.Time
	SPKI     []byte // the SubjectPublicKeyInfo, DER, as in the certificate
}

// PEM is the certificate as PEM.
func (i *Issued) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.DER})
}

// ParseCSR decodes one PEM certificate request and checks its
// self-signature and key.
func ParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("body is not a PEM CERTIFICATE REQUEST")
	}
	if b, _ := pem.Decode(rest); b != nil {
		return nil, errors.New("body holds more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate request does not parse: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature is invalid: %w", err)
	}
	if err := acceptableKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// IssueTLS issues a certificate for pub directly (spire's local admin path).
func IssueTLS(ca crypto.Signer, caCert *x509.Certificate, pub crypto.PublicKey, g TLSGrant, now time.Time) (*x509.Certificate, error) {
	issued, err := IssueTLSDER(ca, caCert, pub, g, now)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(issued.DER)
}

// IssueTLSDER is IssueTLS without parsing the certificate back.
// x509.CreateCertificate has checked its signature already.
func IssueTLSDER(ca crypto.Signer, caCert *x509.Certificate, pub crypto.PublicKey, g TLSGrant, now time.Time) (*Issued, error) {
	tmpl, err := TLSTemplate(pub, g, now)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, ca)
	if err != nil {
		return nil, err
	}
	// The certificate holds whole seconds.
	return &Issued{DER: der, Serial: tmpl.SerialNumber, NotAfter: tmpl.NotAfter.UTC().Truncate(time.Second), SPKI: spki}, nil
}

// TLSTemplate is the certificate IssueTLS signs for pub under g, with a
// fresh random serial: all of it but the issuer and the signature.
func TLSTemplate(pub crypto.PublicKey, g TLSGrant, now time.Time) (*x509.Certificate, error) {
	if g.Lifetime <= 0 {
		return nil, errors.New("grant has no lifetime")
	}
	if g.Usage == 0 || g.Usage&^(ClientAuth|ServerAuth) != 0 {
		return nil, errors.New("grant names no valid key usage (client, server or both)")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: g.CommonName, Organization: g.Organizations},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(g.Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if g.Usage&ClientAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if g.Usage&ServerAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, u := range g.URIs {
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("grant URI %q: %w", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, n := range g.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl, nil
}

func acceptableKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s is not accepted (use P-256 or P-384)", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (use at least 2048)", k.N.BitLen())
		}
	default:
		return fmt.Errorf("key type %T is not accepted", pub)
	}
	return nil
}

package kubetest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"homeworld.dev/homeworld/internal/pki"
)

// lifetime of the throwaway certificates: longer than any test.
const lifetime = 24 * time.Hour

// credentials are the files of one test apiserver.
type credentials struct {
	ca, caKey             string // the one CA: serving and client certificates
	serverCert, serverKey string // for 127.0.0.1 and localhost
	adminCert, adminKey   string // O=system:masters
	saKey, saPub          string // service-account token signing
}

// writeCredentials makes a CA, the apiserver's serving certificate, an
// admin client certificate and a service-account key pair in dir.
func writeCredentials(dir string) (credentials, error) {
	c := credentials{
		ca: filepath.Join(dir, "ca.pem"), caKey: filepath.Join(dir, "ca.key"),
		serverCert: filepath.Join(dir, "apiserver.pem"), serverKey: filepath.Join(dir, "apiserver.key"),
		adminCert: filepath.Join(dir, "admin.pem"), adminKey: filepath.Join(dir, "admin.key"),
		saKey: filepath.Join(dir, "serviceaccount.key"), saPub: filepath.Join(dir, "serviceaccount.pub"),
	}
	now := time.Now()
	caKey, err := pki.NewKey()
	if err != nil {
		return c, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return c, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubetest CA"},
		NotBefore:             now.Add(-pki.Backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return c, err
	}
	caCert, err := x509.ParseCertificate(der)
	if err != nil {
		return c, err
	}
	if err := os.WriteFile(c.ca, pki.EncodeCert(caCert), 0o644); err != nil {
		return c, err
	}
	if err := writeKey(c.caKey, caKey); err != nil {
		return c, err
	}
	for _, leaf := range []struct {
		cert, key string
		grant     pki.TLSGrant
	}{
		{c.serverCert, c.serverKey, pki.TLSGrant{CommonName: "kube-apiserver", Names: []string{"127.0.0.1", "localhost"}, Usage: pki.ServerAuth, Lifetime: lifetime}},
		{c.adminCert, c.adminKey, pki.TLSGrant{CommonName: "kubetest-admin", Organizations: []string{"system:masters"}, Usage: pki.ClientAuth, Lifetime: lifetime}},
	} {
		key, err := pki.NewKey()
		if err != nil {
			return c, err
		}
		cert, err := pki.IssueTLS(caKey, caCert, key.Public(), leaf.grant, now)
		if err != nil {
			return c, err
		}
		if err := writeKey(leaf.key, key); err != nil {
			return c, err
		}
		if err := os.WriteFile(leaf.cert, pki.EncodeCert(cert), 0o644); err != nil {
			return c, err
		}
	}
	saKey, err := pki.NewKey()
	if err != nil {
		return c, err
	}
	if err := writeKey(c.saKey, saKey); err != nil {
		return c, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return c, err
	}
	return c, os.WriteFile(c.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

func writeKey(path string, key crypto.Signer) error {
	data, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

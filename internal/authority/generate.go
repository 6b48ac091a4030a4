package authority

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ssh"
)

// Lifetime of authority certificates. Authorities are replaced only by
// rebuilding the cluster's trust, so they outlive any plausible cluster.
const Lifetime = 25 * 365 * 24 * time.Hour

// Generate creates a fresh set of authorities in memory. org names the
// cluster in certificate subjects so CAs of different clusters are told apart
// in trust stores.
func Generate(org string, now time.Time) (*Set, error) {
	set := &Set{}
	for _, spec := range Specs {
		a := &Authority{Spec: spec}
		var err error
		if spec.Type == SSH {
			err = genSSH(a)
		} else {
			err = genTLS(a, org, now)
		}
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", spec.Name, err)
		}
		set.List = append(set.List, a)
	}
	return set, nil
}

func genSSH(a *Authority) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	a.SSHKey, err = ssh.NewPublicKey(pub)
	a.Signer = priv
	return err
}

func genTLS(a *Authority, org string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "homeworld " + string(a.Name) + " authority",
			Organization: []string{org},
		},
		// Backdated a little so nodes with slightly slow clocks accept it.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Lifetime),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if a.CA {
		tmpl.IsCA = true
		tmpl.MaxPathLenZero = true // issues leaf certificates only
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	a.Cert, err = x509.ParseCertificate(der)
	a.Signer = key
	return err
}

// matches reports whether signer is the private half of pub.
func matches(pub crypto.PublicKey, signer crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := signer.Public().(equaler)
	return ok && e.Equal(pub)
}

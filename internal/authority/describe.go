package authority

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Summary is what `spire authority show` prints about one authority.
type Summary struct {
	Name        Name       `json:"name"`
	Type        Type       `json:"type"`
	Algorithm   string     `json:"algorithm"`
	Fingerprint string     `json:"fingerprint"`
	NotBefore   *time.Time `json:"not_before,omitempty"` // nil: SSH keys carry no validity
	NotAfter    *time.Time `json:"not_after,omitempty"`
	Purpose     string     `json:"purpose"`
}

// Summarize describes an authority. TLS fingerprints are SHA-256 over the
// certificate in openssl's colon-hex form; SSH ones are in ssh-keygen's form,
// so both can be checked with the usual tools.
func (a *Authority) Summarize() Summary {
	s := Summary{Name: a.Name, Type: a.Type, Purpose: a.Purpose}
	if a.Type == SSH {
		s.Algorithm = a.SSHKey.Type()
		if a.SSHKey.Type() == ssh.KeyAlgoED25519 {
			s.Algorithm = "Ed25519"
		}
		s.Fingerprint = ssh.FingerprintSHA256(a.SSHKey)
		return s
	}
	switch k := a.Cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		s.Algorithm = "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		s.Algorithm = "Ed25519"
	default:
		s.Algorithm = a.Cert.PublicKeyAlgorithm.String()
	}
	sum := sha256.Sum256(a.Cert.Raw)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	s.Fingerprint = "SHA256:" + strings.Join(hexes, ":")
	nb, na := a.Cert.NotBefore.UTC(), a.Cert.NotAfter.UTC()
	s.NotBefore, s.NotAfter = &nb, &na
	return s
}

package usergrant

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"homeworld.dev/homeworld/internal/pki"
)

// Signer has a user's certificate request signed by the kubernetes CA:
// csrPEM's subject is user:<name>; the answer is the PEM certificate.
type Signer interface {
	Sign(ctx context.Context, csrPEM []byte) ([]byte, error)
}

// userCredential is a user's key and the certificate the signer gave for it.
type userCredential struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// BadCertError is a certificate from the signer that is not what was asked
// for; it is never handed out.
type BadCertError struct{ Reason string }

func (e *BadCertError) Error() string {
	return "the keyserver answered with a certificate that " + e.Reason
}

// issue makes a fresh key for user, has it certified and checks that the
// certificate is exactly the one asked for: user:<name>, in no group (a
// certificate in system:masters would make the user a cluster admin),
// for this key, for client authentication, from the kubernetes CA.
func issue(ctx context.Context, signer Signer, kubeCA *x509.CertPool, user string, now time.Time) (*userCredential, error) {
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.MakeNamedCSR(key, KubeUser(user))
	if err != nil {
		return nil, err
	}
	certPEM, err := signer.Sign(ctx, csr)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return nil, &BadCertError{Reason: "does not parse: " + err.Error()}
	}
	switch {
	case cert.Subject.CommonName != KubeUser(user):
		return nil, &BadCertError{Reason: fmt.Sprintf("names %q, not %q", cert.Subject.CommonName, KubeUser(user))}
	case len(cert.Subject.Organization) > 0:
		return nil, &BadCertError{Reason: fmt.Sprintf("puts the user in groups %q", cert.Subject.Organization)}
	case !key.PublicKey.Equal(cert.PublicKey):
		return nil, &BadCertError{Reason: "is for another key"}
	case !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth):
		return nil, &BadCertError{Reason: "is not for client authentication"}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: kubeCA, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, &BadCertError{Reason: "the kubernetes CA does not verify: " + err.Error()}
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return &userCredential{Cert: cert, CertPEM: pki.EncodeCert(cert), KeyPEM: keyPEM}, nil
}

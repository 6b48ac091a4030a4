package keyclient

import (
	"crypto"
	"encoding/pem"
	"errors"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/pki"
)

// inspect reads the installed credential from disk: whether it is there and,
// for certificates, when it expires and when to renew it. A certificate
// counts only with its own key beside it: a key that was lost, emptied or
// replaced makes the certificate due again.
func (a *Agent) inspect(c credential.Credential, st *credState, now time.Time) {
	path := a.opts.Node.Path(c.Path)
	a.tighten(path, c.Mode)
	data, err := os.ReadFile(path)
	present := err == nil && len(data) > 0
	var notBefore, notAfter time.Time
	if present && c.Expires() {
		var pub crypto.PublicKey
		notBefore, notAfter, pub, err = certificate(c, data)
		if err != nil || !now.Before(notAfter) {
			present = false
		} else if key, err := a.readKey(a.opts.Node.Path(c.KeyPath)); err != nil || !publicKeysEqual(key.Public(), pub) {
			present = false
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st.present = present
	if !present || !c.Expires() {
		st.expires, st.renewAt = time.Time{}, time.Time{}
		if present && st.fetchedAt.IsZero() {
			st.fetchedAt = fileTime(a.opts.Node.Path(c.Path))
		}
		a.metrics.setExpiry(c.Name, time.Time{})
		return
	}
	if !notAfter.Equal(st.expires) {
		st.expires = notAfter
		st.renewAt = renewPoint(notBefore, notAfter, a.renewFraction())
	}
	a.metrics.setExpiry(c.Name, notAfter)
}

// certificate reads an installed certificate's validity and public key.
func certificate(c credential.Credential, data []byte) (notBefore, notAfter time.Time, pub crypto.PublicKey, err error) {
	if c.Type == credential.SSHCert {
		cert, err := parseSSHCert(data)
		if err != nil {
			return time.Time{}, time.Time{}, nil, err
		}
		if k, ok := cert.Key.(ssh.CryptoPublicKey); ok {
			pub = k.CryptoPublicKey()
		}
		return time.Unix(int64(cert.ValidAfter), 0), pki.SSHExpiry(cert), pub, nil
	}
	cert, err := pki.ParseCert(data)
	if err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	return cert.NotBefore, cert.NotAfter, cert.PublicKey, nil
}

func parseSSHCert(data []byte) (*ssh.Certificate, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, err
	}
	cert, ok := k.(*ssh.Certificate)
	if !ok {
		return nil, errors.New("not an SSH certificate")
	}
	return cert, nil
}

func fileTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

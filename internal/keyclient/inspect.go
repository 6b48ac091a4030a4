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
// for certificates, when it expires and when to renew it.
func (a *Agent) inspect(c credential.Credential, st *credState, now time.Time) {
	data, err := os.ReadFile(a.opts.Node.Path(c.Path))
	present := err == nil && len(data) > 0
	var notBefore, notAfter time.Time
	if present && c.Expires() {
		notBefore, notAfter, err = validity(c, data)
		if err != nil || !now.Before(notAfter) {
			present = false
		}
		if _, kerr := os.Stat(a.opts.Node.Path(c.KeyPath)); kerr != nil {
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
		// Certificates are backdated by pki.Backdate for clock skew; the
		// lifetime that matters starts when they were issued.
		issued := notBefore.Add(pki.Backdate)
		if issued.After(notAfter) {
			issued = notBefore
		}
		st.expires = notAfter
		st.renewAt = issued.Add(time.Duration(float64(notAfter.Sub(issued)) * renewFraction()))
	}
	a.metrics.setExpiry(c.Name, notAfter)
}

func validity(c credential.Credential, data []byte) (time.Time, time.Time, error) {
	if c.Type == credential.SSHCert {
		cert, err := parseSSHCert(data)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		return time.Unix(int64(cert.ValidAfter), 0), pki.SSHExpiry(cert), nil
	}
	cert, err := pki.ParseCert(data)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return cert.NotBefore, cert.NotAfter, nil
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

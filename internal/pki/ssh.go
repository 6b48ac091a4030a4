package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHGrant fixes everything in an issued SSH certificate except its key.
type SSHGrant struct {
	KeyID      string
	Principals []string
	Host       bool
	Lifetime   time.Duration
}

// SignSSH certifies the public key given as one authorized_keys line, if its
// type and size meet the keysystem's floor.
func SignSSH(ca ssh.Signer, pubLine []byte, g SSHGrant, now time.Time) (*ssh.Certificate, error) {
	pub, _, _, rest, err := ssh.ParseAuthorizedKey(pubLine)
	if err != nil {
		if t := declaredSSHKeyType(pubLine); t != "" && !sshKeyTypes[t] {
			return nil, errSSHKeyType(t)
		}
		return nil, fmt.Errorf("body is not an SSH public key: %w", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("body holds more than one SSH public key")
	}
	if _, isCert := pub.(*ssh.Certificate); isCert {
		return nil, errors.New("body is already a certificate; send the plain public key")
	}
	if err := acceptableSSHKey(pub); err != nil {
		return nil, err
	}
	return IssueSSH(ca, pub, g, now)
}

// IssueSSH certifies pub directly.
func IssueSSH(ca ssh.Signer, pub ssh.PublicKey, g SSHGrant, now time.Time) (*ssh.Certificate, error) {
	if g.Lifetime < time.Second {
		return nil, errors.New("grant lifetime is under a second")
	}
	if len(g.Principals) == 0 {
		return nil, errors.New("grant names no principals; refusing a wildcard certificate")
	}
	var serial [8]byte
	if _, err := rand.Read(serial[:]); err != nil {
		return nil, err
	}
	cert := &ssh.Certificate{
		Key:             pub,
		Serial:          binary.BigEndian.Uint64(serial[:]),
		CertType:        ssh.UserCert,
		KeyId:           g.KeyID,
		ValidPrincipals: g.Principals,
		ValidAfter:      uint64(now.Add(-Backdate).Unix()),
		ValidBefore:     uint64(now.Add(g.Lifetime).Unix()),
	}
	if g.Host {
		cert.CertType = ssh.HostCert
	} else {
		cert.Permissions.Extensions = map[string]string{"permit-pty": ""}
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		return nil, err
	}
	return cert, nil
}

// SSHExpiry is when an SSH certificate stops being valid.
func SSHExpiry(c *ssh.Certificate) time.Time { return time.Unix(int64(c.ValidBefore), 0) }

// NewSSHKey makes an Ed25519 key, the keysystem's key type for SSH.
func NewSSHKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

package access

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/sshconfig"
)

// SSHKeyPath is the admin's SSH key in folder dir (the workspace). Its
// certificate goes beside it as SSHKeyPath(dir)+"-cert.pub", where ssh
// looks for it.
func SSHKeyPath(dir string) string { return filepath.Join(dir, "ssh-key") }

// LoadOrCreateSSHKey returns the Ed25519 SSH key at path, making it (and
// path.pub) on first use. The private key never leaves this machine: only
// its public half is sent to be certified.
func LoadOrCreateSSHKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := ssh.ParseRawPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if p, ok := k.(*ed25519.PrivateKey); ok {
			return *p, nil
		}
		return nil, fmt.Errorf("%s is not an Ed25519 key", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := pki.NewSSHKey()
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(crypto.PrivateKey(key), "homeworld admin key")
	if err != nil {
		return nil, err
	}
	if err := renameio.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	pub, _ := ssh.NewPublicKey(key.Public())
	if err := renameio.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		return nil, err
	}
	return key, nil
}

// WriteSSHCert certifies the key at keyPath (made on first use) for root
// logins on every node and writes the certificate beside it.
func (a *Admin) WriteSSHCert(ctx context.Context, keyPath string) (ed25519.PrivateKey, *ssh.Certificate, error) {
	key, err := LoadOrCreateSSHKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	res, err := a.SSHCert(ctx, ssh.MarshalAuthorizedKey(pub))
	if err != nil {
		return nil, nil, err
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(res))
	if err != nil {
		return nil, nil, fmt.Errorf("keyserver returned a bad certificate: %w", err)
	}
	cert, ok := k.(*ssh.Certificate)
	if !ok {
		return nil, nil, errors.New("keyserver returned a key, not a certificate")
	}
	if err := renameio.WriteFile(keyPath+"-cert.pub", []byte(res), 0o644); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// AddToAgent adds key with its certificate to the ssh-agent listening on
// sock, for as long as the certificate is valid, so the agent drops it
// when it expires.
func AddToAgent(sock string, key ed25519.PrivateKey, cert *ssh.Certificate) error {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer conn.Close()
	return agent.NewClient(conn).Add(agent.AddedKey{
		PrivateKey:   key,
		Certificate:  cert,
		Comment:      "homeworld " + cert.KeyId,
		LifetimeSecs: uint32(max(time.Until(pki.SSHExpiry(cert)), time.Second) / time.Second),
	})
}

// UpdateKnownHosts makes the known_hosts file at path (empty: the user's
// ~/.ssh/known_hosts) trust hostCA for every host under domain, adding or
// replacing one @cert-authority line and keeping the others. It returns the
// path it wrote.
func UpdateKnownHosts(path, domain string, hostCA ssh.PublicKey) (string, error) {
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		path = filepath.Join(home, ".ssh", "known_hosts")
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	updated := sshconfig.UpdateKnownHosts(string(old), domain, hostCA)
	return path, renameio.WriteFile(path, []byte(updated), 0o644)
}

// SSHCertValid reports whether an admin certificate is usable for at least
// another minute.
func SSHCertValid(c *ssh.Certificate) bool {
	now := time.Now()
	return time.Unix(int64(c.ValidAfter), 0).Before(now) && pki.SSHExpiry(c).After(now.Add(time.Minute))
}

package keyclient

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/sshconfig"
	"homeworld.dev/homeworld/internal/token"
)

// errBlocked marks an attempt that could not start because something else
// must happen first; it is retried without logging.
var errBlocked = errors.New("blocked")

// obtain fetches one credential from the keyserver and installs it.
func (a *Agent) obtain(ctx context.Context, c credential.Credential) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var data []byte
	var err error
	switch c.Type {
	case credential.Authority:
		data, err = a.client.Pub(ctx, c.Source)
	case credential.Static:
		data, err = a.client.Static(ctx, c.Source)
	case credential.Text:
		if err := a.needIdentity(); err != nil {
			return err
		}
		var res string
		res, err = a.client.Call1(ctx, "", c.Source, "")
		data = []byte(res)
	case credential.TLSCert:
		data, err = a.requestTLS(ctx, c)
	case credential.SSHCert:
		data, err = a.requestSSH(ctx, c)
	default:
		return fmt.Errorf("unknown credential type %q", c.Type)
	}
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return errors.New("keyserver returned nothing")
	}
	if err := writeFile(a.opts.Node.Path(c.Path), data, c.Mode); err != nil {
		return err
	}
	if c.Name == credential.Granting.Name {
		a.loadIdentity()
	}
	if c.Type == credential.SSHCert {
		return writeFile(a.opts.Node.SSHDConfig(), []byte(sshconfig.SSHDConfig(sshconfig.SSHDPaths{HostKey: c.KeyPath, UserCA: layout.SSHDir + "/ssh_user_ca.pub"})), 0o644)
	}
	return nil
}

func (a *Agent) needIdentity() error {
	if a.currentIdentity() == nil {
		return fmt.Errorf("%w: no node identity yet", errBlocked)
	}
	return nil
}

// requestTLS sends a CSR for the credential's local key. The identity
// itself is requested with the admission token while the node has none.
func (a *Agent) requestTLS(ctx context.Context, c credential.Credential) ([]byte, error) {
	keyPath := a.opts.Node.Path(c.KeyPath)
	key, err := ensureKey(keyPath, func() (crypto.Signer, error) { return pki.NewKey() })
	if err != nil {
		return nil, err
	}
	csr, err := pki.MakeCSR(key)
	if err != nil {
		return nil, err
	}
	tok := ""
	if c.Name == credential.Granting.Name && a.currentIdentity() == nil {
		if tok, err = a.readToken(); err != nil {
			return nil, err
		}
	} else if err := a.needIdentity(); err != nil {
		return nil, err
	}
	res, err := a.client.Call1(ctx, tok, c.Source, string(csr))
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCert([]byte(res))
	if err != nil {
		return nil, fmt.Errorf("keyserver returned a bad certificate: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("keyserver returned a certificate for another key")
	}
	if tok != "" {
		// Spent: remove it so nobody reads it later. Failing to is harmless.
		os.Remove(a.opts.Node.BootstrapToken())
	}
	return []byte(res), nil
}

func (a *Agent) readToken() (string, error) {
	data, err := os.ReadFile(a.opts.Node.BootstrapToken())
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: no node identity and no admission token in %s (admit the node with `spire infra admit`)", errBlocked, a.opts.Node.BootstrapToken())
	}
	if err != nil {
		return "", err
	}
	tok, err := token.Check(string(data))
	if err != nil {
		return "", fmt.Errorf("admission token in %s: %w", a.opts.Node.BootstrapToken(), err)
	}
	return tok, nil
}

// requestSSH certifies the node's SSH host key, making one if the host has
// none.
func (a *Agent) requestSSH(ctx context.Context, c credential.Credential) ([]byte, error) {
	if err := a.needIdentity(); err != nil {
		return nil, err
	}
	keyPath := a.opts.Node.Path(c.KeyPath)
	key, err := ensureKey(keyPath, func() (crypto.Signer, error) { return pki.NewSSHKey() })
	if err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	pubLine := ssh.MarshalAuthorizedKey(pub)
	if err := writeFileIfAbsent(keyPath+".pub", pubLine, 0o644); err != nil {
		return nil, err
	}
	res, err := a.client.Call1(ctx, "", c.Source, string(pubLine))
	if err != nil {
		return nil, err
	}
	cert, err := parseSSHCert([]byte(res))
	if err != nil {
		return nil, err
	}
	if string(cert.Key.Marshal()) != string(pub.Marshal()) {
		return nil, errors.New("keyserver returned an SSH certificate for another key")
	}
	return []byte(res), nil
}

// loadIdentity reads the node's keygranting key and certificate, if both
// exist and match.
func (a *Agent) loadIdentity() {
	n := a.opts.Node
	pair, err := tls.LoadX509KeyPair(n.GrantingCert(), n.GrantingKey())
	if err != nil {
		return
	}
	a.mu.Lock()
	a.identity = &pair
	a.mu.Unlock()
	// Connections made before (anonymously, or with the old certificate)
	// must not be reused: the identity is bound at the TLS handshake.
	if a.client != nil {
		a.client.Close()
	}
}

// ensureKey loads the private key at path, creating it (mode 0600, never
// replacing an existing file) if absent.
func ensureKey(path string, gen func() (crypto.Signer, error)) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return pki.ParseKey(data)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := gen()
	if err != nil {
		return nil, err
	}
	var encoded []byte
	if ed, ok := key.(ed25519.PrivateKey); ok {
		block, err := ssh.MarshalPrivateKey(ed, "")
		if err != nil {
			return nil, err
		}
		encoded = pemEncode(block)
	} else if encoded, err = pki.EncodeKey(key); err != nil {
		return nil, err
	}
	if err := writeFileIfAbsent(path, encoded, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(path, data, mode)
}

// writeFileIfAbsent creates path exclusively, so two writers never clobber
// a key that is already in use.
func writeFileIfAbsent(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteNew(path, data, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// renewFraction picks when, as a fraction of its lifetime, to renew a
// credential: about two thirds, spread so nodes admitted together do not
// all renew together.
func renewFraction() float64 { return 0.62 + 0.08*rand.Float64() }

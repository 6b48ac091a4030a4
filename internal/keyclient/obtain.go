package keyclient

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/sshconfig"
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
		data, err = a.client.Pub(ctx, c.Authority)
	case credential.Static:
		data, err = a.client.Static(ctx, c.Static)
	case credential.Text:
		if err := a.needIdentity(); err != nil {
			return err
		}
		var res string
		res, err = a.client.Call1(ctx, "", c.API, "")
		data = []byte(res)
	case credential.TLSCert:
		data, err = a.requestTLS(ctx, c)
	case credential.SSHCert:
		data, err = a.requestSSH(ctx, c)
	default:
		return fmt.Errorf("unknown credential type %q", c.Type)
	}
	var skew *skewError
	if err != nil && !(errors.As(err, &skew) && skew.install) {
		return err
	}
	if len(data) == 0 {
		return errors.New("keyserver returned nothing")
	}
	if werr := writeFile(a.opts.Node.Path(c.Path), data, c.Mode); werr != nil {
		return werr
	}
	if c.Name == credential.Granting.Name {
		a.loadIdentity()
	}
	if c.Type == credential.SSHCert {
		if werr := writeFile(a.opts.Node.SSHDConfig(), []byte(sshconfig.SSHDConfig(sshconfig.SSHDPaths{HostKey: c.KeyPath, UserCA: layout.SSHDir + "/ssh_user_ca.pub"})), 0o644); werr != nil {
			return werr
		}
	}
	return err // a certificate installed despite clock skew is still a failed attempt
}

// requestTLS sends a CSR for the credential's local key. The identity
// itself is requested with the admission token while the node has none.
func (a *Agent) requestTLS(ctx context.Context, c credential.Credential) ([]byte, error) {
	keyPath := a.opts.Node.Path(c.KeyPath)
	key, err := a.ensureKey(keyPath, func() (crypto.Signer, error) { return pki.NewKey() })
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
	res, err := a.client.Call1(ctx, tok, c.API, string(csr))
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
	fresh := a.checkFresh(cert.NotBefore, cert.NotAfter)
	if tok != "" {
		// Spent: remove it so nobody reads it later. Failing to is harmless.
		os.Remove(a.opts.Node.BootstrapToken())
		// The keyserver spent the token for this identity, which is valid
		// by its clock: keep it even if this node's clock disagrees, so
		// fixing the clock is enough and no new token is needed.
		var skew *skewError
		if errors.As(fresh, &skew) {
			skew.install = true
		}
		return []byte(res), fresh
	}
	if fresh != nil {
		return nil, fresh
	}
	return []byte(res), nil
}

// requestSSH certifies the node's SSH host key, making one if the host has
// none.
func (a *Agent) requestSSH(ctx context.Context, c credential.Credential) ([]byte, error) {
	if err := a.needIdentity(); err != nil {
		return nil, err
	}
	keyPath := a.opts.Node.Path(c.KeyPath)
	key, err := a.ensureKey(keyPath, func() (crypto.Signer, error) { return pki.NewSSHKey() })
	if err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	if err := writePub(keyPath+".pub", pub); err != nil {
		return nil, err
	}
	res, err := a.client.Call1(ctx, "", c.API, string(ssh.MarshalAuthorizedKey(pub)))
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
	if err := a.checkFresh(time.Unix(int64(cert.ValidAfter), 0), pki.SSHExpiry(cert)); err != nil {
		return nil, err
	}
	return []byte(res), nil
}

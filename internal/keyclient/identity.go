package keyclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/token"
)

// loadIdentity reads the node's keygranting key and certificate. A
// certificate that cannot be read or is not for the key is no identity; an
// expired one is kept only to say when it expired: currentIdentity never
// presents it.
func (a *Agent) loadIdentity() {
	pair, err := a.readIdentity()
	a.mu.Lock()
	a.identity, a.identityErr = pair, err
	if pair != nil && a.opts.Now().Before(pair.Leaf.NotAfter) {
		a.admission, a.needsToken = "", false
	}
	a.mu.Unlock()
	// Connections made before (anonymously, or with the old certificate)
	// must not be reused: the identity is bound at the TLS handshake.
	if a.client != nil {
		a.client.Close()
	}
}

func (a *Agent) readIdentity() (*tls.Certificate, error) {
	n := a.opts.Node
	data, err := os.ReadFile(n.GrantingCert())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // never admitted
	}
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCert(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.GrantingCert(), err)
	}
	key, err := a.readKey(n.GrantingKey())
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the certificate of %s", n.GrantingCert(), n.GrantingKey())
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// currentIdentity is the identity to present, checked at each use: an
// expired one is none (the keyserver would refuse the handshake, even for
// public downloads).
func (a *Agent) currentIdentity() *tls.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.identity == nil || !a.opts.Now().Before(a.identity.Leaf.NotAfter) {
		return nil
	}
	return a.identity
}

func (a *Agent) needIdentity() error {
	if a.currentIdentity() == nil {
		return fmt.Errorf("%w: no node identity yet", errBlocked)
	}
	return nil
}

// readToken reads the admission token the node's identity is obtained with
// while it has none.
func (a *Agent) readToken() (string, error) {
	data, err := os.ReadFile(a.opts.Node.BootstrapToken())
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", errBlocked, a.needAdmission())
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

// needAdmission says, in the log once and in a metric, what an admin must
// do for a node with neither a usable identity nor a token.
func (a *Agent) needAdmission() string {
	now := a.opts.Now()
	admit := "spire infra admit " + a.hostname()
	a.mu.Lock()
	id, idErr, skew := a.identity, a.identityErr, a.skew
	msg, needed := "", true
	switch {
	case id != nil && skew > pki.Backdate && now.Add(-skew).Before(id.Leaf.NotAfter):
		// Valid by the keyserver's clock: only this node's is wrong.
		msg, needed = fmt.Sprintf("node identity expired at %s by this node's clock: %s", id.Leaf.NotAfter.UTC().Format(time.RFC3339), clockOff(skew, "about")), false
	case id != nil:
		msg = fmt.Sprintf("node identity expired at %s; admit the node again: %s", id.Leaf.NotAfter.UTC().Format(time.RFC3339), admit)
	case idErr != nil:
		msg = fmt.Sprintf("node identity is unusable (%v); admit the node again: %s", idErr, admit)
	default:
		msg = fmt.Sprintf("no node identity and no admission token in %s (admit the node: %s)", a.opts.Node.BootstrapToken(), admit)
	}
	changed := msg != a.admission
	a.admission, a.needsToken = msg, needed
	a.mu.Unlock()
	if changed {
		a.opts.Logf("keyclient: %s", msg)
	}
	return msg
}

// NeedsAdmissionToken reports whether the node waits for an admin to admit
// it (again) with a new token.
func (a *Agent) NeedsAdmissionToken() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.needsToken
}

// hostname names the node for `spire infra admit`: from local.conf, else
// from its (unusable) identity.
func (a *Agent) hostname() string {
	if host := a.localConf().Hostname; host != "" {
		return host
	}
	if data, err := os.ReadFile(a.opts.Node.GrantingCert()); err == nil {
		if cert, err := pki.ParseCert(data); err == nil && cert.Subject.CommonName != "" {
			return cert.Subject.CommonName
		}
	}
	return "NODE"
}

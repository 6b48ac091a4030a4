package keyserver

import (
	"crypto/ecdsa"
	"crypto/tls"
	"net/netip"
	"sync"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
)

// serverCerts keeps the keyserver's own HTTPS certificate: a short-lived
// certificate from clusterca for a key that exists only in memory, reissued
// well before it expires.
type serverCerts struct {
	ca   *authority.Authority
	name string
	ip   netip.Addr
	now  func() time.Time
	key  *ecdsa.PrivateKey

	mu  sync.Mutex
	cur *tls.Certificate
}

const (
	serverCertLifetime = 24 * time.Hour
	serverCertRenew    = time.Hour // before expiry
)

func newServerCerts(ca *authority.Authority, name string, ip netip.Addr, now func() time.Time) (*serverCerts, error) {
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	c := &serverCerts{ca: ca, name: name, ip: ip, now: now, key: key}
	if _, err := c.get(nil); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *serverCerts) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cur != nil && now.Before(c.cur.Leaf.NotAfter.Add(-serverCertRenew)) {
		return c.cur, nil
	}
	cert, err := pki.IssueTLS(c.ca.Signer, c.ca.Cert, c.key.Public(), pki.TLSGrant{
		CommonName: "keyserver " + c.name,
		Names:      []string{c.name, c.ip.String()},
		URIs:       []string{keyapi.ServerURI},
		Usage:      pki.ServerAuth,
		Lifetime:   serverCertLifetime,
	}, now)
	if err != nil {
		return nil, err
	}
	c.cur = &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: c.key, Leaf: cert}
	return c.cur, nil
}

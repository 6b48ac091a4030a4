package usergrant

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/certfile"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
)

// KeyserverSigner has users' certificates signed by the keyserver, as
// user-grant's keysystem account.
type KeyserverSigner struct {
	client *keyapi.Client
}

// NewKeyserverSigner is the signer of the cluster cfg's keyserver at
// address (host:port), with the identity and trust in f.
func NewKeyserverSigner(cfg *config.Config, f Files, address string, logf func(string, ...any)) (*KeyserverSigner, error) {
	caPEM, err := os.ReadFile(f.ClusterCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no certificate", f.ClusterCA)
	}
	identity := &certfile.Pair{Cert: f.IdentityCert, Key: f.IdentityKey}
	client, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: address, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool, Timeout: 20 * time.Second,
		ClientCert: func() *tls.Certificate {
			c, err := identity.Get()
			if err != nil {
				logf("user-grant: keysystem identity: %v", err)
				return nil
			}
			return c
		},
	})
	if err != nil {
		return nil, err
	}
	return &KeyserverSigner{client: client}, nil
}

// Sign has csrPEM signed; a refusal is a *keyapi.Error.
func (s *KeyserverSigner) Sign(ctx context.Context, csrPEM []byte) ([]byte, error) {
	cert, err := s.client.Call1(ctx, "", keyapi.SignKubeUser, string(csrPEM))
	if err != nil {
		return nil, err
	}
	return []byte(cert), nil
}

// Close drops idle connections.
func (s *KeyserverSigner) Close() { s.client.Close() }

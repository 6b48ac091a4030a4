package usergrant

import (
	"context"
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
	pool, err := certfile.Pool(f.ClusterCA)
	if err != nil {
		return nil, err
	}
	identity := &certfile.Pair{Cert: f.IdentityCert, Key: f.IdentityKey}
	client, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: address, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool, Timeout: 20 * time.Second,
		ClientCert: identity.ClientCert(logf),
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

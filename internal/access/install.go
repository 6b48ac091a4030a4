package access

import (
	"context"
	"crypto/x509"
	"fmt"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
)

// InstallTrust writes below n what lets its keyclient find and trust the
// keyserver: the supervisor's name and clusterCA.
func InstallTrust(n layout.Node, cfg *config.Config, clusterCA *x509.Certificate) error {
	return keyclient.InstallTrust(n, cfg.FQDN(cfg.Supervisor()), pki.EncodeCert(clusterCA))
}

// AdmitInto admits the node hostname: a fresh one-time token from the
// keyserver, written below n where its keyclient looks for it.
func (a *Admin) AdmitInto(ctx context.Context, n layout.Node, hostname string) error {
	tok, err := a.Admit(ctx, hostname)
	if err != nil {
		return fmt.Errorf("admitting %s: %w", hostname, err)
	}
	return keyclient.InstallToken(n, tok)
}

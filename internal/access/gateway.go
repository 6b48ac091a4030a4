package access

import (
	"crypto/x509"
	"fmt"

	"homeworld.dev/homeworld/internal/policy"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keygateway"
	"homeworld.dev/homeworld/internal/services"
)

// ConnectGateway connects through the supervisor's key gateway as the root
// admin whose Kerberos tickets kc holds: no disaster key, and the keyserver
// sees the gateway acting for the admin. clusterCA verifies the gateway.
func ConnectGateway(cfg *config.Config, clusterCA *x509.Certificate, kc *kerberos.Client, opts Options) (*Admin, error) {
	if cfg.Cluster.KerberosRealm == "" {
		return nil, fmt.Errorf("setup.yaml sets no cluster.kerberos-realm, so there is no key gateway; use --break-glass (the disaster key)")
	}
	account, ok := keygateway.AccountFor(cfg, kc.Principal)
	if !ok || account == policy.GatewayProbe(cfg) {
		return nil, fmt.Errorf("your Kerberos ticket is for %s, who is not in root-admins of setup.yaml (%v); kinit as an admin, or use --break-glass", kc.Principal, cfg.RootAdmins)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clusterCA)
	addr := opts.Gateway
	if addr == "" {
		addr = services.KeyGateway.Addr(cfg.Supervisor().IP)
	}
	client, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: addr, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool,
		ServerURI: keyapi.GatewayURI, Authorize: kc.Authorize(policy.GatewayService(cfg)),
		LocalAddr: opts.LocalAddr,
	})
	if err != nil {
		return nil, err
	}
	return &Admin{Principal: account, cfg: cfg, client: client}, nil
}

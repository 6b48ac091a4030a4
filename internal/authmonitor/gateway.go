package authmonitor

import (
	"context"
	"time"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"

	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
)

// checkGateway authenticates to the key gateway as the supervisor's host
// principal, with its key from the keytab and a fresh ticket from the KDC,
// and sends the empty batch: the gateway accepts the ticket and has the
// keyserver impersonate the principal, whose account holds nothing else.
// The original's keysystem_gateway_auth_check.
func (m *Monitor) checkGateway(ctx context.Context) error {
	kc, err := kerberos.FromKeytab(m.node.Path(layout.Keytab), policy.GatewayProbe(m.cfg), m.node.Path(layout.Krb5Conf))
	if err != nil {
		return err
	}
	defer kc.Destroy()
	client, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: m.Gateway, ServerName: m.cfg.FQDN(m.cfg.Supervisor()), RootCAs: m.pool,
		ServerURI: keyapi.GatewayURI, Authorize: kc.Authorize(policy.GatewayService(m.cfg)),
		Timeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = client.Call(ctx, "")
	return err
}

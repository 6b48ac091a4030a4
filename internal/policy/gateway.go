package policy

import (
	"net/netip"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
)

// GatewayPrincipal is the Kerberos key gateway's identity on the
// supervisor: it may act for the Kerberos accounts it authenticated and
// nothing else, so the supervisor's node identity need not.
func GatewayPrincipal(supervisorFQDN string) string { return "keygateway@" + supervisorFQDN }

// GatewayProbe is the supervisor's own Kerberos principal,
// host/<supervisor FQDN>@<realm>, or "" without cluster.kerberos-realm.
// auth-monitor authenticates to the gateway as it: its account holds
// nothing, so acting as it proves Kerberos works end to end and yields
// nothing.
func GatewayProbe(c *config.Config) string {
	if c.Cluster.KerberosRealm == "" {
		return ""
	}
	return "host/" + c.FQDN(c.Supervisor()) + "@" + c.Cluster.KerberosRealm
}

// gatewayAccount acts for members of GroupKerberos only.
func gatewayAccount(supFQDN string, ip netip.Addr) *Account {
	a := &Account{Principal: GatewayPrincipal(supFQDN), IP: ip, DirectAuth: true, Grants: map[keyapi.API]*Grant{}}
	a.add(&Grant{API: keyapi.ImpersonateAdmin, Privilege: Impersonate, Scope: GroupKerberos})
	return a
}

// gatewayProbeAccount is reachable only through the gateway, and grants
// nothing.
func gatewayProbeAccount(principal string) *Account {
	return &Account{Principal: principal, Grants: map[keyapi.API]*Grant{}}
}

// GatewayService is the key gateway's Kerberos service principal, without
// realm: HTTP/<supervisor fqdn>, as browsers and curl --negotiate ask for
// it.
func GatewayService(c *config.Config) string { return "HTTP/" + c.FQDN(c.Supervisor()) }

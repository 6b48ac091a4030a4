package keygateway

import (
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/layout"
)

// Files are where the gateway's inputs live on the supervisor.
type Files struct {
	Keytab       string // the service key of HTTP/<supervisor fqdn>
	Krb5Conf     string // the realm's: its clockskew bounds the authenticator's
	IdentityCert string // keygranting certificate of the gateway's account
	IdentityKey  string
	ServingCert  string // clusterca certificate marked keyapi.GatewayURI
	ServingKey   string
	ClusterCA    string
	Audit        string
}

// NodeFiles are the gateway's files below a node's root.
func NodeFiles(n layout.Node) Files {
	return Files{
		Keytab:       n.Path(layout.Keytab),
		Krb5Conf:     n.Path(layout.Krb5Conf),
		IdentityCert: n.Path(credential.Keygateway.Path),
		IdentityKey:  n.Path(credential.Keygateway.KeyPath),
		ServingCert:  n.Path(credential.KeygatewayHTTPS.Path),
		ServingKey:   n.Path(credential.KeygatewayHTTPS.KeyPath),
		ClusterCA:    n.KeyserverCA(),
		Audit:        n.Path(layout.LogDir + "/keygateway-audit.log"),
	}
}

package usergrant

import (
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/layout"
)

// The supervisor's credentials for user-grant, which its keyclient keeps
// renewed (the supervisor's entries of the credential catalogue,
// internal/credential): the keysystem identity of the account
// user-grant@<supervisor fqdn>, the HTTPS certificate for
// cluster.user-grant-domain from clusterca, and the Kubernetes client
// identity user-grant:<supervisor hostname>.
//
// The supervisor's keytab (layout.Keytab) holds this service's key,
// HTTP/<user-grant-domain>, beside the key gateway's.

// Files are where user-grant's inputs live on the supervisor.
type Files struct {
	Keytab                    string // the key of HTTP/<user-grant-domain>
	ServingCert, ServingKey   string // HTTPS, from clusterca
	KubeCert, KubeKey         string // user-grant's own Kubernetes identity
	KubeCA                    string // the kubernetes CA: the apiserver's and the users' certificates
	IdentityCert, IdentityKey string // keysystem identity, to have users' certificates signed
	ClusterCA                 string // clusterca, which the keyserver's certificate is from
	Audit                     string
}

// NodeFiles are user-grant's files below a node's root.
func NodeFiles(n layout.Node) Files {
	return Files{
		Keytab:       n.Path(layout.Keytab),
		ServingCert:  n.Path(credential.UserGrantHTTPS.Path),
		ServingKey:   n.Path(credential.UserGrantHTTPS.KeyPath),
		KubeCert:     n.Path(credential.KubeUserGrant.Path),
		KubeKey:      n.Path(credential.KubeUserGrant.KeyPath),
		KubeCA:       n.Path(layout.AuthoritiesDir + "/kubernetes.pem"),
		IdentityCert: n.Path(credential.UserGrant.Path),
		IdentityKey:  n.Path(credential.UserGrant.KeyPath),
		ClusterCA:    n.KeyserverCA(),
		Audit:        n.Path(layout.LogDir + "/user-grant-audit.log"),
	}
}

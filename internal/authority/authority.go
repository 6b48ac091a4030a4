// Package authority creates, stores and loads the cluster's eight
// certificate authorities. Public halves live in clear in the workspace's
// authorities/ folder; private keys exist on disk only as one bundle sealed
// with the disaster key. spire uses it to generate the authorities and the
// keyserver setup uses it to unseal them. The ninth, branch-signing, shares
// the folder but not this package (internal/branchkey): the keyserver links
// this one and must never hold it.
package authority

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/keyapi"
)

// Type says what kind of public half an authority has.
type Type string

// Authority types.
const (
	TLS Type = "tls" // an X.509 certificate
	SSH Type = "ssh" // an OpenSSH public key
	// OpenPGP is an OpenPGP public key; only branch-signing has one, and it
	// is kept by internal/branchkey, not in Specs.
	OpenPGP Type = "openpgp"
)

// Name names an authority. The names are declared in keyapi, which
// node-side programs link (this package they may not).
type Name = keyapi.Authority

// Spec describes one authority.
type Spec struct {
	Name    Name
	Type    Type
	CA      bool // signs certificates (as opposed to tokens)
	Purpose string
}

// Specs lists the cluster's authorities.
var Specs = []Spec{
	{keyapi.Keygranting, TLS, true, "node identity certificates; the keyserver's client CA"},
	{keyapi.ClusterCA, TLS, true, "HTTPS of the keyserver and registry; trusted by every node"},
	{keyapi.SSHUser, SSH, true, "SSH certificates of administrators"},
	{keyapi.SSHHost, SSH, true, "SSH host certificates of nodes"},
	{keyapi.Kubernetes, TLS, true, "Kubernetes component, node and user certificates"},
	{keyapi.EtcdServer, TLS, true, "etcd server and peer certificates"},
	{keyapi.EtcdClient, TLS, true, "etcd client certificates"},
	{keyapi.ServiceAccount, TLS, false, "signs Kubernetes service-account tokens"},
}

// Authority is one loaded authority. Signer is nil unless the private keys
// were unsealed.
type Authority struct {
	Spec
	Cert   *x509.Certificate // TLS only
	SSHKey ssh.PublicKey     // SSH only
	Signer crypto.Signer
}

// Public returns the authority's public key.
func (a *Authority) Public() crypto.PublicKey {
	if a.Type == SSH {
		return a.SSHKey.(ssh.CryptoPublicKey).CryptoPublicKey()
	}
	return a.Cert.PublicKey
}

// Set is the full collection of authorities, in Specs order.
type Set struct {
	List []*Authority
}

// Get returns the named authority.
func (s *Set) Get(name Name) (*Authority, error) {
	for _, a := range s.List {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no authority named %q", name)
}

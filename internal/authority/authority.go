// Package authority creates, stores and loads the cluster's eight
// certificate authorities. Public halves live in clear in the workspace's
// authorities/ folder; private keys exist on disk only as one bundle sealed
// with the disaster key. spire uses it to generate the authorities and the
// keyserver setup uses it to unseal them.
package authority

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// Type says what kind of public half an authority has.
type Type string

// Authority types.
const (
	TLS Type = "tls" // an X.509 certificate
	SSH Type = "ssh" // an OpenSSH public key
)

// Spec describes one authority.
type Spec struct {
	Name    string
	Type    Type
	CA      bool // signs certificates (as opposed to tokens)
	Purpose string
}

// Specs lists the cluster's authorities. Their names are part of the on-disk
// and wire formats: changing one means regenerating every credential.
var Specs = []Spec{
	{"keygranting", TLS, true, "node identity certificates; the keyserver's client CA"},
	{"clusterca", TLS, true, "HTTPS of the keyserver and registry; trusted by every node"},
	{"ssh-user", SSH, true, "SSH certificates of administrators"},
	{"ssh-host", SSH, true, "SSH host certificates of nodes"},
	{"kubernetes", TLS, true, "Kubernetes component, node and user certificates"},
	{"etcd-server", TLS, true, "etcd server and peer certificates"},
	{"etcd-client", TLS, true, "etcd client certificates"},
	{"serviceaccount", TLS, false, "signs Kubernetes service-account tokens"},
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
func (s *Set) Get(name string) (*Authority, error) {
	for _, a := range s.List {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no authority named %q", name)
}

// Package access is the administrator's side of the keysystem: it connects
// to the keyserver as a root admin, obtains admission tokens and
// short-lived SSH, Kubernetes and etcd credentials, and writes them where
// ssh, ssh-agent, kubectl, etcdctl and a node's keyclient look. The admin
// proves who they are with a Kerberos ticket, through the key gateway
// (ConnectGateway), or, breaking the glass, by holding the disaster key
// (ConnectDirect mints a minutes-long keygranting certificate for the
// admin's principal); the API calls are the same either way.
// spire and its virtual cluster import it.
package access

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/services"
)

// IdentityLifetime is how long the admin's minted identity lasts: one
// command's worth.
const IdentityLifetime = 10 * time.Minute

// Admin is a connection to the keyserver as one root admin.
type Admin struct {
	Principal string
	cfg       *config.Config
	client    *keyapi.Client
}

// Options say how to reach the keyserver.
type Options struct {
	// Keyserver is the address to dial; default: the supervisor's keyserver endpoint.
	Keyserver string
	// Gateway is the key gateway's address; default: the supervisor's
	// gateway endpoint.
	Gateway string
	// LocalAddr, if set, is the source address to call from.
	LocalAddr string
}

// ChoosePrincipal picks which root admin to act as: the one asked for, else
// the only one, else the one named like the local user.
func ChoosePrincipal(cfg *config.Config, asked, user string) (string, error) {
	switch {
	case asked != "":
		if !slices.Contains(cfg.RootAdmins, asked) {
			return "", fmt.Errorf("%q is not in root-admins of setup.yaml (%v)", asked, cfg.RootAdmins)
		}
		return asked, nil
	case len(cfg.RootAdmins) == 0:
		return "", fmt.Errorf("setup.yaml lists no root-admins; add yourself to root-admins to use admin access")
	case len(cfg.RootAdmins) == 1:
		return cfg.RootAdmins[0], nil
	case slices.Contains(cfg.RootAdmins, user):
		return user, nil
	}
	return "", fmt.Errorf("several root admins (%v); say which you are with --as", cfg.RootAdmins)
}

// ConnectDirect connects as principal using an identity minted with the
// keygranting authority (whose private key must be unsealed in auths): the
// break-glass path, audited as such.
func ConnectDirect(cfg *config.Config, auths *authority.Set, principal string, opts Options) (*Admin, error) {
	granting, err := auths.Get(keyapi.Keygranting)
	if err != nil {
		return nil, err
	}
	if granting.Signer == nil {
		return nil, fmt.Errorf("the keygranting authority is sealed; the disaster key is needed")
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	// Marked as break-glass: the keyserver flags every audit line of a
	// request made with it, apart from the Kerberos gateway's.
	cert, err := pki.IssueTLS(granting.Signer, granting.Cert, key.Public(), pki.TLSGrant{
		CommonName: principal, Organizations: []string{keyapi.BreakGlassOrg}, Usage: pki.ClientAuth, Lifetime: IdentityLifetime,
	}, time.Now())
	if err != nil {
		return nil, err
	}
	id := &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	clusterCA, err := auths.Get(keyapi.ClusterCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(clusterCA.Cert)
	addr := opts.Keyserver
	if addr == "" {
		addr = services.KeyserverAPI.Addr(cfg.Supervisor().IP)
	}
	client, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: addr, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool,
		ClientCert: func() *tls.Certificate { return id }, LocalAddr: opts.LocalAddr,
	})
	if err != nil {
		return nil, err
	}
	return &Admin{Principal: principal, cfg: cfg, client: client}, nil
}

// Close releases connections.
func (a *Admin) Close() { a.client.Close() }

// Admit asks for an admission token for the named node.
func (a *Admin) Admit(ctx context.Context, hostname string) (string, error) {
	n, ok := a.cfg.FindNode(hostname)
	if !ok {
		return "", fmt.Errorf("no node named %q in setup.yaml", hostname)
	}
	return a.client.Call1(ctx, "", keyapi.Admit, a.cfg.FQDN(n))
}

// SSHCert certifies an SSH public key (authorized_keys line) for root logins.
func (a *Admin) SSHCert(ctx context.Context, pubLine []byte) (string, error) {
	return a.client.Call1(ctx, "", keyapi.AccessSSH, string(pubLine))
}

// TLSCert obtains a client certificate for key from the given admin API
// (keyapi.AccessKubernetes or keyapi.AccessEtcd).
func (a *Admin) TLSCert(ctx context.Context, api keyapi.API, key crypto.Signer) (*x509.Certificate, error) {
	csr, err := pki.MakeCSR(key)
	if err != nil {
		return nil, err
	}
	res, err := a.client.Call1(ctx, "", api, string(csr))
	if err != nil {
		return nil, err
	}
	return pki.ParseCert([]byte(res))
}

// Deny cuts off a node (hostname from setup.yaml), another principal, or one
// certificate ("serial:HEX") at the keyserver at once, and returns the deny
// list.
func (a *Admin) Deny(ctx context.Context, target string) (string, error) {
	return a.client.Call1(ctx, "", keyapi.Deny, a.denyEntry(target))
}

// Allow lifts a Deny and returns the deny list.
func (a *Admin) Allow(ctx context.Context, target string) (string, error) {
	return a.client.Call1(ctx, "", keyapi.Allow, a.denyEntry(target))
}

func (a *Admin) denyEntry(target string) string {
	if n, ok := a.cfg.FindNode(target); ok {
		return a.cfg.FQDN(n)
	}
	return target
}

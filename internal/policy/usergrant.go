package policy

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
)

// UserGrantPrincipal is the user-grant service's identity on the
// supervisor: it may have Kubernetes user certificates signed and nothing
// else.
func UserGrantPrincipal(supervisorFQDN string) string { return "user-grant@" + supervisorFQDN }

// kubeUserPrefix sets users apart from every identity Homeworld issues
// (system:*, root:*, supervisor:*, ...).
const kubeUserPrefix = "user:"

// UserNameRE is what a user-grant user's name must match: it names the
// user's namespace too, so it is a DNS label, and it never holds ':' or '/'.
var UserNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

// KubeUserCN is the Kubernetes user name, and certificate common name, of
// user-grant's user name.
func KubeUserCN(name string) string { return kubeUserPrefix + name }

// KubeUserName is the user name a certificate common name user:<name>
// asks for, if it is one user-grant may have signed.
func KubeUserName(cn string) (string, error) {
	name, ok := strings.CutPrefix(cn, kubeUserPrefix)
	if !ok {
		return "", fmt.Errorf("common name %q is not a user's: want %s<name>", cn, kubeUserPrefix)
	}
	if !UserNameRE.MatchString(name) {
		return "", fmt.Errorf("common name %q: user name %q does not match %s", cn, name, UserNameRE)
	}
	return name, nil
}

// userGrantAccount signs Kubernetes client certificates for users, with no
// organization (Kubernetes reads organizations as groups).
func userGrantAccount(supFQDN string, ip netip.Addr, l Lifetimes) *Account {
	a := &Account{Principal: UserGrantPrincipal(supFQDN), IP: ip, DirectAuth: true, Grants: map[keyapi.API]*Grant{}}
	a.add(&Grant{API: keyapi.SignKubeUser, Privilege: SignUserTLS, Authority: keyapi.Kubernetes, TLS: pki.TLSGrant{
		Usage: pki.ClientAuth, Lifetime: l.User,
	}})
	return a
}

// UserTLS is the certificate a SignUserTLS grant issues for the user name:
// the grant's with CN user:<name>, and no organization or name whatever
// the grant says.
func (g *Grant) UserTLS(name string) pki.TLSGrant {
	return pki.TLSGrant{CommonName: KubeUserCN(name), Usage: g.TLS.Usage, Lifetime: g.TLS.Lifetime}
}

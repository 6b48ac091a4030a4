// Package policy decides who may obtain what from the keyserver. The policy
// is derived entirely from setup.yaml: one account per node, bound to the
// node's address, granted exactly its kind's credentials from the credential
// catalogue; one account per root admin with short-lived access grants;
// one for each service on the supervisor that talks to the keyserver
// (auth-monitor, the Kerberos gateway, user-grant), holding only what that
// service needs.
// Every name placed in a certificate comes from here, never from a request,
// but one: the user name user-grant asks for, which KubeUserName bounds.
// The keyserver imports it.
package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/services"
)

// Privilege is what a grant lets its holder do.
type Privilege string

// Privileges.
const (
	SignTLS     Privilege = "sign-tls"      // body: CSR; result: certificate
	SignUserTLS Privilege = "sign-user-tls" // body: CSR naming user:<name> (KubeUserName), no organization; result: certificate for that user
	SignSSH     Privilege = "sign-ssh"      // body: public key; result: SSH certificate
	IssueToken  Privilege = "issue-token"   // body: principal in Scope; result: admission token
	Impersonate Privilege = "impersonate"   // body: principal in Scope; later operations act as it
	Text        Privilege = "text"          // body: empty; result: Contents
	FetchKey    Privilege = "fetch-key"     // body: empty; result: the authority's private key
	Deny        Privilege = "deny"          // body: principal or serial:HEX; result: the deny list
	Allow       Privilege = "allow"         // body: principal or serial:HEX; result: the deny list
)

// Grant is one API an account may call, with every parameter fixed.
type Grant struct {
	API       keyapi.API
	Privilege Privilege
	Authority keyapi.Authority // SignTLS, SignUserTLS, SignSSH, FetchKey
	TLS       pki.TLSGrant     // SignUserTLS: see Grant.UserTLS
	SSH       pki.SSHGrant
	Scope     string        // IssueToken, Impersonate: group of allowed targets
	TokenTTL  time.Duration // IssueToken
	Contents  string        // Text
}

// Account is a principal the keyserver knows.
type Account struct {
	Principal string
	Kind      config.Kind // empty for administrators
	// IP, if valid, is the only address the account may call from.
	IP netip.Addr
	// DirectAuth allows authenticating with a keygranting client certificate
	// or token; without it the account is reachable only by impersonation.
	DirectAuth bool
	Grants     map[keyapi.API]*Grant
}

// APIs lists the account's grant names, sorted.
func (a *Account) APIs() []keyapi.API {
	return slices.Sorted(maps.Keys(a.Grants))
}

// Group names.
const (
	GroupNodes         = "nodes"
	GroupRootAdmins    = "root-admins"
	GroupMonitorProbes = "monitor-probes"
	// GroupKerberos is whom the Kerberos gateway may act for: the root
	// admins and the gateway probe.
	GroupKerberos = "kerberos-accounts"
)

// RegistryName is the name the supervisor's image registry serves under; the
// registry's certificate carries only it.
const RegistryName = services.RegistryName

// Policy is the compiled policy of one cluster.
type Policy struct {
	Accounts map[string]*Account
	Groups   map[string]map[string]bool // group -> principals
	// Static files served to anyone at /static/<name>.
	Static map[string]string
	// The keyserver's own names, for its HTTPS certificate.
	ServerName string
	ServerIP   netip.Addr
}

// InGroup reports whether principal belongs to group.
func (p *Policy) InGroup(group, principal string) bool { return p.Groups[group][principal] }

// Lifetimes of what the policy grants. Tests shorten them.
type Lifetimes struct {
	Keygrant time.Duration // node identity
	NodeCert time.Duration // role certificates
	SSHHost  time.Duration
	Admin    time.Duration // every administrator grant
	Token    time.Duration // admission tokens
	User     time.Duration // Kubernetes user certificates (user-grant)
}

// DefaultLifetimes are production lifetimes: nodes renew at about two thirds,
// so a keyserver outage of days goes unnoticed by the cluster.
var DefaultLifetimes = Lifetimes{
	Keygrant: 40 * 24 * time.Hour,
	NodeCert: 30 * 24 * time.Hour,
	SSHHost:  60 * 24 * time.Hour,
	Admin:    4 * time.Hour,
	Token:    time.Hour,
	User:     8 * time.Hour,
}

func (l Lifetimes) validate() error {
	for name, d := range map[string]time.Duration{"keygrant": l.Keygrant, "node certificate": l.NodeCert, "SSH host": l.SSHHost, "admin": l.Admin, "token": l.Token, "user": l.User} {
		if d <= 0 {
			return fmt.Errorf("policy: %s lifetime must be positive", name)
		}
	}
	return nil
}

package keyserver

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

// caller is a request's identity: account is set once it authenticated.
type caller struct {
	account *policy.Account
	remote  netip.Addr
	claim   *token.Claim // set when authenticated by admission token
	auth    string       // how: one of the auth* values, for the audit log
}

// How a caller authenticated (audit.Event.Auth).
const (
	authToken       = "token"
	authCertificate = "certificate"
	// authBreakGlass: a keygranting certificate marked keyapi.BreakGlassOrg,
	// minted by spire with the disaster key. Only spire mints it: no grant
	// of the policy puts an organization in a keygranting certificate.
	authBreakGlass = "break-glass"
)

// authenticate identifies the caller by admission token or by keygranting
// client certificate, then enforces the account's address binding and the
// deny list. When that fails, the caller it returns says only how it tried
// (for the refusal's audit line).
func (s *Server) authenticate(r *http.Request, remote netip.Addr) (*caller, *keyapi.Error) {
	c := &caller{remote: remote}
	var principal string
	var serial *big.Int
	if tok := r.Header.Get(keyapi.TokenHeader); tok != "" {
		c.auth = authToken
		var err error
		principal, c.claim, err = s.claimToken(tok)
		if err != nil {
			return c, unauthenticated("%v", err)
		}
	} else if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		principal, serial = leaf.Subject.CommonName, leaf.SerialNumber
		c.auth = authCertificate
		if slices.Contains(leaf.Subject.Organization, keyapi.BreakGlassOrg) {
			c.auth = authBreakGlass
		}
	} else {
		return c, unauthenticated("no credentials: present a keygranting client certificate or an admission token")
	}
	fail := func(format string, args ...any) (*caller, *keyapi.Error) {
		if c.claim != nil {
			c.claim.Release()
		}
		return c, unauthenticated(format, args...)
	}
	acct := s.opts.Policy.Accounts[principal]
	switch {
	case acct == nil:
		return fail("unknown principal %q", sanitize(principal, maxEchoedName))
	case !acct.DirectAuth:
		return fail("principal %q cannot authenticate directly", principal)
	case acct.IP.IsValid() && acct.IP != remote:
		return fail("principal %q may only call from %s, not %s", principal, acct.IP, remote)
	}
	if why, denied := s.deny.Denied(principal, serial); denied {
		return fail("%s (lifted with `spire infra allow`)", why)
	}
	c.account = acct
	return c, nil
}

// claimToken reserves an admission token. A refused token is audited as
// the request's refusal, rate-limited like every anonymous refusal.
func (s *Server) claimToken(tok string) (string, *token.Claim, error) {
	tok, err := token.Check(tok)
	if err == nil {
		var claim *token.Claim
		claim, err = s.opts.Tokens.Reserve(tok)
		if err == nil {
			return claim.Principal, claim, nil
		}
	}
	return "", nil, fmt.Errorf("admission token refused: %w", err)
}

// tokenAPI is the only thing a token may be used for: obtaining the node's
// identity. Everything else needs that identity.
const tokenAPI = keyapi.RenewKeygrant

func tokenAllows(api keyapi.API) bool { return api == tokenAPI }

func remoteAddr(r *http.Request) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cannot parse remote address %q", r.RemoteAddr)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, errors.New("cannot parse remote address")
	}
	return a.Unmap(), nil
}

func unauthenticated(format string, args ...any) *keyapi.Error {
	return &keyapi.Error{Status: http.StatusUnauthorized, Message: fmt.Sprintf(format, args...)}
}

package keyserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

// caller is an authenticated request's identity.
type caller struct {
	account *policy.Account
	remote  netip.Addr
	claim   *token.Claim // set when authenticated by admission token
}

// authenticate identifies the caller by admission token or by keygranting
// client certificate, then enforces the account's address binding.
func (s *Server) authenticate(r *http.Request) (*caller, *keyapi.Error) {
	remote, err := remoteAddr(r)
	if err != nil {
		return nil, unauthenticated("%v", err)
	}
	c := &caller{remote: remote}
	var principal string
	if tok := r.Header.Get(keyapi.TokenHeader); tok != "" {
		principal, c.claim, err = s.claimToken(tok, remote)
		if err != nil {
			return nil, unauthenticated("%v", err)
		}
	} else if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		principal = r.TLS.VerifiedChains[0][0].Subject.CommonName
	} else {
		return nil, unauthenticated("no credentials: present a keygranting client certificate or an admission token")
	}
	fail := func(format string, args ...any) (*caller, *keyapi.Error) {
		if c.claim != nil {
			c.claim.Release()
		}
		return nil, unauthenticated(format, args...)
	}
	acct := s.opts.Policy.Accounts[principal]
	switch {
	case acct == nil:
		return fail("unknown principal %q", principal)
	case !acct.DirectAuth:
		return fail("principal %q cannot authenticate directly", principal)
	case acct.IP.IsValid() && acct.IP != remote:
		return fail("principal %q may only call from %s, not %s", principal, acct.IP, remote)
	}
	c.account = acct
	return c, nil
}

func (s *Server) claimToken(tok string, remote netip.Addr) (string, *token.Claim, error) {
	tok, err := token.Check(tok)
	if err == nil {
		var claim *token.Claim
		claim, err = s.opts.Tokens.Reserve(tok)
		if err == nil {
			return claim.Principal, claim, nil
		}
	}
	s.record(audit.Event{Action: "token-redeem", Remote: remote.String(), Result: "unauthenticated", Detail: err.Error()})
	return "", nil, fmt.Errorf("admission token refused: %w", err)
}

// tokenOnlyAPIs are what a token may be used for: obtaining the node's
// identity. Everything else needs that identity.
func tokenAllows(api string) bool { return api == credential.APIRenewKeygrant }

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

package keyserver

import (
	"fmt"
	"net/http"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

type opResult struct {
	result string
	target string // token or impersonation target, for the audit log
	detail string
}

// runOp authorizes and runs one operation as acct, returning its result and
// the account later operations run as.
func (s *Server) runOp(c *caller, acct *policy.Account, req keyapi.Request) (opResult, *policy.Account, *keyapi.Error) {
	g := acct.Grants[req.API]
	if g == nil {
		return opResult{}, nil, forbidden("%s may not call %s", acct.Principal, req.API)
	}
	if c.claim != nil && !tokenAllows(req.API) {
		return opResult{}, nil, forbidden("an admission token only obtains the node's identity; %s needs that identity", req.API)
	}
	now := s.opts.Now()
	switch g.Privilege {
	case policy.SignTLS:
		ca, err := s.opts.Authorities.Get(g.Authority)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		cert, err := pki.SignTLS(ca.Signer, ca.Cert, []byte(req.Body), g.TLS, now)
		if err != nil {
			return opResult{}, nil, invalid("%v", err)
		}
		return opResult{result: string(pki.EncodeCert(cert)), detail: fmt.Sprintf("serial %x until %s", cert.SerialNumber, cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))}, acct, nil
	case policy.SignSSH:
		ca, err := s.opts.Authorities.Get(g.Authority)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		signer, err := ssh.NewSignerFromSigner(ca.Signer)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		cert, err := pki.SignSSH(signer, []byte(req.Body), g.SSH, now)
		if err != nil {
			return opResult{}, nil, invalid("%v", err)
		}
		return opResult{result: string(ssh.MarshalAuthorizedKey(cert)), detail: fmt.Sprintf("serial %x until %s", cert.Serial, pki.SSHExpiry(cert).UTC().Format("2006-01-02T15:04:05Z"))}, acct, nil
	case policy.IssueToken:
		target := req.Body
		if s.opts.Policy.Accounts[target] == nil {
			return opResult{}, nil, invalid("no node or account named %q", target)
		}
		if !s.opts.Policy.InGroup(g.Scope, target) {
			return opResult{}, nil, forbidden("%s may not admit %q: it is not in group %s", acct.Principal, target, g.Scope)
		}
		tok, exp, err := s.opts.Tokens.Issue(target, g.TokenTTL)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		s.record(audit.Event{Action: "token-issue", Principal: acct.Principal, Remote: c.remote.String(), Target: target, Result: "ok", Detail: "expires " + exp.UTC().Format("2006-01-02T15:04:05Z")})
		return opResult{result: tok, target: target}, acct, nil
	case policy.Impersonate:
		target := s.opts.Policy.Accounts[req.Body]
		if target == nil || !s.opts.Policy.InGroup(g.Scope, req.Body) {
			return opResult{}, nil, forbidden("%s may not act as %q", acct.Principal, req.Body)
		}
		return opResult{target: target.Principal}, target, nil
	case policy.Text:
		if req.Body != "" {
			return opResult{}, nil, invalid("%s takes an empty body", req.API)
		}
		return opResult{result: g.Contents}, acct, nil
	case policy.FetchKey:
		if req.Body != "" {
			return opResult{}, nil, invalid("%s takes an empty body", req.API)
		}
		a, err := s.opts.Authorities.Get(g.Authority)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		key, err := pki.EncodeKey(a.Signer)
		if err != nil {
			return opResult{}, nil, internal(err)
		}
		return opResult{result: string(key), detail: "private key of " + g.Authority}, acct, nil
	}
	return opResult{}, nil, internal(fmt.Errorf("grant %s has unknown privilege %q", g.API, g.Privilege))
}

func internal(err error) *keyapi.Error {
	return &keyapi.Error{Status: http.StatusInternalServerError, Message: "internal error: " + err.Error()}
}

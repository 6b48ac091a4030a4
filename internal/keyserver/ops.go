package keyserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

type opResult struct {
	result string
	target string        // token or impersonation target, for the audit log
	detail string        // for the audit log
	keyID  string        // SignTLS: the certified key (binds a token's use to it)
	extra  []audit.Event // audit lines besides the grant line
}

// runOp authorizes and runs one operation as acct, returning its result and
// the account later operations run as.
func (s *Server) runOp(c *caller, acct *policy.Account, req keyapi.Request) (opResult, *policy.Account, *keyapi.Error) {
	g := acct.Grants[req.API]
	if g == nil {
		return opResult{}, nil, forbidden("%s may not call %s", acct.Principal, sanitize(string(req.API), maxEchoedName))
	}
	if c.claim != nil && !tokenAllows(req.API) {
		return opResult{}, nil, forbidden("an admission token only obtains the node's identity; %s needs that identity", req.API)
	}
	now := s.opts.Now()
	switch g.Privilege {
	case policy.SignTLS:
		ca, err := s.opts.Authorities.Get(g.Authority)
		if err != nil {
			return opResult{}, nil, s.internal(err)
		}
		cert, err := pki.SignTLSDER(ca.Signer, ca.Cert, []byte(req.Body), g.TLS, now)
		if err != nil {
			return opResult{}, nil, invalid("%v", err)
		}
		return tlsResult(cert, ""), acct, nil
	case policy.SignUserTLS:
		res, err := s.signUser(g, req.Body)
		return res, acct, err
	case policy.SignSSH:
		ca, err := s.opts.Authorities.Get(g.Authority)
		if err != nil {
			return opResult{}, nil, s.internal(err)
		}
		signer, err := ssh.NewSignerFromSigner(ca.Signer)
		if err != nil {
			return opResult{}, nil, s.internal(err)
		}
		cert, err := pki.SignSSH(signer, []byte(req.Body), g.SSH, now)
		if err != nil {
			return opResult{}, nil, invalid("%v", err)
		}
		return opResult{result: string(ssh.MarshalAuthorizedKey(cert)), detail: fmt.Sprintf("serial %x until %s", cert.Serial, pki.SSHExpiry(cert).UTC().Format("2006-01-02T15:04:05Z"))}, acct, nil
	case policy.IssueToken:
		target := req.Body
		if s.opts.Policy.Accounts[target] == nil {
			return opResult{}, nil, invalid("no node or account named %q", sanitize(target, maxEchoedName))
		}
		if !s.opts.Policy.InGroup(g.Scope, target) {
			return opResult{}, nil, forbidden("%s may not admit %q: it is not in group %s", acct.Principal, target, g.Scope)
		}
		if why, denied := s.deny.Denied(target, nil); denied {
			return opResult{}, nil, forbidden("%s; lift it with `spire infra allow` before admitting it again", why)
		}
		tok, exp, err := s.opts.Tokens.Issue(target, g.TokenTTL)
		if err != nil {
			return opResult{}, nil, s.internal(err)
		}
		// An undelivered token (the batch fails later, or its audit does)
		// is harmless: nobody knows it and it expires.
		issued := audit.Event{Action: "token-issue", Principal: acct.Principal, Remote: c.remote.String(), Target: target, Result: "ok", Detail: "expires " + exp.UTC().Format("2006-01-02T15:04:05Z")}
		return opResult{result: tok, target: target, extra: []audit.Event{issued}}, acct, nil
	case policy.Impersonate:
		target := s.opts.Policy.Accounts[req.Body]
		if target == nil || !s.opts.Policy.InGroup(g.Scope, req.Body) {
			return opResult{}, nil, forbidden("%s may not act as %q", acct.Principal, sanitize(req.Body, maxEchoedName))
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
			return opResult{}, nil, s.internal(err)
		}
		key, err := pki.EncodeKey(a.Signer)
		if err != nil {
			return opResult{}, nil, s.internal(err)
		}
		return opResult{result: string(key), detail: "private key of " + string(g.Authority)}, acct, nil
	case policy.Deny, policy.Allow:
		return s.setDeny(c, acct, req, g.Privilege == policy.Deny)
	}
	return opResult{}, nil, s.internal(fmt.Errorf("grant %s has unknown privilege %q", g.API, g.Privilege))
}

func tlsResult(cert *pki.Issued, detail string) opResult {
	keyID := sha256.Sum256(cert.SPKI)
	return opResult{
		result: string(cert.PEM()),
		detail: detail + fmt.Sprintf("serial %x until %s", cert.Serial, cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")),
		keyID:  hex.EncodeToString(keyID[:]),
	}
}

// signUser certifies a Kubernetes user for user-grant. The request names
// the user and nothing else: a CSR asking for an organization is refused
// (Kubernetes reads it as a group, system:masters among them), and the
// certificate carries the user's name alone whatever the CSR says.
func (s *Server) signUser(g *policy.Grant, body string) (opResult, *keyapi.Error) {
	csr, err := pki.ParseCSR([]byte(body))
	if err != nil {
		return opResult{}, invalid("%v", err)
	}
	name, err := policy.KubeUserName(csr.Subject.CommonName)
	if err != nil {
		return opResult{}, invalid("%s", sanitize(err.Error(), maxDetail))
	}
	if orgs := csr.Subject.Organization; len(orgs) > 0 {
		return opResult{}, invalid("the request for %s asks for organizations %s; a user's certificate carries none (remove O from the CSR's subject)", policy.KubeUserCN(name), sanitize(fmt.Sprintf("%q", orgs), maxDetail))
	}
	ca, err := s.opts.Authorities.Get(g.Authority)
	if err != nil {
		return opResult{}, s.internal(err)
	}
	cert, err := pki.IssueTLSDER(ca.Signer, ca.Cert, csr.PublicKey, g.UserTLS(name), s.opts.Now())
	if err != nil {
		return opResult{}, invalid("%v", err)
	}
	return tlsResult(cert, "user "+name+", "), nil
}

// setDeny changes the deny list. It takes effect for the next request,
// whatever the audit of this one says: cutting off is always safe.
func (s *Server) setDeny(c *caller, acct *policy.Account, req keyapi.Request, deny bool) (opResult, *policy.Account, *keyapi.Error) {
	entry, isSerial, err := normalizeDenyEntry(req.Body)
	switch {
	case err != nil:
		return opResult{}, nil, invalid("%s", sanitize(err.Error(), maxDetail))
	case !isSerial && s.opts.Policy.Accounts[entry] == nil:
		return opResult{}, nil, invalid("no node or account named %q (give a principal, or serial:HEX for one certificate)", sanitize(entry, maxEchoedName))
	case entry == acct.Principal || entry == c.account.Principal:
		return opResult{}, nil, invalid("refusing to deny %s its own access", entry)
	}
	list, err := s.deny.Set(entry, acct.Principal, deny, s.opts.Now())
	if err != nil {
		return opResult{}, nil, s.internal(err)
	}
	return opResult{result: strings.Join(list, "\n"), target: entry}, acct, nil
}

package keyserver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

const maxBody = 1 << 20

// serveAPI decodes a batch, authenticates, runs each operation in order as
// the current account (which impersonation may change), and answers with all
// results or with the first error. Nothing is delivered unless the whole
// batch succeeded and its audit lines are on disk; a token is spent only
// then.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	latencyLabel := labelInvalid
	defer func() { s.metrics.latency.WithLabelValues(latencyLabel).Observe(time.Since(start).Seconds()) }()
	remote, err := remoteAddr(r)
	if err != nil {
		s.refuse(w, nil, remote, unauthenticated("%v", err))
		return
	}
	batch, apiErr := decodeBatch(r, s.maxOps)
	if apiErr != nil {
		s.refuse(w, nil, remote, apiErr)
		return
	}
	latencyLabel = s.metrics.label(batch.Requests[0].API)
	c, apiErr := s.authenticate(r, remote)
	if apiErr != nil {
		s.refuse(w, c, remote, apiErr)
		return
	}
	if c.claim != nil && len(batch.Requests) != 1 {
		c.claim.Release()
		s.refuse(w, c, remote, invalid("a request authenticated by an admission token holds exactly one operation (%s); this one holds %d", tokenAPI, len(batch.Requests)))
		return
	}
	results := make([]string, len(batch.Requests))
	var events []audit.Event
	var keyID string
	acct := c.account
	for i, req := range batch.Requests {
		res, next, err := s.runOp(c, acct, req)
		if err == nil && c.claim != nil && !c.claim.Matches(res.keyID) {
			err = unauthenticated("admission token refused: %v", token.ErrUsed)
		}
		if err != nil {
			err.API, err.Index = req.API, i
			if c.claim != nil {
				c.claim.Release()
			}
			s.refuseAs(w, c, acct, remote, err)
			return
		}
		results[i], keyID = res.result, res.keyID
		events = append(events, s.grantEvent(c, acct, req.API, res))
		events = append(events, res.extra...)
		acct = next
	}
	if c.claim != nil {
		if err := s.auditSpend(c, remote, keyID); err != nil {
			c.claim.Release()
			s.auditUnavailable(w, c, batch.Requests, err)
			return
		}
		if err := c.claim.CommitFor(keyID); err != nil {
			s.refuseAs(w, c, acct, remote, s.internal(err))
			return
		}
		ev := audit.Event{Action: "token-redeem", Principal: c.claim.Principal, Remote: remote.String(), Result: "ok"}
		if c.claim.Replay {
			ev.Detail = "repeated by the same key within the replay window (an earlier response was lost)"
		}
		events = append(events, ev)
	}
	for i := range events {
		events[i].Auth = c.auth
	}
	if err := s.opts.Audit.Record(events...); err != nil {
		// Fail closed: what cannot be audited is not delivered. A spent
		// token stays redeemable by the same key for token.ReplayWindow.
		s.auditUnavailable(w, c, batch.Requests, err)
		return
	}
	for _, req := range batch.Requests {
		s.metrics.count(req.API, "ok")
	}
	writeJSON(w, http.StatusOK, keyapi.Results{Results: results})
}

func (s *Server) grantEvent(c *caller, acct *policy.Account, api keyapi.API, res opResult) audit.Event {
	ev := audit.Event{Action: "grant", Principal: acct.Principal, Remote: c.remote.String(), API: string(api), Target: res.target, Result: "ok", Detail: res.detail}
	if acct != c.account {
		ev.Via = c.account.Principal
	}
	return ev
}

func decodeBatch(r *http.Request, maxOps int) (*keyapi.Batch, *keyapi.Error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, invalid("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return nil, invalid("request body is larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b keyapi.Batch
	if err := dec.Decode(&b); err != nil {
		return nil, invalid("request body is not a JSON batch {\"requests\": [{\"api\": ..., \"body\": ...}]}: %s", sanitize(err.Error(), maxDetail))
	}
	if len(b.Requests) == 0 {
		return nil, invalid("the batch holds no requests")
	}
	if len(b.Requests) > maxOps {
		return nil, invalid("the batch holds %d operations; at most %d are allowed", len(b.Requests), maxOps)
	}
	for i, req := range b.Requests {
		if req.API == "" {
			return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: "operation has no api", Index: i}
		}
	}
	return &b, nil
}

// refuse answers a failed request of a caller not (yet) authenticated (c
// nil, or without an account), or authenticated as c.
func (s *Server) refuse(w http.ResponseWriter, c *caller, remote netip.Addr, e *keyapi.Error) {
	var acct *policy.Account
	if c != nil {
		acct = c.account
	}
	s.refuseAs(w, c, acct, remote, e)
}

// refuseAs audits and answers a failed request. The line holds a bounded,
// sanitized summary (API names outside the policy become "other"), and
// anonymous refusals are rate-limited per address, so no caller can grow
// the log with what it sends. Refusals are answered even if the audit log
// fails: refusing is always safe.
func (s *Server) refuseAs(w http.ResponseWriter, c *caller, acct *policy.Account, remote netip.Addr, e *keyapi.Error) {
	result := audit.ResultFor(e.Status)
	s.metrics.count(e.API, result)
	ev := audit.Event{Action: "refuse", API: s.metrics.label(e.API), Result: result, Detail: sanitize(e.Message, maxDetail)}
	if remote.IsValid() {
		ev.Remote = remote.String()
	}
	if c != nil {
		ev.Auth = c.auth
	}
	if e.API != "" && ev.API == labelOther {
		ev.Detail = "api " + sanitize(fmt.Sprintf("%q", e.API), maxEchoedName) + ": " + ev.Detail
	}
	write := true
	if acct != nil {
		ev.Principal = acct.Principal
		if c != nil && acct != c.account {
			ev.Via = c.account.Principal
		}
	} else {
		var suppressed int
		write, suppressed = s.limiter.admit(remote, s.opts.Now())
		if suppressed > 0 {
			ev.Detail = fmt.Sprintf("(%d earlier refusals from this address not logged) %s", suppressed, ev.Detail)
		}
	}
	if !write {
		s.metrics.suppressed.Inc()
	} else if err := s.opts.Audit.Record(ev); err != nil {
		s.metrics.auditFail.Inc()
		s.opts.Logf("keyserver: auditing a refusal: %v", err)
	}
	writeJSON(w, e.Status, e)
}

// internal logs an unexpected error in full and gives the caller only a
// reference to it: server paths and internals stay in the server's log.
func (s *Server) internal(err error) *keyapi.Error {
	var ref [6]byte
	rand.Read(ref[:])
	id := hex.EncodeToString(ref[:])
	s.opts.Logf("keyserver: internal error %s: %v", id, err)
	return &keyapi.Error{Status: http.StatusInternalServerError, Message: "internal error (reference " + id + " in the keyserver's log); nothing was granted"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func invalid(format string, args ...any) *keyapi.Error {
	return &keyapi.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *keyapi.Error {
	return &keyapi.Error{Status: http.StatusForbidden, Message: fmt.Sprintf(format, args...)}
}

// auditSpend records, before a fresh token is marked used, that it is being
// spent and for which key: so every token the store holds as used has its
// line in the audit log even if the keyserver dies between spending it and
// auditing the redemption (the node then repeats the redemption as a
// replay, audited as such; a node that never comes back leaves the spend
// line alone). A replay spends nothing.
func (s *Server) auditSpend(c *caller, remote netip.Addr, keyID string) error {
	if c.claim.Replay {
		return nil
	}
	return s.opts.Audit.Record(audit.Event{Action: "token-spend", Principal: c.claim.Principal, Remote: remote.String(), Result: "ok", Detail: "for key " + keyID, Auth: c.auth})
}

// auditUnavailable answers a request whose audit line could not be written:
// nothing is delivered.
func (s *Server) auditUnavailable(w http.ResponseWriter, c *caller, reqs []keyapi.Request, err error) {
	s.metrics.auditFail.Inc()
	s.opts.Logf("keyserver: refusing to deliver %d operation(s) for %s: %v", len(reqs), c.account.Principal, err)
	for _, req := range reqs {
		s.metrics.count(req.API, "unavailable")
	}
	writeJSON(w, http.StatusServiceUnavailable, &keyapi.Error{Status: http.StatusServiceUnavailable, Message: "the keyserver cannot write its audit log; nothing was granted (retry later)"})
}

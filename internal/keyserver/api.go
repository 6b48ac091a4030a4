package keyserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
)

const maxBody = 1 << 20

// serveAPI decodes a batch, authenticates, runs each operation in order as
// the current account (which impersonation may change), and answers with all
// results or with the first error. A token is spent only if the whole batch
// succeeds.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	batch, apiErr := decodeBatch(r)
	latencyAPI := "invalid"
	if batch != nil && len(batch.Requests) > 0 {
		latencyAPI = batch.Requests[0].API
	}
	defer func() { s.metrics.latency.WithLabelValues(latencyAPI).Observe(time.Since(start).Seconds()) }()
	if apiErr != nil {
		s.refuse(w, nil, r, apiErr, "invalid")
		return
	}
	c, apiErr := s.authenticate(r)
	if apiErr != nil {
		s.refuse(w, nil, r, apiErr, "unauthenticated")
		return
	}
	results := make([]string, len(batch.Requests))
	acct := c.account
	for i, req := range batch.Requests {
		res, next, err := s.runOp(c, acct, req)
		if err != nil {
			err.API, err.Index = req.API, i
			if c.claim != nil {
				c.claim.Release()
			}
			s.refuse(w, acct, r, err, resultOf(err))
			return
		}
		results[i], acct = res.result, next
		s.metrics.requests.WithLabelValues(req.API, "ok").Inc()
		s.record(audit.Event{Action: "grant", Principal: acct.Principal, Remote: c.remote.String(), API: req.API, Target: res.target, Result: "ok", Detail: res.detail})
	}
	if c.claim != nil {
		if err := c.claim.Commit(); err != nil {
			s.opts.Logf("keyserver: %v", err)
			s.refuse(w, acct, r, &keyapi.Error{Status: http.StatusInternalServerError, Message: "could not record the token's use; nothing was granted"}, "error")
			return
		}
		s.record(audit.Event{Action: "token-redeem", Principal: c.claim.Principal, Remote: c.remote.String(), Result: "ok"})
	}
	writeJSON(w, http.StatusOK, keyapi.Results{Results: results})
}

func decodeBatch(r *http.Request) (*keyapi.Batch, *keyapi.Error) {
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
		return nil, invalid("request body is not a JSON batch {\"requests\": [{\"api\": ..., \"body\": ...}]}: %v", err)
	}
	if len(b.Requests) == 0 {
		return nil, invalid("the batch holds no requests")
	}
	for i, req := range b.Requests {
		if req.API == "" {
			return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: "operation has no api", Index: i}
		}
	}
	return &b, nil
}

func resultOf(e *keyapi.Error) string {
	switch e.Status {
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusBadRequest:
		return "invalid"
	}
	return "error"
}

// refuse audits and answers a failed request.
func (s *Server) refuse(w http.ResponseWriter, acct *policy.Account, r *http.Request, e *keyapi.Error, result string) {
	ev := audit.Event{Action: "refuse", API: e.API, Result: result, Detail: e.Message}
	if acct != nil {
		ev.Principal = acct.Principal
	}
	if remote, err := remoteAddr(r); err == nil {
		ev.Remote = remote.String()
	}
	api := e.API
	if api == "" {
		api = "none"
	}
	s.metrics.requests.WithLabelValues(api, result).Inc()
	s.record(ev)
	writeJSON(w, e.Status, e)
}

func (s *Server) record(e audit.Event) {
	if err := s.opts.Audit.Record(e); err != nil {
		s.opts.Logf("keyserver: %v", err)
	}
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

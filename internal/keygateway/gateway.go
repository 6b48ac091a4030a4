// Package keygateway is the key gateway on the supervisor: it authenticates
// an administrator by their Kerberos ticket (SPNEGO over HTTPS), maps the
// principal to a root admin of setup.yaml and has the keyserver run the
// admin's batch by impersonation, with the gateway's own keysystem
// identity, which may do nothing else. Authorization stays the keyserver's.
// Its API is the keyserver's (same batch, same results), so spire's admin
// client talks to either. cmd/keygateway runs it.
package keygateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
)

// MaxOps bounds a batch; an admin's commands send one or two operations.
const MaxOps = 16

const maxBody = 1 << 20

// Keyserver is what the gateway needs of its keyserver client.
type Keyserver interface {
	Call(ctx context.Context, token string, reqs ...keyapi.Request) ([]string, error)
}

// Gateway serves the admin API.
type Gateway struct {
	cfg       *config.Config
	acceptor  *kerberos.Acceptor
	keyserver Keyserver
	audit     *audit.Log
	logf      func(string, ...any)
}

// New returns a gateway for the cluster cfg.
func New(cfg *config.Config, acceptor *kerberos.Acceptor, ks Keyserver, log *audit.Log, logf func(string, ...any)) *Gateway {
	return &Gateway{cfg: cfg, acceptor: acceptor, keyserver: ks, audit: log, logf: logf}
}

// Handler serves the batch API at keyapi.PathAPI and /healthz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+keyapi.PathAPI, g.serveAPI)
	mux.HandleFunc("GET "+keyapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request) {
	remote := r.RemoteAddr
	id, ref := g.acceptor.Authenticate(r)
	if ref != nil {
		g.record(audit.Event{Action: "authenticate", Principal: ref.Principal, Remote: remote, Result: audit.ResultFor(ref.Status), Detail: ref.Detail()})
		if ref.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "Negotiate")
		}
		writeError(w, &keyapi.Error{Status: ref.Status, Message: ref.Reason})
		return
	}
	account, ok := AccountFor(g.cfg, id.Principal)
	if !ok {
		e := &keyapi.Error{Status: http.StatusForbidden, Message: fmt.Sprintf("%s is not a root admin of this cluster (root-admins in setup.yaml)", id.Principal)}
		g.record(audit.Event{Action: "authenticate", Principal: id.Principal, Remote: remote, Result: "forbidden", Detail: e.Message})
		writeError(w, e)
		return
	}
	batch, e := decodeBatch(r)
	if e != nil {
		g.record(audit.Event{Action: "refuse", Principal: id.Principal, Target: account, Remote: remote, Result: "invalid", Detail: e.Message})
		writeError(w, e)
		return
	}
	// Impersonation first: the keyserver checks the account may be acted
	// for; an empty batch is just that check.
	reqs := append([]keyapi.Request{{API: keyapi.ImpersonateAdmin, Body: account}}, batch.Requests...)
	res, err := g.keyserver.Call(r.Context(), "", reqs...)
	apis := apiList(batch.Requests)
	if err != nil {
		var ke *keyapi.Error
		if !errors.As(err, &ke) {
			g.logf("keygateway: keyserver: %v", err)
			ke = &keyapi.Error{Status: http.StatusBadGateway, Message: "the keyserver could not be reached; try again later"}
		} else if ke.Index > 0 {
			ke.Index-- // the client's numbering, without the impersonation
		}
		g.record(audit.Event{Action: "refuse", Principal: id.Principal, Target: account, Remote: remote, API: apis, Result: audit.ResultFor(ke.Status), Detail: ke.Message})
		writeError(w, ke)
		return
	}
	if err := g.record(audit.Event{Action: "grant", Principal: id.Principal, Target: account, Remote: remote, API: apis, Result: "ok"}); err != nil {
		// Nothing is delivered that is not audited.
		writeError(w, &keyapi.Error{Status: http.StatusInternalServerError, Message: "audit log unavailable"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(keyapi.Results{Results: res[1:]})
}

func (g *Gateway) record(ev audit.Event) error {
	if err := g.audit.Record(ev); err != nil {
		g.logf("keygateway: audit: %v", err)
		return err
	}
	return nil
}

// AccountFor maps a Kerberos principal to the keysystem account it may act
// as: a root admin listed as "name@REALM", or as "name" when REALM is the
// cluster's kerberos-realm; or the gateway's probe principal.
func AccountFor(cfg *config.Config, principal string) (string, bool) {
	realm := cfg.Cluster.KerberosRealm
	if realm == "" {
		return "", false
	}
	name, prealm, ok := strings.Cut(principal, "@")
	if !ok || name == "" {
		return "", false
	}
	for _, admin := range cfg.RootAdmins {
		if admin == principal || (prealm == realm && admin == name) {
			return admin, true
		}
	}
	if principal == policy.GatewayProbe(cfg) {
		return principal, true
	}
	return "", false
}

func decodeBatch(r *http.Request) (*keyapi.Batch, *keyapi.Error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: "reading the request body: " + err.Error()}
	}
	if len(data) > maxBody {
		return nil, &keyapi.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", maxBody)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b keyapi.Batch
	if err := dec.Decode(&b); err != nil {
		return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: `request body is not a JSON batch {"requests": [{"api": ..., "body": ...}]}`}
	}
	if len(b.Requests) > MaxOps {
		return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("the batch holds %d operations; at most %d are allowed", len(b.Requests), MaxOps)}
	}
	for i, req := range b.Requests {
		if req.API == "" || req.API == keyapi.ImpersonateAdmin {
			// Acting for yet another account through the gateway is not
			// an admin operation.
			return nil, &keyapi.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("operation %d: %q is not an operation the gateway forwards", i, req.API), Index: i}
		}
	}
	return &b, nil
}

func apiList(reqs []keyapi.Request) string {
	names := make([]string, len(reqs))
	for i, r := range reqs {
		names[i] = string(r.API)
	}
	if len(names) == 0 {
		return "check"
	}
	return strings.Join(names, ",")
}

func writeError(w http.ResponseWriter, e *keyapi.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(e)
}

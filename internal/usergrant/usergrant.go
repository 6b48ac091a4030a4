// Package usergrant is the user-grant service on the supervisor: a user
// who authenticates with a Kerberos ticket (SPNEGO over HTTPS, from a
// browser or curl --negotiate) as name@<cluster realm> gets a namespace
// user-<name> of their own, administered by them under a quota, and a
// kubeconfig with a fresh 8-hour certificate for user:<name>, signed by
// the keyserver. It holds no authority itself: its Kubernetes identity may
// only make such namespaces, and its keysystem account may only have user
// certificates signed. cmd/user-grant runs it.
package usergrant

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
)

// Provisioner gives a user their namespace (Kube in a cluster).
type Provisioner interface {
	// Provision makes or repairs user's namespace and returns what it
	// created or changed.
	Provision(ctx context.Context, user string) ([]string, error)
}

// Service grants users their namespace and kubeconfig.
type Service struct {
	Realm      string // users are name@Realm
	Acceptor   *kerberos.Acceptor
	Namespaces Provisioner
	Signer     Signer
	APIServer  string // the server users' kubeconfigs name
	KubeCA     string // file of the kubernetes CA, reread for each grant
	FetchURL   string // where users fetch a kubeconfig, for its header
	Audit      *audit.Log
	Logf       func(string, ...any)
	Now        func() time.Time
}

// Handler serves the grant at / and /healthz.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveGrant)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// failure is a grant that could not be made: what the user is told, and
// what the log and audit line say.
type failure struct {
	status int
	msg    string
	err    error
}

func (s *Service) serveGrant(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		// The mux routes HEAD here too; a credential nobody reads is
		// not made.
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "ask with GET", http.StatusMethodNotAllowed)
		return
	}
	remote := r.RemoteAddr
	id, ref := s.Acceptor.Authenticate(r)
	if ref != nil {
		s.record(audit.Event{Action: "authenticate", Principal: ref.Principal, Remote: remote, Result: audit.ResultFor(ref.Status), Detail: ref.Detail()})
		kerberos.Challenge(w, ref)
		return
	}
	user, err := UserFor(id.Principal, s.Realm)
	if err != nil {
		s.record(audit.Event{Action: "authenticate", Principal: id.Principal, Remote: remote, Result: "forbidden", Detail: err.Error()})
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	ns := Namespace(user)
	body, detail, f := s.grant(r.Context(), id.Principal, user)
	if f != nil {
		s.Logf("user-grant: %s: %v", id.Principal, f.err)
		s.record(audit.Event{Action: "refuse", Principal: id.Principal, Target: ns, Remote: remote, API: "kubeconfig", Result: audit.ResultFor(f.status), Detail: f.err.Error()})
		http.Error(w, f.msg, f.status)
		return
	}
	if err := s.record(audit.Event{Action: "grant", Principal: id.Principal, Target: ns, Remote: remote, API: "kubeconfig", Result: "ok", Detail: detail}); err != nil {
		// Nothing is delivered that is not audited.
		http.Error(w, "the audit log is unavailable, so no credential is handed out; try again later", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-store") // it holds a private key
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("download") == "1" {
		w.Header().Set("Content-Disposition", "attachment; filename=kubeconfig")
	}
	w.Write(body)
}

// grant provisions user's namespace and returns their kubeconfig, and the
// audit line's detail. The credential is made last: when anything fails,
// nothing that grants access has left the service, and a retry finishes
// what was begun.
func (s *Service) grant(ctx context.Context, principal, user string) ([]byte, string, *failure) {
	changes, err := s.Namespaces.Provision(ctx, user)
	if err != nil {
		return nil, "", explainKube(err, Namespace(user))
	}
	caPEM, err := os.ReadFile(s.KubeCA)
	if err != nil {
		return nil, "", &failure{http.StatusInternalServerError, "the kubernetes CA is missing on this server; tell an administrator", err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, "", &failure{http.StatusInternalServerError, "the kubernetes CA on this server is not a certificate; tell an administrator", fmt.Errorf("%s holds no certificate", s.KubeCA)}
	}
	cred, err := issue(ctx, s.Signer, pool, user, s.Now())
	if err != nil {
		return nil, "", explainSigner(err)
	}
	body, err := renderKubeconfig(principal, user, s.APIServer, caPEM, cred, s.FetchURL)
	if err != nil {
		return nil, "", &failure{http.StatusInternalServerError, "rendering the kubeconfig failed", err}
	}
	detail := fmt.Sprintf("certificate serial %x for %s until %s", cred.Cert.SerialNumber, KubeUser(user), cred.Cert.NotAfter.UTC().Format(time.RFC3339))
	if len(changes) > 0 {
		detail += "; " + strings.Join(changes, ", ")
	}
	return body, detail, nil
}

func explainKube(err error, ns string) *failure {
	var notOurs *NotOursError
	var api *APIError
	switch {
	case errors.As(err, &notOurs):
		return &failure{http.StatusConflict, err.Error(), err}
	case errors.As(err, &api):
		return &failure{http.StatusBadGateway, fmt.Sprintf("the Kubernetes API refused to set up namespace %s (%s): tell an administrator", ns, api.Message), err}
	}
	return &failure{http.StatusBadGateway, "the Kubernetes API could not be reached to set up namespace " + ns + "; try again later", err}
}

func explainSigner(err error) *failure {
	var refused *keyapi.Error
	var bad *BadCertError
	switch {
	case errors.As(err, &refused):
		return &failure{http.StatusBadGateway, "the keyserver refused to sign your certificate (" + refused.Message + "): tell an administrator", err}
	case errors.As(err, &bad):
		return &failure{http.StatusBadGateway, err.Error() + ": tell an administrator", err}
	}
	return &failure{http.StatusBadGateway, "the keyserver could not be reached to sign your certificate; try again later", err}
}

func (s *Service) record(ev audit.Event) error {
	if err := s.Audit.Record(ev); err != nil {
		s.Logf("user-grant: audit: %v", err)
		return err
	}
	return nil
}

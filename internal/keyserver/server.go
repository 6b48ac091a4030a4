// Package keyserver is the supervisor's credential service: an HTTPS API
// that authenticates nodes (by admission token or keygranting certificate)
// and administrators, authorizes each operation against the policy derived
// from setup.yaml, issues certificates, and audits every decision.
// cmd/keyserver runs it; tests run it in-process over real TLS.
package keyserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

// Options are everything a keyserver needs; the caller owns loading them.
type Options struct {
	Policy      *policy.Policy
	Authorities *authority.Set // with private keys
	Tokens      *token.Store
	Audit       *audit.Log
	Deny        *DenyList // default: an empty list kept in memory
	Logf        func(format string, args ...any)
	// Now is the server's clock (default time.Now): of tokens, the audit
	// log, the certificates it issues and the TLS handshake, which checks
	// client certificates by it.
	Now func() time.Time
	// Admission bounds the connections worked on at once (admission.go);
	// off unless its MaxActive is positive.
	Admission Admission
}

// Server is a keyserver.
type Server struct {
	opts    Options
	certs   *serverCerts
	clients *x509.CertPool // keygranting: who may present a client certificate
	metrics *metrics
	deny    *DenyList
	limiter *refusalLimiter
	maxOps  int
	handler http.Handler
}

// New checks opts and builds a server.
func New(opts Options) (*Server, error) {
	if opts.Policy == nil || opts.Authorities == nil || opts.Tokens == nil || opts.Audit == nil {
		return nil, errors.New("keyserver: policy, authorities, token store and audit log are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	opts.Admission.defaults()
	for _, a := range opts.Authorities.List {
		if a.Signer == nil {
			return nil, fmt.Errorf("keyserver: authority %s has no private key", a.Name)
		}
	}
	clusterCA, err := opts.Authorities.Get(keyapi.ClusterCA)
	if err != nil {
		return nil, fmt.Errorf("keyserver: %w", err)
	}
	granting, err := opts.Authorities.Get(keyapi.Keygranting)
	if err != nil {
		return nil, fmt.Errorf("keyserver: %w", err)
	}
	s := &Server{opts: opts, deny: opts.Deny, limiter: newRefusalLimiter(), maxOps: maxBatch(), clients: x509.NewCertPool()}
	s.clients.AddCert(granting.Cert)
	if s.deny == nil {
		s.deny, _ = OpenDenyList("")
	}
	if s.certs, err = newServerCerts(clusterCA, opts.Policy.ServerName, opts.Policy.ServerIP, opts.Now); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	s.metrics = newMetrics(reg, opts.Tokens, opts.Policy)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+keyapi.PathAPI, s.serveAPI)
	mux.HandleFunc("GET "+keyapi.PathPub+"{name}", s.servePub)
	mux.HandleFunc("GET "+keyapi.PathStatic+"{name}", s.serveStatic)
	mux.HandleFunc("GET "+keyapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET "+keyapi.PathMetrics, daemon.MetricsHandler(reg, promhttp.HandlerOpts{}))
	s.handler = mux
	return s, nil
}

// maxBatch bounds the operations of one request: a node fetches at most its
// kind's credentials at once; the headroom is for admins' batches.
func maxBatch() int {
	n := 0
	for _, k := range []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker} {
		n = max(n, len(credential.For(k)))
	}
	return n + 8
}

// Handler is the keyserver's HTTP handler (Serve wraps it in TLS); the
// request's TLS state and remote address authenticate the caller.
func (s *Server) Handler() http.Handler { return s.handler }

// ReopenAudit reopens the audit log after rotation (SIGHUP).
func (s *Server) ReopenAudit() error { return s.opts.Audit.Reopen() }

// TLSConfig is the server side of the keyserver's TLS: TLS 1.3 only, a
// certificate from clusterca for the supervisor's name marked as the
// keyserver's, client certificates verified against keygranting when
// offered, by the server's clock (Options.Now), and HTTP/1.1 only: a node
// sends one batch per connection or a few in a row, which HTTP/2's framing,
// flow control and goroutine per stream make cost more server CPU per
// grant, not less (BenchmarkIssuance).
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		Time:           s.opts.Now,
		GetCertificate: s.certs.get,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      s.clients,
		NextProtos:     []string{"http/1.1"},
	}
}

// Serve answers requests on l until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(logWriter(s.opts.Logf), "", 0),
		Protocols:         new(http.Protocols), // HTTP/1.1 only, as TLSConfig says
	}
	srv.Protocols.SetHTTP1(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if s.opts.Admission.MaxActive > 0 {
		adm := newAdmission(l, s.opts.Admission, s.metrics, s.opts.Logf)
		srv.ConnState = adm.connState
		l = adm
	}
	err := srv.ServeTLS(l, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

type logWriter func(format string, args ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", p)
	return len(p), nil
}

// Package registryfront is the supervisor's image registry as nodes and
// admins see it: HTTPS under the registry's keysystem certificate
// (homeworld.private), in front of the pinned distribution registry, which
// listens on loopback only. Anyone who trusts the cluster CA may pull, as
// nodes do (the original served pulls to all); pushing and deleting take a
// client certificate of the kubernetes authority in group system:masters,
// the one `spire access kubeconfig` issues to an admin. Every push
// decision, granted or refused, is audited. cmd/registry-front runs it.
package registryfront

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"homeworld.dev/homeworld/internal/audit"
)

// AdminGroup is the certificate organization that may push.
const AdminGroup = "system:masters"

// Front authorizes requests and forwards them to the registry behind it.
type Front struct {
	proxy    *httputil.ReverseProxy
	audit    *audit.Log
	requests *prometheus.CounterVec
	Registry *prometheus.Registry // the front's own metrics
}

// New forwards to backend (distribution's http://127.0.0.1:PORT), auditing
// to log. TLS (and which client authorities verify) is the server's part:
// a request's verified chains are what New's handler judges.
func New(backend *url.URL, log *audit.Log) *Front {
	f := &Front{audit: log, Registry: prometheus.NewRegistry()}
	f.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "registry_front_requests_total",
		Help: "Requests to the registry, by method class (read, write) and outcome (forwarded, denied).",
	}, []string{"access", "outcome"})
	f.Registry.MustRegister(f.requests, backendUp{url: backend.JoinPath("/v2/").String()})
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host // distribution names itself after it
			r.Out.Header.Set("X-Forwarded-Proto", "https")
			r.SetXForwarded()
		},
		// Blobs stream through as they come.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			registryError(w, http.StatusBadGateway, "UNAVAILABLE", "the registry behind homeworld.private does not answer: "+err.Error())
		},
	}
	return f
}

// reads are the methods that change nothing.
var reads = []string{http.MethodGet, http.MethodHead}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !strings.HasPrefix(r.URL.Path, "/v2/") && r.URL.Path != "/v2" {
		registryError(w, http.StatusNotFound, "NOT_FOUND", "only the registry API (/v2/) is served here")
		return
	}
	if slices.Contains(reads, r.Method) {
		f.requests.WithLabelValues("read", "forwarded").Inc()
		f.proxy.ServeHTTP(w, r)
		return
	}
	who, err := admin(r)
	event := audit.Event{Action: "registry-write", Principal: who, Remote: r.RemoteAddr, API: r.Method + " " + r.URL.Path}
	if err != nil {
		event.Action, event.Result, event.Detail = "refuse", "forbidden", "registry write: "+err.Error()
		f.requests.WithLabelValues("write", "denied").Inc()
		if aerr := f.audit.Record(event); aerr != nil {
			registryError(w, http.StatusInternalServerError, "UNKNOWN", "cannot audit the refusal: "+aerr.Error())
			return
		}
		registryError(w, http.StatusForbidden, "DENIED", err.Error())
		return
	}
	event.Action, event.Result = "grant", "ok"
	if err := f.audit.Record(event); err != nil {
		// What cannot be audited is not done.
		registryError(w, http.StatusInternalServerError, "UNKNOWN", "cannot audit the write: "+err.Error())
		return
	}
	f.requests.WithLabelValues("write", "forwarded").Inc()
	f.proxy.ServeHTTP(w, r)
}

// admin returns the administrator behind r's verified client certificate.
func admin(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return "", fmt.Errorf("pushing needs an administrator's certificate (spire registry push gets one); pulls need none")
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if !slices.Contains(leaf.Subject.Organization, AdminGroup) {
		return leaf.Subject.CommonName, fmt.Errorf("%s is not in %s; only administrators may push", leaf.Subject.CommonName, AdminGroup)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return leaf.Subject.CommonName, fmt.Errorf("%s is not a client certificate", leaf.Subject.CommonName)
	}
	return leaf.Subject.CommonName, nil
}

// registryError answers in the distribution API's error format, which
// registry clients print.
func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}

// backendUp reports on each scrape whether the registry behind the front
// answers, so a front that is up does not hide a registry that is not.
type backendUp struct{ url string }

var backendUpDesc = prometheus.NewDesc("registry_front_backend_up",
	"1 if the distribution registry behind the front answered GET /v2/ during this scrape.", nil, nil)

func (b backendUp) Describe(ch chan<- *prometheus.Desc) { ch <- backendUpDesc }

func (b backendUp) Collect(ch chan<- prometheus.Metric) {
	v := 0.0
	client := http.Client{Timeout: 3 * time.Second}
	if resp, err := client.Get(b.url); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			v = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, v)
}

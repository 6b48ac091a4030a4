package keyclient

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/daemon"
)

type metrics struct {
	reg         *prometheus.Registry
	expiry      *prometheus.GaugeVec
	lastResult  *prometheus.GaugeVec
	lastAttempt *prometheus.GaugeVec
	attempts    *prometheus.CounterVec
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_credential_expiry_timestamp_seconds",
			Help: "When each installed certificate expires (Unix time).",
		}, []string{"credential"}),
		lastResult: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_last_attempt_success",
			Help: "1 if the last attempt to obtain or renew the credential succeeded, else 0.",
		}, []string{"credential"}),
		lastAttempt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_last_attempt_timestamp_seconds",
			Help: "When the credential was last obtained or renewed, successfully or not (Unix time).",
		}, []string{"credential"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeworld_keyclient_attempts_total",
			Help: "Attempts to obtain or renew credentials, by result.",
		}, []string{"credential", "result"}),
	}
	m.reg.MustRegister(m.expiry, m.lastResult, m.lastAttempt, m.attempts,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_ready",
			Help: "1 when every credential of the node's kind is present and valid.",
		}, func() float64 { return boolGauge(a.IsReady()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_clock_skew_seconds",
			Help: "How far this node's clock is ahead of the keyserver's (negative: behind), estimated from the last certificate received; 0 until one is.",
		}, func() float64 { return a.clockSkew().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homeworld_keyclient_needs_admission_token",
			Help: "1 when the node has no usable identity and no admission token: an admin must run spire infra admit for it.",
		}, func() float64 { return boolGauge(a.NeedsAdmissionToken()) }))
	return m
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) setExpiry(name string, t time.Time) {
	if t.IsZero() {
		m.expiry.DeleteLabelValues(name)
		return
	}
	m.expiry.WithLabelValues(name).Set(float64(t.Unix()))
}

func (m *metrics) attempt(name string, err error, now time.Time) {
	result, ok := "ok", 1.0
	if err != nil {
		result, ok = "error", 0
	}
	m.attempts.WithLabelValues(name, result).Inc()
	m.lastResult.WithLabelValues(name).Set(ok)
	m.lastAttempt.WithLabelValues(name).Set(float64(now.UnixNano()) / 1e9)
}

// Handler serves /metrics and /readyz (200 when ready, else 503 with what
// is missing).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", daemon.MetricsHandler(a.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		missing := a.Missing()
		if a.IsReady() {
			fmt.Fprintln(w, "ready")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(missing, "; "))
	})
	return mux
}

// Missing describes the credentials that are not present and valid, with
// the last error for each.
func (a *Agent) Missing() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	creds := credential.For(a.kind)
	var out []string
	if a.kind == "" {
		out = append(out, "node kind unknown (no local.conf yet)")
		creds = bootstrapCredentials()
	}
	for _, c := range creds {
		st := a.states[c.Name]
		if st != nil && st.present {
			continue
		}
		msg := c.Name
		if st != nil && st.lastErr != nil {
			msg += ": " + st.lastErr.Error()
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

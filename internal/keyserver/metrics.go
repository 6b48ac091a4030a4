package keyserver

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	auditFail  prometheus.Counter
	suppressed prometheus.Counter
	// Admission control (admission.go).
	shed           *prometheus.CounterVec
	queued, active prometheus.Gauge
	// apis is the closed set of API label values: every API the policy
	// grants to anyone. Anything else a caller names is "other", so no
	// caller can add label values (and memory) to the metrics.
	apis map[keyapi.API]bool
}

// Label values besides API names.
const (
	labelOther   = "other"   // an API no policy grants
	labelInvalid = "invalid" // the body did not decode
	labelNone    = "none"    // no operation to name
)

func newMetrics(reg *prometheus.Registry, tokens *token.Store, pol *policy.Policy) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeworld_keyserver_operations_total",
			Help: "Keyserver operations by API (\"other\" for names no policy grants) and result (ok, forbidden, invalid, unauthenticated, error, unavailable).",
		}, []string{"api", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "homeworld_keyserver_request_duration_seconds",
			Help:    "Time to answer API requests, by the first operation's API (\"other\" for names no policy grants).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"api"}),
		auditFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "homeworld_keyserver_audit_failures_total",
			Help: "Requests answered 503 because their audit lines could not be written durably (nothing was delivered).",
		}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "homeworld_keyserver_audit_suppressed_refusals_total",
			Help: "Anonymous refusals not written to the audit log because their address exceeded its rate; each address's next written line says how many.",
		}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeworld_keyserver_connections_shed_total",
			Help: "Connections closed before their TLS handshake because the keyserver was busy, by reason (queue-full: too many already waiting; waited: waited too long for a slot).",
		}, []string{"reason"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "homeworld_keyserver_connections_queued",
			Help: "Accepted connections waiting for a slot to be worked on.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "homeworld_keyserver_connections_active",
			Help: "Connections being worked on (handshake or request); idle keep-alive connections are not counted.",
		}),
		apis: map[keyapi.API]bool{},
	}
	for _, reason := range []string{shedFull, shedWaited} {
		m.shed.WithLabelValues(reason)
	}
	for _, acct := range pol.Accounts {
		for api := range acct.Grants {
			m.apis[api] = true
		}
	}
	reg.MustRegister(m.requests, m.latency, m.auditFail, m.suppressed, m.shed, m.queued, m.active,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homeworld_keyserver_tokens_outstanding",
			Help: "Admission tokens issued and neither used nor expired.",
		}, func() float64 { return float64(tokens.Outstanding()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// label maps a caller-supplied API name into the closed set.
func (m *metrics) label(api keyapi.API) string {
	switch {
	case api == "":
		return labelNone
	case m.apis[api]:
		return string(api)
	}
	return labelOther
}

func (m *metrics) count(api keyapi.API, result string) {
	m.requests.WithLabelValues(m.label(api), result).Inc()
}

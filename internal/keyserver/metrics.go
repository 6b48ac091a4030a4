package keyserver

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"homeworld.dev/homeworld/internal/token"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, tokens *token.Store) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeworld_keyserver_operations_total",
			Help: "Keyserver operations by API and result (ok, forbidden, invalid, unauthenticated, error).",
		}, []string{"api", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "homeworld_keyserver_request_duration_seconds",
			Help:    "Time to answer API requests, by the first operation's API.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"api"}),
	}
	reg.MustRegister(m.requests, m.latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homeworld_keyserver_tokens_outstanding",
			Help: "Admission tokens issued and neither used nor expired.",
		}, func() float64 { return float64(tokens.Outstanding()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

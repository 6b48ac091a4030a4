package setupqueue

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, which the alert rules (internal/monitoring) and Status
// read.
const (
	MetricApplied     = "setup_queue_applied_total"
	MetricFailures    = "setup_queue_failures_total"
	MetricFailing     = "setup_queue_failing"
	MetricPending     = "setup_queue_pending"
	MetricLastSuccess = "setup_queue_last_success_timestamp_seconds"
	MetricUnreachable = "setup_queue_apiserver_unreachable"
)

// metrics are a Queue's series.
type metrics struct {
	applied, failures *prometheus.CounterVec
	failing           *prometheus.GaugeVec
	pending           prometheus.GaugeFunc
	lastSuccess       prometheus.Gauge
	unreachable       prometheus.Gauge
}

// newMetrics makes the series of the queue in dir. The pending count is
// the folder's at each scrape, not the latest cycle's: a cycle may spend
// long on kubectl while items arrive, and a reader must not see "empty"
// meanwhile.
func newMetrics(dir string) *metrics {
	var lastCount atomic.Int64 // answered while the folder cannot be read
	return &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricApplied,
			Help: "Items of this manifest applied and moved to applied/."}, []string{"manifest"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFailures,
			Help: "Attempts to apply an item of this manifest that the API server answered with an error."}, []string{"manifest"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricFailing,
			Help: "1 while an item of this manifest is pending and its latest attempt failed; 0 otherwise."}, []string{"manifest"}),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricPending,
			Help: "Items waiting in the queue folder."}, func() float64 {
			if items, err := Pending(dir); err == nil {
				lastCount.Store(int64(len(items)))
			}
			return float64(lastCount.Load())
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastSuccess,
			Help: "Unix time an item was last applied; 0 if none has been since the start."}),
		unreachable: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricUnreachable,
			Help: "1 while the API server did not answer at the latest attempt; items then wait without counting as failures."}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.applied, m.failures, m.failing, m.pending, m.lastSuccess, m.unreachable}
}
